// CNN training step on the cuda backend (pull + forward + backward + push), batch 100 and
// 1000: step time, achieved FLOP/s (cost model FLOPs / step time) and the GPU's FP32 peak;
// plus the parameter/gradient copy floor of a step. Exits with a message where no CUDA
// device is present.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#include "core/backends/cuda/cuda_check.hpp"
#include "core/backends/cuda/cuda_context.hpp"
#include "core/backends/cuda/cuda_network.hpp"
#include "core/common/rng.hpp"
#include "core/cost/cost_model.hpp"
#include "core/models/model_spec.hpp"

namespace synclab {
namespace {

void BM_CnnStep(benchmark::State& state) {
  const auto batch = static_cast<std::size_t>(state.range(0));
  const ModelSpec spec = make_model_spec("cnn");
  std::vector<float> params(spec.num_params()), grad(spec.num_params());
  init_params(spec, params.data(), 1);
  std::vector<float> x(batch * spec.input_size());
  std::vector<std::uint8_t> y(batch);
  Rng rng(2);
  for (float& v : x) v = static_cast<float>(rng.uniform());
  for (auto& v : y) v = static_cast<std::uint8_t>(rng.below(10));
  auto net = make_cuda_network(spec, {batch, 1, 0});
  const Batch b{x.data(), y.data(), batch};
  for (int warm = 0; warm < 3; ++warm) net->forward_backward(params, b, grad, 0);
  std::uint64_t seed = 1;
  for (auto _ : state) benchmark::DoNotOptimize(net->forward_backward(params, b, grad, seed++));
  const double flops = model_cost(spec).step_flops(batch);
  const cuda::GpuInfo info = cuda::gpu_info(0);
  state.counters["flop/s"] = benchmark::Counter(flops, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["samples/s"] = benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["peak_fp32"] = info.fp32_peak;
  state.SetLabel(info.name);
}
BENCHMARK(BM_CnnStep)->Arg(100)->Arg(1000)->Unit(benchmark::kMillisecond)->UseRealTime();

// The copy floor inside every step: the CNN's parameters in and its gradient out, between
// pinned host buffers and the device on one stream. Step time minus this is compute.
void BM_PullPushCopies(benchmark::State& state) {
  const std::size_t count = make_model_spec("cnn").num_params();
  cuda::CudaContext ctx(0);
  cuda::PinnedBuffer<float> host_in(count), host_out(count);
  cuda::DeviceBuffer<float> params(count), grad(count);
  std::fill(host_in.data(), host_in.data() + count, 1.f);
  for (auto _ : state) {
    cuda::check(cudaMemcpyAsync(params.data(), host_in.data(), count * sizeof(float), cudaMemcpyHostToDevice, ctx.stream()),
                "cudaMemcpyAsync");
    cuda::check(cudaMemcpyAsync(host_out.data(), grad.data(), count * sizeof(float), cudaMemcpyDeviceToHost, ctx.stream()),
                "cudaMemcpyAsync");
    ctx.synchronize();
  }
  state.counters["bytes/s"] =
      benchmark::Counter(2.0 * static_cast<double>(count * sizeof(float)), benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_PullPushCopies)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace synclab

int main(int argc, char** argv) {
  if (synclab::cuda_device_count() == 0) {
    std::printf("cuda_step_bench: no CUDA device present; nothing to measure\n");
    return 0;
  }
  const synclab::cuda::GpuInfo info = synclab::cuda::gpu_info(0);
  std::printf("GPU 0: %s, sm_%d%d, %d SMs, %.0f MHz, FP32 peak %.1f TFLOP/s (flop/s / peak_fp32 = fraction of peak)\n",
              info.name.c_str(), info.major, info.minor, info.sms, info.clock_hz / 1e6, info.fp32_peak / 1e12);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
