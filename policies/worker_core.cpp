#include "policies/worker_core.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "core/common/rng.hpp"

namespace synclab {

WorkerCore::WorkerCore(const WorkerSetup& setup) : setup_(setup) {
  if ((setup_.network == nullptr) != (setup_.sampler == nullptr))
    throw Error(fmt::format("worker {}: full mode needs both a network and a batch sampler", setup_.worker));
  if (setup_.policy.local_steps < 1) throw Error(fmt::format("worker {}: local steps must be >= 1", setup_.worker));
  if (setup_.network) {
    if (setup_.network->spec().num_params() != setup_.num_params)
      throw Error(fmt::format("worker {}: network has {} params, setup says {}", setup_.worker,
                              setup_.network->spec().num_params(), setup_.num_params));
    params_.resize(setup_.num_params);
    grad_.resize(setup_.num_params);
    if (setup_.policy.payload == PayloadKind::ModelDelta) {
      start_.resize(setup_.num_params);
      payload_.resize(setup_.num_params);
    }
  }
}

PullInfo WorkerCore::next_pull() const { return PullInfo{setup_.worker, clock_}; }

void WorkerCore::on_params(const PulledParams& reply) {
  version_ = reply.version;
  if (setup_.policy.adaptive) setup_.policy.on_reply(reply.local_steps);
}

WorkerPush WorkerCore::compute() {
  const WorkerPolicy& pol = setup_.policy;
  // A gradient push carries exactly one batch; only model-delta policies step locally.
  const int tau = pol.payload == PayloadKind::Gradient ? 1 : std::max(1, pol.local_steps);
  WorkerPush out;
  out.info.id = make_push_id(setup_.worker, clock_);
  out.info.worker = setup_.worker;
  out.info.base_version = version_;
  out.info.worker_clock = clock_;
  out.info.kind = pol.payload;
  out.info.local_steps = tau;
  out.flops = setup_.step_flops * tau;
  out.samples = setup_.batch * static_cast<std::size_t>(tau);
  if (timing_only()) {
    steps_ += static_cast<std::uint64_t>(tau);
    return out;
  }
  const float lr = static_cast<float>(pol.local_lr > 0 ? pol.local_lr : setup_.lr);
  if (pol.payload == PayloadKind::ModelDelta) std::copy(params_.begin(), params_.end(), start_.begin());
  double loss_sum = 0;
  for (int s = 0; s < tau; ++s) {
    const Batch batch = setup_.sampler->next();
    loss_sum += setup_.network->forward_backward(params_, batch, grad_, derive_seed(setup_.seed, 0xd50, static_cast<std::uint64_t>(setup_.worker), steps_));
    ++steps_;
    if (pol.payload == PayloadKind::ModelDelta)
      for (std::size_t j = 0; j < params_.size(); ++j) params_[j] -= lr * grad_[j];
  }
  out.info.loss = loss_sum / tau;
  if (pol.payload == PayloadKind::ModelDelta) {
    for (std::size_t j = 0; j < params_.size(); ++j) payload_[j] = params_[j] - start_[j];
    out.payload = payload_;
  } else {
    out.payload = grad_;
  }
  return out;
}

void WorkerCore::pushed() {
  ++clock_;
  ++stats_.pushes;
}

void WorkerCore::cancelled() { ++stats_.cancelled; }

void WorkerCore::run(WorkerDriver& driver, std::uint64_t max_pushes) {
  while (max_pushes == 0 || clock_ < max_pushes) {
    const double t0 = driver.now();
    auto reply = driver.pull(next_pull(), params());
    const double t1 = driver.now();
    stats_.wait_s += t1 - t0;
    if (!reply) return;
    on_params(*reply);
    WorkerPush p = compute();
    driver.compute(p.flops);
    const double t2 = driver.now();
    stats_.compute_s += t2 - t1;
    stats_.samples += p.samples;
    if (driver.cancelled()) {
      cancelled();
      continue;
    }
    driver.push(p.info, p.payload);
    stats_.push_s += driver.now() - t2;
    pushed();
  }
}

}  // namespace synclab
