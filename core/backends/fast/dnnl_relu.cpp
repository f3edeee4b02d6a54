#include "core/backends/fast/dnnl_relu.hpp"

#include <unordered_map>

namespace synclab::fast {
namespace {

using dnnl::memory;

class DnnlRelu final : public FastOp {
 public:
  DnnlRelu(FastContext& ctx, FastTensor& input, ReluPasses passes) : tensor_(input), passes_(passes) {
    const dnnl::eltwise_forward::desc fwd_desc(dnnl::prop_kind::forward_training, dnnl::algorithm::eltwise_relu,
                                               input.desc, 0.f, 0.f);
    const dnnl::eltwise_forward::primitive_desc fwd_pd(fwd_desc, ctx.engine);
    fwd_ = dnnl::eltwise_forward(fwd_pd);
    // The backward reads the output (ReLU's output is positive exactly where its input
    // is), which lets both directions run in place.
    const dnnl::eltwise_backward::desc bwd_desc(dnnl::algorithm::eltwise_relu_use_dst_for_bwd, input.desc, input.desc,
                                                0.f, 0.f);
    bwd_ = dnnl::eltwise_backward(dnnl::eltwise_backward::primitive_desc(bwd_desc, ctx.engine, fwd_pd));
    fwd_args_ = {{DNNL_ARG_SRC, input.value}, {DNNL_ARG_DST, input.value}};
    if (input.grad)
      bwd_args_ = {{DNNL_ARG_DST, input.value}, {DNNL_ARG_DIFF_DST, input.grad}, {DNNL_ARG_DIFF_SRC, input.grad}};
  }
  FastTensor& output() override { return tensor_; }

  void forward(FastContext& ctx, const StepArgs&) override {
    if (!passes_.forward) return;
    fwd_.execute(ctx.stream, fwd_args_);
    ctx.stream.wait();
  }

  void backward(FastContext& ctx, const StepArgs&, bool need_input_grad) override {
    if (!need_input_grad || !passes_.backward) return;
    bwd_.execute(ctx.stream, bwd_args_);
    ctx.stream.wait();
  }

 private:
  FastTensor& tensor_;
  ReluPasses passes_;
  dnnl::eltwise_forward fwd_;
  dnnl::eltwise_backward bwd_;
  std::unordered_map<int, memory> fwd_args_, bwd_args_;
};

}  // namespace

std::unique_ptr<FastOp> make_dnnl_relu(FastContext& ctx, FastTensor& input, ReluPasses passes) {
  return std::make_unique<DnnlRelu>(ctx, input, passes);
}

}  // namespace synclab::fast
