// Reports on hand-made run directories: grouping, seed aggregation, time to target,
// sim-vs-real pairing, Markdown content and the HTML's inlined Vega and chart views.
#include <cstdlib>
#include <fstream>
#include <map>

#include <nlohmann/json.hpp>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/common/error.hpp"
#include "experiments/csv.hpp"
#include "experiments/report_writer.hpp"
#include "experiments/run_data.hpp"
#include "experiments/vega_bundle.hpp"
#include "fixture.hpp"

namespace ex = synclab::experiments;
namespace fs = std::filesystem;

namespace {

const ex::RunGroup& group(const ex::ReportModel& m, const std::string& label) {
  for (const auto& g : m.groups)
    if (g.label == label) return g;
  std::string all;
  for (const auto& g : m.groups) all += "'" + g.label + "' ";
  throw std::runtime_error("no group '" + label + "' among " + all);
}

std::size_t count(const std::string& text, const std::string& what) {
  std::size_t n = 0;
  for (auto pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

struct ReportFixture : ::testing::Test {
  synclab::testing::TempDir tmp{"report"};
  fs::path sweep = synclab::testing::write_fixture_sweep(tmp.path());
  ex::ReportModel model() {
    return ex::build_report_model({sweep, tmp.path() / "real-bsp", tmp.path() / "sim-bsp"}, ex::ReportOptions{});
  }
};

}  // namespace

TEST_F(ReportFixture, GroupsSeedsAndLabelsByWhatDiffers) {
  const auto m = model();
  EXPECT_EQ(m.runs.size(), 6u);
  ASSERT_EQ(m.groups.size(), 4u);
  const auto& bsp = group(m, "sim: bsp workers=2");
  const auto& ssp = group(m, "sim: ssp staleness=2 workers=2");
  group(m, "real: bsp workers=3");
  group(m, "sim: bsp workers=3");
  ASSERT_EQ(bsp.runs.size(), 2u);
  // Curves: seeds matched by update; accuracy 0.5 + 0.04 u + 0.002 seed.
  ASSERT_EQ(bsp.curve.size(), 5u);
  EXPECT_EQ(bsp.curve[0].update, 2u);
  EXPECT_NEAR(bsp.curve[0].acc_min, 0.58 + 0.002, 1e-9);
  EXPECT_NEAR(bsp.curve[0].acc_max, 0.58 + 0.004, 1e-9);
  EXPECT_NEAR(bsp.curve[0].acc_mean, 0.583, 1e-9);
  EXPECT_NEAR(bsp.curve[0].time_s, 2 * 0.65, 1e-9);  // step 0.6 and 0.7 s
  // Bands: the 95% t interval of the mean, t(0.975, 1) = 12.7062 for two seeds.
  EXPECT_NEAR(bsp.curve[0].acc_hi - bsp.curve[0].acc_mean, 12.7062 * 0.001, 1e-6);
  EXPECT_NEAR(bsp.curve[0].acc_mean - bsp.curve[0].acc_lo, 12.7062 * 0.001, 1e-6);
  EXPECT_NEAR(bsp.curve[0].loss_mean, 1 - 0.583, 1e-9);
  EXPECT_EQ(bsp.curve[0].seeds, 2u);
  // Train loss from updates.csv (loss 1/u at update u, the same for both seeds).
  ASSERT_EQ(bsp.train_loss.size(), 10u);
  EXPECT_NEAR(bsp.train_loss[0].mean, 1.0, 1e-9);
  EXPECT_NEAR(bsp.train_loss[9].mean, 0.1, 1e-9);
  EXPECT_NEAR(bsp.train_loss[9].lo, 0.1, 1e-9);
  EXPECT_NEAR(bsp.train_loss[9].time_s, 6.5, 1e-9);
  // Cost: 2 workers x 6 and 7 s; 1000 bytes per run, all sent by the update that hit the target.
  EXPECT_NEAR(bsp.worker_seconds.mean, 13.0, 1e-9);
  EXPECT_NEAR(bsp.bytes_sent.mean, 1000.0, 1e-9);
  EXPECT_NEAR(bsp.final_accuracy.mean, 0.903, 1e-9);
  EXPECT_NEAR(bsp.time_s.min, 6.0, 1e-9);
  EXPECT_NEAR(bsp.time_s.max, 7.0, 1e-9);
  EXPECT_NEAR(bsp.updates_per_s.mean, (10 / 6.0 + 10 / 7.0) / 2, 1e-9);
  EXPECT_NEAR(bsp.samples_per_s.mean, (2000 / 6.0 + 2000 / 7.0) / 2, 1e-9);
  // Staleness: ssp fixture cycles 0, 1, 2 over its 10 updates.
  ASSERT_EQ(ssp.staleness_fraction.size(), 3u);
  EXPECT_NEAR(ssp.staleness_fraction.at(0), 0.3, 1e-9);
  EXPECT_NEAR(ssp.staleness_fraction.at(1), 0.4, 1e-9);
  EXPECT_EQ(bsp.staleness_fraction.size(), 1u);
  // Breakdown: mean over seeds per worker.
  ASSERT_EQ(bsp.breakdown.size(), 2u);
  EXPECT_DOUBLE_EQ(bsp.breakdown[1].compute_s, 4.0);
  EXPECT_DOUBLE_EQ(bsp.breakdown[1].wait_s, 1.0);
  EXPECT_EQ(group(m, "sim: bsp workers=3").breakdown.size(), 3u);  // read from per_worker
  // The failed run of the sweep is listed with its error.
  ASSERT_EQ(m.failed.size(), 1u);
  EXPECT_EQ(m.failed[0].name, "policies/policy=boom_seed=1");
  EXPECT_NE(m.failed[0].error.find("unknown policy 'boom'"), std::string::npos);
}

TEST_F(ReportFixture, TimeToTargetAndDefaultTarget) {
  auto m = model();
  // Best mean final accuracy is 0.9 + 0.002*7 = 0.914 (bsp, seed 7): 95% -> 0.86.
  EXPECT_NEAR(m.target, 0.86, 1e-12);
  EXPECT_FALSE(m.target_given);
  const auto& bsp = group(m, "sim: bsp workers=2");
  // Seed 1 reaches 0.86 at update 10 (0.902); seed 2 also at 10 (0.904): 6.0 s and 7.0 s.
  ASSERT_TRUE(bsp.time_to_target.has_value());
  EXPECT_NEAR(*bsp.time_to_target, 6.5, 1e-9);
  EXPECT_NEAR(*bsp.updates_to_target, 10, 1e-9);
  const auto& ssp = group(m, "sim: ssp staleness=2 workers=2");
  EXPECT_FALSE(ssp.time_to_target.has_value());  // 0.9 * 0.9 + 0.004 < 0.86
  EXPECT_EQ(ssp.reached, 0u);

  ex::ReportOptions o;
  o.target = 0.7;
  m = ex::build_report_model({sweep}, o);
  EXPECT_TRUE(m.target_given);
  const auto& ssp2 = m.groups.at(1);
  ASSERT_TRUE(ssp2.time_to_target.has_value());
  // ssp accuracy 0.9 (0.5 + 0.04 u) + 0.002 s >= 0.7 first at the evaluation of u = 8 (t = 2 s).
  EXPECT_NEAR(*ssp2.time_to_target, 2.0, 1e-9);
}

TEST_F(ReportFixture, PairsSimAndRealOfTheSameConfig) {
  const auto m = model();
  ASSERT_EQ(m.pairs.size(), 1u);
  const auto& p = m.pairs[0];
  EXPECT_EQ(p.real->label, "real: bsp workers=3");
  EXPECT_EQ(p.sim->label, "sim: bsp workers=3");
  EXPECT_NEAR(p.time_error_pct, 25.0, 1e-9);        // 5.0 s simulated vs 4.0 s real
  EXPECT_NEAR(p.throughput_error_pct, -20.0, 1e-9);  // 2 vs 2.5 updates/s
  EXPECT_NEAR(p.time_per_update_error_pct, 25.0, 1e-9);  // 0.5 s vs 0.4 s per update
  // Both reach 0.86 at the evaluation of update 10 (same curve): the time to target is off
  // by the time per update alone, and the updates-to-target column says so.
  ASSERT_TRUE(p.tta_error_pct.has_value() && p.updates_to_target_error_pct.has_value());
  EXPECT_NEAR(*p.tta_error_pct, 25.0, 1e-9);
  EXPECT_NEAR(*p.updates_to_target_error_pct, 0.0, 1e-9);
  const auto md = ex::render_markdown(m, ex::recommend(m, ex::Objective::TimeToTarget));
  EXPECT_NE(md.find("| real time/update spread | sim time/update spread | time-to-target error | real time-to-target spread | "
                    "updates-to-target error |"),
            std::string::npos) << md;
  EXPECT_NE(md.find("| +25.0% | - | - | +25.0% | - | +0.0% |"), std::string::npos) << md;
  EXPECT_NEAR(p.accuracy_diff, 0.0, 1e-12);
  EXPECT_TRUE(ex::is_backend_specific("cluster.link.bandwidth"));
  EXPECT_TRUE(ex::is_backend_specific("sim.mode"));
  EXPECT_FALSE(ex::is_backend_specific("cluster.workers"));
  EXPECT_FALSE(ex::is_backend_specific("policy.name"));
}

// Where each pair's workers spent their time, side by side: shares of the workers' summed
// compute + communicate + wait, simulated / real, in the Markdown and the HTML.
TEST_F(ReportFixture, WhereTheWorkersTimeWentIsShownSimAgainstReal) {
  auto m = model();
  ASSERT_EQ(m.pairs.size(), 1u);
  // The fixture's three workers compute 3, 4 and 5 s, wait 0, 1 and 2 s and communicate
  // 0.5 s each: 12 / 1.5 / 3 of 16.5 s. The real ones communicate 3 s each here: 12 / 9 / 3 of 24 s.
  for (auto& g : m.groups)
    if (&g == m.pairs[0].real)
      for (auto& b : g.breakdown) b.communicate_s = 3.0;
  const auto rec = ex::recommend(m, ex::Objective::TimeToTarget);
  const std::string row = "| bsp workers=3 | 72.7% / 50.0% | 9.1% / 37.5% | 18.2% / 12.5% |";
  const auto md = ex::render_markdown(m, rec);
  EXPECT_NE(md.find("### Where the workers' time went, sim / real"), std::string::npos) << md;
  EXPECT_NE(md.find(row), std::string::npos) << md;
  const auto html = ex::render_html(m, rec, ex::build_charts(m), "");
  EXPECT_NE(html.find("<h3 id=\"worker-split\">"), std::string::npos);
  EXPECT_NE(html.find("<td>72.7% / 50.0%</td>"), std::string::npos);
  // A pair without a breakdown on one side has no row, and no rows no table.
  for (auto& g : m.groups)
    if (&g == m.pairs[0].sim) g.breakdown.clear();
  EXPECT_EQ(ex::render_markdown(m, rec).find("### Where the workers' time went"), std::string::npos);
}

TEST_F(ReportFixture, RealSeedsSpreadIsShownBesideTheError) {
  // Two real seeds at 0.4 and 0.5 s per update (2.5 and 2 updates/s, mean 2.25): the real
  // runs alone span (0.5 - 0.4) x 2.25 = 22.5% of the mean time per update. The simulated
  // seeds agree with each other (0.45 s each): a spread of 0.
  const auto dir = tmp.path() / "seeds";
  for (std::uint64_t seed : {1u, 2u}) {
    synclab::testing::write_fixture_run(dir / fmt::format("real-{}", seed),
                                        {.backend = "real", .policy = "bsp", .workers = 5, .seed = seed, .step_s = 0.3 + 0.1 * seed});
    synclab::testing::write_fixture_run(dir / fmt::format("sim-{}", seed),
                                        {.backend = "sim", .policy = "bsp", .workers = 5, .seed = seed, .step_s = 0.45});
  }
  const auto m = ex::build_report_model({dir, tmp.path() / "real-bsp", tmp.path() / "sim-bsp"}, ex::ReportOptions{});
  ASSERT_EQ(m.pairs.size(), 2u);
  for (const auto& p : m.pairs) {
    if (p.real->runs.size() == 2) {
      ASSERT_TRUE(p.real_spread_pct.has_value());
      EXPECT_NEAR(*p.real_spread_pct, 22.5, 1e-9);
      ASSERT_TRUE(p.sim_spread_pct.has_value());
      EXPECT_NEAR(*p.sim_spread_pct, 0.0, 1e-9);
      // Both seeds reach the target at the same update, 0.4 and 0.5 s per update apart:
      // their times to target span 0.1 / 0.45 of the mean.
      ASSERT_TRUE(p.real_tta_spread_pct.has_value());
      EXPECT_NEAR(*p.real_tta_spread_pct, 100.0 * 0.1 / 0.45, 1e-9);
    } else {
      EXPECT_FALSE(p.real_spread_pct.has_value());  // one real seed: no spread to show
      EXPECT_FALSE(p.sim_spread_pct.has_value());
      EXPECT_FALSE(p.real_tta_spread_pct.has_value());
    }
  }
  const auto md = ex::render_markdown(m, ex::recommend(m, ex::Objective::TimeToTarget));
  EXPECT_NE(md.find("| time/update error | real time/update spread | sim time/update spread |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 22.5% | 0.0% |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 22.2% |"), std::string::npos) << md;
}

TEST_F(ReportFixture, MarkdownSummaryHasTheTables) {
  const auto m = model();
  const auto md = ex::render_markdown(m, ex::recommend(m, ex::Objective::TimeToTarget));
  for (const char* s : {"# synclab report", "## Recommendation", "How sure:", "Sim vs real: bsp workers=3: predicted by ",
                        "time to target within 25.0% (updates to target sim 10 vs real 10)",
                        "simulation within 25.0%", "## Results per config", "## Cost", "final accuracy (fraction)", "throughput (updates/s)",
                        "time to 0.86 accuracy (s)", "| sim: bsp workers=2 | sim | 2 | 0.903 [0.8903, 0.9157] |",
                        "not reached (0/2 seeds)", "## Per-worker time breakdown", "## Simulation vs real runs",
                        "| bsp workers=3 | 5 | 4 | +25.0% |", "-20.0%", "## Failed and unfinished runs", "unknown policy 'boom'",
                        "`policies/policy=bsp_seed=1`"})
    EXPECT_NE(md.find(s), std::string::npos) << "missing: " << s << "\n" << md;
}

TEST_F(ReportFixture, HtmlInlinesVegaAndHasOneViewPerChart) {
  const auto m = model();
  const auto charts = ex::build_charts(m);
  std::vector<std::string> ids;
  for (const auto& c : charts) ids.push_back(c.id);
  const std::vector<std::string> want = {"accuracy-vs-time", "test-loss-vs-time", "train-loss-vs-time",
                                         "accuracy-vs-updates", "final-accuracy", "throughput", "time-to-target",
                                         "bytes-sent", "worker-seconds", "pareto", "staleness", "worker-breakdown",
                                         "sim-vs-real"};
  EXPECT_EQ(ids, want);
  // Every axis has a title with its unit or what it counts, in parentheses.
  for (const auto& c : charts)
    for (const auto& a : c.spec["axes"]) {
      ASSERT_TRUE(a.contains("title")) << c.id;
      EXPECT_NE(a["title"].get<std::string>().find('('), std::string::npos) << c.id;
    }

  const auto files = ex::write_report(m, tmp.path() / "out" / "cmp.html");
  EXPECT_EQ(files.markdown, tmp.path() / "out" / "cmp.md");
  ASSERT_TRUE(fs::exists(files.markdown));
  const auto html = ex::read_text(files.html);
  for (const auto& mod : ex::vega_modules()) EXPECT_NE(html.find("cur=\"" + mod + "\""), std::string::npos) << mod;
  EXPECT_NE(html.find("window.vega=v"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);  // nothing loaded from outside
  EXPECT_EQ(count(html, "synclabRender(\""), charts.size());
  EXPECT_EQ(count(html, "class=\"chart\""), charts.size());
  for (const auto& id : ids) EXPECT_EQ(count(html, "id=\"chart-" + id + "\""), 1u) << id;
  EXPECT_NE(html.find("data-charts-total=\"13\""), std::string::npos);
  // The recommendation comes before the first table and names its config.
  const auto rec = html.find("<section id=\"recommendation\"");
  ASSERT_NE(rec, std::string::npos);
  EXPECT_LT(rec, html.find("<table>"));
  EXPECT_NE(html.find("data-certainty=\""), std::string::npos);
}

TEST_F(ReportFixture, MissingVegaIsAClearError) {
  synclab::testing::TempDir empty("novega");
  ::setenv("SYNCLAB_VEGA_DIR", empty.path().c_str(), 1);
  try {
    ex::vega_script();
    ADD_FAILURE() << "no error";
  } catch (const synclab::Error& e) {
    EXPECT_NE(std::string(e.what()).find("libjs-vega"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("vega-util.min.js"), std::string::npos) << e.what();
  }
  ::unsetenv("SYNCLAB_VEGA_DIR");
}

TEST_F(ReportFixture, BadInputsNameTheDirectory) {
  try {
    ex::build_report_model({tmp.path() / "nope"}, {});
    ADD_FAILURE();
  } catch (const synclab::Error& e) {
    EXPECT_NE(std::string(e.what()).find("nope"), std::string::npos);
  }
  fs::create_directories(tmp.path() / "empty");
  EXPECT_THROW(ex::build_report_model({tmp.path() / "empty"}, {}), synclab::Error);
  // Only when no run at all is readable is there nothing to report.
  for (const auto* run : {"policy=bsp_seed=1", "policy=bsp_seed=2", "policy=ssp-staleness2_seed=1", "policy=ssp-staleness2_seed=2"})
    std::ofstream(sweep / run / "summary.json") << "{not json";
  try {
    ex::build_report_model({sweep}, {});
    ADD_FAILURE();
  } catch (const synclab::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no readable run among 4"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("summary.json: invalid JSON"), std::string::npos) << e.what();
  }
}

TEST_F(ReportFixture, ACorruptRunIsListedAndTheRestReported) {
  std::ofstream(sweep / "policy=bsp_seed=1" / "summary.json") << "{not json";
  std::ofstream(sweep / "policy=ssp-staleness2_seed=2" / "summary.json")
      << R"({"backend": "sim", "policy": "ssp", "updates": 10, "time_s": "12", "final_test_accuracy": 0.7})";
  const auto m = ex::build_report_model({sweep}, {});
  ASSERT_EQ(m.runs.size(), 2u);
  std::map<std::string, std::string> unreadable;
  for (const auto& f : m.failed)
    if (f.status == "unreadable") unreadable[f.name] = f.error;
  ASSERT_EQ(unreadable.size(), 2u);
  EXPECT_NE(unreadable["policies/policy=bsp_seed=1"].find("summary.json: invalid JSON"), std::string::npos);
  EXPECT_NE(unreadable["policies/policy=ssp-staleness2_seed=2"].find("summary.json: 'time_s' is string \"12\", expected a number"),
            std::string::npos) << unreadable["policies/policy=ssp-staleness2_seed=2"];
  // The report lists them among the runs without results.
  const auto files = ex::write_report(m, tmp.path() / "r.html");
  std::ifstream md(files.markdown);
  const std::string text((std::istreambuf_iterator<char>(md)), {});
  EXPECT_NE(text.find("policies/policy=bsp_seed=1 | unreadable"), std::string::npos) << text;
}

TEST_F(ReportFixture, SummaryFieldsAreValidatedWithAWarningPerRun) {
  const auto dir = sweep / "policy=bsp_seed=2";
  for (const char* field : {"updates", "backend", "final_test_accuracy"}) {
    auto j = nlohmann::json::parse(std::ifstream(dir / "summary.json"));
    j.erase(field);
    std::ofstream(dir / "summary.json") << j.dump();
    try {
      ex::load_run(dir, "r");
      ADD_FAILURE() << field;
    } catch (const synclab::Error& e) {
      EXPECT_NE(std::string(e.what()).find(fmt::format("summary.json: '{}' is missing", field)), std::string::npos) << e.what();
    }
    synclab::testing::write_fixture_run(dir, {.policy = "bsp", .seed = 2});
  }
  // Optional fields of the wrong type are left out with a warning instead of reading as 0.
  auto j = nlohmann::json::parse(std::ifstream(dir / "summary.json"));
  j["mean_staleness"] = "high";
  j["samples"] = nlohmann::json::array();
  j["per_worker"][0]["compute_s"] = "1";
  std::ofstream(dir / "summary.json") << j.dump();
  const auto r = ex::load_run(dir, "r");
  EXPECT_FALSE(r.summary.contains("mean_staleness"));
  EXPECT_FALSE(r.summary.contains("samples"));
  ASSERT_EQ(r.warnings.size(), 3u);
  EXPECT_NE(r.warnings[0].find("summary.json: 'samples' is array [], expected a number; left out"), std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[1].find("summary.json: 'mean_staleness' is string \"high\""), std::string::npos) << r.warnings[1];
  EXPECT_NE(r.warnings[2].find("1 per-worker breakdown entry lack"), std::string::npos) << r.warnings[2];
  EXPECT_EQ(r.breakdown.size(), 1u);
}

TEST_F(ReportFixture, GarbageCsvRowsAreCountedWithTheirLines) {
  const auto dir = sweep / "policy=bsp_seed=2";
  const auto clean = ex::load_run(dir, "r");
  ASSERT_TRUE(clean.warnings.empty());
  std::ofstream(dir / "evals.csv", std::ios::app) << "garbage\n12,abc,1,1,0.5\n13,14,1,1,1.5\n";
  std::ofstream(dir / "updates.csv", std::ios::app) << "1,11,0,x,0.1\n1,12,0\n";
  const auto r = ex::load_run(dir, "r");
  EXPECT_EQ(r.evals.size(), clean.evals.size());
  EXPECT_EQ(r.staleness_counts, clean.staleness_counts);
  ASSERT_EQ(r.warnings.size(), 2u);
  const std::size_t e0 = clean.evals.size() + 2, u0 = 12;
  EXPECT_NE(r.warnings[0].find(fmt::format("evals.csv: skipped 3 malformed rows (lines {}, {}, {})", e0, e0 + 1, e0 + 2)),
            std::string::npos) << r.warnings[0];
  EXPECT_NE(r.warnings[1].find(fmt::format("updates.csv: skipped 2 malformed rows (lines {}, {})", u0, u0 + 1)), std::string::npos)
      << r.warnings[1];
}

TEST(ReportTimingMode, ThroughputOnlyWithANumericAxis) {
  synclab::testing::TempDir tmp("timing");
  const auto sweep = tmp.path() / "scaling";
  for (int w : {2, 4, 8})
    for (const char* policy : {"bsp", "async"})
      synclab::testing::write_fixture_run(sweep / fmt::format("{}-{}", policy, w),
                                          {.policy = policy, .workers = w, .step_s = 1.0 / w, .with_evals = false});
  synclab::testing::write_fixture_run(sweep / "bsp-8-slow-link",
                                      {.policy = "bsp", .workers = 8, .with_evals = false, .bandwidth = 1.25e8});
  const auto m = ex::build_report_model({sweep}, {});
  EXPECT_FALSE(m.has_accuracy);
  group(m, "bsp bandwidth=1Gbps workers=8");   // bytes/s shown as bit/s
  group(m, "async bandwidth=10Gbps workers=4");
  ASSERT_TRUE(m.numeric_axis.has_value());
  EXPECT_EQ(m.numeric_axis->key, "cluster.workers");
  EXPECT_EQ(m.numeric_axis->title, "workers (count)");
  EXPECT_FALSE(m.numeric_axis->log_x);
  EXPECT_EQ(m.numeric_axis->points.size(), 7u);
  std::vector<std::string> ids;
  for (const auto& c : ex::build_charts(m)) ids.push_back(c.id);
  const std::vector<std::string> want = {"throughput", "throughput-vs-cluster.workers", "bytes-sent", "worker-seconds",
                                         "staleness", "worker-breakdown"};
  EXPECT_EQ(ids, want);
  const auto md = ex::render_markdown(m, ex::recommend(m, ex::Objective::TimeToTarget));
  EXPECT_EQ(md.find("final accuracy"), std::string::npos) << md;
  EXPECT_EQ(md.find("Target accuracy"), std::string::npos) << md;
  // One seed per config: the leader is named, with the warning that the noise is unknown.
  EXPECT_NE(md.find("**async bandwidth=10Gbps workers=8 leads on throughput"), std::string::npos) << md;
  EXPECT_NE(md.find("timing mode"), std::string::npos) << md;
}

namespace {

// Turns a fixture run into one that failed after writing its summary (as a simulation
// whose workers all failed does): stop_reason failed, with its error.
void mark_failed(const fs::path& dir) {
  auto j = nlohmann::json::parse(ex::read_text(dir / "summary.json"));
  j["stop_reason"] = "failed";
  j["error"] = "every worker failed (cluster.failures)";
  std::ofstream(dir / "summary.json") << j.dump() << "\n";
}

}  // namespace

// A failed run is listed as failed with its error and left out of the comparison, so it is
// never crowned, even when it has by far the highest throughput and accuracy.
TEST(ReportFailedRuns, AreListedAndNeverCrowned) {
  synclab::testing::TempDir tmp("report-failed");
  const auto sweep = tmp.path() / "s";
  synclab::testing::write_fixture_run(sweep / "policy=bsp_seed=1", {.policy = "bsp"});
  synclab::testing::write_fixture_run(sweep / "policy=async_seed=1", {.policy = "async", .step_s = 0.01, .acc_scale = 1.05});
  mark_failed(sweep / "policy=async_seed=1");
  std::ofstream(sweep / "index.csv") << "run,status,backend,policy.name,seed,error\n"
                                        "policy=bsp_seed=1,ok,sim,bsp,1,\n"
                                        "policy=async_seed=1,failed,sim,async,1,exit code 1: every worker failed\n";
  for (const bool with_index : {true, false}) {
    if (!with_index) fs::remove(sweep / "index.csv");  // the summary alone says it failed
    const auto m = ex::build_report_model({sweep}, ex::ReportOptions{});
    ASSERT_EQ(m.runs.size(), 1u) << with_index;
    EXPECT_EQ(m.runs[0].name, "s/policy=bsp_seed=1");
    ASSERT_EQ(m.failed.size(), 1u) << with_index;
    EXPECT_EQ(m.failed[0].name, "s/policy=async_seed=1");
    EXPECT_EQ(m.failed[0].status, "failed");
    EXPECT_NE(m.failed[0].error.find(with_index ? "exit code 1: every worker failed" : "stop_reason failed: every worker failed"),
              std::string::npos) << m.failed[0].error;
    EXPECT_NE(m.failed[0].error.find("not compared"), std::string::npos) << m.failed[0].error;
    const auto rec = ex::recommend(m, ex::Objective::TimeToTarget);
    const auto md = ex::render_markdown(m, rec);
    const auto crowned = md.substr(md.find("## Recommendation"), md.find("## Failed and unfinished runs") - md.find("## Recommendation"));
    EXPECT_EQ(crowned.find("async"), std::string::npos) << crowned;
    EXPECT_NE(md.find("| s/policy=async_seed=1 | failed |"), std::string::npos) << md;
    const auto html = ex::render_html(m, rec, ex::build_charts(m), "");
    EXPECT_NE(html.find("<h2 id=\"failed-runs\">Failed and unfinished runs</h2>"), std::string::npos);
    EXPECT_EQ(count(html.substr(0, html.find("id=\"failed-runs\"")), "async"), 0u);
  }
  // A failed run given on its own is no result either.
  try {
    ex::build_report_model({sweep / "policy=async_seed=1"}, ex::ReportOptions{});
    FAIL() << "a failed run was reported as a result";
  } catch (const synclab::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no successful run"), std::string::npos) << e.what();
  }
}

// Two policies run both ways: simulation finds bsp faster (0.3 s per update vs async's
// 0.5), the real runs the other way round; the report says the order is not the same.
TEST(ReportPolicyOrder, MarkdownAndHtmlSayWhenSimulationSwapsThePolicies) {
  synclab::testing::TempDir tmp{"policy-order"};
  const auto write = [&](const std::string& backend, const std::string& policy, double step_s) {
    synclab::testing::FixtureRun r;
    r.backend = backend;
    r.policy = policy;
    r.workers = 3;
    r.step_s = step_s;
    synclab::testing::write_fixture_run(tmp.path() / (backend + "-" + policy), r);
  };
  write("sim", "bsp", 0.3);
  write("sim", "async", 0.5);
  write("real", "bsp", 0.5);
  write("real", "async", 0.4);
  ex::ReportOptions o;
  o.target = 0.8;
  const auto m = ex::build_report_model({tmp.path()}, o);
  ASSERT_EQ(m.pairs.size(), 2u);
  const auto md = ex::render_markdown(m, ex::recommend(m, ex::Objective::TimeToTarget));
  EXPECT_NE(md.find("## Policy order by time to target"), std::string::npos) << md;
  EXPECT_NE(md.find("| all runs | bsp, async | async, bsp | 1 pair(s) swapped |"), std::string::npos) << md;
  const auto html = ex::render_html(m, ex::recommend(m, ex::Objective::TimeToTarget), ex::build_charts(m), "");
  EXPECT_NE(html.find("id=\"policy-order\""), std::string::npos);
}

TEST(ReportLabels, KeysWithTheSameLastPartAreToldApart) {
  // The fidelity sweep varies both cluster.workers and cluster.straggler.workers.
  std::vector<ex::RunData> runs;
  for (const auto& [count, slowed] : {std::pair{"3", "[1]"}, std::pair{"3", "[2]"}, std::pair{"5", "[2]"}}) {
    ex::RunData r;
    r.name = fmt::format("w{}-{}", count, slowed);
    r.backend = "sim";
    r.config = {{"policy.name", "bsp"}, {"cluster.workers", count}, {"cluster.straggler.workers", slowed}};
    r.summary = {{"backend", "sim"}, {"policy", "bsp"}, {"updates", 10}, {"time_s", 1.0}, {"samples", 100}};
    runs.push_back(r);
  }
  const auto m = ex::build_report_model(std::move(runs), {});
  EXPECT_NO_THROW(group(m, "straggler.workers=[1] cluster.workers=3"));
  EXPECT_NO_THROW(group(m, "straggler.workers=[2] cluster.workers=5"));
}

TEST(ReportLabels, AStragglerThatSlowsNoOneIsNotNamed) {
  // The fidelity sweep's "slowed none" keeps the straggler's worker list with dist none; a
  // mean of 0 slows no one either. Neither may read as worker 1 slowed, and the two group.
  struct Straggler {
    const char *workers, *dist, *mean, *slowed, *seed;
  };
  std::vector<ex::RunData> runs;
  for (const auto& s : {Straggler{"3", "none", "0.02", "[1]", "1"}, Straggler{"3", "exponential", "0", "[3]", "2"},
                        Straggler{"3", "exponential", "0.02", "[2]", "1"}, Straggler{"5", "none", "0.02", "[1]", "1"},
                        Straggler{"5", "exponential", "0.02", "[2]", "1"}}) {
    ex::RunData r;
    r.name = fmt::format("w{}-{}-{}-{}", s.workers, s.dist, s.mean, s.slowed);
    r.backend = "sim";
    r.config = {{"policy.name", "bsp"},        {"cluster.workers", s.workers},          {"train.seed", s.seed},
                {"cluster.straggler.dist", s.dist}, {"cluster.straggler.mean", s.mean}, {"cluster.straggler.sigma", "0.5"},
                {"cluster.straggler.period", "0"},  {"cluster.straggler.duration", "0"}, {"cluster.straggler.slowdown", "1"},
                {"cluster.straggler.workers", s.slowed}};
    r.summary = {{"backend", "sim"}, {"policy", "bsp"}, {"updates", 10}, {"time_s", 1.0}, {"samples", 100}};
    runs.push_back(r);
  }
  const auto m = ex::build_report_model(std::move(runs), {});
  ASSERT_EQ(m.groups.size(), 4u);
  EXPECT_EQ(group(m, "cluster.workers=3").runs.size(), 2u);
  EXPECT_NO_THROW(group(m, "cluster.workers=5"));
  EXPECT_NO_THROW(group(m, "straggler.workers=[2] cluster.workers=3"));
  EXPECT_NO_THROW(group(m, "straggler.workers=[2] cluster.workers=5"));
}

TEST(ReportLabels, KeysTheOthersImplyAreLeftOut) {
  // Two calibrated platforms, one per bandwidth: each measured cost differs between the two
  // tags exactly as the tag does and would only lengthen every label.
  std::vector<ex::RunData> runs;
  for (const auto& [tag, cost] : {std::pair{"100Mbps", "1.23037e-10"}, std::pair{"1Gbps", "1.21482e-10"}})
    for (const auto* workers : {"2", "4"})
      for (const auto* policy : {"bsp", "async"}) {
        ex::RunData r;
        r.name = fmt::format("{}-w{}-{}", tag, workers, policy);
        r.backend = "sim";
        r.config = {{"policy.name", policy}, {"cluster.workers", workers}, {"tag", tag},
                    {"cluster.software.aggregate", cost}, {"cluster.software.extra", fmt::format("[{}, 0]", cost)}};
        r.summary = {{"backend", "sim"}, {"policy", policy}, {"updates", 10}, {"time_s", 1.0}, {"samples", 100}};
        runs.push_back(r);
      }
  const auto m = ex::build_report_model(std::move(runs), {});
  ASSERT_EQ(m.groups.size(), 8u);
  EXPECT_NO_THROW(group(m, "bsp workers=2 tag=100Mbps"));
  EXPECT_NO_THROW(group(m, "async workers=4 tag=1Gbps"));
  for (const auto& g : m.groups) EXPECT_EQ(g.label.find("aggregate"), std::string::npos) << g.label;
}
