// Hand-encoded protobuf, field numbers from TensorFlow's public schema:
//   tensorflow/core/util/event.proto:        Event { double wall_time = 1; int64 step = 2;
//                                             string file_version = 3; Summary summary = 5; }
//   tensorflow/core/framework/summary.proto: Summary { repeated Value value = 1; }
//                                            Summary.Value { string tag = 1; float simple_value = 2; }
// Protobuf wire format: each field is a varint key (field number << 3 | wire type) followed by
// a varint (type 0), 8 little-endian bytes (type 1), a varint length and the bytes (type 2) or
// 4 little-endian bytes (type 5). Four fields do not justify a libprotobuf dependency in the
// core; the test reads the files back with protoc-generated Python code.
#include "core/run/tb_events.hpp"

#include <array>
#include <bit>
#include <cerrno>
#include <cstring>

#include "core/common/error.hpp"

namespace synclab {

namespace {

constexpr std::array<std::uint32_t, 256> make_crc_table() {
  std::array<std::uint32_t, 256> t{};
  for (std::uint32_t i = 0; i < 256; ++i) {
    std::uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr auto kCrcTable = make_crc_table();

void put_varint(std::string& out, std::uint64_t v) {
  while (v >= 0x80) {
    out.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  out.push_back(static_cast<char>(v));
}

template <typename T>
void put_le(std::string& out, T v) {
  static_assert(std::endian::native == std::endian::little, "event files are little-endian; add a byte swap");
  char b[sizeof(T)];
  std::memcpy(b, &v, sizeof(T));
  out.append(b, sizeof(T));
}

void put_key(std::string& out, int field, int wire_type) { put_varint(out, static_cast<std::uint64_t>(field << 3 | wire_type)); }

void put_bytes(std::string& out, int field, std::string_view bytes) {
  put_key(out, field, 2);
  put_varint(out, bytes.size());
  out.append(bytes);
}

std::string event_head(double wall_time, std::int64_t step) {
  std::string e;
  put_key(e, 1, 1);
  put_le(e, wall_time);
  if (step != 0) {  // proto3 leaves default values out
    put_key(e, 2, 0);
    put_varint(e, static_cast<std::uint64_t>(step));
  }
  return e;
}

}  // namespace

std::uint32_t crc32c(std::string_view data) {
  std::uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : data) c = kCrcTable[(c ^ b) & 0xff] ^ (c >> 8);
  return c ^ 0xFFFFFFFFu;
}

std::uint32_t masked_crc32c(std::string_view data) {
  const std::uint32_t c = crc32c(data);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::string tfrecord(std::string_view data) {
  std::string len;
  put_le(len, static_cast<std::uint64_t>(data.size()));
  std::string out = len;
  put_le(out, masked_crc32c(len));
  out.append(data);
  put_le(out, masked_crc32c(data));
  return out;
}

std::string encode_version_event(double wall_time, const std::string& file_version) {
  std::string e = event_head(wall_time, 0);
  put_bytes(e, 3, file_version);
  return e;
}

std::string encode_scalar_event(double wall_time, std::int64_t step, const std::vector<std::pair<std::string, float>>& scalars) {
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string v;
    put_bytes(v, 1, tag);
    put_key(v, 2, 5);
    put_le(v, value);
    put_bytes(summary, 1, v);
  }
  std::string e = event_head(wall_time, step);
  put_bytes(e, 5, summary);
  return e;
}

EventFileWriter::EventFileWriter(const std::filesystem::path& path)
    : path_(path), out_(path, std::ios::binary | std::ios::trunc) {
  if (!out_) throw Error(path.string() + ": cannot create: " + std::strerror(errno));
  out_ << tfrecord(encode_version_event(0.0, "brain.Event:2"));
}

void EventFileWriter::scalars(double wall_time, std::int64_t step, const std::vector<std::pair<std::string, float>>& values) {
  out_ << tfrecord(encode_scalar_event(wall_time, step, values));
}

void EventFileWriter::flush() {
  out_.flush();
  if (!out_) throw Error(path_.string() + ": write failed");
}

}  // namespace synclab
