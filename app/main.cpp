// synclab: one binary, one subcommand per role. Dispatch only; each command lives in its file.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "app/commands.hpp"
#include "app/logging.hpp"
#include "core/common/error.hpp"

#ifndef SYNCLAB_VERSION
#define SYNCLAB_VERSION "unknown"
#endif

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* args;
  const char* summary;
};

constexpr Command kCommands[] = {
    {"train", synclab::app::cmd_train, "CONFIG [--set k=v]... [--out DIR]", "single-process training, no PS"},
    {"sim", synclab::app::cmd_sim, "CONFIG [--set k=v]... [--out DIR]", "one simulated run (SimGrid)"},
    {"launch", synclab::app::cmd_launch, "CONFIG [--set k=v]... [--out DIR]", "one real run (local processes, ssh hosts, srun or torchrun ranks)"},
    {"ps", synclab::app::cmd_ps, "CONFIG [...]", "parameter-server role of a real run"},
    {"worker", synclab::app::cmd_worker, "CONFIG --ps_hosts H:P [...]", "worker role of a real run"},
    {"sweep", synclab::app::cmd_sweep, "SWEEP [--jobs N] [--out DIR]", "many runs, with progress (or a Slurm job array)"},
    {"report", synclab::app::cmd_report, "DIR... [--out FILE.html]", "comparison report over run/sweep dirs"},
    {"calibrate", synclab::app::cmd_calibrate, "[...]", "measure this machine into a platform profile"},
};

constexpr const char* kLogLevelEnv = "SYNCLAB_LOG_LEVEL";

void usage(std::FILE* out) {
  std::size_t width = 0;
  for (const auto& c : kCommands) width = std::max(width, std::strlen(c.name) + 1 + std::strlen(c.args));
  std::fprintf(out, "usage: synclab [--log-level LEVEL] COMMAND [ARGS]   (synclab COMMAND --help for details)\n\ncommands:\n");
  for (const auto& c : kCommands) {
    const std::string head = std::string(c.name) + " " + c.args;
    std::fprintf(out, "  %-*s  %s\n", static_cast<int>(width), head.c_str(), c.summary);
  }
  std::fprintf(out,
               "\noptions (before or after COMMAND):\n"
               "  %-*s  %s\n  %-*s  %s\n  %-*s  %s\n",
               static_cast<int>(width), "--log-level LEVEL", "trace|debug|info|warn|error|off (default info, or $SYNCLAB_LOG_LEVEL)",
               static_cast<int>(width), "--version", "print the version and exit", static_cast<int>(width), "--help", "this text");
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The closest command within two edits (or the only one the text starts), else empty.
std::string suggestion(std::string_view typed) {
  std::string best;
  std::size_t best_d = 3;
  for (const auto& c : kCommands) {
    const std::size_t d = edit_distance(typed, c.name);
    if (d < best_d) {
      best_d = d;
      best = c.name;
    }
  }
  if (best.empty() && typed.size() >= 2) {
    for (const auto& c : kCommands) {
      if (std::string_view(c.name).rfind(typed, 0) != 0) continue;
      if (!best.empty()) return "";  // ambiguous prefix
      best = c.name;
    }
  }
  return best;
}

// Takes --log-level out of argv (wherever it is: subcommands do not know it) and returns
// its value, or "" when absent. Throws ConfigError on a missing value.
std::string take_log_level(int& argc, char** argv) {
  std::string value;
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string_view a = argv[i];
    if (a == "--") {  // everything after belongs to the command
      while (i < argc) argv[out++] = argv[i++];
      break;
    }
    if (a == "--log-level") {
      if (i + 1 >= argc) throw synclab::ConfigError("--log-level", "needs a value (trace, debug, info, warn, error, off)");
      value = argv[++i];
    } else if (a.rfind("--log-level=", 0) == 0) {
      value = std::string(a.substr(std::strlen("--log-level=")));
    } else {
      argv[out++] = argv[i];
    }
  }
  argc = out;
  argv[argc] = nullptr;
  return value;
}

std::string one_line(std::string text) {
  // The contract is one line per error, whatever library wrote the message.
  for (char& ch : text)
    if (ch == '\n' || ch == '\r') ch = ' ';
  return text;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    std::string level = take_log_level(argc, argv);
    if (level.empty()) {
      const char* env = std::getenv(kLogLevelEnv);
      level = env && *env ? env : "info";
    }
    synclab::app::init_logging(synclab::app::parse_log_level(level));
    // Child processes (launch's roles, sweep's runs) log at the same level.
    ::setenv(kLogLevelEnv, level.c_str(), 1);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "synclab: error: %s\n", one_line(e.what()).c_str());
    return 2;
  }
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    usage(stdout);
    return 0;
  }
  if (name == "--version" || name == "-V" || name == "version") {
    std::printf("synclab %s\n", SYNCLAB_VERSION);
    return 0;
  }
  for (const auto& c : kCommands) {
    if (name != c.name) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "synclab %s: error: %s\n", c.name, one_line(e.what()).c_str());
      return 1;
    }
  }
  const std::string hint = suggestion(name);
  if (!hint.empty())
    std::fprintf(stderr, "synclab: unknown command '%s'; did you mean '%s'? (synclab --help lists the commands)\n", argv[1], hint.c_str());
  else
    std::fprintf(stderr, "synclab: unknown command '%s' (synclab --help lists the commands)\n", argv[1]);
  return 2;
}
