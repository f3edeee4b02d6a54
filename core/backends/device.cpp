#include "core/backends/device.hpp"

#include <charconv>

#include <spdlog/spdlog.h>

#include "core/common/error.hpp"
#ifdef SYNCLAB_WITH_CUDA
#include "core/backends/cuda/cuda_network.hpp"
#endif

namespace synclab {

std::string DeviceChoice::label() const {
  return backend == BackendKind::Cuda ? "cuda:" + std::to_string(ordinal) : "cpu";
}

int available_gpu_count() {
#ifdef SYNCLAB_WITH_CUDA
  return cuda_device_count();
#else
  return 0;
#endif
}

DeviceChoice resolve_device(std::string_view request, int gpu_count, std::string_view key, BackendKind cpu_backend) {
  const std::string k(key);
  const std::string req(request);
  if (request == "cpu") return {cpu_backend, 0};
  if (request == "auto") return gpu_count > 0 ? DeviceChoice{BackendKind::Cuda, 0} : DeviceChoice{cpu_backend, 0};
  int ordinal = 0;
  if (request.starts_with("cuda:")) {
    const std::string_view digits = request.substr(5);
    const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), ordinal);
    if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() || ordinal < 0)
      throw ConfigError(k, "bad GPU ordinal in '" + req + "' (expected cuda:N with N >= 0)");
  } else if (request != "cuda") {
    throw ConfigError(k, "unknown device '" + req + "' (expected auto, cpu, cuda or cuda:N)");
  }
#ifndef SYNCLAB_WITH_CUDA
  // Said first: a CPU-only build is the likelier cause than a missing GPU.
  if (gpu_count == 0)
    throw ConfigError(k, "'" + req + "' asks for a GPU but this build has no cuda backend (CUDA/cuDNN not found at configure time)");
#endif
  if (gpu_count == 0) throw ConfigError(k, "'" + req + "' asks for a GPU but no CUDA device is present");
  if (ordinal >= gpu_count)
    throw ConfigError(k, "'" + req + "' asks for GPU " + std::to_string(ordinal) + " but only " +
                             std::to_string(gpu_count) + " CUDA device(s) are present");
  return {BackendKind::Cuda, ordinal};
}

DeviceChoice resolve_run_device(std::string_view worker_device, std::string_view train_backend, int gpu_count) {
  const BackendKind backend = parse_backend(train_backend);
  if (worker_device == "auto") {
    // train.backend cuda has always meant GPU 0; resolve it like worker.device cuda:0 so
    // that a missing GPU is the same one-line error.
    if (backend == BackendKind::Cuda) return resolve_device("cuda", gpu_count, "train.backend");
    return {backend, 0};
  }
  if (worker_device == "cpu" && backend == BackendKind::Cuda)
    throw ConfigError("worker.device", "'cpu' contradicts train.backend cuda (set train.backend to fast or reference)");
  // cuda / cuda:N (and bad spellings) resolve as for real workers; the CPU case keeps
  // train.backend's choice between the fast and the reference backend.
  return resolve_device(worker_device, gpu_count, "worker.device", backend == BackendKind::Cuda ? BackendKind::Fast : backend);
}

DeviceChoice select_run_device(std::string_view worker_device, std::string_view train_backend) {
  // Probing initialises the CUDA runtime: only when a GPU may be wanted.
  const bool may_want_gpu = (worker_device != "auto" && worker_device != "cpu") || train_backend == "cuda";
  return resolve_run_device(worker_device, train_backend, may_want_gpu ? available_gpu_count() : 0);
}

DeviceChoice select_device(std::string_view request, std::string_view key, BackendKind cpu_backend) {
  const int gpus = available_gpu_count();
  const DeviceChoice choice = resolve_device(request, gpus, key, cpu_backend);
  if (choice.backend == BackendKind::Cuda)
    spdlog::info("device: {} ({}='{}', {} CUDA device(s) present)", choice.label(), key, request, gpus);
  else
    spdlog::info("device: cpu, {} backend ({}='{}', {} CUDA device(s) present)", to_string(choice.backend), key,
                 request, gpus);
  return choice;
}

}  // namespace synclab
