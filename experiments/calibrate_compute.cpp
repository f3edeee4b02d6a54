#include <algorithm>
#include <chrono>
#include <vector>

#include "core/common/error.hpp"
#include "core/common/rng.hpp"
#include "core/cost/cost_model.hpp"
#include "core/backends/network.hpp"
#include "core/models/model_spec.hpp"
#include "core/run/run_writer.hpp"
#include "experiments/calibrate.hpp"

namespace synclab::experiments {

ComputeCalibration calibrate_compute(const std::string& model, const std::string& backend, std::size_t batch,
                                     int threads, double min_seconds) {
  if (batch == 0) throw ConfigError("--batch", "must be positive");
  if (threads < 1) throw ConfigError("--threads", "must be >= 1");
  const ModelSpec spec = make_model_spec(model);
  const ModelCost cost = cost_by_name(model);
  NetworkOptions no;
  no.max_batch = batch;
  no.threads = threads;
  auto net = make_network(spec, parse_backend(backend), no);

  // Synthetic inputs cost exactly what real images cost and need no dataset on disk.
  std::vector<float> params(spec.num_params()), grad(spec.num_params());
  init_params(spec, params.data(), 1);
  std::vector<float> x(batch * spec.input_size());
  std::vector<std::uint8_t> y(batch);
  Rng rng(7);
  for (auto& v : x) v = static_cast<float>(rng.uniform());
  for (auto& v : y) v = static_cast<std::uint8_t>(rng.below(static_cast<std::uint64_t>(spec.classes)));
  const Batch b{x.data(), y.data(), batch};

  // The first step of a fresh network also pays the backend's start-up (primitive creation,
  // kernel generation, first touch of its buffers): a real worker pays it once per run.
  using Clock = std::chrono::steady_clock;
  const auto first_start = Clock::now();
  net->forward_backward(params, b, grad, 0);
  const double first = std::chrono::duration<double>(Clock::now() - first_start).count();
  net->forward_backward(params, b, grad, 1);  // warm-up
  std::vector<double> times;
  const auto start = Clock::now();
  while (times.size() < 3 || std::chrono::duration<double>(Clock::now() - start).count() < min_seconds) {
    const auto t0 = Clock::now();
    net->forward_backward(params, b, grad, times.size());
    times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    if (times.size() >= 10000) break;
  }
  std::sort(times.begin(), times.end());

  // Scoring as the real PS does it on its helper thread: the fast backend, one thread,
  // chunks of kEvalBatch (real/ps/shard_outputs.cpp), a warm network.
  NetworkOptions eo;
  eo.max_batch = kEvalBatch;
  eo.threads = 1;
  auto eval_net = make_network(spec, BackendKind::Fast, eo);
  const std::size_t chunk = std::min(batch, kEvalBatch);
  const Batch eb{x.data(), y.data(), chunk};
  eval_net->evaluate(params, eb);  // warm-up (start-up)
  std::vector<double> eval_times;
  const auto eval_start = Clock::now();
  while (eval_times.size() < 3 || std::chrono::duration<double>(Clock::now() - eval_start).count() < min_seconds / 4) {
    const auto t0 = Clock::now();
    eval_net->evaluate(params, eb);
    eval_times.push_back(std::chrono::duration<double>(Clock::now() - t0).count());
    if (eval_times.size() >= 10000) break;
  }
  std::sort(eval_times.begin(), eval_times.end());

  ComputeCalibration c;
  c.model = model;
  c.backend = backend;
  c.batch = batch;
  c.threads = threads;
  c.steps = times.size();
  c.step_s = times[times.size() / 2];
  c.first_step_s = std::max(0.0, first - c.step_s);
  c.evaluate_sample_s = eval_times[eval_times.size() / 2] / static_cast<double>(chunk);
  c.step_flops = cost.step_flops(batch);
  c.flops_per_s = c.step_s > 0 ? c.step_flops / c.step_s : 0;
  return c;
}

}  // namespace synclab::experiments
