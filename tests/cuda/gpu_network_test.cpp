// The cuda Network against the reference Network: whole training steps, evaluation,
// determinism, errors, and training the CNN on Fashion-MNIST to the accuracy bar.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include "core/backends/network.hpp"
#include "core/common/error.hpp"
#include "core/data/dataset.hpp"
#include "core/models/model_spec.hpp"
#include "core/optim/optimizer.hpp"
#include "tests/cuda/gpu_test_util.hpp"

namespace synclab {
namespace {

struct Inputs {
  std::vector<float> x;
  std::vector<std::uint8_t> y;
  Batch batch() const { return {x.data(), y.data(), y.size()}; }
};

Inputs random_inputs(const ModelSpec& spec, std::size_t n, std::uint64_t seed) {
  Inputs in;
  in.x = cuda_test::random_floats(n * spec.input_size(), seed, 0.3);
  for (float& v : in.x) v = std::clamp(v + 0.5f, 0.f, 1.f);
  for (std::size_t i = 0; i < n; ++i) in.y.push_back(static_cast<std::uint8_t>((i * 7 + seed) % 10));
  return in;
}

// One step on both backends; the gradient is compared block by block against its scale.
void compare_step(const std::string& model, std::size_t n) {
  const ModelSpec spec = make_model_spec(model);
  std::vector<float> params(spec.num_params());
  init_params(spec, params.data(), 3);
  const Inputs in = random_inputs(spec, n, 5);
  auto ref = make_network(spec, BackendKind::Reference, {n, 1, 0});
  auto gpu = make_network(spec, BackendKind::Cuda, {n, 1, 0});
  EXPECT_EQ(gpu->kind(), BackendKind::Cuda);
  std::vector<float> g_ref(spec.num_params()), g_gpu(spec.num_params());
  const float loss_ref = ref->forward_backward(params, in.batch(), g_ref, 11);
  const float loss_gpu = gpu->forward_backward(params, in.batch(), g_gpu, 11);
  EXPECT_NEAR(loss_gpu, loss_ref, 1e-4 * std::fabs(loss_ref)) << model;
  for (const ParamBlock& b : spec.layout.blocks) {
    const std::vector<float> want(g_ref.begin() + static_cast<long>(b.offset), g_ref.begin() + static_cast<long>(b.offset + b.count));
    const std::vector<float> got(g_gpu.begin() + static_cast<long>(b.offset), g_gpu.begin() + static_cast<long>(b.offset + b.count));
    float scale = 0.f;
    for (float v : want) scale = std::max(scale, std::fabs(v));
    cuda_test::expect_close(got, want, 10 * cuda_test::matmul_rtol() * scale, 10 * cuda_test::matmul_rtol(),
                            model + " " + b.name);
  }
}

TEST(GpuNetwork, CnnTrainingStepMatchesTheReference) {
  SYNCLAB_REQUIRE_GPU();
  compare_step("cnn", 6);
}

TEST(GpuNetwork, MlpAndSoftmaxStepsMatchTheReference) {
  SYNCLAB_REQUIRE_GPU();
  compare_step("mlp", 32);
  compare_step("softmax", 32);
}

TEST(GpuNetwork, EvaluateMatchesTheReferenceAcrossChunks) {
  SYNCLAB_REQUIRE_GPU();
  const ModelSpec spec = make_model_spec("cnn");
  std::vector<float> params(spec.num_params());
  init_params(spec, params.data(), 4);
  const Inputs in = random_inputs(spec, 25, 6);  // chunks of 10, 10 and 5
  auto ref = make_network(spec, BackendKind::Reference, {10, 1, 0});
  auto gpu = make_network(spec, BackendKind::Cuda, {10, 1, 0});
  const EvalStats a = ref->evaluate(params, in.batch()), b = gpu->evaluate(params, in.batch());
  EXPECT_EQ(b.count, 25u);
  // Argmax near-ties may flip under a different summation order.
  EXPECT_NEAR(static_cast<double>(b.correct), static_cast<double>(a.correct), 1.0);
  EXPECT_NEAR(b.loss_sum, a.loss_sum, 1e-3 * std::fabs(a.loss_sum));
}

TEST(GpuNetwork, SameSeedGivesBitIdenticalGradients) {
  SYNCLAB_REQUIRE_GPU();
  const ModelSpec spec = make_model_spec("cnn");
  std::vector<float> params(spec.num_params());
  init_params(spec, params.data(), 5);
  const Inputs in = random_inputs(spec, 20, 7);
  auto gpu = make_network(spec, BackendKind::Cuda, {20, 1, 0});
  std::vector<float> g1(spec.num_params()), g2(spec.num_params()), g3(spec.num_params());
  const float l1 = gpu->forward_backward(params, in.batch(), g1, 99);
  const float l2 = gpu->forward_backward(params, in.batch(), g2, 99);
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(g1, g2);
  gpu->forward_backward(params, in.batch(), g3, 100);  // another dropout mask
  EXPECT_NE(g1, g3);
}

TEST(GpuNetwork, BadArgumentsAreOneLineErrors) {
  SYNCLAB_REQUIRE_GPU();
  const ModelSpec spec = make_model_spec("softmax");
  std::vector<float> params(spec.num_params()), grad(spec.num_params());
  const Inputs in = random_inputs(spec, 8, 8);
  auto gpu = make_network(spec, BackendKind::Cuda, {4, 1, 0});
  EXPECT_THROW(gpu->forward_backward(params, in.batch(), grad, 1), Error);  // 8 > max_batch 4
  std::vector<float> short_params(10);
  EXPECT_THROW(gpu->evaluate(short_params, in.batch()), Error);
  EXPECT_THROW(make_network(spec, BackendKind::Cuda, {4, 1, cuda_device_count()}), Error);
}

TEST(GpuNetwork, WithoutAGpuTheBackendRefusesInOneLine) {
  if (cuda_device_count() > 0) GTEST_SKIP() << "a CUDA device is present";
  try {
    make_network(make_model_spec("cnn"), BackendKind::Cuda);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("no CUDA device"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
}

// The foundation's bar: the CNN, 1000 steps of batch 100, Adam lr 1e-4, reaches test
// accuracy >= 0.83 on Fashion-MNIST. (The fast CPU backend, same seeds and schedule, ends
// at 0.854 on the 10,000 test images.)
TEST(GpuNetwork, TrainsTheCnnToTheAccuracyBar) {
  SYNCLAB_REQUIRE_GPU();
  if (!std::filesystem::exists(kDefaultFashionMnistDir)) GTEST_SKIP() << "Fashion-MNIST not installed";
  const DataSplit data = load_data(DataSpec{}, 1);
  const ModelSpec spec = make_model_spec("cnn");
  std::vector<float> params(spec.num_params()), grad(spec.num_params());
  init_params(spec, params.data(), 1);
  auto gpu = make_network(spec, BackendKind::Cuda, {100, 1, 0});
  OptimizerSpec opt_spec;
  opt_spec.name = "adam";
  opt_spec.lr = 1e-4;
  auto opt = make_optimizer(opt_spec, spec.num_params());
  std::vector<std::uint32_t> all(data.train.size());
  std::iota(all.begin(), all.end(), 0u);
  BatchSampler sampler(data.train, all, 100, 1);
  for (std::uint64_t step = 0; step < 1000; ++step) {
    gpu->forward_backward(params, sampler.next(), grad, step);
    opt->step(params, grad);
  }
  const EvalStats eval = gpu->evaluate(params, data.test.slice(0, data.test.size()));
  const double accuracy = static_cast<double>(eval.correct) / static_cast<double>(eval.count);
  std::printf("cnn test accuracy after 1000 steps: %.4f\n", accuracy);
  EXPECT_GE(accuracy, 0.83);
}

}  // namespace
}  // namespace synclab
