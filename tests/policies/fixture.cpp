#include "fixture.hpp"

#include <cmath>

namespace synclab::test {

TinyProblem::TinyProblem(int workers, std::size_t batch_size, std::uint64_t seed_value, std::size_t samples)
    : spec(make_model_spec("softmax")), batch(batch_size), seed(seed_value) {
  train = make_synthetic(samples, seed, 0);
  initial.resize(spec.num_params());
  init_params(spec, initial.data(), seed);
  shards = shard_indices(train, workers, Sharding::Iid, 2, seed);
  NetworkOptions no;
  no.max_batch = batch * static_cast<std::size_t>(workers);
  for (int w = 0; w < workers; ++w) {
    nets.push_back(make_network(spec, BackendKind::Reference, no));
    samplers.push_back(std::make_unique<BatchSampler>(train, shards[static_cast<std::size_t>(w)], batch, sampler_seed(w)));
  }
}

std::vector<WorkerSetup> TinyProblem::setups(const WorkerPolicy& policy, double lr) {
  std::vector<WorkerSetup> out;
  for (std::size_t w = 0; w < nets.size(); ++w) {
    WorkerSetup s;
    s.worker = static_cast<WorkerId>(w);
    s.seed = seed;
    s.policy = policy;
    s.lr = lr;
    s.num_params = spec.num_params();
    s.step_flops = 1e6;
    s.batch = batch;
    s.network = nets[w].get();
    s.sampler = samplers[w].get();
    out.push_back(s);
  }
  return out;
}

std::vector<WorkerSetup> timing_setups(int workers, const WorkerPolicy& policy, std::size_t num_params) {
  std::vector<WorkerSetup> out;
  for (int w = 0; w < workers; ++w) {
    WorkerSetup s;
    s.worker = w;
    s.policy = policy;
    s.num_params = num_params;
    s.step_flops = 1e9;
    s.batch = 10;
    out.push_back(s);
  }
  return out;
}

PolicySpec policy_spec(const std::string& name, std::map<std::string, std::string> params) {
  PolicySpec s;
  s.name = name;
  s.params = std::move(params);
  return s;
}

void random_schedule(InprocOptions& options, std::uint64_t seed, int workers) {
  Rng pick(derive_seed(seed, 1));
  const int slow = static_cast<int>(pick.below(static_cast<std::uint64_t>(workers)));
  const double slowdown = 1.0 + 9.0 * pick.uniform();
  options.compute_time = [seed, slow, slowdown](WorkerId w, std::uint64_t clock) {
    Rng r(derive_seed(seed, 2, static_cast<std::uint64_t>(w), clock));
    double t = 0.2 + r.exponential(1.0);
    if (r.uniform() < 0.05) t *= 20;  // rare long stall
    return w == slow ? t * slowdown : t;
  };
  options.latency = [seed](WorkerId w, std::uint64_t message) {
    Rng r(derive_seed(seed, 3, static_cast<std::uint64_t>(w), message));
    return r.uniform() < 0.5 ? 0.0 : r.exponential(0.3);
  };
}

std::size_t count_events(const InprocResult& r, InprocEvent::Kind kind) {
  std::size_t n = 0;
  for (const auto& e : r.events) n += e.kind == kind ? 1 : 0;
  return n;
}

}  // namespace synclab::test
