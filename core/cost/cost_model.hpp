#pragma once
// FLOPs and bytes per layer and per model; cost-only profiles of large models for timing mode.
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "core/models/model_spec.hpp"

namespace synclab {

struct LayerCost {
  std::string name;
  double forward_flops = 0;   ///< per sample (a multiply-add counts 2)
  double backward_flops = 0;  ///< per sample: grad w.r.t. input and weights
  std::size_t params = 0;
  std::size_t activation_bytes = 0;  ///< per sample: the layer's output (fp32), kept for backward
};

struct ModelCost {
  std::string name;
  std::size_t num_params = 0;
  std::size_t param_bytes = 0;        ///< fp32: 4 * num_params
  double forward_flops = 0;           ///< per sample
  double backward_flops = 0;          ///< per sample
  std::size_t activation_bytes = 0;   ///< per sample, summed over layers; 0 for cost-only profiles
  std::vector<LayerCost> layers;      ///< empty for cost-only profiles
  std::string source;                 ///< where the figures come from (paper) for profiles
  bool trainable = false;             ///< false: cost-only, timing mode only
  double step_flops(std::size_t batch) const { return (forward_flops + backward_flops) * static_cast<double>(batch); }
};

/// Cost of a trainable spec, layer by layer.
ModelCost model_cost(const ModelSpec& spec);

/// By name: a trainable model (softmax, mlp, cnn) or a cost-only profile (resnet50, vgg16,
/// bert-base, ...). Throws ConfigError("model", ...) listing the known names otherwise.
ModelCost cost_by_name(std::string_view name);

/// Names of the cost-only profiles.
std::vector<std::string> cost_profile_names();

}  // namespace synclab
