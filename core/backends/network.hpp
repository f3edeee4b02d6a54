#pragma once
// A Network runs one ModelSpec on one backend: forward + backward over a batch given the
// flat parameter buffer, writing the flat gradient. Parameters and gradients cross this
// interface as host buffers: one copy in per pull, one copy out per push (a GPU backend
// keeps its own device copies behind it).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "core/models/model_spec.hpp"

namespace synclab {

enum class BackendKind { Reference, Fast, Cuda };

/// "reference" | "fast" | "cuda"; throws ConfigError("backend", ...) otherwise.
BackendKind parse_backend(std::string_view name);
std::string to_string(BackendKind kind);

/// A batch of samples: x is [n, input_size] floats in [0, 1], y is [n] class labels.
struct Batch {
  const float* x = nullptr;
  const std::uint8_t* y = nullptr;
  std::size_t n = 0;
};

/// Sum of per-sample losses and number of correct argmax predictions over a batch.
struct EvalStats {
  double loss_sum = 0.0;
  std::size_t correct = 0;
  std::size_t count = 0;
};

struct NetworkOptions {
  std::size_t max_batch = 100;  ///< largest batch forward_backward/evaluate will see
  int threads = 1;              ///< CPU threads for this network (fast backend)
  int device = 0;               ///< GPU ordinal (cuda backend)
};

class Network {
 public:
  virtual ~Network() = default;
  virtual const ModelSpec& spec() const = 0;
  virtual BackendKind kind() const = 0;
  /// Training step math: mean loss over the batch; grad[num_params] = d(mean loss)/d(params).
  /// Dropout masks are drawn from dropout_seed, so the same call gives the same result.
  virtual float forward_backward(std::span<const float> params, const Batch& batch,
                                 std::span<float> grad, std::uint64_t dropout_seed) = 0;
  /// Inference (dropout off): loss sum and correct count over the batch.
  virtual EvalStats evaluate(std::span<const float> params, const Batch& batch) = 0;
};

/// Creates a network on the given backend. Throws Error when the backend is not built in
/// or, for cuda, when no GPU is present (one line saying so).
std::unique_ptr<Network> make_network(const ModelSpec& spec, BackendKind kind, const NetworkOptions& options = {});

}  // namespace synclab
