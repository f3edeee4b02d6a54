#include "core/backends/fast/to_plain.hpp"

namespace synclab::fast {
namespace {

class ToPlain final : public FastOp {
 public:
  ToPlain(FastContext& ctx, FastTensor& input) : input_(input) {
    output_ = make_tensor(ctx, plain_desc(input.desc.dims()), true);
    fwd_ = dnnl::reorder(input.value, output_.value);
    if (input.grad) bwd_ = dnnl::reorder(output_.grad, input.grad);
  }
  FastTensor& output() override { return output_; }
  void forward(FastContext& ctx, const StepArgs&) override {
    fwd_.execute(ctx.stream, input_.value, output_.value);
    ctx.stream.wait();
  }
  void backward(FastContext& ctx, const StepArgs&, bool need_input_grad) override {
    if (!need_input_grad) return;
    bwd_.execute(ctx.stream, output_.grad, input_.grad);
    ctx.stream.wait();
  }

 private:
  FastTensor& input_;
  FastTensor output_;
  dnnl::reorder fwd_, bwd_;
};

}  // namespace

std::unique_ptr<FastOp> make_to_plain(FastContext& ctx, FastTensor& input) {
  return std::make_unique<ToPlain>(ctx, input);
}

}  // namespace synclab::fast
