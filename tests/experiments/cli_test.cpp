// The synclab binary's experiment commands end to end: --help, report on a fixture sweep,
// one-line errors, and a sweep whose children are the real `synclab sim`.
#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>

#include "experiments/csv.hpp"
#include "fixture.hpp"

namespace ex = synclab::experiments;
namespace fs = std::filesystem;

namespace {

struct Result {
  int code = -1;
  std::string out;  // stdout and stderr together
};

Result run(const std::string& args) {
  const std::string cmd = std::string("'") + SYNCLAB_BIN + "' " + args + " 2>&1";
  Result r;
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) return r;
  std::array<char, 4096> buf{};
  while (const auto n = std::fread(buf.data(), 1, buf.size(), p)) r.out.append(buf.data(), n);
  const int status = ::pclose(p);
  r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace

TEST(ExperimentsCli, HelpForEachCommand) {
  for (const char* cmd : {"sweep", "report", "calibrate"}) {
    const auto r = run(std::string(cmd) + " --help");
    EXPECT_EQ(r.code, 0) << cmd << ": " << r.out;
    EXPECT_NE(r.out.find("usage: synclab " + std::string(cmd)), std::string::npos) << r.out;
  }
  EXPECT_NE(run("sweep --help").out.find("--jobs"), std::string::npos);
  EXPECT_NE(run("report --help").out.find("--target"), std::string::npos);
}

TEST(ExperimentsCli, ReportWritesHtmlAndMarkdown) {
  synclab::testing::TempDir tmp("cli-report");
  const auto sweep = synclab::testing::write_fixture_sweep(tmp.path());
  const auto out = tmp.path() / "rep" / "cmp.html";
  const auto r = run("report '" + sweep.string() + "' --target 0.7 --out '" + out.string() + "'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find(out.string()), std::string::npos);
  EXPECT_TRUE(fs::exists(out));
  EXPECT_NE(ex::read_text(tmp.path() / "rep" / "cmp.md").find("time to 0.70 accuracy (s)"), std::string::npos);
  // --objective picks what the recommendation optimises.
  const auto acc = tmp.path() / "rep" / "acc.html";
  ASSERT_EQ(run("report '" + sweep.string() + "' --objective accuracy --out '" + acc.string() + "'").code, 0);
  const auto md = ex::read_text(tmp.path() / "rep" / "acc.md");
  EXPECT_NE(md.find("Objective: final test accuracy"), std::string::npos) << md;
  EXPECT_NE(ex::read_text(acc).find("data-objective=\"accuracy\""), std::string::npos);
}

TEST(ExperimentsCli, ErrorsAreOneLineNamingTheInput) {
  auto r = run("report /nonexistent-synclab-dir");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("/nonexistent-synclab-dir"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  r = run("report --target 2 /tmp");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--target"), std::string::npos) << r.out;
  r = run("report --objective speed /tmp");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--objective"), std::string::npos) << r.out;
  synclab::testing::TempDir tmp("cli-sweep");
  std::ofstream(tmp.path() / "bad.yaml") << "grid: {cluster.workers: [1, 2]}\nzip: {a: [1], b: [1, 2]}\n";
  r = run("sweep '" + (tmp.path() / "bad.yaml").string() + "'");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("zip.b"), std::string::npos) << r.out;
  r = run("sweep '" + (tmp.path() / "bad.yaml").string() + "' --shard 3");
  EXPECT_EQ(r.code, 1);
}

TEST(ExperimentsCli, SweepRecordsAConfigErrorOfTheRealChild) {
  synclab::testing::TempDir tmp("cli-fail");
  std::ofstream(tmp.path() / "s.yaml") << "name: bad\nconfig: {model: softmax}\ngrid: {cluster.workers: [0]}\n";
  const auto out = tmp.path() / "out";
  const auto r = run("sweep '" + (tmp.path() / "s.yaml").string() + "' --jobs 1 --out '" + out.string() + "'");
  EXPECT_EQ(r.code, 3) << r.out;
  const auto index = ex::read_csv(out / "index.csv");
  ASSERT_EQ(index.rows.size(), 1u);
  const auto row = index.rows[0];
  EXPECT_EQ(row.at(static_cast<std::size_t>(index.column("status"))), "failed");
  EXPECT_NE(row.at(static_cast<std::size_t>(index.column("error"))).find("cluster.workers"), std::string::npos)
      << row.at(static_cast<std::size_t>(index.column("error")));
}

// The whole pipeline with the real simulator: a small sweep over policies and seeds of
// softmax regression on synthetic data, resumed once, then reported.
TEST(ExperimentsCli, SimulatedSweepThenReport) {
  synclab::testing::TempDir tmp("cli-pipeline");
  std::ofstream(tmp.path() / "s.yaml") << R"(name: tiny
config:
  model: softmax
  data: {dataset: synthetic, synthetic_train: 2000, synthetic_test: 500, batch: 20}
  train: {optimizer: {name: sgd, lr: 0.1}, stop: {updates: 60}, eval_every: 20}
  cluster: {workers: 2, gpu: {flops: 1.0e9, efficiency: 1.0}, link: {bandwidth: 1Gbps, latency: 100us}}
  sim: {mode: full}
grid:
  policy: [{name: bsp}, {name: async}]
seeds: [1, 2]
)";
  const auto out = tmp.path() / "out";
  const auto sweep_cmd = "sweep '" + (tmp.path() / "s.yaml").string() + "' --jobs 2 --out '" + out.string() + "'";
  auto r = run(sweep_cmd);
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("sweep tiny: 4/4 done"), std::string::npos) << r.out;
  auto index = ex::read_csv(out / "index.csv");
  ASSERT_EQ(index.rows.size(), 4u);
  for (const auto& row : index.rows) {
    EXPECT_EQ(row.at(static_cast<std::size_t>(index.column("status"))), "ok") << row.at(0);
    EXPECT_EQ(row.at(static_cast<std::size_t>(index.column("updates"))), "60") << row.at(0);
  }
  const auto sha = ex::read_text(out / "policy=bsp_seed=1" / "summary.json");
  r = run(sweep_cmd);  // everything cached: nothing reruns, results unchanged
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("0 ran, 4 cached"), std::string::npos) << r.out;
  EXPECT_EQ(ex::read_text(out / "policy=bsp_seed=1" / "summary.json"), sha);
  r = run("report '" + out.string() + "' --out '" + (tmp.path() / "tiny.html").string() + "'");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto md = ex::read_text(tmp.path() / "tiny.md");
  EXPECT_NE(md.find("| bsp | sim | 2 |"), std::string::npos) << md;
  EXPECT_NE(md.find("| async | sim | 2 |"), std::string::npos) << md;
}

std::size_t count_of(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

// Local SGD under Adam: one warning line when the local steps fall back to Adam's lr, none
// with policy.lr; summary.json records the rate the local steps used.
TEST(ExperimentsCli, LocalSgdWarnsAboutAnAdaptiveFallbackLr) {
  synclab::testing::TempDir tmp("cli-local-lr");
  std::ofstream(tmp.path() / "l.yaml") << R"(model: softmax
data: {dataset: synthetic, synthetic_train: 400, synthetic_test: 100, batch: 20}
train: {optimizer: {name: adam, lr: 0.001}, stop: {updates: 4}, eval_every: 2}
cluster: {workers: 2, gpu: {flops: 1.0e9, efficiency: 1.0}}
policy: {name: local-sgd, tau: 2}
sim: {mode: full}
)";
  const auto cfg = (tmp.path() / "l.yaml").string();
  auto r = run("sim '" + cfg + "' --out '" + (tmp.path() / "a").string() + "'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(count_of(r.out, "warning: policy local-sgd runs its local steps as plain SGD with train.optimizer.lr 0.001"), 1u)
      << r.out;
  auto summary = nlohmann::json::parse(ex::read_text(tmp.path() / "a" / "summary.json"));
  EXPECT_DOUBLE_EQ(summary.at("local_lr").get<double>(), 0.001);
  EXPECT_EQ(summary.at("optimizer"), "adam");
  r = run("sim '" + cfg + "' --set policy.lr=0.05 --out '" + (tmp.path() / "b").string() + "'");
  ASSERT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out.find("warning"), std::string::npos) << r.out;
  summary = nlohmann::json::parse(ex::read_text(tmp.path() / "b" / "summary.json"));
  EXPECT_DOUBLE_EQ(summary.at("local_lr").get<double>(), 0.05);
}
