#include "real/launch/cluster_spec.hpp"

#include <fmt/format.h>

#include "core/common/error.hpp"

namespace synclab::real {
namespace {

std::vector<std::string> split_top_level(const std::string& s) {
  // Commas inside [...] belong to a range list, not to the outer list.
  std::vector<std::string> out;
  std::string cur;
  int depth = 0;
  for (char c : s) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) {
      if (!cur.empty()) out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

int parse_int(const std::string& key, const std::string& text) {
  try {
    std::size_t pos = 0;
    const int v = std::stoi(text, &pos);
    if (pos != text.size()) throw std::invalid_argument("trailing");
    return v;
  } catch (const std::exception&) {
    throw ConfigError(key, fmt::format("'{}' is not an integer", text));
  }
}

}  // namespace

std::string Endpoint::str() const { return fmt::format("{}:{}", host, port); }

Endpoint parse_endpoint(const std::string& key, const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    throw ConfigError(key, fmt::format("'{}' is not host:port", text));
  const int port = parse_int(key, text.substr(colon + 1));
  if (port < 1 || port > 65535) throw ConfigError(key, fmt::format("port {} out of range 1..65535", port));
  Endpoint e;
  e.host = text.substr(0, colon);
  if (e.host.size() > 2 && e.host.front() == '[' && e.host.back() == ']') e.host = e.host.substr(1, e.host.size() - 2);
  e.port = static_cast<std::uint16_t>(port);
  return e;
}

std::vector<Endpoint> parse_endpoints(const std::string& key, const std::string& text) {
  std::vector<Endpoint> out;
  for (const auto& part : split_top_level(text)) out.push_back(parse_endpoint(key, part));
  return out;
}

}  // namespace synclab::real
