// Single-process training: it learns, it is deterministic, and it writes a run directory.
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/common/error.hpp"
#include "core/data/dataset.hpp"
#include "core/run/train_loop.hpp"

namespace synclab {
namespace {

namespace fs = std::filesystem;

std::vector<std::string> lines(const fs::path& p) {
  std::ifstream in(p);
  std::vector<std::string> out;
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

RunConfig small_config(const std::string& extra = "") {
  // Fashion-MNIST when installed (the real target), synthetic data otherwise.
  const std::string data = fs::exists(kDefaultFashionMnistDir)
                               ? "data: {dataset: fashion-mnist, batch: 50, train_limit: 6000, test_limit: 1000}\n"
                               : "data: {dataset: synthetic, batch: 50, synthetic_train: 3000, synthetic_test: 500}\n";
  return resolve_run_config(YAML::Load("model: softmax\n" + data +
                                       "train: {optimizer: {name: sgd, lr: 0.2}, stop: {updates: 300}, eval_every: 100,"
                                       " backend: reference, seed: 3}\n" + extra));
}

fs::path temp_dir(const std::string& name) {
  const auto d = fs::temp_directory_path() / ("synclab-train-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

TEST(Train, SoftmaxLearnsAndWritesTheRunDirectory) {
  const auto dir = temp_dir("learn");
  std::ostringstream log;
  TrainOptions opt;
  opt.log = &log;
  const RunSummary s = train_run(small_config(), dir, opt);
  EXPECT_EQ(s.backend, "train");
  EXPECT_EQ(s.updates, 300u);
  EXPECT_EQ(s.samples, 15000u);
  EXPECT_EQ(s.stop_reason, "updates");
  EXPECT_GT(s.final_test_accuracy, 0.6) << "chance is 0.1";
  EXPECT_EQ(s.final_params_sha256.size(), 64u);
  EXPECT_NE(log.str().find("update 30/300"), std::string::npos) << log.str();

  const auto updates = lines(dir / "updates.csv");
  ASSERT_EQ(updates.size(), 301u);
  EXPECT_EQ(updates[0], "time_s,update,worker,staleness,loss");
  EXPECT_EQ(updates[1].substr(updates[1].find(','), 7), ",1,0,0,");
  const auto evals = lines(dir / "evals.csv");
  ASSERT_EQ(evals.size(), 5u);  // header, updates 0, 100, 200, 300
  EXPECT_EQ(evals[0], "time_s,update,samples,test_loss,test_accuracy");
  auto loss_of = [](const std::string& row) { return std::stod(row.substr(row.find(',', row.find(',', row.find(',') + 1) + 1) + 1)); };
  EXPECT_LT(loss_of(evals[4]), loss_of(evals[1]) * 0.6) << "test loss falls";
  EXPECT_TRUE(fs::exists(dir / "summary.json"));
  EXPECT_TRUE(fs::exists(dir / "config.yaml"));
  fs::remove_all(dir);
}

TEST(Train, SameSeedSameParameters) {
  const auto a = temp_dir("a"), b = temp_dir("b"), c = temp_dir("c");
  std::ostringstream log;
  TrainOptions opt;
  opt.log = &log;
  RunConfig cfg = small_config();
  cfg.train.stop_updates = 40;
  cfg.train.eval_every = 0;
  const auto sa = train_run(cfg, a, opt), sb = train_run(cfg, b, opt);
  EXPECT_EQ(sa.final_params_sha256, sb.final_params_sha256);
  cfg.train.seed = 4;
  EXPECT_NE(train_run(cfg, c, opt).final_params_sha256, sa.final_params_sha256);
  for (const auto& d : {a, b, c}) fs::remove_all(d);
}

TEST(Train, StopsOnAccuracy) {
  const auto dir = temp_dir("acc");
  std::ostringstream log;
  TrainOptions opt;
  opt.log = &log;
  RunConfig cfg = small_config();
  cfg.train.stop_updates = 0;
  cfg.train.stop_accuracy = 0.3;
  cfg.train.eval_every = 10;
  const auto s = train_run(cfg, dir, opt);
  EXPECT_EQ(s.stop_reason, "accuracy");
  EXPECT_GE(s.final_test_accuracy, 0.3);
  EXPECT_LT(s.updates, 300u);
  EXPECT_EQ(s.updates % 10, 0u);
  fs::remove_all(dir);
}

TEST(Train, CancelStopsAfterTheCurrentStep) {
  const auto dir = temp_dir("cancel");
  std::ostringstream log;
  const std::atomic<bool> cancel{true};
  TrainOptions opt;
  opt.log = &log;
  opt.cancel = &cancel;
  const auto s = train_run(small_config(), dir, opt);
  EXPECT_EQ(s.stop_reason, "interrupted");
  EXPECT_EQ(s.updates, 1u);
  EXPECT_TRUE(fs::exists(dir / "summary.json"));
  fs::remove_all(dir);
}

TEST(Train, ANonFiniteLossEndsTheRunAsDiverged) {
  const auto dir = temp_dir("diverged");
  std::ostringstream log;
  TrainOptions opt;
  opt.log = &log;
  RunConfig cfg = resolve_run_config(small_config().resolved, {"train.optimizer.lr=1e300"});
  try {
    train_run(cfg, dir, opt);
    FAIL() << "a run whose loss became NaN/inf must fail";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("diverged: the training loss became"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("train.optimizer.lr"), std::string::npos) << e.what();
  }
  // The run directory is complete and says why it ended.
  std::ifstream in(dir / "summary.json");
  ASSERT_TRUE(in);
  std::stringstream ss;
  ss << in.rdbuf();
  EXPECT_NE(ss.str().find("\"stop_reason\": \"diverged\""), std::string::npos) << ss.str();
  fs::remove_all(dir);
}

TEST(Train, AnAccuracyOnlyRunSaysHowToBoundIt) {
  const auto dir = temp_dir("unbounded");
  std::ostringstream log;
  TrainOptions opt;
  opt.log = &log;
  const RunConfig cfg = resolve_run_config(small_config().resolved, {"train.stop.updates=0", "train.stop.accuracy=0.3"});
  const RunSummary s = train_run(cfg, dir, opt);
  EXPECT_EQ(s.stop_reason, "accuracy");
  EXPECT_NE(log.str().find("train: only train.stop.accuracy (0.3) bounds this run"), std::string::npos) << log.str();
  fs::remove_all(dir);
}

TEST(Train, SetupErrorsNameTheirKey) {
  const auto dir = temp_dir("bad");
  RunConfig cfg = small_config();
  cfg.model = "resnet50";  // a cost-only profile cannot be trained
  EXPECT_THROW(train_run(cfg, dir, {}), ConfigError);
  EXPECT_FALSE(fs::exists(dir)) << "no run directory for a run that never started";
}

}  // namespace
}  // namespace synclab
