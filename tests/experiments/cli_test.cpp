// The synclab binary's experiment commands end to end: --help, report on a fixture sweep,
// one-line errors, and a sweep whose children are the real `synclab sim`.
#include <algorithm>
#include <array>
#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>
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
}

TEST(ExperimentsCli, ErrorsAreOneLineNamingTheInput) {
  auto r = run("report /nonexistent-synclab-dir");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("/nonexistent-synclab-dir"), std::string::npos) << r.out;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 1) << r.out;
  r = run("report --target 2 /tmp");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("--target"), std::string::npos) << r.out;
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
