// The fast backend (OpenBLAS + oneDNN) against the reference backend, in float: each layer
// kind inside small models, then the real models, training and evaluation.
#include <gtest/gtest.h>

#include "core/backends/network.hpp"
#include "core/common/error.hpp"
#include "core/models/spec_builder.hpp"
#include "tests/core/model_fixtures.hpp"
#include "tests/core/test_util.hpp"

namespace synclab {
namespace {

struct Data {
  std::vector<float> params, x;
  std::vector<std::uint8_t> y;
};

Data make_data(const ModelSpec& spec, std::size_t n, std::uint64_t seed) {
  Data d;
  d.params.resize(spec.num_params());
  init_params(spec, d.params.data(), seed);
  const auto jitter = test::random_values<float>(d.params.size(), seed + 1, -0.05, 0.05);
  for (std::size_t i = 0; i < d.params.size(); ++i) d.params[i] += jitter[i];
  d.x = test::random_values<float>(n * spec.input_size(), seed + 2, 0.0, 1.0);
  d.y = test::random_labels(n, spec.classes, seed + 3);
  return d;
}

// Same step on both backends: losses and every gradient entry must agree.
void compare_backends(const ModelSpec& spec, std::size_t n, double tol, int threads = 1) {
  const Data d = make_data(spec, n, 77);
  const Batch batch{d.x.data(), d.y.data(), n};
  NetworkOptions options;
  options.max_batch = n;
  options.threads = threads;
  auto ref = make_network(spec, BackendKind::Reference, options);
  auto fast = make_network(spec, BackendKind::Fast, options);
  std::vector<float> g_ref(spec.num_params()), g_fast(spec.num_params(), 123.f);
  const float l_ref = ref->forward_backward(d.params, batch, g_ref, 5);
  const float l_fast = fast->forward_backward(d.params, batch, g_fast, 5);
  EXPECT_NEAR(l_fast, l_ref, tol * std::max(1.f, std::fabs(l_ref))) << spec.name;
  for (const auto& b : spec.layout.blocks) {
    const std::span<const float> r(g_ref.data() + b.offset, b.count), f(g_fast.data() + b.offset, b.count);
    EXPECT_TRUE(test::all_close(f, r, tol)) << spec.name << " block " << b.name;
  }
  const EvalStats e_ref = ref->evaluate(d.params, batch), e_fast = fast->evaluate(d.params, batch);
  EXPECT_EQ(e_fast.count, n);
  EXPECT_EQ(e_fast.correct, e_ref.correct) << spec.name;
  EXPECT_NEAR(e_fast.loss_sum, e_ref.loss_sum, tol * std::max(1.0, e_ref.loss_sum)) << spec.name;
}

TEST(FastBackend, DenseOnly) {
  SpecBuilder b("dense", 1, 4, 5);
  b.dense("fc", 3);
  compare_backends(b.done(3), 6, 1e-5);
}

TEST(FastBackend, ConvFirstLayer) {
  SpecBuilder b("conv-first", 1, 9, 9);
  b.conv("conv", 4, 5);
  b.dense("fc", 3);
  compare_backends(b.done(3), 5, 1e-5);
}

TEST(FastBackend, ConvWithInputGradient) {
  SpecBuilder b("conv-second", 3, 6, 6);
  b.conv("conv1", 16, 3);
  b.conv("conv2", 32, 5);
  b.dense("fc", 4);
  compare_backends(b.done(4), 4, 1e-5);
}

TEST(FastBackend, ConvOnPlainManyChannelInput) {
  // A plain 16-channel source makes the convolution reorder it (and its gradient back).
  SpecBuilder b("relu-conv", 16, 6, 6);
  b.relu("relu");
  b.conv("conv", 16, 3);
  b.dense("fc", 3);
  compare_backends(b.done(3), 3, 1e-5);
}

TEST(FastBackend, ConvReluFusedAndPool) {
  SpecBuilder b("conv-relu-pool", 1, 8, 8);
  b.conv("conv1", 16, 3);
  b.relu("relu1");
  b.maxpool("pool1");
  b.conv("conv2", 16, 3);
  b.relu("relu2");
  b.dense("fc", 3);
  compare_backends(b.done(3), 4, 1e-5);
}

TEST(FastBackend, StandaloneReluAndOddPool) {
  SpecBuilder b("pool-relu", 2, 7, 5);
  b.conv("conv", 8, 3);
  b.maxpool("pool");
  b.relu("relu");
  b.dense("fc", 3);
  compare_backends(b.done(3), 4, 1e-5);
}

TEST(FastBackend, ReluBeforePoolWithoutConv) {
  // The ReLU's forward runs on its own, its backward moves into the second pooling.
  SpecBuilder b("pool-relu-pool", 2, 8, 8);
  b.conv("conv", 16, 3);
  b.maxpool("pool1");
  b.relu("relu");
  b.maxpool("pool2");
  b.dense("fc", 3);
  compare_backends(b.done(3), 4, 1e-5);
}

TEST(FastBackend, SigmoidAndDropout) {
  SpecBuilder b("sigmoid-dropout", 1, 6, 6);
  b.dense("fc1", 20);
  b.sigmoid("sigmoid");
  b.dropout("dropout", 0.4f);
  b.dense("fc2", 5);
  compare_backends(b.done(5), 8, 1e-5);
}

TEST(FastBackend, TinyModels) {
  compare_backends(test::tiny_cnn(), 5, 1e-5);
  compare_backends(test::tiny_mlp(), 5, 1e-5);
  compare_backends(test::tiny_mixed(), 5, 1e-5);
}

TEST(FastBackend, SoftmaxModel) { compare_backends(make_model_spec("softmax"), 16, 1e-5); }
TEST(FastBackend, MlpModel) { compare_backends(make_model_spec("mlp"), 16, 1e-5); }
TEST(FastBackend, CnnModel) { compare_backends(make_model_spec("cnn"), 4, 1e-4); }
TEST(FastBackend, CnnModelTwoThreads) { compare_backends(make_model_spec("cnn"), 4, 1e-4, 2); }

TEST(FastBackend, CnnTrainingBatchMatchesSmallBatches) {
  // The batch-100 plan (other oneDNN kernels than the small batches compared with the
  // reference above) must give the mean of the gradients of its 4-sample slices. Dropout
  // off, so that the slices see the same network as the whole batch.
  ModelSpec spec = make_model_spec("cnn");
  spec.layers[8].dropout = 0.f;
  const std::size_t n = 100, part = 4;
  const Data d = make_data(spec, n, 12);
  NetworkOptions options;
  options.max_batch = n;
  auto net = make_network(spec, BackendKind::Fast, options);
  std::vector<float> whole(spec.num_params()), slice(spec.num_params());
  std::vector<double> mean(spec.num_params(), 0.0);
  const float loss = net->forward_backward(d.params, {d.x.data(), d.y.data(), n}, whole, 1);
  double loss_mean = 0;
  for (std::size_t first = 0; first < n; first += part) {
    const Batch b{d.x.data() + first * spec.input_size(), d.y.data() + first, part};
    loss_mean += net->forward_backward(d.params, b, slice, 1) * double(part) / n;
    for (std::size_t i = 0; i < slice.size(); ++i) mean[i] += slice[i] * double(part) / n;
  }
  EXPECT_NEAR(loss, loss_mean, 1e-4 * loss_mean);
  EXPECT_TRUE(test::all_close(whole, mean, 1e-4));
}

TEST(FastBackend, SameSeedSameResultAcrossBatchSizes) {
  const ModelSpec spec = make_model_spec("cnn");
  const Data d = make_data(spec, 8, 3);
  NetworkOptions options;
  options.max_batch = 8;
  auto net = make_network(spec, BackendKind::Fast, options);
  std::vector<float> g1(spec.num_params()), g2(spec.num_params()), g3(spec.num_params());
  const Batch full{d.x.data(), d.y.data(), 8}, part{d.x.data(), d.y.data(), 3};
  const float l1 = net->forward_backward(d.params, full, g1, 9);
  net->forward_backward(d.params, part, g3, 9);  // a second plan must not disturb the first
  const float l2 = net->forward_backward(d.params, full, g2, 9);
  EXPECT_EQ(l1, l2);
  EXPECT_EQ(g1, g2);
  std::vector<float> g4(spec.num_params());
  net->forward_backward(d.params, full, g4, 10);
  EXPECT_NE(g1, g4) << "the dropout seed must matter";
}

TEST(FastBackend, TwoThreadsAreDeterministic) {
  const ModelSpec spec = make_model_spec("cnn");
  const Data d = make_data(spec, 6, 8);
  NetworkOptions options;
  options.max_batch = 6;
  options.threads = 2;
  auto a = make_network(spec, BackendKind::Fast, options);
  auto b = make_network(spec, BackendKind::Fast, options);
  std::vector<float> ga(spec.num_params()), gb(spec.num_params());
  const Batch batch{d.x.data(), d.y.data(), 6};
  EXPECT_EQ(a->forward_backward(d.params, batch, ga, 4), b->forward_backward(d.params, batch, gb, 4));
  EXPECT_EQ(ga, gb);
}

TEST(FastBackend, ManyBatchSizesKeepResults) {
  // More batch sizes than the plan cache holds: evicted plans are rebuilt identically.
  const ModelSpec spec = test::tiny_cnn();
  const Data d = make_data(spec, 8, 6);
  NetworkOptions options;
  options.max_batch = 8;
  auto net = make_network(spec, BackendKind::Fast, options);
  std::vector<std::vector<float>> first(9, std::vector<float>(spec.num_params()));
  std::vector<float> again(spec.num_params());
  for (int round = 0; round < 2; ++round)
    for (std::size_t n = 1; n <= 8; ++n) {
      auto& g = round == 0 ? first[n] : again;
      net->forward_backward(d.params, {d.x.data(), d.y.data(), n}, g, 2);
      if (round == 1) {
        EXPECT_EQ(again, first[n]) << "batch " << n;
      }
    }
}

TEST(FastBackend, EvaluateChunksLargeBatches) {
  const ModelSpec spec = make_model_spec("mlp");
  const Data d = make_data(spec, 250, 4);
  NetworkOptions options;
  options.max_batch = 100;
  auto fast = make_network(spec, BackendKind::Fast, options);
  auto ref = make_network(spec, BackendKind::Reference, options);
  const Batch all{d.x.data(), d.y.data(), 250};
  const EvalStats f = fast->evaluate(d.params, all), r = ref->evaluate(d.params, all);
  EXPECT_EQ(f.count, 250u);
  EXPECT_EQ(f.correct, r.correct);
  EXPECT_NEAR(f.loss_sum, r.loss_sum, 1e-3);
}

TEST(FastBackend, BadArgumentsAreOneLineErrors) {
  const ModelSpec spec = make_model_spec("softmax");
  Data d = make_data(spec, 3, 5);  // 3 samples, so that the too-large batch below is readable
  NetworkOptions options;
  options.max_batch = 2;
  auto net = make_network(spec, BackendKind::Fast, options);
  std::vector<float> g(spec.num_params());
  std::vector<float> short_params(10);
  EXPECT_THROW(net->forward_backward(short_params, {d.x.data(), d.y.data(), 2}, g, 1), Error);
  d.y[1] = 10;
  EXPECT_THROW(net->forward_backward(d.params, {d.x.data(), d.y.data(), 2}, g, 1), Error);
  d.y[1] = 0;
  EXPECT_THROW(net->forward_backward(d.params, {d.x.data(), d.y.data(), 3}, g, 1), Error);  // > max_batch
}

TEST(Backends, ParseAndName) {
  for (auto kind : {BackendKind::Reference, BackendKind::Fast, BackendKind::Cuda})
    EXPECT_EQ(parse_backend(to_string(kind)), kind);
  EXPECT_THROW(parse_backend("tpu"), ConfigError);
}

}  // namespace
}  // namespace synclab
