// Finite-difference checks of every layer's backward pass, in double precision: the loss
// L = sum(r * layer(x, w)) for a fixed random r, whose gradient is the layer's backward
// applied to dy = r.
#include <gtest/gtest.h>

#include <functional>

#include "core/layers/conv2d.hpp"
#include "core/layers/dense.hpp"
#include "core/layers/dropout.hpp"
#include "core/layers/maxpool.hpp"
#include "core/layers/relu.hpp"
#include "core/layers/sigmoid.hpp"
#include "core/layers/softmax_xent.hpp"
#include "tests/core/test_util.hpp"

namespace synclab {
namespace {

using Vec = std::vector<double>;
using Forward = std::function<Vec(const Vec& x, const Vec& w)>;
// Returns {dx, dw} for upstream gradient dy.
using Backward = std::function<std::pair<Vec, Vec>(const Vec& x, const Vec& w, const Vec& dy)>;

double project(const Vec& y, const Vec& r) {
  double s = 0;
  for (std::size_t i = 0; i < y.size(); ++i) s += y[i] * r[i];
  return s;
}

// Central differences of L over every coordinate of v (x or w).
Vec numeric_grad(Vec& v, const std::function<double()>& loss) {
  const double h = 1e-6;
  Vec g(v.size());
  for (std::size_t i = 0; i < v.size(); ++i) {
    const double keep = v[i];
    v[i] = keep + h;
    const double up = loss();
    v[i] = keep - h;
    const double down = loss();
    v[i] = keep;
    g[i] = (up - down) / (2 * h);
  }
  return g;
}

void check_layer(Vec x, Vec w, std::size_t out_size, const Forward& forward, const Backward& backward) {
  const Vec r = test::random_values<double>(out_size, 99);
  ASSERT_EQ(forward(x, w).size(), out_size);
  const auto [dx, dw] = backward(x, w, r);
  auto loss = [&] { return project(forward(x, w), r); };
  EXPECT_TRUE(test::all_close(dx, numeric_grad(x, loss), 1e-6)) << "input gradient";
  if (!w.empty()) {
    EXPECT_TRUE(test::all_close(dw, numeric_grad(w, loss), 1e-6)) << "weight gradient";
  }
}

TEST(LayerGradients, Dense) {
  const std::size_t n = 3, in = 5, out = 4;
  // w holds the weight [in, out] then the bias [out].
  const Forward f = [=](const Vec& x, const Vec& w) {
    Vec y(n * out);
    layers::dense_forward(x.data(), w.data(), w.data() + in * out, y.data(), n, in, out);
    return y;
  };
  const Backward b = [=](const Vec& x, const Vec& w, const Vec& dy) {
    Vec dx(n * in), dw(in * out + out);
    layers::dense_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), dw.data() + in * out, n, in, out);
    return std::make_pair(dx, dw);
  };
  check_layer(test::random_values<double>(n * in, 1), test::random_values<double>(in * out + out, 2), n * out, f, b);
}

class Conv2dGradients : public ::testing::TestWithParam<int> {};

TEST_P(Conv2dGradients, MatchesFiniteDifferences) {
  const layers::Conv2dShape s{2, 3, 5, 6, 4, static_cast<std::size_t>(GetParam())};
  const std::size_t wsize = s.out_c * s.in_c * s.k * s.k;
  const Forward f = [=](const Vec& x, const Vec& w) {
    Vec y(s.n * s.out_c * s.h * s.w);
    layers::conv2d_forward(x.data(), w.data(), w.data() + wsize, y.data(), s);
    return y;
  };
  const Backward b = [=](const Vec& x, const Vec& w, const Vec& dy) {
    Vec dx(x.size()), dw(w.size());
    layers::conv2d_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), dw.data() + wsize, s);
    return std::make_pair(dx, dw);
  };
  check_layer(test::random_values<double>(s.n * s.in_c * s.h * s.w, 3),
              test::random_values<double>(wsize + s.out_c, 4), s.n * s.out_c * s.h * s.w, f, b);
}

INSTANTIATE_TEST_SUITE_P(Kernels, Conv2dGradients, ::testing::Values(1, 3, 5),
                         [](const ::testing::TestParamInfo<int>& p) { return "kernel" + std::to_string(p.param); });

TEST(LayerGradients, Conv2dSamePaddingByHand) {
  // 3x3 input, 3x3 kernel of ones, bias 0.5: each output sums its in-bounds neighbourhood.
  const layers::Conv2dShape s{1, 1, 3, 3, 1, 3};
  const Vec x{1, 2, 3, 4, 5, 6, 7, 8, 9}, w(9, 1.0), bias{0.5};
  Vec y(9);
  layers::conv2d_forward(x.data(), w.data(), bias.data(), y.data(), s);
  const Vec expected{12.5, 21.5, 16.5, 27.5, 45.5, 33.5, 24.5, 39.5, 28.5};
  EXPECT_EQ(y, expected);
}

TEST(LayerGradients, MaxPool) {
  const std::size_t planes = 3, h = 4, w = 6;  // also exercises h/2, w/2 windows
  const Forward f = [=](const Vec& x, const Vec&) {
    Vec y(planes * (h / 2) * (w / 2));
    std::vector<std::uint32_t> arg(y.size());
    layers::maxpool2x2_forward(x.data(), y.data(), arg.data(), planes, h, w);
    return y;
  };
  const Backward b = [=](const Vec& x, const Vec&, const Vec& dy) {
    Vec y(dy.size()), dx(x.size());
    std::vector<std::uint32_t> arg(y.size());
    layers::maxpool2x2_forward(x.data(), y.data(), arg.data(), planes, h, w);
    layers::maxpool2x2_backward(dy.data(), arg.data(), dx.data(), planes, h, w);
    return std::make_pair(dx, Vec{});
  };
  check_layer(test::random_values<double>(planes * h * w, 5), {}, planes * (h / 2) * (w / 2), f, b);
}

TEST(LayerGradients, MaxPoolOddSizeDropsTrailingRow) {
  const Vec x{1, 5, 2,  //
              3, 4, 9,  //
              8, 8, 8};
  Vec y(1);
  std::vector<std::uint32_t> arg(1);
  layers::maxpool2x2_forward(x.data(), y.data(), arg.data(), 1, 3, 3);
  EXPECT_EQ(y[0], 5.0);
  EXPECT_EQ(arg[0], 1u);
}

TEST(LayerGradients, Relu) {
  const std::size_t count = 40;
  const Forward f = [=](const Vec& x, const Vec&) {
    Vec y(count);
    layers::relu_forward(x.data(), y.data(), count);
    return y;
  };
  const Backward b = [=](const Vec& x, const Vec&, const Vec& dy) {
    Vec y(count), dx(count);
    layers::relu_forward(x.data(), y.data(), count);
    layers::relu_backward(y.data(), dy.data(), dx.data(), count);
    return std::make_pair(dx, Vec{});
  };
  check_layer(test::random_values<double>(count, 6), {}, count, f, b);
}

TEST(LayerGradients, Sigmoid) {
  const std::size_t count = 40;
  const Forward f = [=](const Vec& x, const Vec&) {
    Vec y(count);
    layers::sigmoid_forward(x.data(), y.data(), count);
    return y;
  };
  const Backward b = [=](const Vec& x, const Vec&, const Vec& dy) {
    Vec y(count), dx(count);
    layers::sigmoid_forward(x.data(), y.data(), count);
    layers::sigmoid_backward(y.data(), dy.data(), dx.data(), count);
    return std::make_pair(dx, Vec{});
  };
  check_layer(test::random_values<double>(count, 7, -4, 4), {}, count, f, b);
}

TEST(LayerGradients, Dropout) {
  const std::size_t count = 64;
  const float p = 0.3f;
  std::vector<std::uint8_t> keep(count);
  layers::dropout_mask(42, 3, p, count, keep.data());
  const Forward f = [&](const Vec& x, const Vec&) {
    Vec y(count);
    layers::dropout_forward(x.data(), keep.data(), p, y.data(), count);
    return y;
  };
  const Backward b = [&](const Vec&, const Vec&, const Vec& dy) {
    Vec dx(count);
    layers::dropout_backward(dy.data(), keep.data(), p, dx.data(), count);
    return std::make_pair(dx, Vec{});
  };
  check_layer(test::random_values<double>(count, 8), {}, count, f, b);
}

TEST(LayerGradients, DropoutMaskIsSeededAndHasTheRightRate) {
  const std::size_t count = 100000;
  std::vector<std::uint8_t> a(count), b(count), c(count);
  layers::dropout_mask(7, 1, 0.5f, count, a.data());
  layers::dropout_mask(7, 1, 0.5f, count, b.data());
  layers::dropout_mask(8, 1, 0.5f, count, c.data());
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  std::size_t kept = 0;
  for (auto k : a) kept += k;
  EXPECT_NEAR(static_cast<double>(kept) / count, 0.5, 0.01);
  layers::dropout_mask(7, 1, 0.f, count, a.data());
  for (auto k : a) ASSERT_EQ(k, 1);
}

TEST(LayerGradients, SoftmaxCrossEntropy) {
  const std::size_t n = 4, classes = 5;
  const std::vector<std::uint8_t> labels{0, 3, 4, 3};
  Vec z = test::random_values<double>(n * classes, 9, -3, 3);
  Vec dz(z.size());
  const auto r = layers::softmax_xent(z.data(), labels.data(), n, classes, dz.data());
  auto mean_loss = [&] { return layers::softmax_xent(z.data(), labels.data(), n, classes, (double*)nullptr).loss_sum / n; };
  EXPECT_NEAR(r.loss_sum / n, mean_loss(), 1e-12);
  EXPECT_TRUE(test::all_close(dz, numeric_grad(z, mean_loss), 1e-6));
}

TEST(LayerGradients, SoftmaxCrossEntropyByHand) {
  // Two equal logits: loss log(2); large logits must not overflow.
  const Vec z{0.0, 0.0, 1000.0, 0.0};
  const std::vector<std::uint8_t> labels{1, 0};
  const auto r = layers::softmax_xent(z.data(), labels.data(), 2, 2, (double*)nullptr);
  EXPECT_NEAR(r.loss_sum, std::log(2.0), 1e-9);
  EXPECT_EQ(r.correct, 1u);  // tie -> class 0 (wrong for sample 0); sample 1 right
}

}  // namespace
}  // namespace synclab
