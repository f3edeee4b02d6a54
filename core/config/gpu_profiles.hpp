#pragma once
// Named GPU profiles for cluster.gpu: peak FP32 and TF32 flop/s from NVIDIA datasheets and
// a default fraction of peak that training kernels reach.
#include <string>
#include <string_view>
#include <vector>

namespace synclab {

struct GpuProfile {
  std::string name;          ///< "v100" | "a100" | "h100"
  double fp32_flops = 0;     ///< peak FP32 flop/s (non-tensor)
  double tf32_flops = 0;     ///< peak dense TF32 tensor-core flop/s; 0 when the GPU has none
  double efficiency = 0.4;   ///< default fraction of peak reached by training steps
  std::string source;        ///< where the peak figures come from
};

/// Every named profile, in a fixed order.
const std::vector<GpuProfile>& gpu_profiles();

/// The profile with that name, or nullptr.
const GpuProfile* find_gpu_profile(std::string_view name);

}  // namespace synclab
