// Synthetic data: class prototypes with per-pixel noise. Noise is strong enough that a
// single sample is ambiguous, so accuracy rises over training instead of jumping to 1.
#include <algorithm>

#include "core/common/rng.hpp"
#include "core/data/dataset.hpp"

namespace synclab {

Dataset make_synthetic(std::size_t n, std::uint64_t seed, std::uint64_t stream, const std::string& name) {
  Dataset d;
  d.name = name;
  const std::size_t ss = d.sample_size();
  std::vector<float> protos(static_cast<std::size_t>(d.classes) * ss);
  Rng proto_rng(derive_seed(seed, 0x9a7a, 0));
  for (auto& p : protos) p = static_cast<float>(proto_rng.uniform());
  Rng rng(derive_seed(seed, 0x9a7a, stream + 1));
  d.x.resize(n * ss);
  d.y.resize(n);
  constexpr double kNoise = 0.6;
  for (std::size_t i = 0; i < n; ++i) {
    const auto label = static_cast<std::uint8_t>(rng.below(static_cast<std::uint64_t>(d.classes)));
    d.y[i] = label;
    const float* proto = protos.data() + label * ss;
    float* x = d.x.data() + i * ss;
    for (std::size_t j = 0; j < ss; ++j) {
      x[j] = std::clamp(static_cast<float>(proto[j] + kNoise * rng.normal()), 0.0f, 1.0f);
    }
  }
  return d;
}

}  // namespace synclab
