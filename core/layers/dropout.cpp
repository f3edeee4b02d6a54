#include "core/layers/dropout.hpp"

#include <cmath>

#include "core/common/rng.hpp"

namespace synclab::layers {

void dropout_mask(std::uint64_t seed, std::size_t layer, float p, std::size_t count, std::uint8_t* keep) {
  // Compare 32-bit slices of the generator's output with p * 2^32: two decisions per draw,
  // integer-only so that every backend (and compiler) gets the identical mask.
  const auto threshold = static_cast<std::uint64_t>(std::ldexp(static_cast<double>(p), 32));
  Rng rng(derive_seed(seed, 0xd0d0, layer));
  std::size_t j = 0;
  for (; j + 1 < count; j += 2) {
    const std::uint64_t r = rng.next_u64();
    keep[j] = (r & 0xffffffffULL) >= threshold;
    keep[j + 1] = (r >> 32) >= threshold;
  }
  if (j < count) keep[j] = (rng.next_u64() & 0xffffffffULL) >= threshold;
}

}  // namespace synclab::layers
