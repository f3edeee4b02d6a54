#pragma once
// The run-config schema as one table: every key with its type, default, range and meaning.
// The loader validates and resolves against it; docs/config.md's key table is generated
// from it (config_keys_markdown), and a test keeps the two identical.
#include <string>
#include <string_view>
#include <vector>

namespace synclab {

enum class KeyType {
  Int,        ///< integer, range-checked
  Count,      ///< non-negative integer
  Real,       ///< floating point, range-checked
  String,     ///< free text
  Path,       ///< a file or directory; relative paths resolve from the config file's folder
  Choice,     ///< one of ConfigKey::choices ("a|b|c")
  Bandwidth,  ///< "10Gbps", "100MB/s", bare number = bytes/s
  Duration,   ///< "50us", "2ms", "1min", bare number = seconds
  IntList,    ///< list of integers, each in range
  RealList,   ///< list of numbers, each in range
  StringList, ///< list of strings
  Gpu,        ///< a profile name or a map {profile, precision, flops, efficiency}
  Failures,   ///< list of {worker, at}
};

struct ConfigKey {
  const char* key;            ///< dotted path, e.g. "cluster.link.bandwidth"
  KeyType type;
  const char* def;            ///< default as YAML text; "" = derived (see help)
  double lo, hi;              ///< inclusive numeric range (lists: per element)
  bool lo_open;               ///< true: the value must be strictly greater than lo
  const char* choices;        ///< Choice only: alternatives separated by '|'
  const char* help;           ///< one line for docs and error messages
  const char* alias_of;       ///< non-null: another spelling of that key, never written back
};

/// The whole schema, in the order config.yaml is written.
const std::vector<ConfigKey>& config_schema();

/// The entry for a dotted key, or nullptr.
const ConfigKey* find_config_key(std::string_view key);

/// Sections whose scalar children are free-form (policy parameters).
bool is_open_section(std::string_view key);

/// True for keys that name a file or directory (KeyType::Path).
bool is_path_key(std::string_view key);

/// Human words for a type ("integer", "bandwidth", ...), used in error messages and docs.
std::string type_name(KeyType type);

/// The allowed range or alternatives of a key as short text ("> 0", "[0, 1)", "iid | noniid").
std::string range_text(const ConfigKey& key);

/// The Markdown table of every key (header included), as docs/config.md holds it.
std::string config_keys_markdown();

}  // namespace synclab
