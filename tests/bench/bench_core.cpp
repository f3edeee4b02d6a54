// Speed of the training math: forward+backward of the CNN and MLP on a batch of 100 (fast
// backend), the optimizer apply over the CNN's parameters, and the whole CNN training step
// (forward+backward+Adam), each on 1 thread and on all cores (the second argument; 0 =
// all cores). Inputs are random; speed does not depend on the values.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <thread>

#include "core/backends/network.hpp"
#include "core/common/rng.hpp"
#include "core/cost/cost_model.hpp"
#include "core/models/model_spec.hpp"
#include "core/optim/optimizer.hpp"

namespace synclab {
namespace {

constexpr std::size_t kBatch = 100;

struct Setup {
  ModelSpec spec;
  std::vector<float> params, grad, x;
  std::vector<std::uint8_t> y;
  std::unique_ptr<Network> net;
  Setup(const std::string& model, int threads) : spec(make_model_spec(model)) {
    params.resize(spec.num_params());
    grad.resize(spec.num_params());
    init_params(spec, params.data(), 1);
    Rng rng(2);
    x.resize(kBatch * spec.input_size());
    for (auto& v : x) v = static_cast<float>(rng.uniform());
    y.resize(kBatch);
    for (auto& v : y) v = static_cast<std::uint8_t>(rng.below(10));
    NetworkOptions options;
    options.max_batch = kBatch;
    options.threads = threads;
    net = make_network(spec, BackendKind::Fast, options);
  }
  Batch batch() const { return {x.data(), y.data(), kBatch}; }
};

int threads_arg(const benchmark::State& state) { return static_cast<int>(state.range(0)); }

void set_counters(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP"] = benchmark::Counter(flops_per_iteration / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

void forward_backward(benchmark::State& state, const std::string& model) {
  Setup s(model, threads_arg(state));
  std::uint64_t seed = 0;
  s.net->forward_backward(s.params, s.batch(), s.grad, seed++);  // warm-up: JIT, first touch
  for (auto _ : state) {
    benchmark::DoNotOptimize(s.net->forward_backward(s.params, s.batch(), s.grad, seed++));
    benchmark::ClobberMemory();
  }
  set_counters(state, cost_by_name(model).step_flops(kBatch));
}

void BM_CnnForwardBackward(benchmark::State& state) { forward_backward(state, "cnn"); }
void BM_MlpForwardBackward(benchmark::State& state) { forward_backward(state, "mlp"); }

// Adam over the CNN's parameters. A PS shard applies its range on one thread; with
// Threads(N) each benchmark thread owns 1/N of the buffer, as N shards on N cores would.
void BM_AdamApply(benchmark::State& state) {
  const std::size_t n = make_model_spec("cnn").num_params() / static_cast<std::size_t>(state.threads());
  OptimizerSpec spec;
  spec.name = "adam";
  auto opt = make_optimizer(spec, n);
  std::vector<float> params(n, 0.1f), grad(n, 0.01f);
  for (auto _ : state) {
    opt->step(params, grad);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * static_cast<std::int64_t>(n) * 7 * 4);
}

// The step a worker + server pair does per update: what bench-vs-torch.sh compares.
void BM_CnnTrainStep(benchmark::State& state) {
  Setup s("cnn", threads_arg(state));
  OptimizerSpec spec;
  spec.name = "adam";
  auto opt = make_optimizer(spec, s.spec.num_params());
  std::uint64_t seed = 0;
  s.net->forward_backward(s.params, s.batch(), s.grad, seed++);
  for (auto _ : state) {
    s.net->forward_backward(s.params, s.batch(), s.grad, seed++);
    opt->step(s.params, s.grad);
    benchmark::ClobberMemory();
  }
  set_counters(state, cost_by_name("cnn").step_flops(kBatch));
}

void thread_args(benchmark::internal::Benchmark* b) {
  b->Arg(1);
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  if (cores > 1) b->Arg(cores);
  b->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime();
}

BENCHMARK(BM_CnnForwardBackward)->Apply(thread_args);
BENCHMARK(BM_MlpForwardBackward)->Apply(thread_args);
BENCHMARK(BM_CnnTrainStep)->Apply(thread_args);
BENCHMARK(BM_AdamApply)->Unit(benchmark::kMillisecond)->UseRealTime()->Threads(1)->Threads(static_cast<int>(std::max(1u, std::thread::hardware_concurrency())));

}  // namespace
}  // namespace synclab

BENCHMARK_MAIN();
