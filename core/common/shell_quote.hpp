#pragma once
// Quoting for POSIX shells: the command lines synclab writes (ssh, sbatch scripts).
#include <string>

namespace synclab {

/// `s` as one single-quoted shell word, embedded single quotes escaped ('\'').
inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') out.append("'\\''");
    else out.push_back(c);
  }
  out.push_back('\'');
  return out;
}

}  // namespace synclab
