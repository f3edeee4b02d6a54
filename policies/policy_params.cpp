#include "policies/policy_params.hpp"

#include <cerrno>
#include <cmath>
#include <cstdlib>

#include "core/common/error.hpp"
#include "core/config/units.hpp"

namespace synclab {

namespace {
std::string key_of(const std::string& key) { return "policy." + key; }
}  // namespace

long long PolicyParams::integer(const std::string& key, long long def, long long lo, long long hi) {
  known_.insert(key);
  auto it = spec_.params.find(key);
  if (it == spec_.params.end()) return def;
  const std::string& text = it->second;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(text.c_str(), &end, 10);
  if (text.empty() || errno != 0 || *end != '\0')
    throw ConfigError(key_of(key), "expected an integer, got '" + text + "'");
  if (v < lo || v > hi)
    throw ConfigError(key_of(key), "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + text);
  return v;
}

double PolicyParams::real(const std::string& key, double def, double lo, double hi) {
  known_.insert(key);
  auto it = spec_.params.find(key);
  if (it == spec_.params.end()) return def;
  const std::string& text = it->second;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v))
    throw ConfigError(key_of(key), "expected a number, got '" + text + "'");
  if (v < lo || v > hi)
    throw ConfigError(key_of(key), "must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + text);
  return v;
}

double PolicyParams::seconds(const std::string& key, double def) {
  known_.insert(key);
  auto it = spec_.params.find(key);
  if (it == spec_.params.end()) return def;
  const double v = parse_duration(key_of(key), it->second);
  if (!(v >= 0) || !std::isfinite(v)) throw ConfigError(key_of(key), "must be a non-negative duration, got '" + it->second + "'");
  return v;
}

std::string PolicyParams::choice(const std::string& key, const std::string& def, const std::vector<std::string>& choices) {
  known_.insert(key);
  auto it = spec_.params.find(key);
  if (it == spec_.params.end()) return def;
  for (const auto& c : choices)
    if (c == it->second) return c;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : "|") + c;
  throw ConfigError(key_of(key), "expected " + list + ", got '" + it->second + "'");
}

void PolicyParams::finish() const {
  for (const auto& [key, value] : spec_.params) {
    if (known_.count(key)) continue;
    std::string list;
    for (const auto& k : known_) list += (list.empty() ? "" : ", ") + k;
    throw ConfigError(key_of(key), "unknown parameter of policy '" + spec_.name + "' (known: " + (list.empty() ? "none" : list) + ")");
  }
}

}  // namespace synclab
