#include "real/protocol/wire.hpp"

#include <limits>
#include <stdexcept>

namespace synclab::real {

void WireWriter::raw(const void* p, std::size_t n) {
  const auto* b = static_cast<const std::uint8_t*>(p);
  out_.insert(out_.end(), b, b + n);
}

void WireWriter::str(std::string_view s) {
  if (s.size() > std::numeric_limits<std::uint16_t>::max()) throw std::length_error("wire string longer than 65535 bytes");
  u16(static_cast<std::uint16_t>(s.size()));
  raw(s.data(), s.size());
}

void WireWriter::floats(std::span<const float> v) {
  if (v.size() > std::numeric_limits<std::uint32_t>::max()) throw std::length_error("wire float array too long");
  u32(static_cast<std::uint32_t>(v.size()));
  raw(v.data(), v.size_bytes());
}

void WireReader::raw(void* p, std::size_t n) {
  if (!ok_ || n > remaining()) {
    ok_ = false;
    std::memset(p, 0, n);
    return;
  }
  std::memcpy(p, in_.data() + pos_, n);
  pos_ += n;
}

std::string WireReader::str(std::size_t max_len) {
  const std::size_t n = u16();
  if (!ok_ || n > max_len || n > remaining()) {
    ok_ = false;
    return {};
  }
  std::string s(reinterpret_cast<const char*>(in_.data() + pos_), n);
  pos_ += n;
  return s;
}

std::vector<float> WireReader::floats(std::size_t max_count) {
  const std::size_t n = u32();
  // Check the claimed count against both the limit and the bytes actually present before
  // allocating, so a lying count cannot make us allocate.
  if (!ok_ || n > max_count || n > remaining() / sizeof(float)) {
    ok_ = false;
    return {};
  }
  std::vector<float> v(n);
  if (n > 0) std::memcpy(v.data(), in_.data() + pos_, n * sizeof(float));  // data() may be null when empty
  pos_ += n * sizeof(float);
  return v;
}

}  // namespace synclab::real
