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

namespace synclab::experiments {

ComputeCalibration calibrate_compute(const std::string& model, const std::string& backend, std::size_t batch,
                                     int threads, double min_seconds, std::size_t samples) {
  if (batch == 0) throw ConfigError("--batch", "must be positive");
  if (samples == 0) throw ConfigError("--samples", "must be positive");
  if (threads < 1) throw ConfigError("--threads", "must be >= 1");
  const ModelSpec spec = make_model_spec(model);
  const ModelCost cost = cost_by_name(model);
  NetworkOptions no;
  no.max_batch = batch;
  no.threads = threads;
  auto net = make_network(spec, parse_backend(backend), no);

  // Synthetic inputs cost exactly what real images cost and need no dataset on disk. A
  // worker gathers each batch from its shard at random: at batch 4000 of the MLP that copy
  // (12.5 MB from all over a 188 MB set) is a third of the step, at batch 100 a few percent.
  std::vector<float> params(spec.num_params()), grad(spec.num_params());
  init_params(spec, params.data(), 1);
  constexpr double kMaxSetBytes = 256.0 * (1 << 20);
  const std::size_t sample_bytes = spec.input_size() * sizeof(float);
  samples = std::max(batch, std::min(samples, static_cast<std::size_t>(kMaxSetBytes / static_cast<double>(sample_bytes))));
  Dataset set;
  set.name = "calibration";
  set.c = 1;
  set.h = 1;
  set.w = static_cast<int>(spec.input_size());
  set.classes = spec.classes;
  set.x.resize(samples * spec.input_size());
  set.y.resize(samples);
  Rng rng(7);
  for (auto& v : set.x) v = static_cast<float>(rng.uniform());
  for (auto& v : set.y) v = static_cast<std::uint8_t>(rng.below(static_cast<std::uint64_t>(spec.classes)));
  std::vector<std::uint32_t> all(samples);
  for (std::size_t i = 0; i < samples; ++i) all[i] = static_cast<std::uint32_t>(i);
  BatchSampler sampler(set, std::move(all), batch, 11);

  // The first step of a fresh network also pays the backend's start-up (primitive creation,
  // kernel generation, first touch of its buffers): a real worker pays it once per run.
  using Clock = std::chrono::steady_clock;
  const auto first_start = Clock::now();
  net->forward_backward(params, sampler.next(), grad, 0);
  const double first = std::chrono::duration<double>(Clock::now() - first_start).count();
  net->forward_backward(params, sampler.next(), grad, 1);  // warm-up
  std::vector<double> times;
  const auto start = Clock::now();
  while (times.size() < 3 || std::chrono::duration<double>(Clock::now() - start).count() < min_seconds) {
    const auto t0 = Clock::now();
    net->forward_backward(params, sampler.next(), grad, times.size());
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
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
  std::size_t step = times.size();
  for (const double wait : {0.25e-3, 0.5e-3, 1e-3, 2e-3, 4e-3, 8e-3, 16e-3, 32e-3, 64e-3}) {
    const double after = median_seconds(
        15, min_seconds / 10, [&] { std::this_thread::sleep_for(std::chrono::duration<double>(wait)); },
        [&] { net->forward_backward(params, sampler.next(), grad, step++); });
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
  const Batch eb = set.slice(0, chunk);
  const double score_s = median_seconds(3, min_seconds / 4, [] {}, [&] { eval_net->evaluate(params, eb); });

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
