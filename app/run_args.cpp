// Shared CLI parsing for the commands that run one config.
#include "app/run_args.hpp"

#include <ctime>
#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "core/common/error.hpp"

namespace po = boost::program_options;

namespace synclab::app {

RunArgs parse_run_args(int argc, char** argv, const std::string& command, const std::string& description,
                       const po::options_description& extra) {
  RunArgs args;
  po::options_description opts("options");
  opts.add_options()
      ("help,h", "show this help")
      ("set,s", po::value<std::vector<std::string>>(&args.overrides)->composing(), "override a config key: --set a.b.c=value (repeatable)")
      ("out,o", po::value<std::string>(&args.out), "run directory (default: runs/<config name>-<UTC time>)");
  if (!extra.options().empty()) opts.add(extra);
  po::options_description hidden;
  hidden.add_options()("config", po::value<std::string>(&args.config));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("config", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::too_many_positional_options_error&) {
    throw ConfigError(command, "takes one CONFIG file (see synclab " + command + " --help)");
  } catch (const po::error& e) {
    throw ConfigError(command, std::string(e.what()) + " (see synclab " + command + " --help)");
  }
  if (vm.count("help")) {
    std::cout << "usage: synclab " << command << " CONFIG [--set key=value]... [--out DIR]\n\n"
              << description << "\n\n" << opts << "\nConfig keys: docs/config.md.\n";
    args.help = true;
    return args;
  }
  if (args.config.empty()) throw ConfigError(command, "missing CONFIG file (see synclab " + command + " --help)");
  return args;
}

std::filesystem::path default_run_dir(const std::string& config_path) {
  const std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &utc);
  const std::string stem = std::filesystem::path(config_path).stem().string();
  const std::filesystem::path base = std::filesystem::path("runs") / fmt::format("{}-{}", stem.empty() ? "run" : stem, stamp);
  auto dir = base;
  for (int i = 2; std::filesystem::exists(dir); ++i) dir = fmt::format("{}-{}", base.string(), i);
  return dir;
}

}  // namespace synclab::app
