#include "core/backends/fast/to_plain.hpp"

#include <unordered_map>

namespace synclab::fast {
namespace {

class ToPlain final : public FastOp {
 public:
  ToPlain(FastContext& ctx, FastTensor& input) {
    output_ = make_tensor(ctx, plain_desc(input.desc.dims()), true);
    fwd_ = dnnl::reorder(input.value, output_.value);
    fwd_args_ = {{DNNL_ARG_FROM, input.value}, {DNNL_ARG_TO, output_.value}};
    if (input.grad) {
      bwd_ = dnnl::reorder(output_.grad, input.grad);
      bwd_args_ = {{DNNL_ARG_FROM, output_.grad}, {DNNL_ARG_TO, input.grad}};
    }
  }
  FastTensor& output() override { return output_; }
  void forward(FastContext& ctx, const StepArgs&) override {
    fwd_.execute(ctx.stream, fwd_args_);
    ctx.stream.wait();
  }
  void backward(FastContext& ctx, const StepArgs&, bool need_input_grad) override {
    if (!need_input_grad) return;
    bwd_.execute(ctx.stream, bwd_args_);
    ctx.stream.wait();
  }

 private:
  FastTensor output_;
  dnnl::reorder fwd_, bwd_;
  std::unordered_map<int, dnnl::memory> fwd_args_, bwd_args_;
};

}  // namespace

std::unique_ptr<FastOp> make_to_plain(FastContext& ctx, FastTensor& input) {
  return std::make_unique<ToPlain>(ctx, input);
}

}  // namespace synclab::fast
