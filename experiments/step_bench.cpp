#include "experiments/step_bench.hpp"

#include <algorithm>
#include <chrono>

#include "core/common/error.hpp"
#include "core/common/rng.hpp"

namespace synclab::experiments {

StepBench::StepBench(const std::string& model, const std::string& backend, std::size_t batch, int threads,
                     std::size_t samples)
    : spec_(make_model_spec(model)), batch_(batch) {
  if (batch == 0) throw ConfigError("--batch", "must be positive");
  if (samples == 0) throw ConfigError("--samples", "must be positive");
  if (threads < 1) throw ConfigError("--threads", "must be >= 1");
  NetworkOptions no;
  no.max_batch = batch;
  no.threads = threads;
  net_ = make_network(spec_, parse_backend(backend), no);

  // Synthetic inputs cost exactly what real images cost and need no dataset on disk. A
  // worker gathers each batch from its shard at random: at batch 4000 of the MLP that copy
  // (12.5 MB from all over a 188 MB set) is a third of the step, at batch 100 a few percent.
  params_.resize(spec_.num_params());
  grad_.resize(spec_.num_params());
  init_params(spec_, params_.data(), 1);
  constexpr double kMaxSetBytes = 256.0 * (1 << 20);
  const std::size_t sample_bytes = spec_.input_size() * sizeof(float);
  samples = std::max(batch, std::min(samples, static_cast<std::size_t>(kMaxSetBytes / static_cast<double>(sample_bytes))));
  set_.name = "calibration";
  set_.c = 1;
  set_.h = 1;
  set_.w = static_cast<int>(spec_.input_size());
  set_.classes = spec_.classes;
  set_.x.resize(samples * spec_.input_size());
  set_.y.resize(samples);
  Rng rng(7);
  for (auto& v : set_.x) v = static_cast<float>(rng.uniform());
  for (auto& v : set_.y) v = static_cast<std::uint8_t>(rng.below(static_cast<std::uint64_t>(spec_.classes)));
  std::vector<std::uint32_t> all(samples);
  for (std::size_t i = 0; i < samples; ++i) all[i] = static_cast<std::uint32_t>(i);
  sampler_ = std::make_unique<BatchSampler>(set_, std::move(all), batch, 11);
}

double StepBench::step() {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  net_->forward_backward(params_, sampler_->next(), grad_, steps_++);
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

}  // namespace synclab::experiments
