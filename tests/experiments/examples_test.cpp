// Every example experiment's sweep file expands, and every run config it produces is
// accepted by the config loader and its policy by the registry (unknown keys, bad units,
// ranges or policy parameters would fail here).
#include <fstream>

#include <gtest/gtest.h>

#include "core/config/run_config.hpp"
#include "policies/registry.hpp"
#include "experiments/calibrate.hpp"
#include "experiments/sweep_spec.hpp"
#include "fixture.hpp"

namespace ex = synclab::experiments;
namespace fs = std::filesystem;

namespace {
const fs::path kExperiments = fs::path(SYNCLAB_SOURCE_DIR) / "experiments";
}

TEST(ExampleExperiments, EverySweepExpandsIntoValidConfigs) {
  const std::vector<std::pair<std::string, std::size_t>> expected = {
      {"main", 18}, {"stragglers", 21}, {"staleness", 21}, {"bandwidth", 24}, {"scaling", 27}, {"sim-vs-real", 4}};
  synclab::testing::TempDir tmp("examples");
  for (const auto& [name, count] : expected) {
    SCOPED_TRACE(name);
    fs::path file = kExperiments / name / "sweep.yaml";
    ASSERT_TRUE(fs::exists(file));
    if (name == "sim-vs-real" && !fs::exists(kExperiments / name / "platform.yaml")) {
      // The platform fragment is made by `synclab calibrate`; use a made-up one here.
      fs::copy_file(file, tmp.path() / "sweep.yaml");
      ex::ComputeCalibration c;
      c.flops_per_s = 1e11;
      ex::NetworkCalibration n;
      n.bandwidth_Bps = 2e9;
      n.latency_s = 2e-5;
      std::ofstream(tmp.path() / "platform.yaml") << ex::calibration_yaml(c, n, {});
      file = tmp.path() / "sweep.yaml";
    }
    const auto spec = ex::load_sweep(file);
    const auto runs = ex::expand_sweep(spec);
    EXPECT_EQ(runs.size(), count);
    for (const auto& r : runs) {
      try {
        const auto cfg = synclab::resolve_run_config(r.config);
        synclab::validate_policy(cfg.policy, cfg.cluster.workers);
      } catch (const std::exception& e) {
        ADD_FAILURE() << r.name << ": " << e.what();
      }
    }
  }
}
