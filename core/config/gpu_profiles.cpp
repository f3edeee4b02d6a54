// Peak figures are the SXM variants' datasheet numbers. TF32 is the dense rate (the
// datasheets headline the 2:4-sparsity rate, twice as high). The default efficiency of 0.4
// is a middle-of-the-road share of peak for convolutional training steps; configs that
// care override cluster.gpu.efficiency, or calibrate it with `synclab calibrate`.
#include "core/config/gpu_profiles.hpp"

namespace synclab {

const std::vector<GpuProfile>& gpu_profiles() {
  static const std::vector<GpuProfile> profiles = {
      {"v100", 15.7e12, 0.0, 0.4, "NVIDIA Tesla V100 datasheet (SXM2): FP32 15.7 TFLOPS; no TF32"},
      {"a100", 19.5e12, 156e12, 0.4, "NVIDIA A100 datasheet (SXM): FP32 19.5 TFLOPS, TF32 156 TFLOPS dense"},
      {"h100", 67e12, 494.5e12, 0.4, "NVIDIA H100 datasheet (SXM): FP32 67 TFLOPS, TF32 989 TFLOPS with sparsity"},
  };
  return profiles;
}

const GpuProfile* find_gpu_profile(std::string_view name) {
  for (const auto& p : gpu_profiles()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace synclab
