#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

#include "core/common/error.hpp"
#include "core/common/rng.hpp"
#include "core/data/dataset.hpp"
#include "core/cost/cost_model.hpp"
#include "core/backends/network.hpp"
#include "core/models/model_spec.hpp"
#include "core/run/run_writer.hpp"
#include "experiments/calibrate.hpp"
#include "experiments/median_seconds.hpp"
#include "experiments/step_bench.hpp"

namespace synclab::experiments {

ComputeCalibration calibrate_compute(const std::string& model, const std::string& backend, std::size_t batch,
                                     int threads, double min_seconds, std::size_t samples) {
  StepBench bench(model, backend, batch, threads, samples);
  return calibrate_compute(bench, model, backend, threads, min_seconds);
}

ComputeCalibration calibrate_compute(StepBench& bench, const std::string& model, const std::string& backend,
                                     int threads, double min_seconds) {
  const std::size_t batch = bench.batch();
  const ModelSpec& spec = bench.spec();
  const ModelCost cost = cost_by_name(model);

  // The first step of a fresh network also pays the backend's start-up (primitive creation,
  // kernel generation, first touch of its buffers): a real worker pays it once per run.
  using Clock = std::chrono::steady_clock;
  const double first = bench.step();
  bench.step();  // warm-up
  std::vector<double> times;
  const auto start = Clock::now();
  while (times.size() < 3 || std::chrono::duration<double>(Clock::now() - start).count() < min_seconds) {
    times.push_back(bench.step());
    if (times.size() >= 10000) break;
  }
  std::sort(times.begin(), times.end());
  const double hot = times[times.size() / 2];

  // A worker's step follows a wait for its parameters, and a core that idled runs the next
  // step slower (its caches hold other work, its clock and the hypervisor's vCPU wake up):
  // on a quiet 2-core VM the MLP's 0.24 ms step takes 0.32-0.36 ms after 64 ms asleep
  // (0.42 with other work on the machine meanwhile). Timed here after sleeps as long as
  // the waits of real runs, from a fast link to a slow one.
  std::vector<double> waits, extra;
  for (const double wait : {0.25e-3, 0.5e-3, 1e-3, 2e-3, 4e-3, 8e-3, 16e-3, 32e-3, 64e-3}) {
    const double after = median_seconds(
        15, min_seconds / 10, [&] { std::this_thread::sleep_for(std::chrono::duration<double>(wait)); },
        [&] { bench.step(); });
    waits.push_back(wait);
    extra.push_back(std::max(0.0, after - hot));
  }

  // Scoring as the real PS does it on its helper thread: the fast backend, one thread,
  // chunks of kEvalBatch (real/ps/shard_outputs.cpp), a warm network.
  NetworkOptions eo;
  eo.max_batch = kEvalBatch;
  eo.threads = 1;
  auto eval_net = make_network(spec, BackendKind::Fast, eo);
  const std::size_t chunk = std::min(batch, kEvalBatch);
  const Batch eb = bench.set().slice(0, chunk);
  const double score_s = median_seconds(3, min_seconds / 4, [] {}, [&] { eval_net->evaluate(bench.params(), eb); });

  ComputeCalibration c;
  c.model = model;
  c.backend = backend;
  c.batch = batch;
  c.threads = threads;
  c.steps = times.size();
  c.step_s = hot;
  c.wait_s = waits;
  c.wait_extra_s = extra;
  c.first_step_s = std::max(0.0, first - c.step_s);
  c.evaluate_sample_s = score_s / static_cast<double>(chunk);
  c.step_flops = cost.step_flops(batch);
  c.flops_per_s = c.step_s > 0 ? c.step_flops / c.step_s : 0;
  return c;
}

}  // namespace synclab::experiments
