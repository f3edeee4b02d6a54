#pragma once
// The command line shared by train, sim and launch: CONFIG [--set key=value]... [--out DIR].
#include <filesystem>
#include <string>
#include <vector>

#include <boost/program_options/options_description.hpp>

namespace synclab::app {

struct RunArgs {
  std::string config;                    ///< the run config file
  std::vector<std::string> overrides;    ///< --set a.b.c=value, in order
  std::string out;                       ///< --out DIR; empty = not given
  bool help = false;                     ///< --help was printed; the command should exit 0
};

/// Parses argv (argv[0] = the subcommand) with the shared options plus `extra` (whose
/// values the caller binds). On --help prints usage, description and options to stdout.
/// Throws ConfigError naming the flag on a bad command line or a missing CONFIG.
RunArgs parse_run_args(int argc, char** argv, const std::string& command, const std::string& description,
                       const boost::program_options::options_description& extra = {});

/// runs/<config stem>-<UTC yyyymmdd-hhmmss>, with -2, -3, ... when it already exists.
std::filesystem::path default_run_dir(const std::string& config_path);

}  // namespace synclab::app
