// synclab train: single-process training of one config into a run directory.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <iostream>

#include <fmt/format.h>

#include "app/commands.hpp"
#include "app/logging.hpp"
#include "app/run_args.hpp"
#include "core/config/run_config.hpp"
#include "core/run/train_loop.hpp"

namespace synclab::app {

namespace {
std::atomic<bool> g_interrupted{false};
extern "C" void on_interrupt(int) { g_interrupted.store(true); }
}  // namespace

int cmd_train(int argc, char** argv) {
  const RunArgs args = parse_run_args(
      argc, argv, "train",
      "Trains one model in this process (no parameter server, no policy) with the config's\n"
      "data, optimizer and stop limits, and writes a run directory: config.yaml, updates.csv,\n"
      "evals.csv, summary.json (backend \"train\"). Progress goes to stderr.");
  if (args.help) return 0;
  const RunConfig config = load_run_config(args.config, args.overrides);
  const std::filesystem::path dir = args.out.empty() ? default_run_dir(args.config) : std::filesystem::path(args.out);
  TrainOptions options;
  options.live_progress = isatty(STDERR_FILENO) != 0;
  // Ctrl-C ends the run cleanly: the run directory still gets its final evaluation and summary.
  options.cancel = &g_interrupted;
  std::signal(SIGINT, on_interrupt);
  std::signal(SIGTERM, on_interrupt);
  // On a terminal the progress line redraws itself in place; elsewhere it is logged line by line.
  LogStream log;
  if (!options.live_progress) options.log = &log;
  const RunSummary s = train_run(config, dir, options);
  spdlog::info("train: stopped ({}) after {} updates in {:.1f}s: test accuracy {:.4f}, loss {:.4f}", s.stop_reason, s.updates,
               s.time_s, s.final_test_accuracy, s.final_test_loss);
  std::cout << dir.string() << "\n";
  return s.stop_reason == "interrupted" ? 130 : 0;
}

}  // namespace synclab::app
