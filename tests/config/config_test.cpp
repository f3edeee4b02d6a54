// Run-config loading: defaults, units, overrides, every class of error, round trip.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/common/error.hpp"
#include "core/config/config_schema.hpp"
#include "core/config/run_config.hpp"

namespace synclab {
namespace {

RunConfig from_text(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  return resolve_run_config(YAML::Load(yaml), overrides);
}

// The key a ConfigError names, or "" when it resolved.
std::string error_key(const std::string& yaml, const std::vector<std::string>& overrides = {}) {
  try {
    from_text(yaml, overrides);
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
    return e.key();
  }
  return "";
}

TEST(Units, Bandwidth) {
  EXPECT_DOUBLE_EQ(parse_bandwidth("k", "10Gbps"), 1.25e9);
  EXPECT_DOUBLE_EQ(parse_bandwidth("k", "100Mbps"), 12.5e6);
  EXPECT_DOUBLE_EQ(parse_bandwidth("k", "1.25GBps"), 1.25e9);
  EXPECT_DOUBLE_EQ(parse_bandwidth("k", "100MB/s"), 1e8);
  EXPECT_DOUBLE_EQ(parse_bandwidth("k", "5000"), 5000);
  EXPECT_DOUBLE_EQ(parse_bandwidth("k", "10 Gbps"), 1.25e9);
  EXPECT_THROW(parse_bandwidth("k", "10Gbs"), ConfigError);
  EXPECT_THROW(parse_bandwidth("k", "fast"), ConfigError);
}

TEST(Units, DurationAndBytes) {
  EXPECT_DOUBLE_EQ(parse_duration("k", "50us"), 50e-6);
  EXPECT_DOUBLE_EQ(parse_duration("k", "1ms"), 1e-3);
  EXPECT_DOUBLE_EQ(parse_duration("k", "2s"), 2);
  EXPECT_DOUBLE_EQ(parse_duration("k", "1min"), 60);
  EXPECT_DOUBLE_EQ(parse_duration("k", "0.5"), 0.5);
  EXPECT_DOUBLE_EQ(parse_bytes("k", "13MB"), 13e6);
  EXPECT_DOUBLE_EQ(parse_bytes("k", "2KiB"), 2048);
  EXPECT_DOUBLE_EQ(parse_bytes("k", "7"), 7);
  try {
    parse_duration("cluster.link.latency", "3 parsecs");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.key(), "cluster.link.latency");
    EXPECT_NE(std::string(e.what()).find("parsecs"), std::string::npos);
  }
}

TEST(Config, DefaultsMatchDesign) {
  const RunConfig c = from_text("{}");
  EXPECT_EQ(c.model, "cnn");
  EXPECT_EQ(c.data.source.dataset, "fashion-mnist");
  EXPECT_EQ(c.data.batch, 100u);
  EXPECT_EQ(c.train.optimizer.name, "adam");
  EXPECT_DOUBLE_EQ(c.train.optimizer.lr, 1e-4);
  EXPECT_EQ(c.train.stop_updates, 2000u);
  EXPECT_EQ(c.train.eval_every, 100u);
  EXPECT_EQ(c.policy.name, "bsp");
  EXPECT_EQ(c.cluster.workers, 8);
  EXPECT_EQ(c.cluster.gpu.profile, "v100");
  EXPECT_DOUBLE_EQ(c.cluster.gpu.flops, 15.7e12);
  EXPECT_DOUBLE_EQ(c.cluster.gpu.efficiency, 0.4);
  EXPECT_DOUBLE_EQ(c.cluster.link.bandwidth, 1.25e9);
  EXPECT_DOUBLE_EQ(c.cluster.link.latency, 50e-6);
  EXPECT_FALSE(c.cluster.ps_link.has_value());
  EXPECT_EQ(c.sim.mode, "full");
  EXPECT_EQ(c.worker.device, "auto");
  EXPECT_DOUBLE_EQ(c.real.timeout, 30);
  // Every schema key except aliases appears in the resolved tree.
  for (const auto& k : config_schema()) {
    if (k.alias_of || k.type == KeyType::Gpu) continue;
    YAML::Node n = YAML::Clone(c.resolved);
    std::stringstream path(k.key);
    std::string part;
    while (std::getline(path, part, '.')) n.reset(n[part]);
    if (std::string(k.key).rfind("cluster.ps_link.", 0) == 0) continue;  // unset: written as {}
    EXPECT_TRUE(n.IsDefined() && !n.IsNull()) << k.key;
  }
}

TEST(Config, DesignExampleResolves) {
  const RunConfig c = from_text(R"(
model: cnn
data: {dataset: fashion-mnist, dir: "", batch: 100}
train:
  optimizer: {name: adam, lr: 0.0001}
  stop: {updates: 2000}
  eval_every: 100
  seed: 1
policy: {name: ssp, staleness: 3}
cluster:
  workers: 8
  servers: 1
  gpu: v100
  link: {bandwidth: 10Gbps, latency: 50us}
  ps_link: {}
  straggler: {dist: exponential, mean: 0.0}
sim:
  mode: full
)");
  EXPECT_EQ(c.policy.name, "ssp");
  ASSERT_EQ(c.policy.params.count("staleness"), 1u);
  EXPECT_EQ(c.policy.params.at("staleness"), "3");
}

TEST(Config, UnitsInKeys) {
  const RunConfig c = from_text("cluster: {link: {bandwidth: 100Mbps, latency: 2ms}, ps_link: {bandwidth: 1.25GBps}, "
                                "straggler: {dist: lognormal, mean: 10ms}}\ntrain: {stop: {sim_time: 1min}}");
  EXPECT_DOUBLE_EQ(c.cluster.link.bandwidth, 12.5e6);
  EXPECT_DOUBLE_EQ(c.cluster.link.latency, 2e-3);
  ASSERT_TRUE(c.cluster.ps_link.has_value());
  EXPECT_DOUBLE_EQ(c.cluster.ps_link->bandwidth, 1.25e9);
  EXPECT_DOUBLE_EQ(c.cluster.ps_link->latency, 2e-3);  // inherited from link
  EXPECT_DOUBLE_EQ(c.cluster.straggler.mean, 0.01);
  EXPECT_DOUBLE_EQ(c.train.stop_time, 60);
}

TEST(Config, TimeIsAnAliasOfSimTime) {
  EXPECT_DOUBLE_EQ(from_text("train: {stop: {time: 5s, updates: 0}}").train.stop_time, 5);
  EXPECT_EQ(error_key("train: {stop: {time: 5, sim_time: 5}}"), "train.stop.time");
}

TEST(Config, GpuForms) {
  const RunConfig a = from_text("cluster: {gpu: a100}");
  EXPECT_DOUBLE_EQ(a.cluster.gpu.flops, 19.5e12);
  const RunConfig t = from_text("cluster: {gpu: {profile: h100, precision: tf32}}");
  EXPECT_DOUBLE_EQ(t.cluster.gpu.flops, 494.5e12);
  const RunConfig raw = from_text("cluster: {gpu: {flops: 1.5e13, efficiency: 0.4}}");
  EXPECT_EQ(raw.cluster.gpu.profile, "custom");
  EXPECT_DOUBLE_EQ(raw.cluster.gpu.flops, 1.5e13);
  EXPECT_DOUBLE_EQ(raw.cluster.gpu.efficiency, 0.4);
  const RunConfig over = from_text("cluster: {gpu: v100}", {"cluster.gpu.efficiency=0.7"});
  EXPECT_EQ(over.cluster.gpu.profile, "v100");
  EXPECT_DOUBLE_EQ(over.cluster.gpu.efficiency, 0.7);
  EXPECT_EQ(error_key("cluster: {gpu: tpu}"), "cluster.gpu");
  EXPECT_EQ(error_key("cluster: {gpu: {profile: v100, precision: tf32}}"), "cluster.gpu.precision");
  EXPECT_EQ(error_key("cluster: {gpu: {profile: custom}}"), "cluster.gpu.flops");
}

TEST(Config, Overrides) {
  const RunConfig c = from_text("policy: {name: ssp, staleness: 3}",
                                {"policy.staleness=5", "cluster.workers=16", "cluster.link.bandwidth=1Gbps",
                                 "train.optimizer={name: sgd, lr: 0.1}", "cluster.speeds=[1, 1, 0.5, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"});
  EXPECT_EQ(c.policy.params.at("staleness"), "5");
  EXPECT_EQ(c.cluster.workers, 16);
  EXPECT_DOUBLE_EQ(c.cluster.link.bandwidth, 1.25e8);
  EXPECT_EQ(c.train.optimizer.name, "sgd");
  EXPECT_DOUBLE_EQ(c.train.optimizer.lr, 0.1);
  ASSERT_EQ(c.cluster.speeds.size(), 16u);
  EXPECT_DOUBLE_EQ(c.cluster.speeds[2], 0.5);
  // Later overrides win; an empty value restores the default.
  EXPECT_EQ(from_text("{}", {"cluster.workers=4", "cluster.workers=2"}).cluster.workers, 2);
  EXPECT_EQ(from_text("cluster: {workers: 3}", {"cluster.workers="}).cluster.workers, 8);
  EXPECT_EQ(from_text("{}", {"policy=async"}).policy.name, "async");
  EXPECT_EQ(error_key("{}", {"nokey"}), "--set");
  EXPECT_EQ(error_key("{}", {"cluster..workers=3"}), "--set");
  EXPECT_EQ(error_key("{}", {"cluster.workers.x=3"}), "cluster.workers.x");
  EXPECT_EQ(error_key("{}", {"cluster.wrkers=3"}), "cluster.wrkers");
}

TEST(Config, UnknownKeysNameTheirPath) {
  EXPECT_EQ(error_key("modle: cnn"), "modle");
  EXPECT_EQ(error_key("cluster: {link: {bandwith: 1Gbps}}"), "cluster.link.bandwith");
  EXPECT_EQ(error_key("train: {stop: {epochs: 3}}"), "train.stop.epochs");
  EXPECT_EQ(error_key("cluster: {failures: [{worker: 1, at: 2, why: x}]}"), "cluster.failures[0].why");
  try {
    from_text("data: {batchsize: 3}");
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("batch"), std::string::npos) << "lists the known keys: " << e.what();
  }
}

TEST(Config, WrongTypesNameTheirKey) {
  EXPECT_EQ(error_key("data: {batch: many}"), "data.batch");
  EXPECT_EQ(error_key("data: {batch: 2.5}"), "data.batch");
  EXPECT_EQ(error_key("data: {batch: [1]}"), "data.batch");
  EXPECT_EQ(error_key("train: {optimizer: {lr: fast}}"), "train.optimizer.lr");
  EXPECT_EQ(error_key("cluster: {link: {bandwidth: 10Gbs}}"), "cluster.link.bandwidth");
  EXPECT_EQ(error_key("cluster: {link: 10Gbps}"), "cluster.link");
  EXPECT_EQ(error_key("data: {sharding: random}"), "data.sharding");
  EXPECT_EQ(error_key("train: {backend: gpu}"), "train.backend");
  EXPECT_EQ(error_key("policy: {name: ssp, staleness: [1, 2]}"), "policy.staleness");
  EXPECT_EQ(error_key("cluster: {speeds: [1, x, 1, 1, 1, 1, 1, 1]}"), "cluster.speeds[1]");
  EXPECT_EQ(error_key("worker: {device: tpu}"), "worker.device");
  EXPECT_EQ(error_key("cluster: {failures: {worker: 1}}"), "cluster.failures");
  EXPECT_EQ(error_key("[1, 2]"), "config");
}

TEST(Config, OutOfRangeNamesTheKey) {
  EXPECT_EQ(error_key("data: {batch: 0}"), "data.batch");
  EXPECT_EQ(error_key("cluster: {workers: 0}"), "cluster.workers");
  EXPECT_EQ(error_key("train: {optimizer: {lr: 0}}"), "train.optimizer.lr");
  EXPECT_EQ(error_key("train: {optimizer: {lr: -1}}"), "train.optimizer.lr");
  EXPECT_EQ(error_key("train: {stop: {accuracy: 1.5}}"), "train.stop.accuracy");
  EXPECT_EQ(error_key("cluster: {link: {latency: -1ms}}"), "cluster.link.latency");
  EXPECT_EQ(error_key("cluster: {gpu: {profile: v100, efficiency: 2}}"), "cluster.gpu.efficiency");
  EXPECT_EQ(error_key("cluster: {workers: 4, speeds: [1, 1]}"), "cluster.speeds");
  EXPECT_EQ(error_key("cluster: {workers: 4, speeds: [1, 1, 0, 1]}"), "cluster.speeds[2]");
  EXPECT_EQ(error_key("cluster: {workers: 4, failures: [{worker: 4, at: 1s}]}"), "cluster.failures[0].worker");
  EXPECT_EQ(error_key("cluster: {workers: 4, straggler: {workers: [7]}}"), "cluster.straggler.workers");
  EXPECT_EQ(error_key("real: {port: 70000}"), "real.port");
  EXPECT_EQ(error_key("train: {stop: {updates: 0}}"), "train.stop");
  EXPECT_EQ(error_key("data: {dataset: mnist}"), "data.dir");
  try {
    from_text("data: {batch: 0}");
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(">= 1"), std::string::npos) << e.what();
  }
}

TEST(Config, ListsAndFailures) {
  const RunConfig c = from_text("cluster: {workers: 4, failures: [{worker: 2, at: 1.5s}, {worker: 0, at: 100ms}], "
                                "straggler: {dist: periodic, period: 10s, duration: 2s, slowdown: 3, workers: [1]}}\n"
                                "real: {hosts: [a, 'b:7000']}");
  ASSERT_EQ(c.cluster.failures.size(), 2u);
  EXPECT_EQ(c.cluster.failures[0].worker, 2);
  EXPECT_DOUBLE_EQ(c.cluster.failures[0].at, 1.5);
  EXPECT_DOUBLE_EQ(c.cluster.failures[1].at, 0.1);
  EXPECT_EQ(c.cluster.straggler.workers, std::vector<int>{1});
  EXPECT_DOUBLE_EQ(c.cluster.straggler.slowdown, 3);
  EXPECT_EQ(c.real.hosts, (std::vector<std::string>{"a", "b:7000"}));
}

TEST(Config, ResolvedYamlRoundTrips) {
  const RunConfig a = from_text("model: mlp\npolicy: {name: ssp, staleness: 2}\n"
                                "cluster: {gpu: a100, link: {bandwidth: 1Gbps}, ps_link: {latency: 1ms}, workers: 2,"
                                " speeds: [1, 0.5], failures: [{worker: 1, at: 3s}]}\ndata: {sharding: noniid}\n"
                                "train: {optimizer: {name: sgd, lr: 0.1}, stop: {time: 30s}}");
  const std::string text = to_yaml(a);
  const RunConfig b = resolve_run_config(YAML::Load(text));
  EXPECT_EQ(to_yaml(b), text);
  EXPECT_EQ(b.model, "mlp");
  EXPECT_EQ(b.policy.params, a.policy.params);
  EXPECT_DOUBLE_EQ(b.cluster.gpu.flops, a.cluster.gpu.flops);
  EXPECT_DOUBLE_EQ(b.cluster.link.bandwidth, 1.25e8);
  ASSERT_TRUE(b.cluster.ps_link.has_value());
  EXPECT_DOUBLE_EQ(b.cluster.ps_link->latency, 1e-3);
  EXPECT_EQ(b.cluster.speeds, a.cluster.speeds);
  EXPECT_EQ(b.data.sharding, Sharding::NonIid);
  EXPECT_DOUBLE_EQ(b.train.stop_time, 30);
  EXPECT_DOUBLE_EQ(b.train.optimizer.lr, 0.1);
  // The defaults-only config round-trips too.
  const std::string d = to_yaml(from_text("{}"));
  EXPECT_EQ(to_yaml(resolve_run_config(YAML::Load(d))), d);
}

TEST(Config, LoadFileErrorsNameTheFile) {
  const auto dir = std::filesystem::temp_directory_path() / ("synclab-config-test-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  try {
    load_run_config((dir / "missing.yaml").string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing.yaml"), std::string::npos);
  }
  const auto bad = dir / "bad.yaml";
  std::ofstream(bad) << "model: [unclosed\n";
  try {
    load_run_config(bad.string());
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.yaml"), std::string::npos);
  }
  const auto good = dir / "good.yaml";
  std::ofstream(good) << "model: softmax\ncluster: {workers: 3}\n";
  const RunConfig c = load_run_config(good.string(), {"cluster.workers=5"});
  EXPECT_EQ(c.model, "softmax");
  EXPECT_EQ(c.cluster.workers, 5);
  std::filesystem::remove_all(dir);
}

// A scratch folder per test, removed at the end.
class ConfigFiles : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("synclab-config-" + std::to_string(::getpid()) + "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string write(const std::string& name, const std::string& text) {
    const auto p = dir_ / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
  // The one-line message loading path fails with, or "" when it loads.
  static std::string load_error(const std::string& path, const std::vector<std::string>& overrides = {}) {
    try {
      load_run_config(path, overrides);
    } catch (const Error& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      return e.what();
    }
    return "";
  }
  std::filesystem::path dir_;
};

TEST_F(ConfigFiles, DuplicateKeysNameTheKeyAndBothLines) {
  std::string e = load_error(write("dup.yaml", "model: cnn\ncluster:\n  workers: 4\n  servers: 1\n  workers: 16\n"));
  EXPECT_NE(e.find("cluster.workers: given twice, on line 3 and line 5 of "), std::string::npos) << e;
  EXPECT_NE(e.find("dup.yaml"), std::string::npos) << e;
  e = load_error(write("top.yaml", "# comment\nmodel: cnn\npolicy: ssp\nmodel: mlp\n"));
  EXPECT_NE(e.find("model: given twice, on line 2 and line 4"), std::string::npos) << e;
  // In flow maps and inside lists too.
  e = load_error(write("flow.yaml", "cluster: {failures: [{worker: 1, at: 2, worker: 3}]}\n"));
  EXPECT_NE(e.find("cluster.failures[0].worker: given twice, on line 1 column 23 and line 1 column 41"), std::string::npos) << e;
  // The same name in different maps is no duplicate.
  EXPECT_EQ(load_error(write("ok.yaml", "cluster: {link: {latency: 1ms}, ps_link: {latency: 2ms}}\n")), "");
}

TEST_F(ConfigFiles, AnEmptyConfigSaysWhatAMinimalOneLooksLike) {
  for (const std::string text : {"", "\n\n", "# only a comment\n# and another\n", "~\n"}) {
    const std::string e = load_error(write("empty.yaml", text));
    EXPECT_NE(e.find("empty.yaml: the config is empty"), std::string::npos) << e;
    EXPECT_NE(e.find("model: cnn"), std::string::npos) << e;
    EXPECT_NE(e.find("train: {stop: {updates: 2000}}"), std::string::npos) << e;
  }
  // What the message offers is itself a valid config.
  const RunConfig c = load_run_config(write("minimal.yaml", "model: cnn\npolicy: bsp\ntrain: {stop: {updates: 2000}}\n"));
  EXPECT_EQ(c.train.stop_updates, 2000u);
}

TEST_F(ConfigFiles, RelativePathsResolveFromTheConfigFolderAndSetFromTheWorkingDirectory) {
  const std::string file = write("sub/dir/run.yaml",
                                 "data: {dataset: mnist, dir: ../data}\ncluster: {platform: net/p.xml}\n"
                                 "real: {checkpoint_dir: ckpt}\n");
  const auto folder = std::filesystem::path(file).parent_path();
  RunConfig c = load_run_config(file);
  EXPECT_EQ(c.data.source.dir, (dir_ / "sub/data").string());
  EXPECT_EQ(c.cluster.platform, (folder / "net/p.xml").string());
  EXPECT_EQ(c.real.checkpoint_dir, (folder / "ckpt").string());
  // --set values mean the working directory; absolute paths and empty ones stay as given.
  c = load_run_config(file, {"data.dir=here", "cluster.platform=/abs/p.xml", "real.checkpoint_dir="});
  EXPECT_EQ(c.data.source.dir, (std::filesystem::current_path() / "here").string());
  EXPECT_EQ(c.cluster.platform, "/abs/p.xml");
  EXPECT_EQ(c.real.checkpoint_dir, "");
  // config.yaml holds the absolute paths, so loading it from the run directory gives the
  // same run.
  c = load_run_config(file);
  const std::string copy = write("rundir/config.yaml", to_yaml(c));
  const RunConfig again = load_run_config(copy);
  EXPECT_EQ(to_yaml(again), to_yaml(c));
  EXPECT_EQ(again.data.source.dir, (dir_ / "sub/data").string());
}

TEST(Config, ClusterSizeLimitsSayWhy) {
  EXPECT_EQ(from_text("cluster: {servers: 128, workers: 10000}").cluster.servers, 128);
  for (const auto& [yaml, needle] : std::vector<std::pair<std::string, std::string>>{
           {"cluster: {servers: 512}", "cluster.servers: expected an integer [1, 128], got '512': the simulator's cost grows"},
           {"cluster: {workers: 20000}", "cluster.workers: expected an integer [1, 10000], got '20000': the simulator runs one actor"}}) {
    try {
      from_text(yaml);
      ADD_FAILURE() << yaml;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  }
}

TEST(Config, UnboundedRunNotice) {
  EXPECT_EQ(unbounded_run_notice(from_text("train: {stop: {updates: 10, accuracy: 0.9}}")), "");
  EXPECT_EQ(unbounded_run_notice(from_text("train: {stop: {updates: 0, sim_time: 60, accuracy: 0.9}}")), "");
  const std::string n = unbounded_run_notice(from_text("train: {stop: {updates: 0, accuracy: 0.99}}"));
  EXPECT_NE(n.find("only train.stop.accuracy (0.99) bounds this run"), std::string::npos) << n;
  EXPECT_NE(n.find("train.stop.updates"), std::string::npos) << n;
}

TEST(ConfigDocs, KeyTableMatchesTheSchema) {
  std::ifstream in(std::string(SYNCLAB_SOURCE_DIR) + "/docs/config.md");
  ASSERT_TRUE(in) << "docs/config.md is missing";
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string doc = ss.str();
  const std::string begin = "<!-- keys:begin -->\n", end = "<!-- keys:end -->";
  const auto b = doc.find(begin), e = doc.find(end);
  ASSERT_NE(b, std::string::npos);
  ASSERT_NE(e, std::string::npos);
  EXPECT_EQ(doc.substr(b + begin.size(), e - b - begin.size()), config_keys_markdown())
      << "regenerate the table with: synclab_config_doc > table (see docs/config.md)";
}

}  // namespace
}  // namespace synclab
