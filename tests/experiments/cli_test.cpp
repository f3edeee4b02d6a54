// The synclab binary's experiment commands end to end: --help, report on a fixture sweep,
// one-line errors, a sweep whose children are the real `synclab sim`, failed runs, locked
// and full sweep directories, and worker.device in train and sim.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "core/backends/device.hpp"
#include "core/run/dir_lock.hpp"
#include "experiments/csv.hpp"
#include "fixture.hpp"
#include "tests/small_tmpfs.hpp"

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

// What every command shares: --version, a hint for a mistyped command, aligned usage, and
// logs on stderr through one logger whose level --log-level sets.
TEST(ExperimentsCli, VersionSuggestionUsageAndLogLevel) {
  auto r = run("--version");
  EXPECT_EQ(r.code, 0);
  EXPECT_EQ(r.out.rfind("synclab ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find_first_of("0123456789"), std::string::npos) << r.out;
  r = run("lanch job.yaml");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("did you mean 'launch'?"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  r = run("swep");
  EXPECT_NE(r.out.find("did you mean 'sweep'?"), std::string::npos) << r.out;
  r = run("zzzzzzzz");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out.find("did you mean"), std::string::npos) << r.out;
  // Usage: every command's summary starts in the same column.
  r = run("--help");
  EXPECT_EQ(r.code, 0);
  std::size_t column = 0, commands = 0;
  std::istringstream lines(r.out);
  for (std::string line; std::getline(lines, line);) {
    for (const char* cmd : {"train", "sim", "launch", "ps", "worker", "sweep", "report", "calibrate"}) {
      if (line.rfind(std::string("  ") + cmd + " ", 0) != 0) continue;
      const auto gap = line.find("  ", 2 + std::string(cmd).size());
      ASSERT_NE(gap, std::string::npos) << line;
      const auto col = line.find_first_not_of(' ', gap);
      if (commands++ == 0) column = col;
      EXPECT_EQ(col, column) << line;
    }
  }
  EXPECT_EQ(commands, 8u) << r.out;
  r = run("--log-level loud sweep --help");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.out.find("--log-level"), std::string::npos) << r.out;
}

TEST(ExperimentsCli, LogsGoToStderrAtTheChosenLevel) {
  synclab::testing::TempDir tmp("cli-log");
  std::ofstream(tmp.path() / "run.yaml") << R"(model: softmax
data: {dataset: synthetic, synthetic_train: 500, synthetic_test: 100, batch: 20}
train: {optimizer: {name: sgd, lr: 0.1}, stop: {updates: 20}, eval_every: 10}
cluster: {workers: 2, gpu: {flops: 1.0e9, efficiency: 1.0}, link: {bandwidth: 1Gbps, latency: 100us}}
)";
  const std::string cfg = "'" + (tmp.path() / "run.yaml").string() + "'";
  // stdout holds only the result (the run directory).
  const std::string cmd = std::string("'") + SYNCLAB_BIN + "' sim " + cfg + " --out '" + (tmp.path() / "a").string() + "' >'" +
                          (tmp.path() / "out").string() + "' 2>'" + (tmp.path() / "err").string() + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << ex::read_text(tmp.path() / "err");
  EXPECT_EQ(ex::read_text(tmp.path() / "out"), (tmp.path() / "a").string() + "\n");
  const auto err = ex::read_text(tmp.path() / "err");
  EXPECT_NE(err.find("info: sim: stopped on"), std::string::npos) << err;
  EXPECT_NE(err.find("info: sim: update 1/20"), std::string::npos) << "the simulator's progress is not logged:\n" << err;
  // --log-level warn (after the command, too) keeps the info lines out.
  const auto r = run("sim " + cfg + " --log-level warn --out '" + (tmp.path() / "b").string() + "'");
  EXPECT_EQ(r.code, 0) << r.out;
  EXPECT_EQ(r.out, (tmp.path() / "b").string() + "\n");
}

namespace {

// A tiny simulated run: softmax regression on synthetic data, two workers.
const char* kTinyConfig = R"(model: softmax
data: {dataset: synthetic, synthetic_train: 1000, synthetic_test: 200, batch: 20}
train: {optimizer: {name: sgd, lr: 0.1}, stop: {updates: 40}, eval_every: 20}
cluster: {workers: 2, gpu: {flops: 1.0e9, efficiency: 1.0}, link: {bandwidth: 1Gbps, latency: 100us}}
sim: {mode: full}
)";

std::string cell(const ex::CsvTable& t, std::size_t row, const std::string& col) {
  const int c = t.column(col);
  EXPECT_GE(c, 0) << col;
  return c >= 0 ? t.rows.at(row).at(static_cast<std::size_t>(c)) : "";
}

bool has_tmp_file(const fs::path& dir) {
  for (const auto& e : fs::recursive_directory_iterator(dir))
    if (e.path().extension() == ".tmp") return true;
  return false;
}

}  // namespace

// A simulation whose workers all fail writes summary.json (stop_reason failed) and exits 1.
// The sweep marks it failed with the error, and a rerun tries it again and fails again.
TEST(ExperimentsCli, AFailedSimulationIsFailedInTheIndexAndNotCached) {
  synclab::testing::TempDir tmp("cli-failed-run");
  std::ofstream(tmp.path() / "s.yaml") << "name: crash\nconfig:\n"
                                       << "  model: softmax\n  data: {dataset: synthetic, synthetic_train: 1000, synthetic_test: 200, batch: 20}\n"
                                       << "  train: {optimizer: {name: sgd, lr: 0.1}, stop: {updates: 40}, eval_every: 20}\n"
                                       << "  cluster: {workers: 2, gpu: {flops: 1.0e9, efficiency: 1.0}, link: {bandwidth: 1Gbps, latency: 100us}}\n"
                                       << "grid:\n  cluster.failures: [[{worker: 0, at: 1000s}], [{worker: 0, at: 1ms}, {worker: 1, at: 1ms}]]\n";
  const auto out = tmp.path() / "out";
  const auto cmd = "sweep '" + (tmp.path() / "s.yaml").string() + "' --jobs 1 --out '" + out.string() + "'";
  auto r = run(cmd);
  EXPECT_EQ(r.code, 3) << r.out;
  auto index = ex::read_csv(out / "index.csv");
  ASSERT_EQ(index.rows.size(), 2u);
  EXPECT_EQ(cell(index, 0, "status"), "ok");
  EXPECT_EQ(cell(index, 1, "status"), "failed");
  EXPECT_EQ(cell(index, 1, "stop_reason"), "failed");
  EXPECT_NE(cell(index, 1, "error").find("exit code 1"), std::string::npos) << cell(index, 1, "error");
  EXPECT_NE(cell(index, 1, "error").find("every worker failed"), std::string::npos) << cell(index, 1, "error");
  r = run(cmd);
  EXPECT_EQ(r.code, 3) << r.out;
  EXPECT_NE(r.out.find("2 runs, 0 ran, 1 cached, 1 failed"), std::string::npos) << r.out;
  r = run("report '" + out.string() + "' --out '" + (tmp.path() / "rep.html").string() + "'");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto md = ex::read_text(tmp.path() / "rep.md");
  EXPECT_NE(md.find("1 runs in 1 configs"), std::string::npos) << md;
  EXPECT_NE(md.find("## Failed and unfinished runs"), std::string::npos) << md;
  EXPECT_NE(md.find("out/" + index.rows[1][0] + " | failed |"), std::string::npos) << md;
}

// Two sweeps on one directory would run every run twice at once: the second is refused
// with the first one's pid (here the test process holds the lock).
TEST(ExperimentsCli, ASweepOnALockedDirectoryIsRefused) {
  synclab::testing::TempDir tmp("cli-lock");
  std::ofstream(tmp.path() / "s.yaml") << "name: locked\nconfig:\n  model: softmax\ngrid: {cluster.workers: [1]}\n";
  const auto out = tmp.path() / "out";
  fs::create_directories(out);
  const synclab::DirLock holder(out, "synclab sweep");
  const auto r = run("sweep '" + (tmp.path() / "s.yaml").string() + "' --out '" + out.string() + "'");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find("in use by synclab sweep (pid " + std::to_string(::getpid()) + " on "), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  EXPECT_FALSE(fs::exists(out / "index.csv"));
}

// Disk full: a simulated run stops at the first failed write and names the file; nothing
// half-written (*.tmp) is left behind.
TEST(ExperimentsCli, SimOnAFullDiskStopsAtTheFirstFailedWrite) {
  synclab::testing::SmallTmpfs disk("cli-sim-full", 256 * 1024);
  if (!disk.ok()) GTEST_SKIP() << disk.reason();
  synclab::testing::TempDir tmp("cli-sim-full-cfg");
  // Timing mode, 200,000 updates: about 6 MB of updates.csv for a 256 KiB disk.
  std::ofstream(tmp.path() / "c.yaml") << "model: cnn\ntrain: {stop: {updates: 200000}}\n"
                                       << "cluster: {workers: 2, gpu: {flops: 1.0e12, efficiency: 1.0}, link: {bandwidth: 10Gbps, latency: 10us}}\n"
                                       << "sim: {mode: timing}\n";
  const auto dir = disk.path() / "run";
  auto r = run("sim '" + (tmp.path() / "c.yaml").string() + "' --out '" + dir.string() + "'");
  EXPECT_EQ(r.code, 1) << r.out;
  const auto want = (dir / "updates.csv").string() + ": cannot write: No space left on device (after ";
  const auto at = r.out.find(want);
  ASSERT_NE(at, std::string::npos) << r.out;
  const auto rows = std::stoull(r.out.substr(at + want.size()));
  EXPECT_LT(rows, 50000u) << "found only after " << rows << " rows";
  EXPECT_FALSE(fs::exists(dir / "summary.json"));
  EXPECT_FALSE(has_tmp_file(disk.path()));

  // No room even for config.yaml: named, and no config.yaml.tmp left.
  fs::remove_all(dir);
  disk.fill();
  r = run("sim '" + (tmp.path() / "c.yaml").string() + "' --out '" + dir.string() + "'");
  EXPECT_EQ(r.code, 1) << r.out;
  EXPECT_NE(r.out.find((dir / "config.yaml").string() + ": cannot write: No space left on device"), std::string::npos) << r.out;
  EXPECT_FALSE(has_tmp_file(disk.path()));
}

// A sweep whose disk fills up says so, stops, and keeps the index it had (never an empty one).
TEST(ExperimentsCli, SweepOnAFullDiskSaysSoAndKeepsItsIndex) {
  synclab::testing::SmallTmpfs disk("cli-sweep-full", 512 * 1024);
  if (!disk.ok()) GTEST_SKIP() << disk.reason();
  synclab::testing::TempDir tmp("cli-sweep-full-cfg");
  const auto out = disk.path() / "sweep";
  auto sweep = [&](const std::string& workers) {
    std::ofstream(tmp.path() / "s.yaml") << "name: full\nconfig:\n  model: softmax\n"
                                         << "  data: {dataset: synthetic, synthetic_train: 1000, synthetic_test: 200, batch: 20}\n"
                                         << "  train: {stop: {updates: 20}, eval_every: 10}\n"
                                         << "grid: {cluster.workers: " << workers << "}\n";
    return run("sweep '" + (tmp.path() / "s.yaml").string() + "' --jobs 1 --out '" + out.string() + "'");
  };
  auto r = sweep("[1]");
  ASSERT_EQ(r.code, 0) << r.out;
  const auto before = ex::read_text(out / "index.csv");
  ASSERT_NE(before.find("workers=1,ok,"), std::string::npos) << before;
  disk.fill();
  r = sweep("[1, 2]");
  EXPECT_NE(r.code, 0) << r.out;
  EXPECT_NE(r.out.find("No space left on device"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(out.string()), std::string::npos) << r.out;
  EXPECT_EQ(ex::read_text(out / "index.csv"), before);
  EXPECT_FALSE(has_tmp_file(out));
}

// worker.device is honoured where a GPU exists and refused in one line where none does;
// never silently ignored.
TEST(ExperimentsCli, TrainAndSimHonourOrRefuseWorkerDevice) {
  synclab::testing::TempDir tmp("cli-device");
  std::ofstream(tmp.path() / "c.yaml") << kTinyConfig;
  const bool gpu = synclab::available_gpu_count() > 0;
  for (const char* cmd : {"train", "sim"}) {
    const auto dir = tmp.path() / cmd;
    const auto r = run(std::string(cmd) + " '" + (tmp.path() / "c.yaml").string() + "' --out '" + dir.string() +
                       "' --set worker.device=cuda:0");
    if (gpu) {
      ASSERT_EQ(r.code, 0) << cmd << ": " << r.out;
      const auto summary = nlohmann::json::parse(ex::read_text(dir / "summary.json"));
      EXPECT_EQ(summary.value("device", ""), "cuda:0") << cmd;
    } else {
      EXPECT_EQ(r.code, 1) << cmd << ": " << r.out;
      // The error is the last line, one line (sim announces the run first).
      const auto last = r.out.substr(r.out.rfind('\n', r.out.size() - 2) + 1);
      EXPECT_NE(last.find("worker.device: 'cuda:0' asks for a GPU but "), std::string::npos) << cmd << ": " << r.out;
      EXPECT_LE(std::count(r.out.begin(), r.out.end(), '\n'), std::string(cmd) == "sim" ? 2 : 1) << cmd << ": " << r.out;
      EXPECT_FALSE(fs::exists(dir / "summary.json")) << cmd;
    }
    // The CPU is always there.
    const auto cpu = run(std::string(cmd) + " '" + (tmp.path() / "c.yaml").string() + "' --out '" + (dir.string() + "-cpu") +
                         "' --set worker.device=cpu");
    ASSERT_EQ(cpu.code, 0) << cmd << ": " << cpu.out;
    EXPECT_EQ(nlohmann::json::parse(ex::read_text(fs::path(dir.string() + "-cpu") / "summary.json")).value("device", ""), "cpu");
  }
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
