// Run directories: file names, CSV headers and rows, summary.json, digests, evaluation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "core/common/error.hpp"
#include "core/run/run_writer.hpp"
#include "tests/small_tmpfs.hpp"

namespace synclab {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

fs::path temp_dir(const std::string& name) {
  const auto d = fs::temp_directory_path() / ("synclab-run-" + name + "-" + std::to_string(::getpid()));
  fs::remove_all(d);
  return d;
}

TEST(RunWriter, WritesTheDesignFormat) {
  const auto dir = temp_dir("writer") / "nested" / "run";
  const RunConfig config = resolve_run_config(YAML::Load("model: softmax\npolicy: {name: ssp, staleness: 3}"));
  {
    RunWriter w(dir, config);
    w.update(0.5, 1, 2, 0, 2.25);
    w.update(1.25, 2, 0, 3, 1.5);
    w.eval(1.5, 2, 200, 0.75, 0.8125);
    EXPECT_DOUBLE_EQ(w.mean_staleness(), 1.5);
    EXPECT_EQ(w.max_staleness(), 3);
    RunSummary s;
    s.backend = "sim";
    s.policy = "ssp";
    s.workers = 8;
    s.updates = 2;
    s.samples = 200;
    s.time_s = 1.5;
    s.final_test_accuracy = 0.8125;
    s.final_test_loss = 0.75;
    s.mean_staleness = w.mean_staleness();
    s.max_staleness = w.max_staleness();
    s.bytes_sent = 12345;
    s.final_params_sha256 = "ab";
    s.stop_reason = "updates";
    s.extra["note"] = "x";
    w.finish(s);
  }
  EXPECT_EQ(slurp(dir / "updates.csv"), "time_s,update,worker,staleness,loss\n0.5,1,2,0,2.25\n1.25,2,0,3,1.5\n");
  EXPECT_EQ(slurp(dir / "evals.csv"), "time_s,update,samples,test_loss,test_accuracy\n1.5,2,200,0.75,0.8125\n");
  const auto j = nlohmann::json::parse(slurp(dir / "summary.json"));
  for (const char* k : {"backend", "policy", "workers", "updates", "samples", "time_s", "final_test_accuracy",
                        "final_test_loss", "mean_staleness", "max_staleness", "bytes_sent", "final_params_sha256"}) {
    EXPECT_TRUE(j.contains(k)) << k;
  }
  EXPECT_EQ(j["backend"], "sim");
  EXPECT_EQ(j["bytes_sent"], 12345);
  EXPECT_EQ(j["note"], "x");
  EXPECT_FALSE(fs::exists(dir / "summary.json.tmp"));
  // config.yaml is the resolved config and loads back to the same config.
  const RunConfig back = load_run_config((dir / "config.yaml").string());
  EXPECT_EQ(back.model, "softmax");
  EXPECT_EQ(back.policy.params.at("staleness"), "3");
  EXPECT_EQ(to_yaml(back), slurp(dir / "config.yaml"));
  // Reopening the directory starts a fresh run: no summary until finish().
  RunWriter again(dir, config);
  EXPECT_FALSE(fs::exists(dir / "summary.json"));
  fs::remove_all(temp_dir("writer"));
}

TEST(RunWriter, UnwritableDirectoryIsNamed) {
  const auto file = temp_dir("blocker");
  std::ofstream(file) << "a file, not a directory";
  try {
    RunWriter w(file / "run", resolve_run_config(YAML::Node()));
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(file.string()), std::string::npos) << e.what();
  }
  fs::remove(file);
}

// A full disk is found at the first write that fails, and the error names the file.
TEST(RunWriter, FullDiskIsFoundAtTheFirstFailedWriteNamingTheFile) {
  testing::SmallTmpfs fs_small("writer-full", 64 * 1024);
  if (!fs_small.ok()) GTEST_SKIP() << fs_small.reason();
  const RunConfig config = resolve_run_config(YAML::Load("model: softmax"));
  RunWriter w(fs_small.path() / "run", config);
  fs_small.fill();
  std::uint64_t rows = 0;
  // 64 KiB hold about 2,500 rows; the writer must notice long before 100,000.
  for (; rows < 100000 && w.write_error().empty(); ++rows) w.update(0.001 * static_cast<double>(rows), rows, 0, 0, 1.0);
  ASSERT_FALSE(w.write_error().empty()) << "no write error after " << rows << " rows on a full disk";
  EXPECT_LT(rows, 10000u);
  const std::string err = w.write_error();
  EXPECT_EQ(err.rfind((fs_small.path() / "run" / "updates.csv").string() + ": cannot write: No space left on device", 0), 0u) << err;
  try {
    w.finish(RunSummary{});
    FAIL() << "finish wrote a summary after a failed write";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), err);
  }
  EXPECT_FALSE(fs::exists(fs_small.path() / "run" / "summary.json"));
}

TEST(RunWriter, ConfigOnAFullDiskIsNamedAndLeavesNoTempFile) {
  testing::SmallTmpfs fs_small("writer-config", 64 * 1024);
  if (!fs_small.ok()) GTEST_SKIP() << fs_small.reason();
  fs::create_directories(fs_small.path() / "run");
  fs_small.fill();
  try {
    RunWriter w(fs_small.path() / "run", resolve_run_config(YAML::Load("model: softmax")));
    FAIL() << "a run directory was opened on a full disk";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()), (fs_small.path() / "run" / "config.yaml").string() + ": cannot write: No space left on device");
  }
  EXPECT_TRUE(fs::is_empty(fs_small.path() / "run")) << "neither config.yaml nor its temporary file";
}

TEST(RunWriter, AtomicWriteKeepsTheOldFileOnAFullDisk) {
  testing::SmallTmpfs fs_small("atomic-full", 64 * 1024);
  if (!fs_small.ok()) GTEST_SKIP() << fs_small.reason();
  const auto index = fs_small.path() / "index.csv";
  write_file_atomic(index, "run,status\na,ok\n");
  fs_small.fill();
  EXPECT_THROW(write_file_atomic(index, std::string(100000, 'x')), Error);
  EXPECT_EQ(slurp(index), "run,status\na,ok\n");
  std::vector<std::string> names;  // no temporary file left beside it
  for (const auto& e : fs::directory_iterator(fs_small.path())) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  EXPECT_EQ(names, (std::vector<std::string>{"filler", "index.csv"}));
}

TEST(Sha256, KnownDigests) {
  EXPECT_EQ(sha256_hex({}), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const std::vector<float> v = {1.0f, -2.5f, 0.1f};
  EXPECT_EQ(sha256_hex(v), "2f9cc761bc2594fa578868daeedc59b0fc115513fae3e5dc09c4e86e50b8aaf6");
}

// Predicts class (first pixel > 0.5); loss 1 per sample; records the chunk sizes it saw.
class ThresholdNetwork : public Network {
 public:
  const ModelSpec& spec() const override { return spec_; }
  BackendKind kind() const override { return BackendKind::Reference; }
  float forward_backward(std::span<const float>, const Batch&, std::span<float>, std::uint64_t) override { return 0; }
  EvalStats evaluate(std::span<const float>, const Batch& b) override {
    chunks.push_back(b.n);
    EvalStats s;
    for (std::size_t i = 0; i < b.n; ++i) {
      const int pred = b.x[i * 4] > 0.5f ? 1 : 0;
      s.correct += pred == b.y[i];
      s.loss_sum += 1.0;
    }
    s.count = b.n;
    return s;
  }
  std::vector<std::size_t> chunks;
 private:
  ModelSpec spec_;
};

TEST(Evaluate, ChunksAndAverages) {
  Dataset d;
  d.name = "tiny";
  d.c = 1, d.h = 2, d.w = 2, d.classes = 2;
  for (int i = 0; i < 250; ++i) {
    const bool one = i % 2 == 0;
    d.x.insert(d.x.end(), {one ? 1.0f : 0.0f, 0, 0, 0});
    d.y.push_back(i < 200 ? (one ? 1 : 0) : (one ? 0 : 1));  // the last 50 are mislabelled
  }
  ThresholdNetwork net;
  TestResult r = evaluate_dataset(net, {}, d, 0, 100);
  EXPECT_EQ(net.chunks, (std::vector<std::size_t>{100, 100, 50}));
  EXPECT_EQ(r.samples, 250u);
  EXPECT_DOUBLE_EQ(r.accuracy, 0.8);
  EXPECT_DOUBLE_EQ(r.loss, 1.0);
  r = evaluate_dataset(net, {}, d, 200, 64);
  EXPECT_DOUBLE_EQ(r.accuracy, 1.0);
  EXPECT_EQ(r.samples, 200u);
}

}  // namespace
}  // namespace synclab
