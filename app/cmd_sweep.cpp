// synclab sweep: expands a sweep file and runs it as child processes of this binary.
#include <iostream>
#include <string>

#include <boost/program_options.hpp>
#include <fmt/format.h>

#include "app/commands.hpp"
#include "app/logging.hpp"
#include "core/common/error.hpp"
#include "core/run/child_process.hpp"
#include "experiments/sweep_runner.hpp"
#include "experiments/sweep_slurm.hpp"

namespace po = boost::program_options;

namespace synclab::app {

namespace {

void parse_shard(const std::string& text, experiments::SweepOptions& opt) {
  const auto slash = text.find('/');
  try {
    if (slash == std::string::npos) throw std::invalid_argument(text);
    opt.shard_index = std::stoi(text.substr(0, slash));
    opt.shard_count = std::stoi(text.substr(slash + 1));
  } catch (const std::exception&) {
    throw ConfigError("--shard", "'" + text + "' is not of the form i/n");
  }
}

}  // namespace

int cmd_sweep(int argc, char** argv) {
  po::options_description opts("options");
  std::string sweep_file, out, shard;
  std::vector<std::string> sbatch_args;
  int jobs = 0, shards = 0, cpus = 0;
  opts.add_options()
      ("help,h", "show this help")
      ("jobs,j", po::value<int>(&jobs)->default_value(0), "parallel simulated runs (0 = all cores); real runs go one at a time")
      ("out,o", po::value<std::string>(&out), "sweep directory (default: runs/<sweep name>)")
      ("list", "print the expanded runs and exit")
      ("merge", "only rebuild index.csv from the run directories on disk (after Slurm shards)")
      ("shard", po::value<std::string>(&shard), "run only shard i/n of the runs (index % n == i)")
      ("emit-slurm", "write sweep.sbatch (a job array) and submit.sh into the sweep directory, run nothing")
      ("shards", po::value<int>(&shards)->default_value(0), "array tasks for --emit-slurm (default: min(runs, 64))")
      ("cpus-per-task", po::value<int>(&cpus)->default_value(4), "CPUs per array task for --emit-slurm")
      ("sbatch-arg", po::value<std::vector<std::string>>(&sbatch_args)->composing(),
       "extra sbatch option for --emit-slurm, e.g. --sbatch-arg=--qos=short (repeatable; after the sweep file's slurm:)");
  po::options_description hidden;
  hidden.add_options()("sweep", po::value<std::string>(&sweep_file));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("sweep", 1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw Error(e.what());
  }
  if (vm.count("help")) {
    std::cout << "usage: synclab sweep SWEEP.yaml [--jobs N] [--out DIR] [--shard i/n | --merge | --emit-slurm]\n\n"
                 "Runs every combination of a sweep file (base:/config:, merge:, set:, grid:, zip:, seeds:,\n"
                 "backend:, timeout:) as `synclab sim|launch|train` child processes, one run directory each,\n"
                 "and writes index.csv. Runs that succeeded are not redone; a failed run is recorded with\n"
                 "its error, the sweep goes on, and a rerun tries it again. One sweep per --out at a time (a\n"
                 "second is refused with the first's pid). Progress (done/total, failures, ETA) on stderr.\n"
                 "Exit code 0 when every run succeeded, 3 when some failed.\n\n"
              << opts;
    return 0;
  }
  if (sweep_file.empty()) throw Error("missing SWEEP file (synclab sweep --help)");
  if (!sbatch_args.empty() && !vm.count("emit-slurm")) throw ConfigError("--sbatch-arg", "only with --emit-slurm");
  const auto spec = experiments::load_sweep(sweep_file);
  experiments::SweepOptions opt;
  opt.jobs = jobs;
  opt.out = out.empty() ? std::filesystem::path("runs") / spec.name : std::filesystem::path(out);
  if (jobs < 0) throw ConfigError("--jobs", "must be >= 0");
  if (!shard.empty()) parse_shard(shard, opt);
  const auto runs = experiments::expand_sweep(spec);
  if (vm.count("list")) {
    for (const auto& r : runs) std::cout << r.backend << "  " << r.name << "\n";
    return 0;
  }
  if (vm.count("emit-slurm")) {
    const int n = shards > 0 ? shards : static_cast<int>(std::min<std::size_t>(runs.size(), 64));
    experiments::SlurmScriptOptions so;
    so.shards = n;
    so.cpus_per_task = cpus;
    so.program = self_executable();
    so.sbatch_args = sbatch_args;
    const auto script = experiments::emit_slurm(spec, opt.out, so);
    std::cout << "wrote " << script.string() << " (" << n << " array tasks over " << runs.size()
              << " runs); submit with: bash " << (opt.out / "submit.sh").string() << "\n";
    return 0;
  }
  if (vm.count("merge")) {
    std::filesystem::create_directories(opt.out);
    experiments::write_index(runs, spec, opt.out);
    std::cout << (opt.out / "index.csv").string() << "\n";
    return 0;
  }
  const auto res = experiments::run_sweep(spec, opt);
  spdlog::info("sweep {}: {} runs, {} ran, {} cached, {} failed; index: {}", spec.name, res.total, res.ran, res.cached, res.failed,
               (opt.out / "index.csv").string());
  return res.failed ? 3 : 0;
}

}  // namespace synclab::app
