#include "policies/binary_io.hpp"

namespace synclab::bin {

void put_string(std::ostream& out, const std::string& s) {
  put<std::uint64_t>(out, s.size());
  out.write(s.data(), static_cast<std::streamsize>(s.size()));
}

std::string get_string(std::istream& in, const char* what) {
  const auto n = get<std::uint64_t>(in, what);
  if (n > (1ULL << 20)) throw Error(std::string("checkpoint: implausible string length at ") + what);
  std::string s(n, '\0');
  if (!in.read(s.data(), static_cast<std::streamsize>(n))) throw Error(std::string("checkpoint: truncated at ") + what);
  return s;
}

void put_floats(std::ostream& out, const std::vector<float>& v) {
  put<std::uint64_t>(out, v.size());
  out.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
}

std::vector<float> get_floats(std::istream& in, const char* what) {
  const auto n = get<std::uint64_t>(in, what);
  if (n > (1ULL << 34)) throw Error(std::string("checkpoint: implausible length at ") + what);
  std::vector<float> v(n);
  if (!in.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(float))))
    throw Error(std::string("checkpoint: truncated at ") + what);
  return v;
}

void expect_tag(std::istream& in, const std::string& tag) {
  const std::string got = get_string(in, tag.c_str());
  if (got != tag) throw Error("checkpoint: expected section '" + tag + "', found '" + got + "'");
}

}  // namespace synclab::bin
