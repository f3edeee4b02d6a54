// The sweep runner against a fake `synclab` (a shell script): parallel runs, resume,
// failure recording, timeouts, interrupts, shards and index merge.
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include "core/common/error.hpp"
#include "core/run/dir_lock.hpp"
#include "experiments/csv.hpp"
#include "experiments/sweep_runner.hpp"
#include "fixture.hpp"

namespace ex = synclab::experiments;
namespace fs = std::filesystem;

namespace {

// Behaves like `synclab sim CONFIG --out DIR`: a policy named boom fails with a config
// error on stderr, one named slow sleeps (its pid added to slow.pids); anything else writes a
// minimal run directory. Every start is logged to calls.log beside the sweep directory.
const char* kFakeChild = R"SH(#!/bin/sh
cfg="$2"; out="$4"
echo "$1 $(basename "$out")" >> "$(dirname "$(dirname "$out")")/calls.log"
if grep -q 'name: boom' "$cfg"; then
  echo "loading $cfg" >&2
  echo "policy.name: unknown policy 'boom'" >&2
  exit 2
fi
if grep -q 'name: slow' "$cfg"; then
  echo $$ >> "$(dirname "$(dirname "$out")")/slow.pids"
  exec sleep 60
fi
if grep -q 'name: crash' "$cfg"; then
  # Like a simulation whose workers all failed: the summary is written, the exit is 1.
  mkdir -p "$out"
  printf '{"backend":"sim","policy":"p","workers":2,"updates":3,"samples":300,"time_s":1.0,"final_test_accuracy":0.5,"stop_reason":"failed","error":"every worker failed"}\n' > "$out/summary.json"
  echo "every worker failed (cluster.failures)" >&2
  exit 1
fi
mkdir -p "$out"
cp "$cfg" "$out/config.yaml"
printf 'time_s,update,samples,test_loss,test_accuracy\n1,10,1000,0.5,0.75\n' > "$out/evals.csv"
printf '{"backend":"sim","policy":"p","workers":2,"updates":10,"samples":1000,"time_s":4.0,"final_test_accuracy":0.75}\n' > "$out/summary.json"
)SH";

struct Fixture {
  synclab::testing::TempDir tmp{"sweeprun"};
  fs::path program = tmp.path() / "fake-synclab";
  fs::path out = tmp.path() / "sweep";
  Fixture() {
    std::ofstream(program) << kFakeChild;
    fs::permissions(program, fs::perms::owner_all);
  }
  ex::SweepOptions options(int jobs = 2) const {
    ex::SweepOptions o;
    o.out = out;
    o.jobs = jobs;
    o.program = program;
    o.progress = nullptr;
    return o;
  }
  int calls() const {
    std::ifstream in(tmp.path() / "calls.log");
    int n = 0;
    for (std::string line; std::getline(in, line);) ++n;
    return n;
  }
};

ex::SweepSpec spec_of(const std::string& yaml) { return ex::parse_sweep(YAML::Load(yaml), ".", "test.yaml"); }

std::string cell(const ex::CsvTable& t, std::size_t row, const std::string& col) {
  const int c = t.column(col);
  EXPECT_GE(c, 0) << col;
  return c >= 0 ? t.rows.at(row).at(static_cast<std::size_t>(c)) : "";
}

}  // namespace

TEST(SweepRunner, RunsRecordsFailureAndResumes) {
  Fixture f;
  const auto spec = spec_of("name: t\nconfig: {model: cnn}\ngrid: {policy.name: [bsp, boom, async]}\nseeds: [1, 2]\n");
  auto res = ex::run_sweep(spec, f.options());
  EXPECT_EQ(res.total, 6u);
  EXPECT_EQ(res.ran, 4u);
  EXPECT_EQ(res.failed, 2u);
  EXPECT_EQ(res.cached, 0u);
  EXPECT_EQ(f.calls(), 6);

  auto index = ex::read_csv(f.out / "index.csv");
  ASSERT_EQ(index.rows.size(), 6u);
  EXPECT_EQ(index.header[0], "run");
  EXPECT_GE(index.column("policy.name"), 0);
  EXPECT_GE(index.column("final_test_accuracy"), 0);
  EXPECT_EQ(cell(index, 0, "run"), "policy=bsp_seed=1");
  EXPECT_EQ(cell(index, 0, "status"), "ok");
  EXPECT_EQ(cell(index, 0, "policy.name"), "bsp");
  EXPECT_EQ(cell(index, 0, "seed"), "1");
  EXPECT_EQ(cell(index, 0, "final_test_accuracy"), "0.75");
  EXPECT_EQ(cell(index, 0, "updates_per_s"), "2.5");
  EXPECT_EQ(cell(index, 0, "samples_per_s"), "250");
  EXPECT_EQ(cell(index, 2, "run"), "policy=boom_seed=1");
  EXPECT_EQ(cell(index, 2, "status"), "failed");
  EXPECT_NE(cell(index, 2, "error").find("exit code 2"), std::string::npos) << cell(index, 2, "error");
  EXPECT_NE(cell(index, 2, "error").find("policy.name: unknown policy 'boom'"), std::string::npos);
  // The child got the expanded config.
  std::ifstream cfg(f.out / "policy=async_seed=2" / "config.yaml");
  std::stringstream ss;
  ss << cfg.rdbuf();
  const auto node = YAML::Load(ss.str());
  EXPECT_EQ(node["policy"]["name"].as<std::string>(), "async");
  EXPECT_EQ(node["train"]["seed"].as<int>(), 2);
  EXPECT_EQ(node["model"].as<std::string>(), "cnn");

  // Resume: finished runs are kept, only the failed ones run again.
  res = ex::run_sweep(spec, f.options());
  EXPECT_EQ(res.cached, 4u);
  EXPECT_EQ(res.ran, 0u);
  EXPECT_EQ(res.failed, 2u);
  EXPECT_EQ(f.calls(), 8);

  // A run whose summary vanished (killed mid-way) is redone; the others stay cached.
  fs::remove(f.out / "policy=bsp_seed=2" / "summary.json");
  res = ex::run_sweep(spec, f.options(1));
  EXPECT_EQ(res.ran, 1u);
  EXPECT_EQ(res.cached, 3u);
  EXPECT_EQ(f.calls(), 11);
  index = ex::read_csv(f.out / "index.csv");
  EXPECT_EQ(cell(index, 1, "status"), "ok");
}

// The progress line (not a terminal: one line per change) counts done, cached and failed
// runs and gives an ETA once a run has been timed.
TEST(SweepRunner, ProgressLinesCountFailuresAndGiveAnEta) {
  Fixture f;
  const auto spec = spec_of("name: prog\nconfig: {model: cnn}\ngrid: {policy.name: [bsp, boom, async]}\nseeds: [1]\n");
  auto o = f.options(1);
  std::FILE* log = std::tmpfile();
  ASSERT_NE(log, nullptr);
  o.progress = log;
  auto res = ex::run_sweep(spec, o);
  EXPECT_EQ(res.failed, 1u);
  std::rewind(log);
  std::vector<std::string> lines;
  char buf[512];
  while (std::fgets(buf, sizeof buf, log)) lines.emplace_back(buf);
  std::fclose(log);
  ASSERT_GE(lines.size(), 3u);
  EXPECT_EQ(lines.front(), "sweep prog: 0/3 done (0 cached), 0 failed, ETA ?\n");
  bool timed_eta = false;
  for (const auto& l : lines)
    if (l.find("1/3 done") != std::string::npos || l.find("2/3 done") != std::string::npos)
      timed_eta = timed_eta || (l.find("ETA ?") == std::string::npos && l.find("ETA ") != std::string::npos);
  EXPECT_TRUE(timed_eta) << "no line with a timed ETA";
  bool final_line = false;
  for (const auto& l : lines) final_line = final_line || l.rfind("sweep prog: 3/3 done (0 cached), 1 failed, ETA 0s", 0) == 0;
  EXPECT_TRUE(final_line) << lines.back();
  // Resumed: the two finished runs are cached, the failed one is tried again.
  std::FILE* again = std::tmpfile();
  o.progress = again;
  ex::run_sweep(spec, o);
  std::rewind(again);
  std::string all;
  while (std::fgets(buf, sizeof buf, again)) all += buf;
  std::fclose(again);
  EXPECT_NE(all.find("3/3 done (2 cached), 1 failed"), std::string::npos) << all;
}

TEST(SweepRunner, TimeoutKillsAHungRun) {
  Fixture f;
  const auto spec = spec_of("timeout: 0.5\ngrid: {policy.name: [slow]}\n");
  const auto res = ex::run_sweep(spec, f.options());
  EXPECT_EQ(res.failed, 1u);
  EXPECT_EQ(res.ran, 0u);
  const auto index = ex::read_csv(f.out / "index.csv");
  EXPECT_NE(cell(index, 0, "error").find("timed out"), std::string::npos) << cell(index, 0, "error");
}

TEST(SweepRunner, ShardsSplitTheRunsAndMergeRebuildsTheIndex) {
  Fixture f;
  const auto spec = spec_of("grid: {cluster.workers: [1, 2, 3, 4, 5]}\n");
  auto o = f.options();
  o.shard_index = 1;
  o.shard_count = 2;
  auto res = ex::run_sweep(spec, o);
  EXPECT_EQ(res.total, 2u);  // indices 1 and 3
  EXPECT_EQ(res.ran, 2u);
  auto index = ex::read_csv(f.out / "index.csv");
  ASSERT_EQ(index.rows.size(), 5u);
  EXPECT_EQ(cell(index, 0, "status"), "pending");
  EXPECT_EQ(cell(index, 1, "status"), "ok");
  o.shard_index = 0;
  res = ex::run_sweep(spec, o);
  EXPECT_EQ(res.total, 3u);
  ex::write_index(ex::expand_sweep(spec), spec, f.out);
  index = ex::read_csv(f.out / "index.csv");
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(cell(index, i, "status"), "ok") << i;
  o.shard_index = 2;
  EXPECT_THROW(ex::run_sweep(spec, o), synclab::ConfigError);
}

TEST(SweepRunner, RealRunsGoThroughLaunch) {
  Fixture f;
  const auto spec = spec_of("backend: launch\ngrid: {cluster.workers: [1, 2]}\n");
  const auto res = ex::run_sweep(spec, f.options(8));
  EXPECT_EQ(res.ran, 2u);
  std::ifstream in(f.tmp.path() / "calls.log");
  std::string first;
  std::getline(in, first);
  EXPECT_EQ(first.rfind("launch ", 0), 0u) << first;
}

TEST(SweepRunner, MissingProgramIsAnError) {
  Fixture f;
  auto o = f.options();
  o.program = f.tmp.path() / "nope";
  EXPECT_THROW(ex::run_sweep(spec_of("seeds: [1]"), o), synclab::Error);
}

TEST(SweepRunner, TailKeepsTheLastLines) {
  synclab::testing::TempDir tmp("tail");
  std::ofstream(tmp.path() / "log") << "a\nb\n\nc\r\nprogress 1\rprogress 2\nd\n";
  EXPECT_EQ(ex::tail_lines(tmp.path() / "log", 3, 100), "c | progress 2 | d");
  EXPECT_EQ(ex::tail_lines(tmp.path() / "missing", 3, 100), "");
}

TEST(SweepRunner, SweptKeysThatClashWithIndexColumnsArePrefixed) {
  Fixture f;
  const auto spec = spec_of("grid: {backend: [sim], policy.name: [bsp]}\n");
  EXPECT_EQ(ex::run_sweep(spec, f.options()).ran, 1u);
  const auto index = ex::read_csv(f.out / "index.csv");
  EXPECT_EQ(cell(index, 0, "sweep.backend"), "sim");
  EXPECT_EQ(cell(index, 0, "policy.name"), "bsp");
  EXPECT_EQ(cell(index, 0, "policy"), "p");  // the summary's policy field
  EXPECT_EQ(cell(index, 0, "backend"), "sim");
}

// Any CSV reader gets plain cells: a swept map becomes one column per entry (empty where a
// run's map lacks it), a swept list one JSON cell; no YAML inside a cell.
TEST(SweepRunner, IndexHasOneColumnPerSweptLeafKey) {
  Fixture f;
  const auto spec = spec_of(
      "grid: {policy: [{name: bsp}, {name: ssp, staleness: 2}], cluster.speeds: [[1, 0.5]]}\n"
      "zip: {cluster.link.bandwidth: [1Gbps], cluster.link.latency: [50us]}\n");
  EXPECT_EQ(ex::run_sweep(spec, f.options()).ran, 2u);
  const auto index = ex::read_csv(f.out / "index.csv");
  const std::vector<std::string> head(index.header.begin(), index.header.begin() + 8);
  EXPECT_EQ(head, (std::vector<std::string>{"run", "status", "backend", "policy.name", "policy.staleness", "cluster.speeds",
                                            "cluster.link.bandwidth", "cluster.link.latency"}));
  EXPECT_LT(index.column("sweep.policy"), 0);
  EXPECT_EQ(cell(index, 0, "policy.name"), "bsp");
  EXPECT_EQ(cell(index, 0, "policy.staleness"), "");
  EXPECT_EQ(cell(index, 1, "policy.name"), "ssp");
  EXPECT_EQ(cell(index, 1, "policy.staleness"), "2");
  EXPECT_EQ(cell(index, 1, "cluster.speeds"), "[1,0.5]");
  EXPECT_EQ(cell(index, 1, "cluster.link.bandwidth"), "1Gbps");
  EXPECT_EQ(cell(index, 1, "policy"), "p");
}

TEST(SweepRunner, ListCellsAreJson) {
  EXPECT_EQ(ex::index_cell(YAML::Load("[1, 2.5, 1Gbps, true, '7']")), R"([1,2.5,"1Gbps",true,"7"])");
  EXPECT_EQ(ex::index_cell(YAML::Load("[{worker: 1, at: 30s}]")), R"([{"worker":1,"at":"30s"}])");
  EXPECT_EQ(ex::index_cell(YAML::Load("ssp")), "ssp");
}

// A child that wrote summary.json and then exited non-zero (stop_reason failed) is a failed
// run: failed in the index with its error, retried by a rerun, never counted as cached.
TEST(SweepRunner, AFailedRunWithASummaryIsFailedAndRetried) {
  Fixture f;
  const auto spec = spec_of("name: t\ngrid: {policy.name: [bsp, crash]}\n");
  auto res = ex::run_sweep(spec, f.options());
  EXPECT_EQ(res.ran, 1u);
  EXPECT_EQ(res.failed, 1u);
  auto index = ex::read_csv(f.out / "index.csv");
  EXPECT_EQ(cell(index, 1, "status"), "failed");
  EXPECT_NE(cell(index, 1, "error").find("exit code 1"), std::string::npos) << cell(index, 1, "error");
  EXPECT_NE(cell(index, 1, "error").find("every worker failed"), std::string::npos) << cell(index, 1, "error");
  EXPECT_EQ(cell(index, 1, "stop_reason"), "failed");
  res = ex::run_sweep(spec, f.options());
  EXPECT_EQ(res.cached, 1u);
  EXPECT_EQ(res.failed, 1u);
  EXPECT_EQ(f.calls(), 3);  // the crashed run was tried again
  // The summary alone says failed too, e.g. when only run directories were copied.
  fs::remove_all(f.out / "logs");
  ex::write_index(ex::expand_sweep(spec), spec, f.out);
  index = ex::read_csv(f.out / "index.csv");
  EXPECT_EQ(cell(index, 0, "status"), "ok");
  EXPECT_EQ(cell(index, 1, "status"), "failed");
  EXPECT_EQ(cell(index, 1, "error"), "stop_reason failed: every worker failed");
}

TEST(SweepRunner, ASecondSweepOnTheSameDirectoryIsRefusedWithTheHoldersPid) {
  Fixture f;
  const auto spec = spec_of("grid: {cluster.workers: [1, 2]}\n");
  fs::create_directories(f.out);
  {
    const synclab::DirLock other(f.out, "synclab sweep");
    try {
      ex::run_sweep(spec, f.options());
      FAIL() << "a second sweep ran on a locked directory";
    } catch (const synclab::Error& e) {
      EXPECT_NE(std::string(e.what()).find("in use by synclab sweep (pid " + std::to_string(::getpid())), std::string::npos)
          << e.what();
    }
    EXPECT_EQ(f.calls(), 0);
    EXPECT_FALSE(fs::exists(f.out / "index.csv"));
  }
  EXPECT_EQ(ex::run_sweep(spec, f.options()).ran, 2u);  // the lock went with its holder
}

TEST(SweepRunner, ShardsLockOnlyTheirOwnPart) {
  Fixture f;
  const auto spec = spec_of("grid: {cluster.workers: [1, 2, 3, 4]}\n");
  fs::create_directories(f.out);
  const synclab::DirLock shard1(f.out, "synclab sweep shard 1/2", 1);
  auto o = f.options();
  o.shard_count = 2;
  o.shard_index = 0;
  EXPECT_EQ(ex::run_sweep(spec, o).ran, 2u);
  o.shard_index = 1;
  EXPECT_THROW(ex::run_sweep(spec, o), synclab::Error);
  EXPECT_THROW(ex::run_sweep(spec, f.options()), synclab::Error);
  EXPECT_EQ(f.calls(), 2);
}

TEST(SweepRunner, InterruptStopsTheChildrenAndKeepsFinishedRuns) {
  Fixture f;
  ASSERT_EQ(ex::run_sweep(spec_of("grid: {policy.name: [bsp]}\n"), f.options()).ran, 1u);
  const auto spec = spec_of("grid: {policy.name: [bsp, slow]}\n");
  // The slow child sleeps 30 s; a SIGTERM to ourselves a moment later must end the sweep
  // promptly, with the child stopped and the finished run still indexed.
  std::thread killer([] {
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    ::kill(::getpid(), SIGTERM);
  });
  EXPECT_THROW(ex::run_sweep(spec, f.options()), synclab::Error);
  killer.join();
  const auto index = ex::read_csv(f.out / "index.csv");
  EXPECT_EQ(cell(index, 0, "status"), "ok");
  EXPECT_EQ(cell(index, 1, "status"), "failed");
  EXPECT_NE(cell(index, 1, "error").find("interrupted by SIGTERM"), std::string::npos) << cell(index, 1, "error");
}

namespace {

// Whether a process has ended: no such pid, or a zombie left for its new parent to reap.
bool ended(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  const auto close = line.rfind(')');
  return close != std::string::npos && close + 2 < line.size() && line[close + 2] == 'Z';
}

std::vector<pid_t> read_pids(const fs::path& file) {
  std::ifstream in(file);
  std::vector<pid_t> pids;
  for (pid_t p = 0; in >> p;) pids.push_back(p);
  return pids;
}

}  // namespace

TEST(SweepRunner, ASweepKilledAloneLeavesNoChildBehind) {
  Fixture f;
  // Two runs of the sweep at once, each a child that would sleep 60 s. SIGKILL to the
  // sweep's PID alone (not its process group) cannot be handled by the sweep: the children
  // must still go down with it instead of running on as orphans.
  const auto spec = spec_of("grid: {policy.name: [slow], cluster.workers: [1, 2]}\n");
  const pid_t sweep = ::fork();
  ASSERT_GE(sweep, 0);
  if (sweep == 0) {
    try {
      ex::run_sweep(spec, f.options(2));
    } catch (...) {
    }
    ::_exit(0);
  }
  std::vector<pid_t> children;
  for (int i = 0; i < 3000 && children.size() < 2; ++i) {  // the children start within a minute
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    children = read_pids(f.tmp.path() / "slow.pids");
  }
  ::kill(sweep, SIGKILL);
  int status = 0;
  ASSERT_EQ(::waitpid(sweep, &status, 0), sweep);
  ASSERT_EQ(children.size(), 2u) << "the sweep did not start both runs";
  // Far below the children's 60 s of sleep: a child still there after 20 s is an orphan.
  for (int i = 0; i < 1000 && !(ended(children[0]) && ended(children[1])); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  for (const pid_t c : children) {
    EXPECT_TRUE(ended(c)) << "run process " << c << " outlived the killed sweep";
    if (!ended(c)) ::kill(c, SIGKILL);
  }
}
