#include "real/protocol/fingerprint.hpp"

#include <cstring>

namespace synclab::real {
namespace {

struct Fnv {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  void bytes(const void* p, std::size_t n) {
    const auto* b = static_cast<const unsigned char*>(p);
    for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ULL;
  }
  void u64(std::uint64_t v) { bytes(&v, sizeof v); }
  // Length-prefixed so ("ab","c") and ("a","bc") hash differently.
  void str(const std::string& s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
};

}  // namespace

std::uint64_t model_fingerprint(const ModelSpec& spec) {
  Fnv f;
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
  return f.h;
}

}  // namespace synclab::real
