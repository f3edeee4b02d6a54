// Model specs: shapes, parameter counts and the initialisation.
#include <gtest/gtest.h>

#include <cmath>

#include "core/common/error.hpp"
#include "core/models/model_spec.hpp"

namespace synclab {
namespace {

TEST(ModelSpec, ParameterCounts) {
  EXPECT_EQ(make_model_spec("softmax").num_params(), 7850u);
  EXPECT_EQ(make_model_spec("mlp").num_params(), 784u * 100 + 100 + 100 * 10 + 10);
  EXPECT_EQ(make_model_spec("cnn").num_params(), 3274634u);
}

TEST(ModelSpec, CnnShapes) {
  const ModelSpec s = make_model_spec("cnn");
  ASSERT_EQ(s.layers.size(), 10u);
  EXPECT_EQ(s.layers[0].kind, LayerKind::Conv2d);
  EXPECT_EQ(s.layers[0].out_size(), 32u * 28 * 28);
  EXPECT_EQ(s.layers[2].out_size(), 32u * 14 * 14);
  EXPECT_EQ(s.layers[3].kernel, 5);
  EXPECT_EQ(s.layers[5].out_size(), 3136u);
  EXPECT_EQ(s.layers[6].kind, LayerKind::Dense);
  EXPECT_EQ(s.layers[6].in_size(), 3136u);
  EXPECT_EQ(s.layers[8].kind, LayerKind::Dropout);
  EXPECT_FLOAT_EQ(s.layers[8].dropout, 0.5f);
  EXPECT_EQ(s.layers[9].out_size(), 10u);
  const auto& w = s.layout.blocks[0];
  EXPECT_EQ(w.name, "conv1.weight");
  EXPECT_EQ(w.shape, (std::vector<int>{32, 1, 5, 5}));
  EXPECT_EQ(s.layout.blocks[4].shape, (std::vector<int>{3136, 1024}));
  EXPECT_EQ(s.layout.blocks.back().offset + s.layout.blocks.back().count, s.num_params());
}

TEST(ModelSpec, UnknownNameIsAConfigError) {
  try {
    make_model_spec("resnet");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "model");
  }
  EXPECT_EQ(trainable_model_names().size(), 3u);
}

TEST(ModelSpec, InitStatisticsAndDeterminism) {
  const ModelSpec s = make_model_spec("cnn");
  std::vector<float> a(s.num_params()), b(s.num_params()), c(s.num_params());
  init_params(s, a.data(), 1);
  init_params(s, b.data(), 1);
  init_params(s, c.data(), 2);
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  for (const auto& block : s.layout.blocks) {
    const float* v = a.data() + block.offset;
    if (block.is_bias) {
      for (std::size_t i = 0; i < block.count; ++i) ASSERT_EQ(v[i], 0.1f) << block.name;
      continue;
    }
    double sum = 0, sq = 0, max_abs = 0;
    for (std::size_t i = 0; i < block.count; ++i) {
      sum += v[i];
      sq += double(v[i]) * v[i];
      max_abs = std::max(max_abs, std::fabs(double(v[i])));
    }
    const double n = static_cast<double>(block.count), mean = sum / n, sd = std::sqrt(sq / n - mean * mean);
    EXPECT_LE(max_abs, 0.2 + 1e-6) << block.name;  // truncated at 2 stddev
    // A normal truncated at +-2 sigma has stddev 0.8796 sigma.
    const double tol = 5 * 0.088 / std::sqrt(n) + 1e-3;
    EXPECT_NEAR(mean, 0.0, 5 * 0.088 / std::sqrt(n)) << block.name;
    EXPECT_NEAR(sd, 0.08796, block.count > 10000 ? 1e-3 : tol * 3) << block.name;
  }
}

}  // namespace
}  // namespace synclab
