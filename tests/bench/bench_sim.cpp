// Simulator speed (Google Benchmark). Each simulation runs in a forked child because
// SimGrid allows one engine per process; the wall time of the child's simulate() call is
// reported through manual timing.
//  - BM_SimTimingSsp/W/U/mean_ms/ps_gbps/mlp: timing mode, ssp(3), exponential stragglers
//    on every step, W workers x U updates each, softmax-sized (31 KB, mlp 0) or MLP-sized
//    (318 KB, mlp 1) messages, the default network model (sim.network auto: the star
//    shortcut); counters: simulated transfers and events per wall second of the engine's run.
//  - BM_SimStarVsSimgrid/W/U/mean_ms/ps_gbps/mlp: the same run under sim.network simgrid
//    (SimGrid's solver) and star, one after the other; counters: both wall times, the
//    speedup and the relative difference of the simulated end times.
//  - BM_SimFullVsPlain/W/cnn: full mode, bsp over W workers (mlp x 300 or cnn x 10 updates), against a plain loop computing the
//    same number of gradients with the same network (ratio counter = sim / plain).
#include <benchmark/benchmark.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/config/run_config.hpp"
#include "sim/simulation.hpp"
#include "sim/training_setup.hpp"
#include "tests/sim/run_in_child.hpp"

namespace {

namespace fs = std::filesystem;

nlohmann::json run_child(const synclab::RunConfig& config, const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("synclab-bench-sim-" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  const std::string text = synclab::sim::testing::run_in_child([&] {
    std::ostringstream log;
    synclab::sim::SimOptions o;
    o.log = &log;
    o.log_progress = false;
    synclab::sim::simulate(config, dir, o);
    std::ifstream in(dir / "summary.json");
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
  });
  fs::remove_all(dir);
  return nlohmann::json::parse(text, nullptr, false);
}

// Args: workers, updates per worker, straggler mean (ms), PS link (Gb/s), MLP-sized messages
// (0: softmax, 31 KB; 1: MLP, 318 KB); worker NICs 10 Gb/s. The PS link load decides the
// cost for SimGrid's solver: every transfer start or end re-shares the link among all
// flows crossing it.
synclab::RunConfig ssp_config(const benchmark::State& state, const std::string& network) {
  const auto workers = state.range(0), per_worker = state.range(1);
  return synclab::load_run_config(
      "", {std::string("model=") + (state.range(4) ? "mlp" : "softmax"), "sim.mode=timing", "policy.name=ssp",
           "policy.staleness=3", "cluster.workers=" + std::to_string(workers),
           "train.stop.updates=" + std::to_string(workers * per_worker), "cluster.straggler.dist=exponential",
           "cluster.straggler.mean=" + std::to_string(state.range(2)) + "ms", "cluster.link.bandwidth=10Gbps",
           "cluster.ps_link.bandwidth=" + std::to_string(state.range(3)) + "Gbps", "train.eval_every=0",
           "sim.network=" + network});
}

void BM_SimTimingSsp(benchmark::State& state) {
  const auto config = ssp_config(state, "auto");
  double transfers = 0, wall = 0;
  for (auto _ : state) {
    const auto s = run_child(config, "ssp");
    if (s.is_discarded()) {
      state.SkipWithError("simulation failed");
      return;
    }
    wall = s["wall_run_s"].get<double>();
    transfers = s["transfers"].get<double>();
    state.SetIterationTime(wall);
    state.counters["sim_s"] = s["time_s"].get<double>();
  }
  state.counters["transfers_per_s"] = transfers / wall;
  state.counters["events_per_s"] = 2 * transfers / wall;  // each transfer starts and ends once
}
BENCHMARK(BM_SimTimingSsp)
    ->Args({1000, 100, 10, 100, 0})   // PS link about half loaded
    ->Args({1000, 100, 100, 10, 0})   // same load, slower link and compute
    ->Args({1000, 100, 10, 10, 0})    // PS link saturated: ~1000 flows share it at all times
    ->Args({10000, 10, 1000, 100, 0})
    ->Args({1000, 100, 10, 10, 1})    // MLP messages: saturated all run long
    ->Args({10000, 10, 10, 10, 1})
    ->UseManualTime()->Iterations(1)->Unit(benchmark::kSecond);

void BM_SimStarVsSimgrid(benchmark::State& state) {
  double general = 0, star = 0, diff = 0;
  for (auto _ : state) {
    const auto a = run_child(ssp_config(state, "simgrid"), "simgrid");
    const auto b = run_child(ssp_config(state, "star"), "star");
    if (a.is_discarded() || b.is_discarded()) {
      state.SkipWithError("simulation failed");
      return;
    }
    general = a["wall_run_s"].get<double>();
    star = b["wall_run_s"].get<double>();
    const double ta = a["time_s"].get<double>(), tb = b["time_s"].get<double>();
    diff = std::abs(ta - tb) / ta;
    state.SetIterationTime(star);
  }
  state.counters["simgrid_s"] = general;
  state.counters["star_s"] = star;
  state.counters["speedup"] = general / star;
  state.counters["sim_time_rel_diff"] = diff;
}
BENCHMARK(BM_SimStarVsSimgrid)
    ->Args({1000, 100, 10, 10, 1})    // the saturated MLP case
    ->Args({1000, 100, 10, 100, 0})   // unsaturated
    ->UseManualTime()->Iterations(1)->Unit(benchmark::kSecond);

void BM_SimFullVsPlain(benchmark::State& state) {
  const auto workers = state.range(0);
  const bool cnn = state.range(1) != 0;
  const int updates = cnn ? 10 : 300;
  const auto config = synclab::load_run_config(
      "", {std::string("model=") + (cnn ? "cnn" : "mlp"), "sim.mode=full", "policy.name=bsp", "cluster.workers=" + std::to_string(workers),
           "train.stop.updates=" + std::to_string(updates), "train.eval_every=0", "data.eval_samples=100"});
  double ratio = 0;
  for (auto _ : state) {
    const auto s = run_child(config, "full");
    if (s.is_discarded()) {
      state.SkipWithError("simulation failed");
      return;
    }
    // The plain loop, after the child so that neither inherits the other's warm kernels:
    // the same number of gradients on the same model, data and network.
    auto setup = synclab::sim::make_training_setup(config);
    std::vector<float> grad(setup.num_params());
    const auto t0 = std::chrono::steady_clock::now();
    for (int u = 0; u < updates; ++u)
      for (std::size_t w = 0; w < setup.samplers.size(); ++w) {
        const synclab::Batch b = setup.samplers[w].next();
        benchmark::DoNotOptimize(setup.network->forward_backward(setup.initial, b, grad, 1));
      }
    const double plain = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    // The engine's run minus in-run evaluations: what the W x updates gradients cost inside
    // the simulator (data loading and the final evaluation happen outside it).
    const double sim = s["wall_run_s"].get<double>() - s["wall_eval_s"].get<double>();
    state.SetIterationTime(sim);
    state.counters["plain_s"] = plain;
    ratio = sim / plain;
  }
  state.counters["sim_over_plain"] = ratio;
}
// Three repetitions, median reported: one cold run of a few seconds varies by 10-20% here.
BENCHMARK(BM_SimFullVsPlain)->Args({4, 0})->Args({4, 1})->UseManualTime()->Iterations(1)->Repetitions(3)->ReportAggregatesOnly(true)->Unit(benchmark::kSecond);

}  // namespace

BENCHMARK_MAIN();
