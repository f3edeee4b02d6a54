#pragma once
// Map keys of user YAML as names: a key that is itself a map or a list ({a: 1}: x) is a
// config error naming where it is, not a yaml-cpp "bad conversion" without context.
#include <string>

#include <yaml-cpp/yaml.h>

#include "core/common/error.hpp"

namespace synclab {

/// The key as a string; throws ConfigError(where, ...) unless it is a scalar.
inline std::string yaml_key(const YAML::Node& key, const std::string& where) {
  if (!key.IsScalar())
    throw ConfigError(where.empty() ? "config" : where,
                      "a key must be a name, got a " + std::string(key.IsMap() ? "map" : key.IsSequence() ? "list" : "null"));
  return key.Scalar();
}

}  // namespace synclab
