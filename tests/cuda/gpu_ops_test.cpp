// Every operation of the cuda backend on the GPU against the reference layers on the CPU.
// Skips (with a message) where no CUDA device is present.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "core/backends/cuda/cublas_dense.hpp"
#include "core/backends/cuda/cuda_context.hpp"
#include "core/backends/cuda/cudnn_activation.hpp"
#include "core/backends/cuda/cudnn_conv2d.hpp"
#include "core/backends/cuda/cudnn_maxpool.hpp"
#include "core/backends/cuda/device_optimizer.hpp"
#include "core/backends/cuda/kernels.hpp"
#include "core/backends/cuda/range_packer.hpp"
#include "core/common/error.hpp"
#include "core/layers/conv2d.hpp"
#include "core/layers/dense.hpp"
#include "core/layers/dropout.hpp"
#include "core/layers/maxpool.hpp"
#include "core/layers/relu.hpp"
#include "core/layers/sigmoid.hpp"
#include "core/layers/softmax_xent.hpp"
#include "core/optim/optimizer.hpp"
#include "tests/cuda/gpu_test_util.hpp"

namespace synclab {
namespace {

using cuda_test::expect_close;
using cuda_test::random_floats;
using cuda_test::to_device;
using cuda_test::to_host;

float max_abs(const std::vector<float>& v) {
  float m = 0.f;
  for (float x : v) m = std::max(m, std::fabs(x));
  return m;
}

// Absolute tolerance for a result accumulated from many products: relative to its scale.
void expect_matmul_close(const std::vector<float>& got, const std::vector<float>& want, const char* what) {
  const float rtol = cuda_test::matmul_rtol();
  expect_close(got, want, rtol * max_abs(want), rtol, what);
}

TEST(GpuOps, Conv2dForwardAndBothBackwardsMatchTheReference) {
  SYNCLAB_REQUIRE_GPU();
  cuda::CudaContext ctx(0);
  for (const layers::Conv2dShape s : {layers::Conv2dShape{3, 4, 9, 7, 5, 5}, layers::Conv2dShape{2, 1, 28, 28, 32, 5},
                                      layers::Conv2dShape{2, 3, 6, 6, 4, 3}}) {
    const auto x = random_floats(s.n * s.in_c * s.h * s.w, 1);
    const auto w = random_floats(s.out_c * s.in_c * s.k * s.k, 2, 0.1);
    const auto b = random_floats(s.out_c, 3);
    const auto dy = random_floats(s.n * s.out_c * s.h * s.w, 4);
    std::vector<float> y(dy.size()), dx(x.size()), dw(w.size()), db(b.size());
    layers::conv2d_forward(x.data(), w.data(), b.data(), y.data(), s);
    layers::conv2d_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), s);

    auto dx_d = to_device(x), dw_d = to_device(w), db_d = to_device(b), ddy = to_device(dy);
    cuda::DeviceBuffer<float> y_d(y.size()), gx(x.size()), gw(w.size()), gb(b.size());
    cuda::CudnnConv2d conv(ctx, s);
    conv.forward(dx_d.data(), dw_d.data(), db_d.data(), y_d.data());
    conv.backward(dx_d.data(), dw_d.data(), ddy.data(), gx.data(), gw.data(), gb.data());
    expect_matmul_close(to_host(y_d), y, "conv forward");
    expect_matmul_close(to_host(gx), dx, "conv backward data");
    expect_matmul_close(to_host(gw), dw, "conv backward filter");
    expect_close(to_host(gb), db, 1e-4f * max_abs(db), 1e-5f, "conv bias gradient");
  }
}

TEST(GpuOps, MaxPoolMatchesTheReference) {
  SYNCLAB_REQUIRE_GPU();
  cuda::CudaContext ctx(0);
  const int n = 3, c = 4, h = 7, w = 8;  // odd height: the last row is dropped
  const std::size_t in = std::size_t(n) * c * h * w, out = std::size_t(n) * c * (h / 2) * (w / 2);
  const auto x = random_floats(in, 5), dy = random_floats(out, 6);
  std::vector<float> y(out), dx(in);
  std::vector<std::uint32_t> argmax(out);
  layers::maxpool2x2_forward(x.data(), y.data(), argmax.data(), std::size_t(n) * c, h, w);
  layers::maxpool2x2_backward(dy.data(), argmax.data(), dx.data(), std::size_t(n) * c, h, w);
  auto xd = to_device(x), dyd = to_device(dy);
  cuda::DeviceBuffer<float> yd(out), dxd(in);
  cuda::CudnnMaxPool2x2 pool(ctx, n, c, h, w);
  pool.forward(xd.data(), yd.data());
  pool.backward(xd.data(), yd.data(), dyd.data(), dxd.data());
  EXPECT_EQ(to_host(yd), y);
  EXPECT_EQ(to_host(dxd), dx);
}

TEST(GpuOps, ActivationsMatchTheReference) {
  SYNCLAB_REQUIRE_GPU();
  cuda::CudaContext ctx(0);
  const std::size_t count = 5000;
  const auto x = random_floats(count, 7, 3.0), dy = random_floats(count, 8);
  for (const auto kind : {cuda::Activation::Relu, cuda::Activation::Sigmoid}) {
    std::vector<float> y(count), dx(count);
    if (kind == cuda::Activation::Relu) {
      layers::relu_forward(x.data(), y.data(), count);
      layers::relu_backward(y.data(), dy.data(), dx.data(), count);
    } else {
      layers::sigmoid_forward(x.data(), y.data(), count);
      layers::sigmoid_backward(y.data(), dy.data(), dx.data(), count);
    }
    auto xd = to_device(x), dyd = to_device(dy);
    cuda::DeviceBuffer<float> yd(count), dxd(count);
    cuda::CudnnActivation act(ctx, kind, count);
    act.forward(xd.data(), yd.data());
    act.backward(xd.data(), yd.data(), dyd.data(), dxd.data());
    expect_close(to_host(yd), y, 1e-6f, 1e-5f, "activation forward");
    expect_close(to_host(dxd), dx, 1e-6f, 1e-5f, "activation backward");
  }
}

TEST(GpuOps, DenseMatchesTheReference) {
  SYNCLAB_REQUIRE_GPU();
  cuda::CudaContext ctx(0);
  const std::size_t n = 17, in = 300, out = 33;
  const auto x = random_floats(n * in, 9), w = random_floats(in * out, 10, 0.1), b = random_floats(out, 11);
  const auto dy = random_floats(n * out, 12);
  std::vector<float> y(n * out), dx(n * in), dw(in * out), db(out);
  layers::dense_forward(x.data(), w.data(), b.data(), y.data(), n, in, out);
  layers::dense_backward(x.data(), w.data(), dy.data(), dx.data(), dw.data(), db.data(), n, in, out);
  auto xd = to_device(x), wd = to_device(w), bd = to_device(b), dyd = to_device(dy);
  cuda::DeviceBuffer<float> yd(y.size()), dxd(dx.size()), dwd(dw.size()), dbd(db.size());
  cuda::CublasDense dense(ctx, n, in, out);
  dense.forward(xd.data(), wd.data(), bd.data(), yd.data());
  dense.backward(xd.data(), wd.data(), dyd.data(), dxd.data(), dwd.data(), dbd.data());
  expect_matmul_close(to_host(yd), y, "dense forward");
  expect_matmul_close(to_host(dxd), dx, "dense input gradient");
  expect_matmul_close(to_host(dwd), dw, "dense weight gradient");
  expect_close(to_host(dbd), db, 1e-5f * max_abs(db), 1e-5f, "dense bias gradient");
}

TEST(GpuOps, SoftmaxXentKernelMatchesTheReference) {
  SYNCLAB_REQUIRE_GPU();
  cuda::CudaContext ctx(0);
  const std::size_t n = 300, classes = 10;
  const auto logits = random_floats(n * classes, 13, 4.0);
  std::vector<std::uint8_t> labels(n);
  for (std::size_t i = 0; i < n; ++i) labels[i] = static_cast<std::uint8_t>((i * 3 + 1) % classes);
  std::vector<float> d(n * classes);
  const auto ref = layers::softmax_xent(logits.data(), labels.data(), n, classes, d.data());
  auto zd = to_device(logits);
  auto yd = to_device(labels);
  cuda::DeviceBuffer<float> dd(d.size()), row_loss(n), stats(2);
  cuda::DeviceBuffer<int> row_correct(n);
  cuda::softmax_xent(zd.data(), yd.data(), n, static_cast<int>(classes), dd.data(), row_loss.data(),
                     row_correct.data(), ctx.stream());
  cuda::sum_rows(row_loss.data(), row_correct.data(), n, stats.data(), ctx.stream());
  const auto s = to_host(stats);
  EXPECT_NEAR(s[0], ref.loss_sum, 1e-4 * std::fabs(ref.loss_sum));
  EXPECT_EQ(static_cast<std::size_t>(s[1]), ref.correct);
  expect_close(to_host(dd), d, 1e-7f, 1e-5f, "softmax cross-entropy gradient");
}

TEST(GpuOps, DropoutKernelUsesTheCpuMask) {
  SYNCLAB_REQUIRE_GPU();
  cuda::CudaContext ctx(0);
  const std::size_t count = 4099;
  const float p = 0.3f;
  std::vector<std::uint8_t> keep(count);
  layers::dropout_mask(7, 9, p, count, keep.data());
  const auto x = random_floats(count, 14);
  std::vector<float> y(count);
  layers::dropout_forward(x.data(), keep.data(), p, y.data(), count);
  auto xd = to_device(x);
  auto kd = to_device(keep);
  cuda::DeviceBuffer<float> yd(count);
  cuda::dropout(xd.data(), kd.data(), p, yd.data(), count, ctx.stream());
  EXPECT_EQ(to_host(yd), y);
}

TEST(GpuOps, DeviceOptimizersMatchTheCpuOptimizers) {
  SYNCLAB_REQUIRE_GPU();
  cuda::CudaContext ctx(0);
  const std::size_t size = 100003;
  for (const char* name : {"sgd", "momentum", "adam"}) {
    OptimizerSpec spec;
    spec.name = name;
    spec.lr = 1e-2;
    spec.weight_decay = 1e-4;
    auto p_ref = random_floats(size, 15);
    auto pd = to_device(p_ref);
    const auto cpu = make_optimizer(spec, size);
    cuda::DeviceOptimizer gpu(ctx, spec, size);
    for (int step = 0; step < 4; ++step) {
      const auto g = random_floats(size, 16 + static_cast<std::uint64_t>(step));
      auto gd = to_device(g);
      cpu->step(p_ref, g, step == 2 ? 0.5 : 1.0);
      gpu.step(pd.data(), gd.data(), step == 2 ? 0.5 : 1.0);
      ctx.synchronize();
    }
    EXPECT_EQ(gpu.steps(), 4u);
    expect_close(to_host(pd), p_ref, 1e-6f, 1e-5f, name);
  }
  EXPECT_THROW(cuda::DeviceOptimizer(ctx, OptimizerSpec{"lamb"}, 4), ConfigError);
}

TEST(GpuOps, RangePackerGathersAndScattersRanges) {
  SYNCLAB_REQUIRE_GPU();
  cuda::CudaContext ctx(0);
  std::vector<float> flat(1000);
  for (std::size_t i = 0; i < flat.size(); ++i) flat[i] = static_cast<float>(i);
  const std::vector<Range> ranges{{10, 20}, {500, 500}, {600, 1000}, {0, 3}};
  cuda::RangePacker packer(ctx, ranges);
  ASSERT_EQ(packer.total(), 413u);
  auto fd = to_device(flat);
  cuda::DeviceBuffer<float> packed(packer.total());
  packer.pack(fd.data(), packed.data());
  std::vector<float> want;
  for (const Range& r : ranges)
    for (std::size_t i = r.begin; i < r.end; ++i) want.push_back(static_cast<float>(i));
  EXPECT_EQ(to_host(packed), want);
  cuda::DeviceBuffer<float> back(flat.size());
  cuda::check(cudaMemsetAsync(back.data(), 0, flat.size() * sizeof(float), ctx.stream()), "cudaMemsetAsync");
  packer.unpack(packed.data(), back.data());
  const auto host = to_host(back);
  for (const Range& r : ranges)
    for (std::size_t i = r.begin; i < r.end; ++i) EXPECT_EQ(host[i], flat[i]);
  EXPECT_EQ(host[5], 0.f);
}

}  // namespace
}  // namespace synclab
