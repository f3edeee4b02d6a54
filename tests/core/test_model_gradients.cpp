// Finite-difference gradient checks of whole models on the reference backend in double
// precision: every coordinate of small models, sampled coordinates of the real ones.
#include <gtest/gtest.h>

#include "core/backends/reference/reference_model.hpp"
#include "core/models/model_spec.hpp"
#include "tests/core/model_fixtures.hpp"
#include "tests/core/test_util.hpp"

namespace synclab {
namespace {

struct Problem {
  ModelSpec spec;
  std::vector<double> params, x;
  std::vector<std::uint8_t> y;
  std::size_t n;
};

Problem make_problem(ModelSpec spec, std::size_t n, std::uint64_t seed) {
  Problem p{std::move(spec), {}, {}, {}, n};
  std::vector<float> init(p.spec.num_params());
  init_params(p.spec, init.data(), seed);
  // Perturb the biases too, so that no gradient vanishes by symmetry.
  const auto jitter = test::random_values<double>(init.size(), seed + 1, -0.05, 0.05);
  p.params.resize(init.size());
  for (std::size_t i = 0; i < init.size(); ++i) p.params[i] = init[i] + jitter[i];
  p.x = test::random_values<double>(n * p.spec.input_size(), seed + 2, 0.0, 1.0);
  p.y = test::random_labels(n, p.spec.classes, seed + 3);
  return p;
}

// Compares the analytic gradient with central differences at the given coordinates;
// the relative error is judged against the largest gradient entry.
void check_coordinates(Problem& p, const std::vector<std::size_t>& coords, double tol) {
  ReferenceModel<double> model(p.spec);
  const std::uint64_t seed = 1234;  // fixed dropout mask: the loss is a smooth function of params
  std::vector<double> grad(p.params.size());
  model.forward_backward(p.params, p.x.data(), p.y.data(), p.n, grad, seed);
  const double scale = test::max_abs(grad, 1e-12);
  const double h = 1e-5;
  for (std::size_t c : coords) {
    const double keep = p.params[c];
    p.params[c] = keep + h;
    const double up = model.forward_backward(p.params, p.x.data(), p.y.data(), p.n, {}, seed);
    p.params[c] = keep - h;
    const double down = model.forward_backward(p.params, p.x.data(), p.y.data(), p.n, {}, seed);
    p.params[c] = keep;
    const double numeric = (up - down) / (2 * h);
    EXPECT_NEAR(grad[c], numeric, tol * scale) << p.spec.name << " coordinate " << c;
  }
}

std::vector<std::size_t> all_coordinates(std::size_t n) {
  std::vector<std::size_t> c(n);
  for (std::size_t i = 0; i < n; ++i) c[i] = i;
  return c;
}

// A few coordinates in every block: its first, last and some seeded random ones.
std::vector<std::size_t> sample_coordinates(const ModelSpec& spec, int per_block) {
  std::vector<std::size_t> c;
  Rng rng(5);
  for (const auto& b : spec.layout.blocks) {
    c.push_back(b.offset);
    c.push_back(b.offset + b.count - 1);
    for (int i = 0; i < per_block; ++i) c.push_back(b.offset + rng.below(b.count));
  }
  return c;
}

TEST(ModelGradients, TinyCnnEveryCoordinate) {
  Problem p = make_problem(test::tiny_cnn(), 3, 10);
  check_coordinates(p, all_coordinates(p.params.size()), 1e-6);
}

TEST(ModelGradients, TinyMlpEveryCoordinate) {
  Problem p = make_problem(test::tiny_mlp(), 4, 20);
  check_coordinates(p, all_coordinates(p.params.size()), 1e-6);
}

TEST(ModelGradients, TinyMixedEveryCoordinate) {
  Problem p = make_problem(test::tiny_mixed(), 3, 30);
  check_coordinates(p, all_coordinates(p.params.size()), 1e-6);
}

TEST(ModelGradients, SoftmaxModel) {
  Problem p = make_problem(make_model_spec("softmax"), 3, 40);
  check_coordinates(p, sample_coordinates(p.spec, 20), 1e-6);
}

TEST(ModelGradients, MlpModel) {
  Problem p = make_problem(make_model_spec("mlp"), 3, 50);
  check_coordinates(p, sample_coordinates(p.spec, 10), 1e-6);
}

TEST(ModelGradients, CnnModel) {
  Problem p = make_problem(make_model_spec("cnn"), 2, 60);
  check_coordinates(p, sample_coordinates(p.spec, 3), 1e-5);
}

TEST(ModelGradients, DropoutIsOffInEvaluation) {
  Problem p = make_problem(test::tiny_cnn(), 4, 70);
  ReferenceModel<double> model(p.spec);
  const auto r = model.evaluate(p.params, p.x.data(), p.y.data(), p.n);
  const double eval_mean = r.loss_sum / static_cast<double>(p.n);
  EXPECT_DOUBLE_EQ(eval_mean, model.forward_backward(p.params, p.x.data(), p.y.data(), p.n, {}, 1, false));
  EXPECT_NE(eval_mean, model.forward_backward(p.params, p.x.data(), p.y.data(), p.n, {}, 1, true));
}

}  // namespace
}  // namespace synclab
