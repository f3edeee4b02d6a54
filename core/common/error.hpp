#pragma once
// Errors that reach the user as one line: what failed and, where known, which key/file/peer.
#include <stdexcept>
#include <string>

namespace synclab {

/// Base of every error synclab reports to the user; what() is a single line.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// A bad config value or CLI flag; the message starts with the offending key ("train.lr: ...").
class ConfigError : public Error {
 public:
  ConfigError(const std::string& key, const std::string& what) : Error(key + ": " + what), key_(key) {}
  const std::string& key() const { return key_; }  ///< Dotted config key, e.g. "cluster.link.bandwidth".
 private:
  std::string key_;
};

/// A dataset or other input file that is missing, truncated or corrupt; names the file.
class DataError : public Error {
 public:
  DataError(const std::string& file, const std::string& what) : Error(file + ": " + what) {}
};

}  // namespace synclab
