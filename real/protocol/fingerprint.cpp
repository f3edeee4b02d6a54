#include "real/protocol/fingerprint.hpp"

#include "core/common/fnv1a.hpp"

namespace synclab::real {

std::uint64_t model_fingerprint(const ModelSpec& spec) {
  Fnv1a f;
  f.str(spec.name);
  f.u64(spec.layout.total);
  f.u64(spec.layout.blocks.size());
  for (const auto& b : spec.layout.blocks) {
    f.str(b.name);
    f.u64(b.offset);
    f.u64(b.count);
    f.u64(b.shape.size());
    for (int d : b.shape) f.u64(static_cast<std::uint64_t>(d));
  }
  return f.value();
}

}  // namespace synclab::real
