#include "core/backends/fast/dnnl_maxpool.hpp"

#include <stdexcept>
#include <unordered_map>

namespace synclab::fast {
namespace {

using dnnl::memory;

class DnnlMaxPool final : public FastOp {
 public:
  DnnlMaxPool(FastContext& ctx, const LayerSpec& layer, FastTensor& input, bool relu_mask) : relu_mask_(relu_mask) {
    const memory::dims in = input.desc.dims();
    if (in.size() != 4 || in[1] != layer.in_c || in[2] != layer.in_h || in[3] != layer.in_w)
      throw std::logic_error("fast maxpool " + layer.name + ": input shape does not match the layer");
    const memory::dims out{in[0], layer.out_c, layer.out_h, layer.out_w};
    const memory::dims window{2, 2}, none{0, 0};
    // Odd trailing rows/columns are dropped: with no padding oneDNN gives floor(h/2).
    const dnnl::pooling_forward::desc fwd_desc(dnnl::prop_kind::forward_training, dnnl::algorithm::pooling_max,
                                               input.desc,
                                               memory::desc(out, memory::data_type::f32, memory::format_tag::any),
                                               window, window, none, none);
    const dnnl::pooling_forward::primitive_desc fwd_pd(fwd_desc, ctx.engine);
    fwd_ = dnnl::pooling_forward(fwd_pd);
    output_ = make_tensor(ctx, fwd_pd.dst_desc(), true);
    workspace_ = memory(fwd_pd.workspace_desc(), ctx.engine);
    const dnnl::pooling_backward::desc bwd_desc(dnnl::algorithm::pooling_max, input.desc, fwd_pd.dst_desc(), window,
                                                window, none, none);
    bwd_ = dnnl::pooling_backward(dnnl::pooling_backward::primitive_desc(bwd_desc, ctx.engine, fwd_pd));
    fwd_args_ = {{DNNL_ARG_SRC, input.value}, {DNNL_ARG_DST, output_.value}, {DNNL_ARG_WORKSPACE, workspace_}};
    if (relu_mask) {
      const dnnl::eltwise_forward::desc relu_fwd(dnnl::prop_kind::forward_training, dnnl::algorithm::eltwise_relu,
                                                 output_.desc, 0.f, 0.f);
      const dnnl::eltwise_backward::desc relu_bwd(dnnl::algorithm::eltwise_relu_use_dst_for_bwd, output_.desc,
                                                  output_.desc, 0.f, 0.f);
      mask_ = dnnl::eltwise_backward(dnnl::eltwise_backward::primitive_desc(
          relu_bwd, ctx.engine, dnnl::eltwise_forward::primitive_desc(relu_fwd, ctx.engine)));
      mask_args_ = {{DNNL_ARG_DST, output_.value}, {DNNL_ARG_DIFF_DST, output_.grad}, {DNNL_ARG_DIFF_SRC, output_.grad}};
    }
    if (input.grad)
      bwd_args_ = {{DNNL_ARG_DIFF_DST, output_.grad}, {DNNL_ARG_DIFF_SRC, input.grad}, {DNNL_ARG_WORKSPACE, workspace_}};
  }
  FastTensor& output() override { return output_; }

  void forward(FastContext& ctx, const StepArgs&) override {
    fwd_.execute(ctx.stream, fwd_args_);
    ctx.stream.wait();
  }

  void backward(FastContext& ctx, const StepArgs&, bool need_input_grad) override {
    if (!need_input_grad) return;
    if (relu_mask_) mask_.execute(ctx.stream, mask_args_);
    bwd_.execute(ctx.stream, bwd_args_);
    ctx.stream.wait();
  }

 private:
  bool relu_mask_;
  FastTensor output_;
  memory workspace_;
  dnnl::eltwise_backward mask_;
  dnnl::pooling_forward fwd_;
  dnnl::pooling_backward bwd_;
  std::unordered_map<int, memory> fwd_args_, bwd_args_, mask_args_;
};

}  // namespace

std::unique_ptr<FastOp> make_dnnl_maxpool(FastContext& ctx, const LayerSpec& layer, FastTensor& input,
                                          bool relu_mask) {
  return std::make_unique<DnnlMaxPool>(ctx, layer, input, relu_mask);
}

}  // namespace synclab::fast
