// Google Benchmark: cost of the server core per update at CNN size (3,274,634 floats),
// i.e. the parameter-server work a driver adds on top of transfers.
#include <benchmark/benchmark.h>

#include <vector>

#include "policies/registry.hpp"
#include "policies/server_core.hpp"

namespace synclab {
namespace {

constexpr std::size_t kCnnParams = 3'274'634;

// One bsp round of `workers` gradients: store payloads, weighted sum in worker-id order,
// optimizer step, one shared reply snapshot.
void BM_BspRound(benchmark::State& state) {
  const int workers = static_cast<int>(state.range(0));
  std::vector<float> init(kCnnParams, 0.01f);
  ServerCoreOptions o;
  o.range = Range{0, kCnnParams};
  o.optimizer.name = state.range(1) ? "adam" : "sgd";
  o.optimizer.lr = 1e-3;
  PolicySpec spec;
  spec.name = "bsp";
  ServerCore core(make_policy(spec, workers).server, init, o);
  std::vector<std::vector<float>> grads(static_cast<std::size_t>(workers), std::vector<float>(kCnnParams, 0.001f));
  std::uint64_t clock = 0;
  for (auto _ : state) {
    for (int w = 0; w < workers; ++w) {
      PushInfo p;
      p.worker = w;
      p.worker_clock = clock;
      p.id = make_push_id(w, clock);
      p.base_version = core.version();
      core.push(p, std::vector<float>(grads[static_cast<std::size_t>(w)]));
      core.pull(PullInfo{w, clock + 1});
    }
    auto out = core.take_outbox();
    benchmark::DoNotOptimize(out.replies.data());
    ++clock;
  }
  state.SetItemsProcessed(state.iterations() * workers);
  state.SetBytesProcessed(state.iterations() * workers * static_cast<std::int64_t>(kCnnParams * sizeof(float)));
}
BENCHMARK(BM_BspRound)->Args({8, 0})->Args({8, 1})->Unit(benchmark::kMillisecond);

// async: one gradient per update, one reply snapshot per update.
void BM_AsyncUpdate(benchmark::State& state) {
  std::vector<float> init(kCnnParams, 0.01f);
  ServerCoreOptions o;
  o.range = Range{0, kCnnParams};
  o.optimizer.name = "adam";
  o.optimizer.lr = 1e-3;
  PolicySpec spec;
  spec.name = "async";
  ServerCore core(make_policy(spec, 8).server, init, o);
  std::vector<float> grad(kCnnParams, 0.001f);
  std::uint64_t n = 0;
  for (auto _ : state) {
    const WorkerId w = static_cast<WorkerId>(n % 8);
    PushInfo p;
    p.worker = w;
    p.worker_clock = n / 8;
    p.id = make_push_id(w, n / 8);
    p.base_version = core.version();
    core.push(p, std::vector<float>(grad));
    core.pull(PullInfo{w, n / 8 + 1});
    auto out = core.take_outbox();
    benchmark::DoNotOptimize(out.replies.data());
    ++n;
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AsyncUpdate)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace synclab

BENCHMARK_MAIN();
