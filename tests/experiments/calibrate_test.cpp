// Calibration: the loopback measurement gives sane figures and the fragment it writes is a
// config the loader accepts with exactly the measured numbers; peer mode against a server.
#include <atomic>
#include <thread>

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "core/common/error.hpp"
#include "core/config/run_config.hpp"
#include "experiments/calibrate.hpp"

namespace ex = synclab::experiments;

TEST(Calibrate, LoopbackPingPongMeasuresLatencyAndBandwidth) {
  const auto n = ex::calibrate_loopback(1 << 20, 200, 2);
  EXPECT_EQ(n.message_bytes, 1u << 20);
  EXPECT_EQ(n.round_trips, 200u);
  EXPECT_GT(n.latency_s, 0.0);
  EXPECT_LT(n.latency_s, 1.0);       // loopback: microseconds; a unit slip (us read as s) lands far above
  EXPECT_GT(n.bandwidth_Bps, 1e6);   // loopback: GB/s, far above this bound
  EXPECT_THROW(ex::calibrate_loopback(0, 10, 1), synclab::Error);
}

TEST(Calibrate, FragmentIsAcceptedByTheConfigLoader) {
  ex::ComputeCalibration c;
  c.model = "cnn";
  c.backend = "fast";
  c.batch = 100;
  c.steps = 30;
  c.step_s = 0.08;
  c.step_flops = 2.2e10;
  c.flops_per_s = 2.75e11;
  ex::NetworkCalibration n;
  n.latency_s = 1.25e-5;
  n.bandwidth_Bps = 2.5e9;
  n.message_bytes = 13098536;
  n.round_trips = 2000;
  const auto text = ex::calibration_yaml(c, n);
  EXPECT_NE(text.find("--set cluster.gpu.flops=2.75e+11"), std::string::npos) << text;
  const auto node = YAML::Load(text);
  EXPECT_DOUBLE_EQ(node["cluster"]["gpu"]["flops"].as<double>(), 2.75e11);
  const auto cfg = synclab::resolve_run_config(node);
  EXPECT_DOUBLE_EQ(cfg.cluster.gpu.flops, 2.75e11);
  EXPECT_DOUBLE_EQ(cfg.cluster.gpu.efficiency, 1.0);
  EXPECT_DOUBLE_EQ(cfg.cluster.link.bandwidth, 2.5e9);
  EXPECT_DOUBLE_EQ(cfg.cluster.link.latency, 1.25e-5);
}

TEST(Calibrate, ComputeTimesATrainingStepOnTheCpuBackend) {
  const auto c = ex::calibrate_compute("softmax", "fast", 16, 1, 0.01);
  EXPECT_EQ(c.model, "softmax");
  EXPECT_GE(c.steps, 3u);
  EXPECT_GT(c.step_s, 0.0);
  // softmax regression: 784 x 10 weights, forward + backward FLOPs per sample from the cost model.
  EXPECT_GT(c.step_flops, 16 * 2.0 * 784 * 10);
  EXPECT_DOUBLE_EQ(c.flops_per_s, c.step_flops / c.step_s);
  EXPECT_THROW(ex::calibrate_compute("no-such-model", "fast", 16, 1, 0.01), synclab::ConfigError);
  EXPECT_THROW(ex::calibrate_compute("softmax", "abacus", 16, 1, 0.01), synclab::ConfigError);
}

TEST(Calibrate, PeerModeMeasuresAgainstAServingProcess) {
  static std::atomic<int> port{0};
  std::thread server([] { ex::serve_calibration(0, 1, [](int p) { port = p; }); });
  while (port.load() == 0) std::this_thread::yield();
  const int p = port.load();
  const auto n = ex::calibrate_peer("127.0.0.1", p, 1 << 16, 50, 2);
  server.join();
  EXPECT_EQ(n.peer, "127.0.0.1:" + std::to_string(p));
  EXPECT_GT(n.latency_s, 0.0);
  EXPECT_GT(n.bandwidth_Bps, 0.0);
  EXPECT_NE(ex::calibration_yaml({}, n).find("TCP to 127.0.0.1:"), std::string::npos);
  try {
    ex::calibrate_peer("127.0.0.1", 1, 16, 1, 1);  // nothing listens on port 1
    ADD_FAILURE() << "no error";
  } catch (const synclab::Error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
  }
}
