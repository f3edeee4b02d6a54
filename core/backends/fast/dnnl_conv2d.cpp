#include "core/backends/fast/dnnl_conv2d.hpp"

#include <stdexcept>
#include <unordered_map>

namespace synclab::fast {
namespace {

using dnnl::algorithm;
using dnnl::memory;
using Args = std::unordered_map<int, memory>;

memory::desc any_desc(const memory::dims& dims) {
  return memory::desc(dims, memory::data_type::f32, memory::format_tag::any);
}

// A user-side buffer (a block of the flat params or grad) whose address changes per call.
memory user_memory(const FastContext& ctx, const memory::dims& dims, memory::format_tag tag) {
  return memory(memory::desc(dims, memory::data_type::f32, tag), ctx.engine, DNNL_MEMORY_NONE);
}

class DnnlConv2d final : public FastOp {
 public:
  DnnlConv2d(FastContext& ctx, const ModelSpec& spec, const LayerSpec& layer, FastTensor& input, bool fuse_relu,
             bool need_input_grad)
      : w_off_(spec.layout.blocks.at(static_cast<std::size_t>(layer.weight_block)).offset),
        b_off_(spec.layout.blocks.at(static_cast<std::size_t>(layer.bias_block)).offset),
        need_input_grad_(need_input_grad) {
    const memory::dims in_dims = input.desc.dims();
    if (in_dims.size() != 4 || in_dims[1] != layer.in_c || in_dims[2] != layer.in_h || in_dims[3] != layer.in_w)
      throw std::logic_error("fast conv2d " + layer.name + ": input shape does not match the layer");
    const memory::dim n = in_dims[0], k = layer.kernel;
    const memory::dims w_dims{layer.out_c, layer.in_c, k, k}, b_dims{layer.out_c};
    const memory::dims dst_dims{n, layer.out_c, layer.out_h, layer.out_w};
    const memory::dims strides{1, 1}, pad{k / 2, k / 2};
    const memory::desc bias_desc(b_dims, memory::data_type::f32, memory::format_tag::x);

    dnnl::primitive_attr attr;
    if (fuse_relu) {
      dnnl::post_ops ops;
      ops.append_eltwise(1.f, algorithm::eltwise_relu, 0.f, 0.f);
      attr.set_post_ops(ops);
    }
    const dnnl::convolution_forward::desc fwd_desc(dnnl::prop_kind::forward_training, algorithm::convolution_direct,
                                                   any_desc(in_dims), any_desc(w_dims), bias_desc,
                                                   any_desc(dst_dims), strides, pad, pad);
    const dnnl::convolution_forward::primitive_desc fwd_pd(fwd_desc, attr, ctx.engine);
    fwd_ = dnnl::convolution_forward(fwd_pd);
    output_ = make_tensor(ctx, fwd_pd.dst_desc(), true);

    // The source is reordered into the primitive's preferred layout when the producer's
    // layout differs (e.g. a plain image batch); its gradient goes back the same way.
    memory src = input.value;
    if (fwd_pd.src_desc() != input.desc) {
      src_ = make_tensor(ctx, fwd_pd.src_desc(), need_input_grad);
      src_in_ = dnnl::reorder(input.value, src_.value);
      src_in_args_ = {{DNNL_ARG_FROM, input.value}, {DNNL_ARG_TO, src_.value}};
      if (need_input_grad) {
        src_out_ = dnnl::reorder(src_.grad, input.grad);
        src_out_args_ = {{DNNL_ARG_FROM, src_.grad}, {DNNL_ARG_TO, input.grad}};
      }
      src = src_.value;
      reorder_src_ = true;
    }

    user_w_ = user_memory(ctx, w_dims, memory::format_tag::oihw);
    user_b_ = user_memory(ctx, b_dims, memory::format_tag::x);
    user_dw_ = user_memory(ctx, w_dims, memory::format_tag::oihw);
    user_db_ = user_memory(ctx, b_dims, memory::format_tag::x);

    memory fwd_w = user_w_;
    if (fwd_pd.weights_desc() != user_w_.get_desc()) {
      fwd_w = memory(fwd_pd.weights_desc(), ctx.engine);
      fwd_w_in_ = dnnl::reorder(user_w_, fwd_w);
      fwd_w_args_ = {{DNNL_ARG_FROM, user_w_}, {DNNL_ARG_TO, fwd_w}};
    }
    fwd_args_ = {{DNNL_ARG_SRC, src}, {DNNL_ARG_WEIGHTS, fwd_w}, {DNNL_ARG_BIAS, user_b_}, {DNNL_ARG_DST, output_.value}};

    const dnnl::convolution_backward_weights::desc bww_desc(algorithm::convolution_direct, fwd_pd.src_desc(),
                                                            any_desc(w_dims), bias_desc, fwd_pd.dst_desc(), strides,
                                                            pad, pad);
    const dnnl::convolution_backward_weights::primitive_desc bww_pd(bww_desc, ctx.engine, fwd_pd);
    bww_ = dnnl::convolution_backward_weights(bww_pd);
    memory dw = user_dw_;
    if (bww_pd.diff_weights_desc() != user_dw_.get_desc()) {
      dw = memory(bww_pd.diff_weights_desc(), ctx.engine);
      dw_out_ = dnnl::reorder(dw, user_dw_);
      dw_args_ = {{DNNL_ARG_FROM, dw}, {DNNL_ARG_TO, user_dw_}};
    }
    bww_args_ = {{DNNL_ARG_SRC, src}, {DNNL_ARG_DIFF_DST, output_.grad}, {DNNL_ARG_DIFF_WEIGHTS, dw},
                 {DNNL_ARG_DIFF_BIAS, user_db_}};

    if (!need_input_grad) return;
    const dnnl::convolution_backward_data::desc bwd_desc(algorithm::convolution_direct, fwd_pd.src_desc(),
                                                         any_desc(w_dims), fwd_pd.dst_desc(), strides, pad, pad);
    const dnnl::convolution_backward_data::primitive_desc bwd_pd(bwd_desc, ctx.engine, fwd_pd);
    bwd_ = dnnl::convolution_backward_data(bwd_pd);
    memory bwd_w = user_w_;
    if (bwd_pd.weights_desc() != user_w_.get_desc()) {
      bwd_w = memory(bwd_pd.weights_desc(), ctx.engine);
      bwd_w_in_ = dnnl::reorder(user_w_, bwd_w);
      bwd_w_args_ = {{DNNL_ARG_FROM, user_w_}, {DNNL_ARG_TO, bwd_w}};
    }
    bwd_args_ = {{DNNL_ARG_DIFF_DST, output_.grad}, {DNNL_ARG_WEIGHTS, bwd_w},
                 {DNNL_ARG_DIFF_SRC, reorder_src_ ? src_.grad : input.grad}};
  }

  FastTensor& output() override { return output_; }

  void forward(FastContext& ctx, const StepArgs& args) override {
    set_params(args);
    if (reorder_src_) src_in_.execute(ctx.stream, src_in_args_);
    if (fwd_w_in_) fwd_w_in_.execute(ctx.stream, fwd_w_args_);
    fwd_.execute(ctx.stream, fwd_args_);
    ctx.stream.wait();
  }

  void backward(FastContext& ctx, const StepArgs& args, bool need_input_grad) override {
    set_params(args);
    user_dw_.set_data_handle(args.grad + w_off_);
    user_db_.set_data_handle(args.grad + b_off_);
    bww_.execute(ctx.stream, bww_args_);
    if (dw_out_) dw_out_.execute(ctx.stream, dw_args_);
    if (need_input_grad) {
      if (!need_input_grad_) throw std::logic_error("fast conv2d: built without an input gradient");
      if (bwd_w_in_) bwd_w_in_.execute(ctx.stream, bwd_w_args_);
      bwd_.execute(ctx.stream, bwd_args_);
      if (reorder_src_) src_out_.execute(ctx.stream, src_out_args_);
    }
    ctx.stream.wait();
  }

 private:
  void set_params(const StepArgs& args) {
    user_w_.set_data_handle(const_cast<float*>(args.params + w_off_));
    user_b_.set_data_handle(const_cast<float*>(args.params + b_off_));
  }

  FastTensor output_, src_;
  std::size_t w_off_, b_off_;
  bool need_input_grad_, reorder_src_ = false;
  memory user_w_, user_b_, user_dw_, user_db_;
  dnnl::convolution_forward fwd_;
  dnnl::convolution_backward_weights bww_;
  dnnl::convolution_backward_data bwd_;
  dnnl::reorder src_in_, src_out_, fwd_w_in_, bwd_w_in_, dw_out_;
  Args fwd_args_, bww_args_, bwd_args_, fwd_w_args_, bwd_w_args_, dw_args_, src_in_args_, src_out_args_;
};

}  // namespace

std::unique_ptr<FastOp> make_dnnl_conv2d(FastContext& ctx, const ModelSpec& spec, const LayerSpec& layer,
                                         FastTensor& input, bool fuse_relu, bool need_input_grad) {
  return std::make_unique<DnnlConv2d>(ctx, spec, layer, input, fuse_relu, need_input_grad);
}

}  // namespace synclab::fast
