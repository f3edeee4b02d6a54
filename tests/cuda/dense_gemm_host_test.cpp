// The cuBLAS dense layer's GEMM arguments (dense_gemm.hpp) run through CBLAS on the host in
// column-major mode, exactly as cuBLAS would take them, against the reference dense layer.
#include <gtest/gtest.h>
#include <cblas.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include "core/backends/cuda/dense_gemm.hpp"
#include "core/common/rng.hpp"
#include "core/layers/dense.hpp"

namespace synclab {
namespace {

void run(const cuda::GemmArgs& g, const float* a, const float* b, float* c) {
  cblas_sgemm(CblasColMajor, g.trans_a ? CblasTrans : CblasNoTrans, g.trans_b ? CblasTrans : CblasNoTrans, g.m, g.n,
              g.k, 1.f, a, g.lda, b, g.ldb, 0.f, c, g.ldc);
}

std::vector<float> random_floats(std::size_t n, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.normal());
  return v;
}

void expect_near_all(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  ASSERT_EQ(got.size(), want.size());
  for (std::size_t j = 0; j < got.size(); ++j)
    ASSERT_NEAR(got[j], want[j], 1e-4f * (1.f + std::fabs(want[j]))) << what << " [" << j << "]";
}

TEST(DenseGemmHost, ColumnMajorArgumentsReproduceTheRowMajorLayer) {
  // Distinct n, in, out so that any swapped dimension or leading dimension shows.
  for (const auto [n, in, out] : {std::array<int, 3>{7, 13, 5}, std::array<int, 3>{1, 784, 10}, std::array<int, 3>{32, 3, 64}}) {
    const auto x = random_floats(std::size_t(n) * in, 1), w = random_floats(std::size_t(in) * out, 2);
    const auto dy = random_floats(std::size_t(n) * out, 3);
    const std::vector<float> zero_bias(static_cast<std::size_t>(out), 0.f);
    std::vector<float> y(std::size_t(n) * out), dx(std::size_t(n) * in), dw(w.size()), db(static_cast<std::size_t>(out));
    layers::dense_forward(x.data(), w.data(), zero_bias.data(), y.data(), std::size_t(n), std::size_t(in), std::size_t(out));
    layers::dense_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), std::size_t(n),
                           std::size_t(in), std::size_t(out));
    std::vector<float> gy(y.size()), gdx(dx.size()), gdw(dw.size());
    run(cuda::dense_forward_gemm(n, in, out), w.data(), x.data(), gy.data());
    run(cuda::dense_weight_grad_gemm(n, in, out), dy.data(), x.data(), gdw.data());
    run(cuda::dense_input_grad_gemm(n, in, out), w.data(), dy.data(), gdx.data());
    expect_near_all(gy, y, "forward");
    expect_near_all(gdw, dw, "weight gradient");
    expect_near_all(gdx, dx, "input gradient");
  }
}

}  // namespace
}  // namespace synclab
