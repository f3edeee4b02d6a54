#include "core/backends/fast/plain_elementwise.hpp"

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "core/layers/dropout.hpp"
#include "core/layers/sigmoid.hpp"

namespace synclab::fast {
namespace {

class PlainSigmoid final : public FastOp {
 public:
  PlainSigmoid(FastContext& ctx, FastTensor& input) : input_(input) {
    if (!input.plain()) throw std::logic_error("fast sigmoid: input is not plain");
    output_ = make_tensor(ctx, input.desc, true);
  }
  FastTensor& output() override { return output_; }
  void forward(FastContext&, const StepArgs&) override {
    layers::sigmoid_forward(input_.data(), output_.data(), output_.count());
  }
  void backward(FastContext&, const StepArgs&, bool need_input_grad) override {
    if (need_input_grad) layers::sigmoid_backward(output_.data(), output_.diff(), input_.diff(), output_.count());
  }

 private:
  FastTensor& input_;
  FastTensor output_;
};

class PlainDropout final : public FastOp {
 public:
  PlainDropout(FastContext& ctx, const LayerSpec& layer, std::size_t index, FastTensor& input)
      : input_(input), p_(layer.dropout), index_(index) {
    if (!input.plain()) throw std::logic_error("fast dropout: input is not plain");
    output_ = make_tensor(ctx, input.desc, true);
    keep_.resize(input.count());
  }
  FastTensor& output() override { return output_; }
  void forward(FastContext&, const StepArgs& args) override {
    training_ = args.training;
    const std::size_t count = output_.count();
    if (!training_) {
      std::copy(input_.data(), input_.data() + count, output_.data());
      return;
    }
    layers::dropout_mask(args.seed, index_, p_, count, keep_.data());
    layers::dropout_forward(input_.data(), keep_.data(), p_, output_.data(), count);
  }
  void backward(FastContext&, const StepArgs&, bool need_input_grad) override {
    if (!need_input_grad) return;
    const std::size_t count = output_.count();
    if (!training_) {
      std::copy(output_.diff(), output_.diff() + count, input_.diff());
      return;
    }
    layers::dropout_backward(output_.diff(), keep_.data(), p_, input_.diff(), count);
  }

 private:
  FastTensor& input_;
  FastTensor output_;
  float p_;
  std::size_t index_;
  bool training_ = true;
  std::vector<std::uint8_t> keep_;
};

}  // namespace

std::unique_ptr<FastOp> make_plain_sigmoid(FastContext& ctx, FastTensor& input) {
  return std::make_unique<PlainSigmoid>(ctx, input);
}

std::unique_ptr<FastOp> make_plain_dropout(FastContext& ctx, const LayerSpec& layer, std::size_t layer_index,
                                           FastTensor& input) {
  return std::make_unique<PlainDropout>(ctx, layer, layer_index, input);
}

}  // namespace synclab::fast
