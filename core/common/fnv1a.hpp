#pragma once
// 64-bit FNV-1a: a fast, platform-independent, non-cryptographic hash for short keys (model
// fingerprints in the handshake, disambiguators in sweep run names). Changing it changes
// those names and breaks the handshake between versions.
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace synclab {

/// Incremental FNV-1a; feed values in a fixed order, read value().
class Fnv1a {
 public:
  /// Hashes n raw bytes.
  void bytes(const void* data, std::size_t n);
  /// Hashes v's bytes in this machine's byte order.
  void u64(std::uint64_t v) { bytes(&v, sizeof v); }
  /// Hashes the length, then the text, so ("ab","c") and ("a","bc") differ.
  void str(std::string_view s) {
    u64(s.size());
    bytes(s.data(), s.size());
  }
  constexpr std::uint64_t value() const { return h_; }

 private:
  std::uint64_t h_ = 0xcbf29ce484222325ULL;  // offset basis
};

inline void Fnv1a::bytes(const void* data, std::size_t n) {
  const auto* b = static_cast<const unsigned char*>(data);
  for (std::size_t i = 0; i < n; ++i) h_ = (h_ ^ b[i]) * 0x100000001b3ULL;  // FNV prime
}

/// FNV-1a of the bytes of text (no length prefix).
inline std::uint64_t fnv1a(std::string_view text) {
  Fnv1a f;
  f.bytes(text.data(), text.size());
  return f.value();
}

}  // namespace synclab
