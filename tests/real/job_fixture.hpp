#pragma once
// Helpers for loopback tests of the real executor: temporary run folders, configs, and
// synclab child processes that are always reaped (ChildProcess kills on destruction).
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/run/child_process.hpp"

namespace synclab::real::test {

inline std::filesystem::path temp_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / ("synclab-real-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

inline std::filesystem::path write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream(file) << text;
  return file;
}

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline nlohmann::json read_json(const std::filesystem::path& file) { return nlohmann::json::parse(read_text(file)); }

/// Small job: softmax on 6000 Fashion-MNIST samples, 1000 test samples.
inline std::string small_config(const std::string& policy_yaml, int workers, int updates, const std::string& extra = "") {
  return "model: softmax\n"
         "data: {dataset: fashion-mnist, batch: 50, train_limit: 6000, test_limit: 1000}\n"
         "train: {optimizer: {name: sgd, lr: 0.1}, stop: {updates: " + std::to_string(updates) + "}, eval_every: 100, seed: 7}\n"
         "policy: " + policy_yaml + "\n"
         "cluster: {workers: " + std::to_string(workers) + ", servers: 1}\n"
         "real: {timeout: 10s, heartbeat: 200ms, frame_timeout: 5s}\n" + extra;
}

/// The binary under test: $SYNCLAB_TEST_BIN when set (to run these tests against another
/// build, e.g. to show a test fails without a fix), else the one built here.
inline std::string synclab_bin() {
  const char* other = std::getenv("SYNCLAB_TEST_BIN");
  return other && *other ? other : SYNCLAB_BIN;
}

/// The job token of test jobs (128 bits, as synclab requires of a user-supplied token).
inline const std::string kTestToken = "3f9c1e7a5b2d4c6e8a0f1b3d5c7e9a2b";

/// Starts `synclab args...` with SYNCLAB_TOKEN=token, output to log.
inline std::unique_ptr<ChildProcess> spawn(const std::string& name, std::vector<std::string> args, const std::filesystem::path& log,
                                           const std::string& token = kTestToken, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), synclab_bin());
  env["SYNCLAB_TOKEN"] = token;
  return std::make_unique<ChildProcess>(name, args, env, log);
}

/// A TCP port that was free a moment ago (bound to port 0, then released).
int free_port();

#ifndef SYNCLAB_TEST_TIMEOUT_SCALE
#define SYNCLAB_TEST_TIMEOUT_SCALE 1
#endif
/// A test's wait bound in this build: `seconds` times the factor sanitizer builds run
/// slower by (tests/CMakeLists.txt, the same factor that scales CTest's time limits).
inline double scaled_seconds(double seconds) { return seconds * SYNCLAB_TEST_TIMEOUT_SCALE; }

/// Waits up to `seconds` (scaled) for the child to end; returns its description ("exit 0")
/// or "timeout".
inline std::string wait_for(ChildProcess& c, double seconds) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(scaled_seconds(seconds));
  while (std::chrono::steady_clock::now() < until) {
    if (c.poll()) return c.describe();
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  c.terminate(1.0);
  return "timeout";
}

/// Waits for a PS port file; 0 when the PS died or 30 s (scaled) passed.
inline int wait_for_port(const std::filesystem::path& file, ChildProcess& ps) {
  for (int i = 0; i < 1500 * SYNCLAB_TEST_TIMEOUT_SCALE; ++i) {
    std::ifstream in(file);
    int port = 0;
    if (in >> port && port > 0) return port;
    if (ps.poll()) return 0;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return 0;
}

/// Waits up to `seconds` (scaled) for `text` to appear in a log file (a process logs after acting).
inline bool log_shows(const std::filesystem::path& file, const std::string& text, double seconds = 5) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(scaled_seconds(seconds));
  do {
    if (read_text(file).find(text) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

/// Data rows of a CSV (header excluded).
inline std::vector<std::string> csv_rows(const std::filesystem::path& file) {
  std::vector<std::string> rows;
  std::ifstream in(file);
  std::string line;
  std::getline(in, line);
  while (std::getline(in, line))
    if (!line.empty()) rows.push_back(line);
  return rows;
}

}  // namespace synclab::real::test
