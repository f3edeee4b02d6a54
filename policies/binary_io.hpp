#pragma once
// Little helpers for the binary checkpoint streams of ServerCore and the policies.
// Values are written in host byte order (every supported target is little-endian).
#include <cstdint>
#include <istream>
#include <ostream>
#include <string>
#include <type_traits>
#include <vector>

#include "core/common/error.hpp"

namespace synclab::bin {

/// Writes a trivially copyable value.
template <class T>
void put(std::ostream& out, const T& value) {
  static_assert(std::is_trivially_copyable_v<T>);
  out.write(reinterpret_cast<const char*>(&value), sizeof(T));
}

/// Reads a trivially copyable value; Error("checkpoint: truncated ...") when the stream ends.
template <class T>
T get(std::istream& in, const char* what) {
  static_assert(std::is_trivially_copyable_v<T>);
  T value{};
  if (!in.read(reinterpret_cast<char*>(&value), sizeof(T))) throw Error(std::string("checkpoint: truncated at ") + what);
  return value;
}

void put_string(std::ostream& out, const std::string& s);
std::string get_string(std::istream& in, const char* what);
void put_floats(std::ostream& out, const std::vector<float>& v);
std::vector<float> get_floats(std::istream& in, const char* what);
template <class T>
void put_vector(std::ostream& out, const std::vector<T>& v) {
  put<std::uint64_t>(out, v.size());
  for (const T& x : v) put(out, x);
}
template <class T>
std::vector<T> get_vector(std::istream& in, const char* what) {
  const auto n = get<std::uint64_t>(in, what);
  if (n > (1ULL << 32)) throw Error(std::string("checkpoint: implausible length at ") + what);
  std::vector<T> v(n);
  for (auto& x : v) x = get<T>(in, what);
  return v;
}
/// Reads a tag written with put_string and throws Error when it differs (wrong policy/format).
void expect_tag(std::istream& in, const std::string& tag);

}  // namespace synclab::bin
