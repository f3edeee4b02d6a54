// Cost model figures for the cnn computed by hand, and the cost-only profiles.
#include <gtest/gtest.h>

#include "core/common/error.hpp"
#include "core/cost/cost_model.hpp"

namespace synclab {
namespace {

TEST(CostModel, CnnByHand) {
  const ModelCost c = cost_by_name("cnn");
  EXPECT_TRUE(c.trainable);
  EXPECT_EQ(c.num_params, 3274634u);
  EXPECT_EQ(c.param_bytes, 4u * 3274634u);
  ASSERT_EQ(c.layers.size(), 11u);  // 10 layers + the loss
  // conv1: 5*5*1*32 multiply-adds per output, 28*28 outputs per channel, + bias adds;
  // backward has no input gradient (first layer).
  const double conv1_macs = 25.0 * 32 * 784;
  EXPECT_DOUBLE_EQ(c.layers[0].forward_flops, 2 * conv1_macs + 32 * 784);
  EXPECT_DOUBLE_EQ(c.layers[0].backward_flops, 2 * conv1_macs + 32 * 784);
  EXPECT_EQ(c.layers[0].params, 832u);
  // conv2: 5*5*32 per output, 64*14*14 outputs; backward = dW + db + dx.
  const double conv2_macs = 25.0 * 32 * 64 * 196;
  EXPECT_DOUBLE_EQ(c.layers[3].forward_flops, 2 * conv2_macs + 64 * 196);
  EXPECT_DOUBLE_EQ(c.layers[3].backward_flops, 4 * conv2_macs + 64 * 196);
  EXPECT_EQ(c.layers[3].params, 51264u);
  // fc1: 3136 x 1024
  EXPECT_DOUBLE_EQ(c.layers[6].forward_flops, 2.0 * 3136 * 1024 + 1024);
  EXPECT_EQ(c.layers[6].params, 3212288u);
  // The step is about 8.2 GFLOP for a batch of 100.
  EXPECT_NEAR(c.step_flops(100) / 1e9, 8.22, 0.01);
  double fwd = 0;
  for (const auto& l : c.layers) fwd += l.forward_flops;
  EXPECT_DOUBLE_EQ(fwd, c.forward_flops);
  // Outputs per sample: conv1/relu1 32x28x28, pool1 32x14x14, conv2/relu2 64x14x14,
  // pool2 64x7x7, fc1/relu3/dropout 1024, fc2 10 floats.
  EXPECT_EQ(c.layers[0].activation_bytes, 4u * 25088);
  EXPECT_EQ(c.activation_bytes, 4u * (2 * 25088 + 6272 + 2 * 12544 + 3136 + 3 * 1024 + 10));
}

TEST(CostModel, SmallModels) {
  const ModelCost s = cost_by_name("softmax");
  EXPECT_EQ(s.num_params, 7850u);
  EXPECT_DOUBLE_EQ(s.layers[0].forward_flops, 2.0 * 784 * 10 + 10);
  EXPECT_DOUBLE_EQ(s.layers[0].backward_flops, 2.0 * 784 * 10 + 10);  // no input gradient
  const ModelCost m = cost_by_name("mlp");
  EXPECT_EQ(m.num_params, 79510u);
  EXPECT_DOUBLE_EQ(m.layers[2].backward_flops, 4.0 * 100 * 10 + 10);
}

TEST(CostModel, Profiles) {
  const ModelCost r = cost_by_name("resnet50");
  EXPECT_FALSE(r.trainable);
  EXPECT_TRUE(r.layers.empty());
  EXPECT_NEAR(r.num_params / 1e6, 25.6, 0.1);
  EXPECT_NEAR(r.forward_flops / 1e9, 7.6, 0.01);  // 3.8e9 multiply-adds
  EXPECT_DOUBLE_EQ(r.backward_flops, 2 * r.forward_flops);
  EXPECT_NE(r.source.find("He et al. 2016"), std::string::npos);
  const ModelCost v = cost_by_name("vgg16");
  EXPECT_NEAR(v.num_params / 1e6, 138.4, 0.1);
  EXPECT_NEAR(v.forward_flops / 2e9, 15.47, 0.01);
  const ModelCost b = cost_by_name("bert-base");
  EXPECT_NEAR(b.num_params / 1e6, 110, 1);
  EXPECT_NEAR(b.forward_flops / 1e9, 22.3, 0.1);
  EXPECT_GT(cost_by_name("bert-base-512").forward_flops, 4 * b.forward_flops);
  EXPECT_NEAR(cost_by_name("gpt2").num_params / 1e6, 124.4, 0.1);
  for (const auto& name : cost_profile_names()) {
    const ModelCost p = cost_by_name(name);
    EXPECT_EQ(p.param_bytes, 4 * p.num_params) << name;
    EXPECT_FALSE(p.source.empty()) << name;
  }
}

TEST(CostModel, UnknownNameListsKnownOnes) {
  try {
    cost_by_name("alexnet");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "model");
    EXPECT_NE(std::string(e.what()).find("resnet50"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("cnn"), std::string::npos);
  }
}

}  // namespace
}  // namespace synclab
