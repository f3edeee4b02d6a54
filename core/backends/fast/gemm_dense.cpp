#include "core/backends/fast/gemm_dense.hpp"

#include <oneapi/dnnl/dnnl.h>

#include <stdexcept>
#include <string>

namespace synclab::fast {
namespace {

// Row-major C = alpha op(A) op(B) + beta C. oneDNN's SGEMM rather than OpenBLAS's: on
// these machines OpenBLAS is pinned (OPENBLAS_CORETYPE) to its AVX2 kernels, and for the
// cnn's fc1 shapes oneDNN's JIT kernels measured about twice as fast on one thread.
void sgemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
           int ldb, float beta, float* c, int ldc) {
  const dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a, lda, b, ldb,
                                          beta, c, ldc);
  if (status != dnnl_success) throw std::runtime_error("fast dense: dnnl_sgemm failed with status " + std::to_string(status));
}

class GemmDense final : public FastOp {
 public:
  GemmDense(FastContext& ctx, const ModelSpec& spec, const LayerSpec& layer, FastTensor& input)
      : input_(input),
        n_(static_cast<int>(input.desc.dims()[0])),
        in_(static_cast<int>(layer.in_size())),
        out_(static_cast<int>(layer.out_size())),
        w_(spec.layout.blocks.at(static_cast<std::size_t>(layer.weight_block)).offset),
        b_(spec.layout.blocks.at(static_cast<std::size_t>(layer.bias_block)).offset) {
    if (!input.plain() || input.count() != static_cast<std::size_t>(n_) * layer.in_size())
      throw std::logic_error("fast dense " + layer.name + ": input is not a plain [n, " + std::to_string(in_) + "] tensor");
    output_ = make_tensor(ctx, plain_desc({n_, out_}), true);
  }
  FastTensor& output() override { return output_; }

  void forward(FastContext&, const StepArgs& args) override {
    float* y = output_.data();
    const float* bias = args.params + b_;
    for (int i = 0; i < n_; ++i)
      for (int o = 0; o < out_; ++o) y[static_cast<std::size_t>(i) * out_ + o] = bias[o];
    sgemm(false, false, n_, out_, in_, 1.f, input_.data(), in_, args.params + w_,
                out_, 1.f, y, out_);
  }

  void backward(FastContext&, const StepArgs& args, bool need_input_grad) override {
    const float* dy = output_.diff();
    // dW[in, out] = x^T dy
    sgemm(true, false, in_, out_, n_, 1.f, input_.data(), in_, dy, out_, 0.f,
                args.grad + w_, out_);
    float* db = args.grad + b_;
    for (int o = 0; o < out_; ++o) db[o] = 0.f;
    for (int i = 0; i < n_; ++i)
      for (int o = 0; o < out_; ++o) db[o] += dy[static_cast<std::size_t>(i) * out_ + o];
    // dx[n, in] = dy W^T
    if (need_input_grad)
      sgemm(false, true, n_, in_, out_, 1.f, dy, out_, args.params + w_, out_, 0.f,
                  input_.diff(), in_);
  }

 private:
  FastTensor& input_;
  FastTensor output_;
  int n_, in_, out_;
  std::size_t w_, b_;
};

}  // namespace

std::unique_ptr<FastOp> make_gemm_dense(FastContext& ctx, const ModelSpec& spec, const LayerSpec& layer,
                                        FastTensor& input) {
  return std::make_unique<GemmDense>(ctx, spec, layer, input);
}

}  // namespace synclab::fast
