// The cuda backend's element-wise math (elementwise.hpp), run on the host and compared with
// the reference layers and the CPU optimizers. These are the functions the kernels run.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "core/backends/cuda/elementwise.hpp"
#include "core/common/rng.hpp"
#include "core/layers/conv2d.hpp"
#include "core/layers/dense.hpp"
#include "core/layers/dropout.hpp"
#include "core/layers/softmax_xent.hpp"
#include "core/optim/optimizer.hpp"
#include "core/tensor/param_layout.hpp"

namespace synclab {
namespace {

std::vector<float> random_floats(std::size_t n, std::uint64_t seed, double scale = 1.0) {
  Rng rng(seed);
  std::vector<float> v(n);
  for (float& x : v) x = static_cast<float>(rng.normal() * scale);
  return v;
}

TEST(CudaMathHost, SoftmaxXentRowsMatchTheReference) {
  const std::size_t n = 13, classes = 10;
  std::vector<float> logits = random_floats(n * classes, 1, 3.0);
  logits[5 * classes + 2] = logits[5 * classes + 7] = 50.f;  // a tie: the first maximum wins
  std::vector<std::uint8_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) labels[i] = static_cast<std::uint8_t>((i * 7) % classes);
  labels[5] = 2;
  std::vector<float> ref_d(n * classes), d(n * classes);
  const auto ref = layers::softmax_xent(logits.data(), labels.data(), n, classes, ref_d.data());
  float loss = 0.f;
  std::size_t correct = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const auto r = cuda_math::softmax_xent_row(logits.data() + i * classes, labels[i], static_cast<int>(classes),
                                               1.f / static_cast<float>(n), d.data() + i * classes);
    loss += r.loss;
    correct += static_cast<std::size_t>(r.correct);
  }
  EXPECT_FLOAT_EQ(loss, ref.loss_sum);
  EXPECT_EQ(correct, ref.correct);
  EXPECT_GE(correct, 1u);
  for (std::size_t j = 0; j < d.size(); ++j) EXPECT_FLOAT_EQ(d[j], ref_d[j]) << j;
}

TEST(CudaMathHost, SoftmaxXentWithoutGradientGivesTheSameLoss) {
  const std::vector<float> z = random_floats(10, 2);
  const auto with = cuda_math::softmax_xent_row(z.data(), 3, 10, 1.f, std::vector<float>(10).data());
  const auto without = cuda_math::softmax_xent_row(z.data(), 3, 10, 1.f, nullptr);
  EXPECT_EQ(with.loss, without.loss);
  EXPECT_GT(without.loss, 0.f);
}

TEST(CudaMathHost, BiasAddMatchesAConvolutionWithZeroWeights) {
  const layers::Conv2dShape s{3, 2, 5, 4, 6, 3};
  const std::vector<float> x = random_floats(s.n * s.in_c * s.h * s.w, 3);
  const std::vector<float> weight(s.out_c * s.in_c * s.k * s.k, 0.f);
  const std::vector<float> bias = random_floats(s.out_c, 4);
  std::vector<float> ref(s.n * s.out_c * s.h * s.w), y(ref.size(), 0.f);
  layers::conv2d_forward(x.data(), weight.data(), bias.data(), ref.data(), s);
  for (std::size_t j = 0; j < y.size(); ++j) y[j] += bias[cuda_math::bias_channel(j, s.out_c, s.h * s.w)];
  EXPECT_EQ(y, ref);
}

TEST(CudaMathHost, BiasGradMatchesConvAndDenseBackward) {
  // conv: channels with spatial extent
  const layers::Conv2dShape s{4, 2, 6, 5, 3, 3};
  const std::vector<float> x = random_floats(s.n * s.in_c * s.h * s.w, 5);
  const std::vector<float> weight = random_floats(s.out_c * s.in_c * s.k * s.k, 6);
  const std::vector<float> dy = random_floats(s.n * s.out_c * s.h * s.w, 7);
  std::vector<float> dw(weight.size()), db(s.out_c);
  layers::conv2d_backward(x.data(), weight.data(), dy.data(), static_cast<float*>(nullptr), dw.data(), db.data(), s);
  for (std::size_t c = 0; c < s.out_c; ++c) {
    // One partial (the whole sum) and the kernel's shape: 256 strided partials, then a tree.
    EXPECT_NEAR(cuda_math::bias_grad_partial(dy.data(), c, s.n, s.out_c, s.h * s.w, 0, 1), db[c], 1e-4f);
    std::vector<float> partial(256);
    for (std::size_t t = 0; t < 256; ++t)
      partial[t] = cuda_math::bias_grad_partial(dy.data(), c, s.n, s.out_c, s.h * s.w, t, 256);
    for (std::size_t half = 128; half > 0; half /= 2)
      for (std::size_t t = 0; t < half; ++t) partial[t] += partial[t + half];
    EXPECT_NEAR(partial[0], db[c], 1e-4f);
  }
  // dense: spatial extent 1
  const std::size_t n = 9, in = 4, out = 5;
  const std::vector<float> dx_in = random_floats(n * in, 8), w = random_floats(in * out, 9), g = random_floats(n * out, 10);
  std::vector<float> dwd(in * out), dbd(out);
  layers::dense_backward(dx_in.data(), w.data(), g.data(), static_cast<float*>(nullptr), dwd.data(), dbd.data(), n, in, out);
  for (std::size_t o = 0; o < out; ++o)
    EXPECT_FLOAT_EQ(cuda_math::bias_grad_partial(g.data(), o, n, out, 1, 0, 1), dbd[o]);
}

TEST(CudaMathHost, DropoutWithTheSharedMaskIsTheReferenceDropout) {
  const std::size_t count = 1001;
  const float p = 0.5f;
  std::vector<std::uint8_t> keep(count);
  layers::dropout_mask(42, 8, p, count, keep.data());
  const std::vector<float> x = random_floats(count, 11);
  std::vector<float> ref(count), y(count);
  layers::dropout_forward(x.data(), keep.data(), p, ref.data(), count);
  const float scale = cuda_math::dropout_scale(p);
  for (std::size_t j = 0; j < count; ++j) y[j] = cuda_math::dropout_apply(x[j], keep[j], scale);
  EXPECT_EQ(y, ref);
  std::size_t kept = 0;
  for (auto k : keep) kept += k;
  EXPECT_GT(kept, count / 3);
  EXPECT_LT(kept, 2 * count / 3);
}

// Runs `steps` updates of the CPU optimizer and of the element-wise functions side by side.
void compare_optimizer(const OptimizerSpec& spec) {
  const std::size_t size = 257;
  std::vector<float> p_ref = random_floats(size, 12), p = p_ref, m(size, 0.f), v(size, 0.f);
  const auto opt = make_optimizer(spec, size);
  for (int step = 1; step <= 5; ++step) {
    const std::vector<float> g = random_floats(size, 100 + static_cast<std::uint64_t>(step));
    const double lr_scale = step == 3 ? 0.5 : 1.0;
    opt->step(p_ref, g, lr_scale);
    const float lr = static_cast<float>(spec.lr * lr_scale), wd = static_cast<float>(spec.weight_decay);
    cuda_math::AdamStep a;
    if (spec.name == "adam") {
      const double bc1 = 1.0 - std::pow(spec.beta1, step), bc2 = 1.0 - std::pow(spec.beta2, step);
      a.beta1 = static_cast<float>(spec.beta1);
      a.beta2 = static_cast<float>(spec.beta2);
      a.step = static_cast<float>(spec.lr * lr_scale / bc1);
      a.inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
      a.eps = static_cast<float>(spec.eps);
      a.wd = wd;
    }
    for (std::size_t j = 0; j < size; ++j) {
      if (spec.name == "sgd") cuda_math::sgd_update(p[j], g[j], lr, wd);
      else if (spec.name == "momentum") cuda_math::momentum_update(p[j], m[j], g[j], lr, static_cast<float>(spec.momentum), wd);
      else cuda_math::adam_update(p[j], m[j], v[j], g[j], a);
    }
  }
  for (std::size_t j = 0; j < size; ++j) EXPECT_NEAR(p[j], p_ref[j], 1e-6f * (1.f + std::fabs(p_ref[j]))) << spec.name << " " << j;
}

TEST(CudaMathHost, OptimizerUpdatesMatchTheCpuOptimizers) {
  for (const char* name : {"sgd", "momentum", "adam"})
    for (double wd : {0.0, 1e-3}) {
      OptimizerSpec spec;
      spec.name = name;
      spec.lr = 0.01;
      spec.weight_decay = wd;
      compare_optimizer(spec);
    }
}

TEST(CudaMathHost, PackedSourceIndexGathersRangesInOrder) {
  const std::vector<Range> ranges{{3, 5}, {10, 11}, {20, 24}};
  std::vector<std::size_t> begins, prefix{0};
  std::vector<std::size_t> expected;
  for (const Range& r : ranges) {
    begins.push_back(r.begin);
    prefix.push_back(prefix.back() + r.size());
    for (std::size_t i = r.begin; i < r.end; ++i) expected.push_back(i);
  }
  std::vector<std::size_t> got;
  for (std::size_t j = 0; j < prefix.back(); ++j)
    got.push_back(cuda_math::packed_source_index(begins.data(), prefix.data(), static_cast<int>(begins.size()), j));
  EXPECT_EQ(got, expected);
  // Shard ranges cover the buffer: packing them is the identity.
  const auto shards = shard_ranges(103, 4);
  begins.clear();
  prefix.assign(1, 0);
  for (const Range& r : shards) {
    begins.push_back(r.begin);
    prefix.push_back(prefix.back() + r.size());
  }
  for (std::size_t j = 0; j < 103; ++j)
    EXPECT_EQ(cuda_math::packed_source_index(begins.data(), prefix.data(), 4, j), j);
}

}  // namespace
}  // namespace synclab
