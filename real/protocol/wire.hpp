#pragma once
// Little-endian encoding of fixed-width values into byte buffers and bounds-checked
// decoding out of them. Pure: no I/O, no allocation beyond the output vector.
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace synclab::real {

static_assert(std::endian::native == std::endian::little, "the wire format is little-endian; big-endian hosts need byte swaps");

/// Appends little-endian values to a growing byte vector.
class WireWriter {
 public:
  explicit WireWriter(std::vector<std::uint8_t>& out) : out_(out) {}
  void u8(std::uint8_t v) { out_.push_back(v); }
  void u16(std::uint16_t v) { raw(&v, sizeof v); }
  void u32(std::uint32_t v) { raw(&v, sizeof v); }
  void u64(std::uint64_t v) { raw(&v, sizeof v); }
  void i32(std::int32_t v) { raw(&v, sizeof v); }
  void i64(std::int64_t v) { raw(&v, sizeof v); }
  void f32(float v) { raw(&v, sizeof v); }
  void f64(double v) { raw(&v, sizeof v); }
  /// u16 length then the bytes; longer strings are a caller bug (throws std::length_error).
  void str(std::string_view s);
  /// u32 count then the floats.
  void floats(std::span<const float> v);
  void raw(const void* p, std::size_t n);

 private:
  std::vector<std::uint8_t>& out_;
};

/// Reads little-endian values from a byte span; every read checks the remaining size and
/// sets a sticky failure flag instead of reading past the end.
class WireReader {
 public:
  explicit WireReader(std::span<const std::uint8_t> in) : in_(in) {}
  std::uint8_t u8() { std::uint8_t v = 0; raw(&v, sizeof v); return v; }
  std::uint16_t u16() { std::uint16_t v = 0; raw(&v, sizeof v); return v; }
  std::uint32_t u32() { std::uint32_t v = 0; raw(&v, sizeof v); return v; }
  std::uint64_t u64() { std::uint64_t v = 0; raw(&v, sizeof v); return v; }
  std::int32_t i32() { std::int32_t v = 0; raw(&v, sizeof v); return v; }
  std::int64_t i64() { std::int64_t v = 0; raw(&v, sizeof v); return v; }
  float f32() { float v = 0; raw(&v, sizeof v); return v; }
  double f64() { double v = 0; raw(&v, sizeof v); return v; }
  /// A u16-length string of at most max_len bytes (longer: failure).
  std::string str(std::size_t max_len = 4096);
  /// A u32-count float array of at most max_count floats (more: failure, nothing allocated).
  std::vector<float> floats(std::size_t max_count);
  void raw(void* p, std::size_t n);
  bool ok() const { return ok_; }                       ///< false once any read ran short
  std::size_t remaining() const { return in_.size() - pos_; }
  /// True when everything was read and nothing is left over (trailing bytes are an error).
  bool done() const { return ok_ && pos_ == in_.size(); }

 private:
  std::span<const std::uint8_t> in_;
  std::size_t pos_ = 0;
  bool ok_ = true;
};

}  // namespace synclab::real
