// Unit parsing for config values: a number, optional spaces, optional unit suffix.
#include <cmath>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/common/error.hpp"
#include "core/config/units.hpp"

namespace synclab {

namespace {

// value * mul / div: dividing for sub-units keeps "50us" exactly 5e-05 (50 * 1e-6 is not).
struct Unit {
  std::string_view suffix;
  double mul;
  double div = 1;
};

// Splits "10Gbps" into 10 and "Gbps"; the number must be finite.
std::pair<double, std::string> split_number(const std::string& key, const std::string& text, const char* expected) {
  const char* begin = text.c_str();
  while (*begin == ' ') ++begin;
  char* end = nullptr;
  const double value = std::strtod(begin, &end);
  if (end == begin || !std::isfinite(value)) {
    throw ConfigError(key, "'" + text + "' is not " + expected);
  }
  std::string unit(end);
  while (!unit.empty() && unit.front() == ' ') unit.erase(unit.begin());
  while (!unit.empty() && unit.back() == ' ') unit.pop_back();
  return {value, unit};
}

double with_unit(const std::string& key, const std::string& text, const std::vector<Unit>& units, const char* expected) {
  const auto [value, unit] = split_number(key, text, expected);
  if (unit.empty()) return value;
  for (const auto& u : units) {
    if (unit == u.suffix) return value * u.mul / u.div;
  }
  std::string known;
  for (const auto& u : units) known += (known.empty() ? "" : ", ") + std::string(u.suffix);
  throw ConfigError(key, "unknown unit '" + unit + "' in '" + text + "' (expected " + expected + "; units: " + known + ")");
}

}  // namespace

double parse_bandwidth(const std::string& key, const std::string& text) {
  // Network rates are decimal (1 Gbps = 1e9 bit/s); lowercase b is bits, uppercase B bytes.
  static const std::vector<Unit> units = {
      {"bps", 1, 8},    {"Kbps", 1e3, 8},  {"kbps", 1e3, 8},   {"Mbps", 1e6, 8},    {"Gbps", 1e9, 8},
      {"Tbps", 1e12, 8}, {"bit/s", 1, 8},  {"Kbit/s", 1e3, 8}, {"Mbit/s", 1e6, 8},  {"Gbit/s", 1e9, 8},
      {"Bps", 1},       {"KBps", 1e3},     {"kBps", 1e3},      {"MBps", 1e6},       {"GBps", 1e9},
      {"TBps", 1e12},   {"B/s", 1},        {"KB/s", 1e3},      {"kB/s", 1e3},       {"MB/s", 1e6},
      {"GB/s", 1e9},    {"TB/s", 1e12}};
  return with_unit(key, text, units, "a bandwidth like 10Gbps, 100MBps or bytes/s");
}

double parse_duration(const std::string& key, const std::string& text) {
  static const std::vector<Unit> units = {{"ns", 1, 1e9}, {"us", 1, 1e6}, {"ms", 1, 1e3}, {"s", 1},
                                          {"sec", 1},   {"min", 60},   {"h", 3600}};
  return with_unit(key, text, units, "a duration like 50us, 2ms, 3s or seconds");
}

double parse_bytes(const std::string& key, const std::string& text) {
  static const std::vector<Unit> units = {{"B", 1},         {"KB", 1e3},          {"kB", 1e3},
                                          {"MB", 1e6},      {"GB", 1e9},          {"TB", 1e12},
                                          {"KiB", 1024.0},  {"MiB", 1048576.0},   {"GiB", 1073741824.0}};
  return with_unit(key, text, units, "a size like 13MB, 512KiB or bytes");
}

}  // namespace synclab
