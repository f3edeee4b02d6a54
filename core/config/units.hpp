#pragma once
// Unit parsing of config values ("10Gbps", "250ms", "64MiB"), for the run config and every
// other reader of config text (policy parameters, sweep files). Bare numbers are SI base
// units; a malformed value throws ConfigError naming `key`.
#include <string>

namespace synclab {

double parse_bandwidth(const std::string& key, const std::string& text);  ///< -> bytes/s
double parse_duration(const std::string& key, const std::string& text);   ///< -> seconds
double parse_bytes(const std::string& key, const std::string& text);      ///< -> bytes

}  // namespace synclab
