#pragma once
// Device selection for workers: "auto" | "cpu" | "cuda" | "cuda:N" (config worker.device,
// flag --device) resolved to a backend and a GPU ordinal.
#include <string>
#include <string_view>

#include "core/backends/network.hpp"

namespace synclab {

/// Where a worker computes.
struct DeviceChoice {
  BackendKind backend = BackendKind::Fast;  ///< Cuda, or the CPU backend
  int ordinal = 0;                          ///< GPU ordinal when backend is Cuda, else 0
  std::string label() const;                ///< "cpu" or "cuda:N"
};

/// Usable GPUs: cuda_device_count() in a CUDA build, 0 otherwise (never throws).
int available_gpu_count();

/// Pure resolution against a known GPU count (no probing, no logging): "auto" picks cuda:0
/// when gpu_count > 0, else the CPU; "cuda"/"cuda:N" with no such GPU throws ConfigError(key)
/// in one line; anything else throws ConfigError(key) listing the accepted forms.
DeviceChoice resolve_device(std::string_view request, int gpu_count, std::string_view key = "worker.device",
                            BackendKind cpu_backend = BackendKind::Fast);

/// Device of an in-process run (`synclab train`, the gradients of `synclab sim` in full
/// mode), from worker.device and train.backend: "cuda"/"cuda:N" computes on that GPU
/// (ConfigError naming worker.device when it is absent), "cpu" on the CPU backend that
/// train.backend names (ConfigError when that is cuda), "auto" as train.backend says.
/// Pure: the GPU count is given; logs nothing.
DeviceChoice resolve_run_device(std::string_view worker_device, std::string_view train_backend, int gpu_count);

/// resolve_run_device against the GPUs present (probed only when a GPU may be wanted).
DeviceChoice select_run_device(std::string_view worker_device, std::string_view train_backend);

/// Probes the GPUs, resolves the request and logs the choice (and why) at info level.
DeviceChoice select_device(std::string_view request, std::string_view key = "worker.device",
                           BackendKind cpu_backend = BackendKind::Fast);

}  // namespace synclab
