#include "core/backends/batch_checks.hpp"

#include <string>

#include "core/common/error.hpp"

namespace synclab {

void check_network_args(const ModelSpec& spec, std::span<const float> params, const Batch& batch) {
  if (params.size() != spec.num_params())
    throw Error("network " + spec.name + ": params has " + std::to_string(params.size()) + " floats, expected " +
                std::to_string(spec.num_params()));
  if (batch.n == 0 || batch.x == nullptr || batch.y == nullptr)
    throw Error("network " + spec.name + ": empty batch");
  for (std::size_t i = 0; i < batch.n; ++i)
    if (batch.y[i] >= spec.classes)
      throw Error("network " + spec.name + ": label " + std::to_string(batch.y[i]) + " of sample " + std::to_string(i) +
                  " is not below the class count " + std::to_string(spec.classes));
}

void check_grad_size(const ModelSpec& spec, std::span<float> grad) {
  if (grad.size() != spec.num_params())
    throw Error("network " + spec.name + ": grad has " + std::to_string(grad.size()) + " floats, expected " +
                std::to_string(spec.num_params()));
}

}  // namespace synclab
