#pragma once
// Run directories of a simulator test binary: one folder per process under the system's
// temporary folder, removed at exit (forked children leave through _exit and keep it).
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <system_error>

#include "core/config/run_config.hpp"
#include "sim/simulation.hpp"

namespace synclab::sim::testing {

/// This process's scratch folder for `tag` ("sim", "swcost", ...).
inline std::filesystem::path scratch_root(const std::string& tag) {
  return std::filesystem::temp_directory_path() / ("synclab-test-" + tag + "-" + std::to_string(::getpid()));
}

/// Removes scratch_root(tag) when destroyed; declare one per test binary at namespace scope.
struct ScratchCleanup {
  std::string tag;
  ~ScratchCleanup() {
    std::error_code ec;
    std::filesystem::remove_all(scratch_root(tag), ec);
  }
};

/// A fresh, empty run directory `name` under scratch_root(tag).
inline std::filesystem::path scratch(const std::string& tag, const std::string& name) {
  const std::filesystem::path dir = scratch_root(tag) / name;
  std::filesystem::remove_all(dir);
  return dir;
}

/// The whole content of a text file ("" when it cannot be read).
inline std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

/// Simulates `config` into `dir` with its log kept off the test's output (call it inside
/// run_in_child: one SimGrid engine per process).
inline void simulate_quietly(const RunConfig& config, const std::filesystem::path& dir) {
  std::ostringstream log;
  SimOptions options;
  options.log = &log;
  options.log_progress = false;
  simulate(config, dir, options);
}

}  // namespace synclab::sim::testing
