// synclab sim: one simulated run of a config (SimGrid) into a run directory.
#include <iostream>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "app/commands.hpp"
#include "app/logging.hpp"
#include "app/run_args.hpp"
#include "core/common/error.hpp"
#include "core/config/run_config.hpp"
#include "sim/simulation.hpp"

namespace po = boost::program_options;

namespace synclab::app {

int cmd_sim(int argc, char** argv) {
  // Our options are parsed before SimGrid sees anything: its Engine would otherwise take
  // --help for itself. SimGrid settings reach it only through --cfg.
  sim::SimOptions options;
  po::options_description extra("simulator options");
  extra.add_options()(
      "cfg", po::value<std::vector<std::string>>(&options.simgrid_settings)->composing(),
      "SimGrid setting key:value, applied after synclab's exact network model (repeatable), e.g. "
      "--cfg network/model:LV08 for SimGrid's TCP-calibrated model")(
      "time-quantum", po::value<double>(&options.time_quantum)->default_value(0.0),
      "round every step time to a multiple of this many simulated seconds (0 = exact); speeds up "
      "runs of thousands of workers that saturate a PS link");
  const RunArgs args = parse_run_args(
      argc, argv, "sim",
      "Simulates one run of the config on SimGrid: one actor per worker, parameter-server shards\n"
      "on their own hosts, compute time from the cost model and the GPU profile, transfers through\n"
      "SimGrid's network model (exact M/B + L by default). sim.mode full computes real gradients;\n"
      "timing skips the math. Writes a run directory (times are simulated seconds) and prints it.\n"
      "Exit status 1 with a reason on a bad config, a deadlock or a policy error.",
      extra);
  if (args.help) return 0;
  if (!(options.time_quantum >= 0)) throw ConfigError("--time-quantum", "must not be negative");
  const RunConfig config = load_run_config(args.config, args.overrides);
  const std::filesystem::path dir = args.out.empty() ? default_run_dir(args.config) : std::filesystem::path(args.out);
  spdlog::info("sim: {} ({} mode), {} workers, {} server(s), policy {}; run directory {}", config.model, config.sim.mode,
               config.cluster.workers, config.cluster.servers, config.policy.name, dir.string());
  LogStream log;
  options.log = &log;
  const RunSummary s = sim::simulate(config, dir, options);
  spdlog::info("sim: stopped on {} after {} updates, {:.3f} simulated s{}", s.stop_reason, s.updates, s.time_s,
               config.sim.mode == "full" ? fmt::format(": test accuracy {:.4f}, loss {:.4f}", s.final_test_accuracy, s.final_test_loss) : "");
  std::cout << dir.string() << "\n";
  return 0;
}

}  // namespace synclab::app
