// Optimizer steps against values computed by hand, and checkpoint round trips.
#include <gtest/gtest.h>

#include <sstream>

#include "core/common/error.hpp"
#include "core/optim/optimizer.hpp"

namespace synclab {
namespace {

OptimizerSpec spec_of(const std::string& name, double lr) {
  OptimizerSpec s;
  s.name = name;
  s.lr = lr;
  return s;
}

TEST(Optimizers, SgdStep) {
  auto opt = make_optimizer(spec_of("sgd", 0.1), 2);
  std::vector<float> p{1.f, -2.f};
  const std::vector<float> g{0.5f, 1.f};
  opt->step(p, g);
  EXPECT_FLOAT_EQ(p[0], 0.95f);
  EXPECT_FLOAT_EQ(p[1], -2.1f);
  opt->step(p, g, 0.5);  // lr_scale halves the step
  EXPECT_FLOAT_EQ(p[0], 0.925f);
  EXPECT_FLOAT_EQ(p[1], -2.15f);
  EXPECT_EQ(opt->steps(), 2u);
}

TEST(Optimizers, SgdWeightDecay) {
  OptimizerSpec s = spec_of("sgd", 0.1);
  s.weight_decay = 0.01;
  auto opt = make_optimizer(s, 2);
  std::vector<float> p{1.f, -2.f};
  opt->step(p, std::vector<float>{0.5f, 1.f});
  // g + 0.01 p = (0.51, 0.98)
  EXPECT_FLOAT_EQ(p[0], 0.949f);
  EXPECT_FLOAT_EQ(p[1], -2.098f);
}

TEST(Optimizers, MomentumSteps) {
  OptimizerSpec s = spec_of("momentum", 0.1);
  s.momentum = 0.9;
  auto opt = make_optimizer(s, 2);
  std::vector<float> p{1.f, -2.f};
  const std::vector<float> g{0.5f, 1.f};
  opt->step(p, g);  // v = g
  EXPECT_FLOAT_EQ(p[0], 0.95f);
  EXPECT_FLOAT_EQ(p[1], -2.1f);
  opt->step(p, g);  // v = 0.9 g + g = (0.95, 1.9)
  EXPECT_FLOAT_EQ(p[0], 0.855f);
  EXPECT_FLOAT_EQ(p[1], -2.29f);
}

TEST(Optimizers, AdamSteps) {
  OptimizerSpec s = spec_of("adam", 0.001);
  auto opt = make_optimizer(s, 2);
  std::vector<float> p{1.f, -2.f};
  // Step 1: m_hat = g, v_hat = g^2, so each parameter moves by lr against sign(g).
  opt->step(p, std::vector<float>{0.5f, -1.f});
  EXPECT_NEAR(p[0], 0.999, 1e-7);
  EXPECT_NEAR(p[1], -1.999, 1e-7);
  // Step 2 with g = (0.25, 1):
  //  m = (0.07, 0.01), v = (0.00031225, 0.001999), 1 - b1^2 = 0.19, 1 - b2^2 = 0.001999
  //  p0 -= 0.001 * (0.07 / 0.19) / sqrt(0.00031225 / 0.001999) = 0.000932181
  //  p1 -= 0.001 * (0.01 / 0.19) / 1 = 0.0000526316
  opt->step(p, std::vector<float>{0.25f, 1.f});
  EXPECT_NEAR(p[0], 0.999 - 0.000932181, 2e-7);
  EXPECT_NEAR(p[1], -1.999 - 0.0000526316, 2e-7);
}

TEST(Optimizers, SizeMismatchThrows) {
  auto opt = make_optimizer(spec_of("adam", 0.001), 3);
  std::vector<float> p(3), g(2);
  EXPECT_THROW(opt->step(p, g), Error);
}

TEST(Optimizers, BadSpecsNameTheKey) {
  try {
    make_optimizer(spec_of("rmsprop", 0.1), 3);
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "train.optimizer.name");
  }
  EXPECT_THROW(make_optimizer(spec_of("sgd", -1.0), 3), ConfigError);
  OptimizerSpec s = spec_of("adam", 0.1);
  s.beta2 = 1.0;
  EXPECT_THROW(make_optimizer(s, 3), ConfigError);
}

class OptimizerCheckpoint : public ::testing::TestWithParam<std::string> {};

TEST_P(OptimizerCheckpoint, SaveLoadResumesExactly) {
  const OptimizerSpec s = spec_of(GetParam(), 0.01);
  auto a = make_optimizer(s, 4);
  std::vector<float> p{1.f, 2.f, 3.f, 4.f};
  const std::vector<float> g1{0.1f, -0.2f, 0.3f, -0.4f}, g2{-0.5f, 0.25f, 0.125f, 1.f};
  a->step(p, g1);
  a->step(p, g2);
  std::stringstream state;
  a->save(state);
  auto b = make_optimizer(s, 4);
  b->load(state);
  EXPECT_EQ(b->steps(), 2u);
  std::vector<float> pa = p, pb = p;
  a->step(pa, g1);
  b->step(pb, g1);
  EXPECT_EQ(pa, pb);
}

TEST_P(OptimizerCheckpoint, LoadRejectsMismatches) {
  const OptimizerSpec s = spec_of(GetParam(), 0.01);
  auto a = make_optimizer(s, 4);
  std::stringstream state;
  a->save(state);
  const std::string bytes = state.str();
  std::istringstream wrong_size(bytes);
  EXPECT_THROW(make_optimizer(s, 5)->load(wrong_size), Error);
  std::istringstream truncated(bytes.substr(0, bytes.size() - 3));
  if (GetParam() != "sgd") {
    EXPECT_THROW(make_optimizer(s, 4)->load(truncated), Error);
  }
  std::istringstream garbage("not an optimizer state at all");
  EXPECT_THROW(make_optimizer(s, 4)->load(garbage), Error);
  const OptimizerSpec other = spec_of(GetParam() == "adam" ? "sgd" : "adam", 0.01);
  std::istringstream other_kind(bytes);
  EXPECT_THROW(make_optimizer(other, 4)->load(other_kind), Error);
}

INSTANTIATE_TEST_SUITE_P(All, OptimizerCheckpoint, ::testing::Values("sgd", "momentum", "adam"),
                         [](const ::testing::TestParamInfo<std::string>& p) { return p.param; });

}  // namespace
}  // namespace synclab
