// Calibration: the loopback measurement gives sane figures and the fragment it writes is a
// config the loader accepts with exactly the measured numbers (software costs included);
// peer mode against a server, and an end that stops answering; the software costs are timed on the executor's own code.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <asio.hpp>
#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include "core/common/error.hpp"
#include "core/config/run_config.hpp"
#include "experiments/ack_timestamps.hpp"
#include "experiments/calibrate.hpp"
#include "experiments/wake_probe.hpp"

namespace ex = synclab::experiments;

TEST(Calibrate, LoopbackPingPongMeasuresLatencyAndBandwidth) {
  const auto n = ex::calibrate_loopback(1 << 20, 200, 2);
  EXPECT_EQ(n.message_bytes, 1u << 20);
  EXPECT_EQ(n.round_trips, 200u);
  EXPECT_GT(n.latency_s, 0.0);
  EXPECT_LT(n.latency_s, 1.0);       // loopback: microseconds; a unit slip (us read as s) lands far above
  EXPECT_GT(n.bandwidth_Bps, 1e6);   // loopback: GB/s, far above this bound
  // The bandwidth is a stream's (8 messages of 1 MiB: 8 MiB back to back); the transfers one
  // at a time give the best and the median beside it.
  EXPECT_EQ(n.streamed_messages, 8u);
  EXPECT_GT(n.best_bandwidth_Bps, 1e6);
  EXPECT_GE(n.best_bandwidth_Bps, n.median_bandwidth_Bps);
  // Both ends on this kernel: its cores are shared, and moving the bytes cost them system time.
  EXPECT_TRUE(n.same_machine);
  EXPECT_GE(n.cores, 1);
  EXPECT_GT(n.kernel_byte_s, 0.0);
  EXPECT_LT(n.kernel_byte_s, 1e-6);  // nanoseconds per byte; per message read as per byte lands far above
  EXPECT_GT(n.write_byte_s, 0.0) << "every transfer's first write() is timed";
  EXPECT_LT(n.write_byte_s, 1e-6);   // a copy into the socket: well under a microsecond per byte
  EXPECT_EQ(n.kernel_messages, ex::kernel_phase_messages(n.median_bandwidth_Bps, n.message_bytes));
  // Several phases, each moving the messages both ways at once; the figure is their median.
  ASSERT_EQ(n.kernel_phases_s.size(), static_cast<std::size_t>(ex::kKernelPhases));
  auto sorted = n.kernel_phases_s;
  std::sort(sorted.begin(), sorted.end());
  EXPECT_EQ(n.kernel_byte_s, sorted[sorted.size() / 2]);
  for (const double k : sorted) EXPECT_GT(k, 0.0);
  EXPECT_GE(n.kernel_background, 0.0);
  EXPECT_LE(n.kernel_background, 1.0);
  EXPECT_THROW(ex::calibrate_loopback(0, 10, 1), synclab::Error);
  EXPECT_TRUE(n.beside_steps_s.empty()) << "no step given: no phase with steps beside it";
}

// With a step to time, the kernel phase runs again with the step looping beside it, and
// every step it times is kept (here a 1 ms sleep: none shorter).
TEST(Calibrate, StepsAreTimedBesideTheKernelPhase) {
  std::atomic<int> calls{0};
  const auto n = ex::calibrate_loopback(1 << 20, 20, 2, [&calls] {
    ++calls;
    const auto t0 = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  });
  ASSERT_FALSE(n.beside_steps_s.empty());
  EXPECT_LE(n.beside_steps_s.size(), static_cast<std::size_t>(calls.load()));
  for (const double t : n.beside_steps_s) EXPECT_GE(t, 1e-3);
}

TEST(Calibrate, KernelPhaseIsLongEnoughForTheTicksToAddUp) {
  constexpr std::size_t m = 318040;  // the fidelity job's message
  // 100 Mb/s: half a second is 6.25 MB, the kernel's work on it one or two 10 ms ticks;
  // 64 MiB take 5.4 s.
  EXPECT_EQ(ex::kernel_phase_messages(12.5e6, m), 212u);  // ceil(67108864 / 318040)
  // 1 Gb/s: 64 MiB (0.56 s) is more than half a second's 60 MB.
  EXPECT_EQ(ex::kernel_phase_messages(1.2e8, m), 212u);
  // 10 Gb/s: half a second, 625 MB.
  EXPECT_EQ(ex::kernel_phase_messages(1.25e9, m), 1966u);  // ceil(6.25e8 / 318040)
  // 10 Mb/s: at most 8 s (10 MB).
  EXPECT_EQ(ex::kernel_phase_messages(1.25e6, m), 32u);  // ceil(1e7 / 318040)
  EXPECT_EQ(ex::kernel_phase_messages(1e3, m), 1u);      // one message, however slow
  EXPECT_EQ(ex::kernel_phase_messages(0, m), 0u);
}

// A step's extra time beside a transfer, in quantiles over their mean: the quiet step is
// taken off (never below 0), quantiles at (k + 0.5) / n interpolated between sorted steps.
TEST(Calibrate, BesideKernelQuantilesAreTheExtraTimesSpreadOverTheirMean) {
  std::vector<double> steps(20, 1.0);    // extra 0
  steps.insert(steps.end(), 20, 3.0);     // extra 2
  EXPECT_EQ(ex::beside_kernel_quantiles(steps, 1.0, 2), (std::vector<double>{0.0, 2.0}));
  // Positions 0.25 x 3 = 0.75 and 0.75 x 3 = 2.25 of the extras {0, 1, 2, 5}: 0.75 and 2.75,
  // mean 1.75.
  const auto q = ex::beside_kernel_quantiles({2.0, 1.0, 3.0, 6.0}, 1.0, 2);
  ASSERT_EQ(q.size(), 2u);
  EXPECT_DOUBLE_EQ(q[0], 0.75 / 1.75);
  EXPECT_DOUBLE_EQ(q[1], 2.75 / 1.75);
  EXPECT_EQ(ex::beside_kernel_quantiles({0.5, 0.9, 0.2, 0.1}, 1.0, 2), std::vector<double>{}) << "no step took longer";
  EXPECT_EQ(ex::beside_kernel_quantiles({2, 3, 4}, 1.0, 2), std::vector<double>{}) << "fewer than two steps per quantile";
}

// The simulator's draw from them: interpolated between the quantiles' midpoints, flat in
// the outer halves, over their mean, so that the draws' mean is 1.
TEST(Calibrate, BesideKernelFactorKeepsTheMean) {
  synclab::SoftwareCostSpec sw;
  EXPECT_DOUBLE_EQ(sw.beside_kernel_factor(0.3), 1.0) << "nothing measured: the even share";
  sw.beside_kernel = {0.0, 4.0};  // mean 2
  EXPECT_DOUBLE_EQ(sw.beside_kernel_factor(0.1), 0.0);
  EXPECT_DOUBLE_EQ(sw.beside_kernel_factor(0.5), 1.0);
  EXPECT_DOUBLE_EQ(sw.beside_kernel_factor(0.625), 1.5);
  EXPECT_DOUBLE_EQ(sw.beside_kernel_factor(0.99), 2.0);
  sw.beside_kernel = {0.1, 0.2, 0.7, 3.0};
  double sum = 0;
  constexpr int kN = 100000;
  for (int i = 0; i < kN; ++i) sum += sw.beside_kernel_factor((i + 0.5) / kN);
  EXPECT_NEAR(sum / kN, 1.0, 1e-6);
}

TEST(Calibrate, KernelTimeOfOtherWorkIsTakenOff) {
  // 0.30 CPU s over a phase that moved 64 MiB, while other work spends 0.06 CPU s at its
  // rate before the phase: 0.24 s / 67108864 bytes.
  EXPECT_DOUBLE_EQ(ex::kernel_per_byte(0.30, 0.06, 67108864.0), 0.24 / 67108864.0);
  EXPECT_DOUBLE_EQ(ex::kernel_per_byte(0.30, 0.0, 67108864.0), 0.30 / 67108864.0);  // a quiet machine
  // Other work above a quarter of the phase's time: the whole time, never 0 or below.
  EXPECT_DOUBLE_EQ(ex::kernel_per_byte(0.30, 0.10, 67108864.0), 0.30 / 67108864.0);
  EXPECT_DOUBLE_EQ(ex::kernel_per_byte(0.10, 0.20, 67108864.0), 0.10 / 67108864.0);
  EXPECT_EQ(ex::kernel_per_byte(0.30, 0.0, 0.0), 0.0);
}

TEST(Calibrate, FragmentIsAcceptedByTheConfigLoader) {
  ex::ComputeCalibration c;
  c.model = "cnn";
  c.backend = "fast";
  c.batch = 100;
  c.steps = 30;
  c.step_s = 0.08;
  c.first_step_s = 0.0625;
  c.wait_s = {0.001, 0.064};
  c.wait_extra_s = {1.5e-5, 1.25e-4};
  c.evaluate_sample_s = 1.25e-6;
  c.step_flops = 2.2e10;
  c.flops_per_s = 2.75e11;
  ex::NetworkCalibration n;
  n.latency_s = 1.25e-5;
  n.bandwidth_Bps = 2.5e9;
  n.message_bytes = 13098536;
  n.round_trips = 2000;
  n.window_bytes = 217200;
  n.windows = {63712, 217200, 298288};
  n.congestion = "bbr";
  n.bbr_bandwidth_Bps = 3.5e9;
  n.gso_max_size = 8192;
  n.bbr_min_rtt_s = 1.5e-5;
  n.same_machine = true;
  n.cores = 16;
  n.kernel_byte_s = 5.5e-9;
  n.write_byte_s = 2.75e-10;
  n.wake_on_busy_core = 0.75;
  n.wake_probes = 300;
  n.wake_busy_s = 1e-3;
  n.first_reads_s = {3e-4, 1e-4, 2e-4};
  // 40 steps beside the kernel phase: half as long as the quiet one, half 2 ms longer;
  // extra 0 and 2 ms, over their mean of 1 ms.
  n.beside_steps_s.assign(20, 0.08);
  n.beside_steps_s.insert(n.beside_steps_s.end(), 20, 0.082);
  ex::SoftwareCalibration sw;
  sw.model = "cnn";
  sw.params = 3274634;
  sw.repeats = 9;
  sw.costs.apply_sgd = 1.5e-10;
  sw.costs.apply_momentum = 2.5e-10;
  sw.costs.apply_adam = 6.25e-10;
  sw.costs.aggregate = 1.25e-10;
  sw.costs.send_message = 7.5e-7;
  sw.costs.send_byte = 3.5e-11;
  sw.costs.receive_message = 1.5e-6;
  sw.costs.receive_byte = 9.5e-11;
  sw.costs.snapshot_byte = 4.5e-11;
  const auto text = ex::calibration_yaml(c, n, sw);
  EXPECT_NE(text.find("--set cluster.gpu.flops=2.75e+11"), std::string::npos) << text;
  EXPECT_NE(text.find("congestion control: bbr; its bandwidth estimate after a transfer: median 3.5e+09 bytes/s, 1.4x"),
            std::string::npos)
      << text;
  const auto node = YAML::Load(text);
  EXPECT_DOUBLE_EQ(node["cluster"]["gpu"]["flops"].as<double>(), 2.75e11);
  const auto cfg = synclab::resolve_run_config(node);
  EXPECT_DOUBLE_EQ(cfg.cluster.gpu.flops, 2.75e11);
  EXPECT_DOUBLE_EQ(cfg.cluster.gpu.efficiency, 1.0);
  EXPECT_DOUBLE_EQ(cfg.cluster.link.bandwidth, 2.5e9);
  EXPECT_DOUBLE_EQ(cfg.cluster.link.latency, 1.25e-5);
  // The measured TCP window is the packet model's; without one the default stays.
  EXPECT_EQ(cfg.sim.packet_window, 217200u);
  EXPECT_EQ(cfg.sim.packet_windows, (std::vector<std::uint64_t>{63712, 217200, 298288}));
  EXPECT_TRUE(cfg.sim.packet_bbr) << "a BBR kernel: the packet model runs BBR's windows";
  EXPECT_EQ(cfg.sim.packet_gso, 8192u) << "its TSO bursts are cut to the interface's GSO size";
  EXPECT_DOUBLE_EQ(cfg.sim.packet_rtt, 1.5e-5) << "BBR's samples carry the kernel's round trip, not the pings'";
  EXPECT_TRUE(cfg.sim.packet_small_queues);
  EXPECT_EQ(cfg.sim.packet_first_reads, (std::vector<double>{1e-4, 2e-4, 3e-4})) << "every first read measured, sorted";
  EXPECT_NE(text.find("Median 200 us"), std::string::npos) << text;
  n.window_bytes = 0;
  n.windows.clear();
  const auto unmeasured = synclab::resolve_run_config(YAML::Load(ex::calibration_yaml(c, n, sw)));
  EXPECT_EQ(unmeasured.sim.packet_window, synclab::resolve_run_config(YAML::Load("{}")).sim.packet_window);
  EXPECT_TRUE(unmeasured.sim.packet_windows.empty());
  EXPECT_TRUE(unmeasured.sim.packet_bbr);
  EXPECT_EQ(unmeasured.sim.packet_first_reads.size(), 3u) << "the first reads need no window";
  n.congestion = "cubic";
  n.bbr_bandwidth_Bps = 0;
  const auto cubic = synclab::resolve_run_config(YAML::Load(ex::calibration_yaml(c, n, sw)));
  EXPECT_FALSE(cubic.sim.packet_bbr) << "no model of CUBIC's window: the measured windows stay";
  const auto& got = cfg.cluster.software;
  EXPECT_DOUBLE_EQ(got.apply_sgd, 1.5e-10);
  EXPECT_DOUBLE_EQ(got.apply_momentum, 2.5e-10);
  EXPECT_DOUBLE_EQ(got.apply_adam, 6.25e-10);
  EXPECT_DOUBLE_EQ(got.apply("adam"), 6.25e-10);
  EXPECT_DOUBLE_EQ(got.aggregate, 1.25e-10);
  EXPECT_DOUBLE_EQ(got.send_message, 7.5e-7);
  EXPECT_DOUBLE_EQ(got.send_byte, 3.5e-11);
  EXPECT_DOUBLE_EQ(got.write_byte, 2.75e-10) << "the first write()'s time per byte is the server thread's gap";
  EXPECT_NE(text.find("(65536 bytes at most, as asio writes) took 2.75e-10 s"), std::string::npos) << text;
  EXPECT_NE(text.find("18 us per first write"), std::string::npos) << "the time of a 64 KiB write, not of the message\n" << text;
  EXPECT_DOUBLE_EQ(got.receive_message, 1.5e-6);
  EXPECT_DOUBLE_EQ(got.receive_byte, 9.5e-11);
  EXPECT_DOUBLE_EQ(got.snapshot_byte, 4.5e-11);
  // The wake-up probe's share is written as a comment, the key left at 0 (docs/fidelity.md).
  EXPECT_DOUBLE_EQ(got.wake_on_busy_core, 0.0);
  EXPECT_NE(text.find("of 300 wake-ups"), std::string::npos) << text;
  EXPECT_NE(text.find("    # wake_on_busy_core: 0.75\n"), std::string::npos) << text;
  const auto opted_in = synclab::resolve_run_config(YAML::Load(
      std::string(text).replace(text.find("# wake_on_busy_core"), 2, "")));
  EXPECT_DOUBLE_EQ(opted_in.cluster.software.wake_on_busy_core, 0.75) << "uncommented, the measured share is the key";
  EXPECT_DOUBLE_EQ(got.first_step, 0.0625);  // the compute calibration's, charged as a software cost
  EXPECT_EQ(got.wait_s, (std::vector<double>{0.001, 0.064}));
  EXPECT_EQ(got.wait_extra, (std::vector<double>{1.5e-5, 1.25e-4}));
  EXPECT_DOUBLE_EQ(got.evaluate_sample, 1.25e-6);
  EXPECT_DOUBLE_EQ(got.kernel_byte, 5.5e-9);
  ASSERT_EQ(got.beside_kernel.size(), 20u);
  for (std::size_t k = 0; k < 20; ++k) EXPECT_NEAR(got.beside_kernel[k], k < 10 ? 0.0 : 2.0, 1e-3) << k;  // 4 digits written
  EXPECT_EQ(cfg.cluster.colocated_cores, 16);  // the peer shared this machine's kernel
  n.same_machine = false;
  EXPECT_EQ(synclab::resolve_run_config(YAML::Load(ex::calibration_yaml(c, n, sw))).cluster.colocated_cores, 0);
  // The resolved config.yaml carries them too, so a run directory says what was charged.
  const auto again = synclab::resolve_run_config(YAML::Load(synclab::to_yaml(cfg)));
  EXPECT_DOUBLE_EQ(again.cluster.software.receive_byte, 9.5e-11);
}

TEST(Calibrate, SoftwareCostsAreTimedOnTheExecutorsCode) {
  // 0.2 s of runs per figure, as `synclab calibrate` takes: medians of hundreds of runs,
  // not of three that a busy machine may all have preempted.
  const auto sw = ex::calibrate_software("mlp", 3, 0.2);
  EXPECT_EQ(sw.model, "mlp");
  EXPECT_EQ(sw.params, 79510u);  // 784-100-10
  EXPECT_EQ(sw.repeats, 3u);
  const auto& c = sw.costs;
  // Every path was timed: each of the nine times is positive, whatever the machine's load.
  // The rates are differences of them clamped at 0 (an update minus its receipts), which
  // on a busy machine can vanish in the noise: only their sign is asserted.
  std::vector<std::string> timed;
  for (const auto& [what, seconds] : sw.timed_s) {
    timed.push_back(what);
    EXPECT_GT(seconds, 0.0) << what;
  }
  EXPECT_EQ(timed, (std::vector<std::string>{"send push", "send pull request", "receive push", "receive pull request",
                                              "update adam, 1 push(es)", "update adam, 4 push(es)", "update sgd, 1 push(es)",
                                              "update momentum, 1 push(es)", "evaluation snapshot"}));
  // A push's receipt (a checksum over 318 KB) is slower than a pull request's, and an
  // update of four pushes slower than one of one: margins of several times, not noise.
  const auto at = [&](const std::string& what) {
    for (const auto& [w, s] : sw.timed_s)
      if (w == what) return s;
    return 0.0;
  };
  EXPECT_GT(at("receive push"), at("receive pull request"));
  EXPECT_GT(at("update adam, 4 push(es)"), at("update adam, 1 push(es)"));
  EXPECT_GE(c.apply_sgd, 0.0);
  EXPECT_GE(c.apply_momentum, 0.0);
  EXPECT_GE(c.apply_adam, 0.0);
  EXPECT_GT(c.send_message, 0.0);
  EXPECT_GT(c.send_byte, 0.0);
  EXPECT_GT(c.receive_message, 0.0);
  EXPECT_GT(c.receive_byte, 0.0);
  EXPECT_GT(c.snapshot_byte, 0.0);
  EXPECT_GE(c.aggregate, 0.0);
  // Units: seconds per parameter / byte. A checksum or an update slower than 1 us per
  // float would be a unit slip (per model read as per float), not a slow machine.
  for (double v : {c.apply_sgd, c.apply_momentum, c.apply_adam, c.aggregate, c.send_byte, c.receive_byte, c.snapshot_byte})
    EXPECT_LT(v, 1e-6);
  EXPECT_THROW(ex::calibrate_software("mlp", 0, 0.0), synclab::ConfigError);
  EXPECT_THROW(ex::calibrate_software("no-such-model", 3, 0.0), synclab::ConfigError);
}

TEST(Calibrate, BadSoftwareCostsAreErrorsNamingTheField) {
  auto errors_of = [](const std::vector<std::string>& sets) {
    try {
      synclab::load_run_config("", sets);
    } catch (const synclab::ConfigError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  auto error_of = [&](const std::string& set) { return errors_of({set}); };
  EXPECT_EQ(error_of("cluster.software.send_byte=-1e-9").rfind("cluster.software.send_byte:", 0), 0u) << error_of("cluster.software.send_byte=-1e-9");
  EXPECT_EQ(error_of("cluster.software.apply.adam=fast").rfind("cluster.software.apply.adam:", 0), 0u);
  EXPECT_EQ(error_of("cluster.software.receive_message=.nan").rfind("cluster.software.receive_message:", 0), 0u);
  EXPECT_EQ(error_of("cluster.software.snapshot_byte=2").rfind("cluster.software.snapshot_byte:", 0), 0u);
  EXPECT_EQ(error_of("cluster.software.apply.lamb=1e-9").rfind("cluster.software.apply.lamb:", 0), 0u);
  EXPECT_EQ(error_of("cluster.software.send_message=3us"), "no error");
  EXPECT_EQ(error_of("cluster.software.kernel_byte=-1e-9").rfind("cluster.software.kernel_byte:", 0), 0u);
  const std::string waits = "cluster.software.step_after_wait.waits", extra = "cluster.software.step_after_wait.extra";
  EXPECT_EQ(errors_of({waits + "=[0.001,0.002]", extra + "=[1e-5]"}).rfind(extra + ":", 0), 0u)
      << errors_of({waits + "=[0.001,0.002]", extra + "=[1e-5]"});
  EXPECT_EQ(errors_of({waits + "=[0.002,0.001]", extra + "=[1e-5,2e-5]"}).rfind(waits + ":", 0), 0u);
  EXPECT_EQ(errors_of({waits + "=[0,0.001]", extra + "=[1e-5,2e-5]"}).rfind(waits + ":", 0), 0u);
  EXPECT_EQ(errors_of({waits + "=[0.001]", extra + "=[-1e-5]"}).rfind(extra + "[0]:", 0), 0u);
  EXPECT_EQ(errors_of({waits + "=[0.001,0.004]", extra + "=[1e-5,4e-5]"}), "no error");
  const std::string beside = "cluster.software.step_beside_kernel";
  EXPECT_EQ(error_of(beside + "=[0.5,0.2,2]").rfind(beside + ":", 0), 0u) << error_of(beside + "=[0.5,0.2,2]");
  EXPECT_EQ(error_of(beside + "=[0,0]").rfind(beside + ":", 0), 0u);
  EXPECT_EQ(error_of(beside + "=[-1,2]").rfind(beside, 0), 0u);
  EXPECT_EQ(error_of(beside + "=[0,0.5,2.5]"), "no error");
  EXPECT_EQ(error_of("cluster.colocated_cores=-2").rfind("cluster.colocated_cores:", 0), 0u);
  EXPECT_EQ(error_of("cluster.colocated_cores=1.5").rfind("cluster.colocated_cores:", 0), 0u);
  const auto cfg = synclab::load_run_config("", {"cluster.software.send_message=3us"});
  EXPECT_DOUBLE_EQ(cfg.cluster.software.send_message, 3e-6);
  EXPECT_FALSE(synclab::load_run_config("", {}).cluster.software.any());
}

// The step after a wait: the extra interpolated linearly in the wait, from none at no wait,
// the last figure beyond the last wait, nothing without figures.
TEST(Calibrate, StepAfterWaitInterpolatesTheMeasuredExtra) {
  synclab::SoftwareCostSpec sw;
  EXPECT_DOUBLE_EQ(sw.after_wait(0.01), 0.0);
  sw.wait_s = {0.001, 0.004};
  sw.wait_extra = {1e-5, 4e-5};
  EXPECT_TRUE(sw.any());
  EXPECT_DOUBLE_EQ(sw.after_wait(0), 0.0);
  EXPECT_DOUBLE_EQ(sw.after_wait(0.0005), 5e-6);
  EXPECT_DOUBLE_EQ(sw.after_wait(0.001), 1e-5);
  EXPECT_DOUBLE_EQ(sw.after_wait(0.0025), 2.5e-5);
  EXPECT_DOUBLE_EQ(sw.after_wait(0.004), 4e-5);
  EXPECT_DOUBLE_EQ(sw.after_wait(1.0), 4e-5);
  sw.wait_extra = {0, 0};
  EXPECT_FALSE(sw.any());  // measured, and nothing to charge
}

TEST(Calibrate, ComputeTimesATrainingStepOnTheCpuBackend) {
  const auto c = ex::calibrate_compute("softmax", "fast", 16, 1, 0.01, 2000);
  EXPECT_EQ(c.model, "softmax");
  EXPECT_GE(c.steps, 3u);
  EXPECT_GT(c.step_s, 0.0);
  // softmax regression: 784 x 10 weights, forward + backward FLOPs per sample from the cost model.
  EXPECT_GT(c.step_flops, 16 * 2.0 * 784 * 10);
  EXPECT_DOUBLE_EQ(c.flops_per_s, c.step_flops / c.step_s);
  EXPECT_GE(c.first_step_s, 0.0);  // a start-up cost, clamped at 0 where it vanishes in the noise
  // The step after each wait, from a quarter of a millisecond to 64 ms asleep: a figure per wait.
  ASSERT_EQ(c.wait_s.size(), 9u);
  ASSERT_EQ(c.wait_extra_s.size(), c.wait_s.size());
  EXPECT_DOUBLE_EQ(c.wait_s.front(), 0.25e-3);
  EXPECT_DOUBLE_EQ(c.wait_s.back(), 64e-3);
  EXPECT_TRUE(std::is_sorted(c.wait_s.begin(), c.wait_s.end()));
  for (const double e : c.wait_extra_s) EXPECT_GE(e, 0.0);  // clamped at 0, like first_step
  EXPECT_GT(c.evaluate_sample_s, 0.0);
  EXPECT_LT(c.evaluate_sample_s, 1e-3);  // a sample's forward pass; a chunk's time read as a sample's lands far above
  EXPECT_THROW(ex::calibrate_compute("no-such-model", "fast", 16, 1, 0.01, 2000), synclab::ConfigError);
  EXPECT_THROW(ex::calibrate_compute("softmax", "abacus", 16, 1, 0.01, 2000), synclab::ConfigError);
  EXPECT_THROW(ex::calibrate_compute("softmax", "fast", 16, 1, 0.01, 0), synclab::ConfigError);
}

TEST(Calibrate, TheBandwidthStreamHoldsEightMebibytesInFourToTwentyMessages) {
  EXPECT_EQ(ex::streamed_messages(1 << 20), 8u);
  EXPECT_EQ(ex::streamed_messages(318040), 20u);    // 27 would make 8 MiB: at most 20
  EXPECT_EQ(ex::streamed_messages(45000000), 4u);   // one would: at least 4
  EXPECT_EQ(ex::streamed_messages(3 << 20), 4u);   // 8/3 rounds up to 3: at least 4
  EXPECT_EQ(ex::streamed_messages(1 << 19), 16u);
  // The first-read probe: 40 messages where they fit in 64 MiB, fewer for a large model, 8 at least.
  EXPECT_EQ(ex::first_read_messages(318040), 40u);
  EXPECT_EQ(ex::first_read_messages(4 << 20), 16u);
  EXPECT_EQ(ex::first_read_messages(100 << 20), 8u);
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
  EXPECT_EQ(n.streamed_messages, 20u);  // 64 KiB messages: each stream holds 20
  EXPECT_GT(n.window_bytes, 0.0);  // Linux says what the sender kept in flight (TCP_INFO)
  EXPECT_EQ(n.windows.size(), 2u);  // one per transfer
  // The first-read probe: each message's first write stamped leaving and acknowledged
  // (SO_TIMESTAMPING); what the ACK took beyond the kernel's round trip, well under a second.
  ASSERT_EQ(n.first_reads_s.size(), 40u);
  for (const double r : n.first_reads_s) {
    EXPECT_GE(r, 0.0);
    EXPECT_LT(r, 1.0);
  }
  EXPECT_NE(ex::calibration_yaml({}, n, {}).find("TCP to 127.0.0.1:"), std::string::npos);
  // Which congestion control kept it (the machine's default), and BBR's rate estimate where it is BBR.
  std::string default_cc;
  std::ifstream("/proc/sys/net/ipv4/tcp_congestion_control") >> default_cc;
  EXPECT_EQ(n.congestion, default_cc);
  if (default_cc == "bbr") {
    EXPECT_GT(n.bbr_bandwidth_Bps, 0.0);
    // Microseconds on loopback (0 where it reads below one), never the ~0U of no sample.
    EXPECT_GE(n.bbr_min_rtt_s, 0.0);
    EXPECT_LT(n.bbr_min_rtt_s, 0.1);
  } else {
    EXPECT_EQ(n.bbr_bandwidth_Bps, 0.0);
    EXPECT_EQ(n.bbr_min_rtt_s, 0.0);
  }
  EXPECT_NE(ex::calibration_yaml({}, n, {}).find("congestion control: " + default_cc), std::string::npos);
  // The interface it sent by is loopback: its GSO size as `ip` shows it.
  EXPECT_GT(n.gso_max_size, 0u);
  if (FILE* ip = ::popen("ip -d link show lo 2>/dev/null", "r")) {
    std::string shown;
    for (char buf[256]; std::fgets(buf, sizeof buf, ip);) shown += buf;
    ::pclose(ip);
    if (const auto at = shown.find("gso_max_size "); at != std::string::npos) {
      EXPECT_EQ(n.gso_max_size, std::stoull(shown.substr(at + 13)));
    }
  }
  // The server sent its boot id: this machine's, so the fragment says the hosts share it.
  EXPECT_TRUE(n.same_machine);
  EXPECT_GT(n.kernel_byte_s, 0.0);
  EXPECT_NE(ex::calibration_yaml({}, n, {}).find("colocated_cores: "), std::string::npos);
  try {
    ex::calibrate_peer("127.0.0.1", 1, 16, 1, 1);  // nothing listens on port 1
    ADD_FAILURE() << "no error";
  } catch (const synclab::Error& e) {
    EXPECT_NE(std::string(e.what()).find("127.0.0.1:1"), std::string::npos) << e.what();
  }
}

TEST(Calibrate, AnEndThatStopsAnsweringIsDroppedNamingTheStep) {
  // A "server" that accepts and never says a word: the client gives up after its patience
  // and says what it waited for, instead of waiting forever. A second of patience: a busy
  // machine pauses a thread for milliseconds, not that long, within a step that has ended.
  asio::io_context io;
  asio::ip::tcp::acceptor silent(io, asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const int silent_port = silent.local_endpoint().port();
  std::thread mute([&] {
    asio::ip::tcp::socket s(io);
    silent.accept(s);
    asio::error_code ec;
    char c;
    asio::read(s, asio::buffer(&c, 1), ec);  // until the client gives up and closes
  });
  try {
    ex::calibrate_peer("127.0.0.1", silent_port, 16, 1, 1, 1.0);
    ADD_FAILURE() << "no error";
  } catch (const synclab::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("127.0.0.1:" + std::to_string(silent_port)), std::string::npos) << what;
    EXPECT_NE(what.find("no answer for 1 s while waiting for the server's boot id"), std::string::npos) << what;
  }
  mute.join();

  // A client that connects, reads the boot id and says nothing more: the server drops it
  // with a line naming the step, and returns after its one client.
  static std::atomic<int> port{0};
  port = 0;
  testing::internal::CaptureStderr();
  std::thread server([] { ex::serve_calibration(0, 1, [](int p) { port = p; }, 1.0); });
  while (port.load() == 0) std::this_thread::yield();
  asio::ip::tcp::socket client(io);
  client.connect(asio::ip::tcp::endpoint(asio::ip::address_v4::loopback(), static_cast<unsigned short>(port.load())));
  std::string id(36, ' ');
  asio::read(client, asio::buffer(id));
  server.join();
  const std::string err = testing::internal::GetCapturedStderr();
  EXPECT_NE(err.find("no answer for 1 s while waiting for the client's request"), std::string::npos) << err;
}

// The share of wake-ups that waited for the waker's core counts the delays of half the
// waker's work or more: 0.4 and 0.6 ms of 1 ms, one of two.
TEST(AckTimestamps, AWritesAckDelayPairsItsTwoStampsByKey) {
  const std::vector<ex::TxStamp> stamps = {{99, false, 10.0}, {199, false, 10.5}, {99, true, 10.25}, {300, true, 11.0}};
  EXPECT_DOUBLE_EQ(ex::ack_delay(stamps, 99), 0.25);
  EXPECT_LT(ex::ack_delay(stamps, 199), 0.0) << "sent, never acknowledged";
  EXPECT_LT(ex::ack_delay(stamps, 300), 0.0) << "acknowledged, its sending stamp missing";
}

TEST(WakeProbe, WaitedShareCountsDelaysOfHalfTheWakersWorkOrMore) {
  EXPECT_DOUBLE_EQ(ex::waited_share({4e-4, 6e-4}, 1e-3), 0.5);
  EXPECT_DOUBLE_EQ(ex::waited_share({5e-4, 1e-3, 2e-5, 1e-5}, 1e-3), 0.5);
  EXPECT_DOUBLE_EQ(ex::waited_share({}, 1e-3), 0.0);
}

// The probe on this machine: one delay per wake-up asked for (where the process may use 2
// cores or more; else nothing is measured), each positive, and the share theirs.
TEST(WakeProbe, TimesEveryWakeUpItAsksFor) {
  const auto w = ex::probe_wake_on_busy_core(1e-3, 40);
  if (std::thread::hardware_concurrency() < 2 || w.wakeups == 0) {
    EXPECT_EQ(w.wakeups, 0u);
    GTEST_SKIP() << "fewer than 2 cores to run on: nothing to idle, nothing measured";
  }
  ASSERT_EQ(w.wakeups, 40u);
  ASSERT_EQ(w.delays.size(), 40u);
  for (const double d : w.delays) EXPECT_GT(d, 0.0);
  EXPECT_DOUBLE_EQ(w.fraction, ex::waited_share(w.delays, 1e-3));
  EXPECT_DOUBLE_EQ(w.busy_s, 1e-3);
}
