// Backends and optimizers together: a few hundred steps on a learnable synthetic problem
// (labels from a fixed random linear map of the inputs) must drive the loss down and the
// accuracy far above chance, on both CPU backends, with every optimizer.
#include <gtest/gtest.h>

#include "core/backends/network.hpp"
#include "core/models/spec_builder.hpp"
#include "core/optim/optimizer.hpp"
#include "tests/core/test_util.hpp"

namespace synclab {
namespace {

struct Task {
  std::vector<float> x;
  std::vector<std::uint8_t> y;
};

Task linear_task(std::size_t n, std::size_t dim, int classes) {
  Task t;
  t.x = test::random_values<float>(n * dim, 1, 0.0, 1.0);
  const auto w = test::random_values<float>(dim * static_cast<std::size_t>(classes), 2);
  t.y.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    int best = 0;
    float best_v = -1e30f;
    for (int c = 0; c < classes; ++c) {
      float v = 0;
      for (std::size_t k = 0; k < dim; ++k) v += (t.x[i * dim + k] - 0.5f) * w[k * classes + c];
      if (v > best_v) {
        best_v = v;
        best = c;
      }
    }
    t.y[i] = static_cast<std::uint8_t>(best);
  }
  return t;
}

struct Case {
  BackendKind backend;
  const char* optimizer;
  double lr;
};

// "fast_sgd": the test name and what a failure message prints for the case.
std::string case_name(const Case& c) { return std::string(c.backend == BackendKind::Fast ? "fast" : "reference") + "_" + c.optimizer; }
void PrintTo(const Case& c, std::ostream* os) { *os << case_name(c) << " lr " << c.lr; }

class Training : public ::testing::TestWithParam<Case> {};

TEST_P(Training, LearnsALinearProblem) {
  SpecBuilder b("small-mlp", 1, 4, 4);
  b.dense("fc1", 32);
  b.relu("relu");
  b.dense("fc2", 4);
  const ModelSpec spec = b.done(4);
  const std::size_t n = 512, batch = 32;
  const Task task = linear_task(n, spec.input_size(), spec.classes);
  std::vector<float> params(spec.num_params()), grad(spec.num_params());
  init_params(spec, params.data(), 3);
  NetworkOptions options;
  options.max_batch = batch;
  auto net = make_network(spec, GetParam().backend, options);
  OptimizerSpec os;
  os.name = GetParam().optimizer;
  os.lr = GetParam().lr;
  auto opt = make_optimizer(os, spec.num_params());
  const Batch all{task.x.data(), task.y.data(), n};
  const EvalStats before = net->evaluate(params, all);
  for (std::size_t step = 0; step < 400; ++step) {
    const std::size_t first = (step * batch) % n;
    net->forward_backward(params, {task.x.data() + first * spec.input_size(), task.y.data() + first, batch}, grad, step);
    opt->step(params, grad);
  }
  const EvalStats after = net->evaluate(params, all);
  EXPECT_LT(after.loss_sum, 0.5 * before.loss_sum);
  EXPECT_GT(static_cast<double>(after.correct) / n, 0.8);  // chance is 0.25
}

INSTANTIATE_TEST_SUITE_P(Backends, Training,
                         ::testing::Values(Case{BackendKind::Fast, "sgd", 0.5}, Case{BackendKind::Fast, "momentum", 0.05},
                                           Case{BackendKind::Fast, "adam", 0.01},
                                           Case{BackendKind::Reference, "adam", 0.01}),
                         [](const ::testing::TestParamInfo<Case>& p) { return case_name(p.param); });

}  // namespace
}  // namespace synclab
