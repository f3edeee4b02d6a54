// synclab: one binary, one subcommand per role. Dispatch only; each command lives in its file.
#include <cstdio>
#include <cstring>
#include <exception>
#include <string>
#include <string_view>

#include "app/commands.hpp"
#include "core/common/error.hpp"

namespace {

struct Command {
  const char* name;
  int (*run)(int, char**);
  const char* summary;
};

constexpr Command kCommands[] = {
    {"train", synclab::app::cmd_train, "CONFIG [--set k=v]... [--out DIR]   single-process training, no PS"},
    {"sim", synclab::app::cmd_sim, "CONFIG [--set k=v]... [--out DIR]     one simulated run (SimGrid)"},
    {"launch", synclab::app::cmd_launch, "CONFIG [--set k=v]... [--out DIR]  one real run (local processes by default)"},
    {"ps", synclab::app::cmd_ps, "[...]                                   parameter-server role of a real run"},
    {"worker", synclab::app::cmd_worker, "[...]                               worker role of a real run"},
    {"sweep", synclab::app::cmd_sweep, "SWEEP [--jobs N] [--out DIR]         many runs, with progress"},
    {"report", synclab::app::cmd_report, "DIR... [--out FILE.html]           comparison report over run/sweep dirs"},
    {"calibrate", synclab::app::cmd_calibrate, "[...]                            measure this machine into a platform profile"},
};

void usage(std::FILE* out) {
  std::fprintf(out, "usage: synclab COMMAND [ARGS]   (synclab COMMAND --help for details)\n\ncommands:\n");
  for (const auto& c : kCommands) std::fprintf(out, "  %-10s %s\n", c.name, c.summary);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(stderr);
    return 2;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    usage(stdout);
    return 0;
  }
  for (const auto& c : kCommands) {
    if (name != c.name) continue;
    try {
      return c.run(argc - 1, argv + 1);
    } catch (const std::exception& e) {
      // The contract is one line per error, whatever library wrote the message.
      std::string what = e.what();
      for (char& ch : what) {
        if (ch == '\n' || ch == '\r') ch = ' ';
      }
      std::fprintf(stderr, "synclab %s: error: %s\n", c.name, what.c_str());
      return 1;
    }
  }
  std::fprintf(stderr, "synclab: unknown command '%s' (try synclab --help)\n", argv[1]);
  return 2;
}
