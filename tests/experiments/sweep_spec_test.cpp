// Sweep files: parsing, validation messages, and expansion of grid x zip x seeds.
#include <fstream>
#include <set>

#include <gtest/gtest.h>

#include "core/common/error.hpp"
#include "experiments/sweep_spec.hpp"
#include "fixture.hpp"

namespace ex = synclab::experiments;

namespace {

ex::SweepSpec parse(const std::string& yaml) { return ex::parse_sweep(YAML::Load(yaml), ".", "test.yaml"); }

std::string message_of(const std::string& yaml) {
  try {
    parse(yaml);
  } catch (const synclab::Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(SweepSpec, GridZipSeedsExpandInFixedOrder) {
  const auto spec = parse(R"(
config: {model: cnn, policy: {name: bsp}, cluster: {workers: 2}}
grid:
  policy.name: [bsp, async, ssp]
  cluster.workers: [4, 8]
zip:
  cluster.link.bandwidth: [1Gbps, 10Gbps]
  cluster.link.latency: [1ms, 50us]
seeds: [1, 2]
)");
  const auto runs = ex::expand_sweep(spec);
  ASSERT_EQ(runs.size(), 3u * 2u * 2u * 2u);
  // Seeds vary fastest, then zip, then the last grid key; the first grid key slowest.
  EXPECT_EQ(runs[0].name, "policy=bsp_workers=4_bandwidth=1Gbps_latency=1ms_seed=1");
  EXPECT_EQ(runs[1].name, "policy=bsp_workers=4_bandwidth=1Gbps_latency=1ms_seed=2");
  EXPECT_EQ(runs[2].name, "policy=bsp_workers=4_bandwidth=10Gbps_latency=50us_seed=1");
  EXPECT_EQ(runs[4].name, "policy=bsp_workers=8_bandwidth=1Gbps_latency=1ms_seed=1");
  EXPECT_EQ(runs[8].name, "policy=async_workers=4_bandwidth=1Gbps_latency=1ms_seed=1");
  std::set<std::string> names;
  for (const auto& r : runs) {
    EXPECT_TRUE(names.insert(r.name).second) << r.name;
    EXPECT_EQ(r.index, static_cast<std::size_t>(&r - runs.data()));
    EXPECT_EQ(r.backend, "sim");
  }
  const auto& r = runs[11];  // async, workers 4, 10Gbps/50us, seed 2
  EXPECT_EQ(r.config["policy"]["name"].as<std::string>(), "async");
  EXPECT_EQ(r.config["cluster"]["workers"].as<int>(), 4);
  EXPECT_EQ(r.config["cluster"]["link"]["bandwidth"].as<std::string>(), "10Gbps");
  EXPECT_EQ(r.config["cluster"]["link"]["latency"].as<std::string>(), "50us");
  EXPECT_EQ(r.config["train"]["seed"].as<int>(), 2);
  EXPECT_EQ(r.config["model"].as<std::string>(), "cnn");
  EXPECT_TRUE(r.has_seed);
  ASSERT_EQ(r.values.size(), 4u);  // seed is not a swept value
  // The base is not modified by expansion.
  EXPECT_EQ(spec.base["cluster"]["workers"].as<int>(), 2);
}

TEST(SweepSpec, NamesAreStableWhenAnAxisGrows) {
  const auto a = ex::expand_sweep(parse("grid: {cluster.workers: [2, 4]}\nseeds: [1]"));
  const auto b = ex::expand_sweep(parse("grid: {cluster.workers: [1, 2, 4]}\nseeds: [1]"));
  EXPECT_EQ(a[0].name, b[1].name);
  EXPECT_EQ(a[1].name, b[2].name);
}

TEST(SweepSpec, MapValuesReplaceWholeSectionsAndNameReadably) {
  const auto runs = ex::expand_sweep(parse(R"(
config: {policy: {name: bsp, timeout: 5}}
grid:
  policy: [{name: bsp}, {name: ssp, staleness: 2}]
)"));
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].name, "policy=bsp");
  EXPECT_EQ(runs[1].name, "policy=ssp-staleness2");
  EXPECT_FALSE(runs[1].config["policy"]["timeout"]);
  EXPECT_EQ(runs[1].config["policy"]["staleness"].as<int>(), 2);
  EXPECT_FALSE(runs[0].has_seed);
  EXPECT_EQ(ex::value_text(runs[1].values[0].second), "{name: ssp, staleness: 2}");
}

TEST(SweepSpec, SameLastComponentUsesFullKeys) {
  const auto runs = ex::expand_sweep(parse(R"(
grid:
  cluster.link.bandwidth: [1Gbps]
  cluster.ps_link.bandwidth: [10Gbps]
)"));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].name, "cluster.link.bandwidth=1Gbps_cluster.ps_link.bandwidth=10Gbps");
}

TEST(SweepSpec, BackendAxisPicksTheChildCommand) {
  const auto runs = ex::expand_sweep(parse("backend: sim\ngrid: {backend: [sim, launch]}"));
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].backend, "sim");
  EXPECT_EQ(runs[1].backend, "launch");
  EXPECT_FALSE(runs[1].config["backend"]);
}

TEST(SweepSpec, SetAndScalarToMapOverride) {
  const auto runs = ex::expand_sweep(parse(R"(
config: {cluster: {gpu: v100}}
set: {train.stop.updates: 50}
grid: {cluster.gpu.flops: [1.0e12]}
)"));
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].config["train"]["stop"]["updates"].as<int>(), 50);
  EXPECT_DOUBLE_EQ(runs[0].config["cluster"]["gpu"]["flops"].as<double>(), 1.0e12);
}

TEST(SweepSpec, BaseAndMergeFilesAreRelativeToTheSweepFile) {
  synclab::testing::TempDir dir("sweepspec");
  std::ofstream(dir.path() / "base.yaml") << "model: mlp\ncluster: {workers: 3, link: {bandwidth: 1Gbps}}\n";
  std::ofstream(dir.path() / "platform.yaml") << "cluster: {link: {latency: 1ms}}\n";
  std::ofstream(dir.path() / "s.yaml") << "base: base.yaml\nmerge: [platform.yaml]\nseeds: [3]\n";
  const auto spec = ex::load_sweep(dir.path() / "s.yaml");
  EXPECT_EQ(spec.name, "s");
  const auto runs = ex::expand_sweep(spec);
  ASSERT_EQ(runs.size(), 1u);
  EXPECT_EQ(runs[0].name, "seed=3");
  EXPECT_EQ(runs[0].config["model"].as<std::string>(), "mlp");
  EXPECT_EQ(runs[0].config["cluster"]["link"]["bandwidth"].as<std::string>(), "1Gbps");
  EXPECT_EQ(runs[0].config["cluster"]["link"]["latency"].as<std::string>(), "1ms");
}

TEST(SweepSpec, RelativePathsMeanTheFolderOfTheFileThatHoldsThem) {
  synclab::testing::TempDir dir("sweepspec");
  const auto root = std::filesystem::absolute(dir.path());
  std::filesystem::create_directories(root / "configs");
  std::ofstream(root / "configs/base.yaml") << "model: softmax\ndata: {dataset: mnist, dir: ../idx}\n";
  std::ofstream(root / "s.yaml") << "base: configs/base.yaml\nset: {real.checkpoint_dir: ckpt}\n"
                                    "grid: {cluster.platform: [a.xml, /abs/b.xml]}\n";
  const auto runs = ex::expand_sweep(ex::load_sweep(root / "s.yaml"));
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].config["data"]["dir"].as<std::string>(), (root / "idx").string());
  EXPECT_EQ(runs[0].config["real"]["checkpoint_dir"].as<std::string>(), (root / "ckpt").string());
  EXPECT_EQ(runs[0].config["cluster"]["platform"].as<std::string>(), (root / "a.xml").string());
  EXPECT_EQ(runs[1].config["cluster"]["platform"].as<std::string>(), "/abs/b.xml");
  // Duplicate keys in a sweep file are refused like in a run config.
  std::ofstream(root / "dup.yaml") << "seeds: [1]\nname: a\nseeds: [2]\n";
  try {
    ex::load_sweep(root / "dup.yaml");
    ADD_FAILURE();
  } catch (const synclab::Error& e) {
    EXPECT_NE(std::string(e.what()).find("seeds: given twice, on line 1 and line 3"), std::string::npos) << e.what();
  }
}

TEST(SweepSpec, BadInputNamesTheKey) {
  EXPECT_NE(message_of("zip: {a: [1, 2], b: [1]}").find("zip.b"), std::string::npos);
  EXPECT_NE(message_of("grid: {a: 3}").find("grid.a"), std::string::npos);
  EXPECT_NE(message_of("grid: {a: []}").find("grid.a"), std::string::npos);
  EXPECT_NE(message_of("gird: {a: [1]}").find("gird"), std::string::npos);
  EXPECT_NE(message_of("seeds: [1, x]").find("seeds"), std::string::npos);
  EXPECT_NE(message_of("seeds: [1, 1]").find("seeds"), std::string::npos);
  EXPECT_NE(message_of("backend: gpu").find("backend"), std::string::npos);
  EXPECT_NE(message_of("grid: {backend: [sim, cloud]}").find("grid.backend"), std::string::npos);
  EXPECT_NE(message_of("grid: {a: [1]}\nzip: {a: [2]}").find("a"), std::string::npos);
  EXPECT_NE(message_of("base: nowhere.yaml").find("nowhere.yaml"), std::string::npos);
  EXPECT_THROW(ex::load_sweep("/nonexistent/sweep.yaml"), synclab::Error);
}
