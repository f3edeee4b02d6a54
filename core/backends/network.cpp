#include "core/backends/network.hpp"

#include "core/backends/fast/fast_network.hpp"
#include "core/backends/reference/reference_network.hpp"
#include "core/common/error.hpp"
#ifdef SYNCLAB_WITH_CUDA
#include "core/backends/cuda/cuda_network.hpp"
#endif

namespace synclab {

BackendKind parse_backend(std::string_view name) {
  if (name == "reference") return BackendKind::Reference;
  if (name == "fast") return BackendKind::Fast;
  if (name == "cuda") return BackendKind::Cuda;
  throw ConfigError("backend", "unknown backend '" + std::string(name) + "' (expected reference, fast or cuda)");
}

std::string to_string(BackendKind kind) {
  switch (kind) {
    case BackendKind::Reference: return "reference";
    case BackendKind::Fast: return "fast";
    case BackendKind::Cuda: return "cuda";
  }
  return "unknown";
}

std::unique_ptr<Network> make_network(const ModelSpec& spec, BackendKind kind, const NetworkOptions& options) {
  switch (kind) {
    case BackendKind::Reference: return make_reference_network(spec, options);
    case BackendKind::Fast: return make_fast_network(spec, options);
    case BackendKind::Cuda:
#ifdef SYNCLAB_WITH_CUDA
      return make_cuda_network(spec, options);
#else
      throw Error("this build has no cuda backend (CUDA and cuDNN were not found at configure time, or SYNCLAB_CUDA=OFF)");
#endif
  }
  throw Error("unknown backend kind");
}

}  // namespace synclab
