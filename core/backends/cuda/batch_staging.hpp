#pragma once
// How a batch travels to the GPU in one copy: images, then labels, then one dropout mask per
// dropout layer (training only), packed into a byte buffer. Plain host code (no CUDA), so the
// host tests check it.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "core/backends/network.hpp"
#include "core/layers/dropout.hpp"
#include "core/models/model_spec.hpp"

namespace synclab::cuda {

/// Byte offsets inside the staged buffer of a batch of n samples.
struct StagedLayout {
  std::size_t labels = 0;           ///< labels follow the n * input_size floats of x (x at 0)
  std::vector<std::size_t> masks;   ///< per layer: offset of its dropout mask, 0 when none
  std::size_t bytes = 0;            ///< total bytes (the size of the single copy)
};

/// Layout for n samples; masks only when training (inference dropout is the identity).
inline StagedLayout staged_layout(const ModelSpec& spec, std::size_t n, bool training) {
  StagedLayout s;
  s.labels = n * spec.input_size() * sizeof(float);
  std::size_t end = s.labels + n;
  s.masks.assign(spec.layers.size(), 0);
  if (training)
    for (std::size_t l = 0; l < spec.layers.size(); ++l)
      if (spec.layers[l].kind == LayerKind::Dropout) {
        s.masks[l] = end;
        end += n * spec.layers[l].out_size();
      }
  s.bytes = end;
  return s;
}

/// Fills out[0, layout.bytes) for the batch. The masks are drawn with layers::dropout_mask,
/// the CPU backends' own generator (one sequential stream per layer), so every backend drops
/// the same elements for the same seed.
inline void stage_batch(const ModelSpec& spec, const Batch& batch, std::uint64_t dropout_seed,
                        const StagedLayout& layout, unsigned char* out) {
  std::memcpy(out, batch.x, layout.labels);
  std::memcpy(out + layout.labels, batch.y, batch.n);
  for (std::size_t l = 0; l < spec.layers.size(); ++l)
    if (layout.masks[l] != 0)
      layers::dropout_mask(dropout_seed, l, spec.layers[l].dropout, batch.n * spec.layers[l].out_size(),
                           out + layout.masks[l]);
}

}  // namespace synclab::cuda
