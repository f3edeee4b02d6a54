// synclab report: reads run and sweep directories, writes NAME.html (Vega charts inlined) and NAME.md.
#include <iostream>
#include <string>
#include <vector>

#include <boost/program_options.hpp>

#include "app/commands.hpp"
#include "core/common/error.hpp"
#include "experiments/recommendation.hpp"
#include "experiments/report_writer.hpp"

namespace po = boost::program_options;

namespace synclab::app {

int cmd_report(int argc, char** argv) {
  po::options_description opts("options");
  std::string out = "report.html", title, objective = "time";
  double target = -1;
  std::vector<std::string> dirs;
  opts.add_options()
      ("help,h", "show this help")
      ("out,o", po::value<std::string>(&out)->default_value(out), "HTML file to write; the Markdown summary goes beside it (.md)")
      ("target", po::value<double>(&target), "target test accuracy for time-to-target (default: 95% of the best final accuracy)")
      ("objective", po::value<std::string>(&objective)->default_value(objective),
       "what the recommendation optimises: time (to the target accuracy), accuracy (final), throughput, cost "
       "(bytes sent until the target)")
      ("title", po::value<std::string>(&title), "report title");
  po::options_description hidden;
  hidden.add_options()("dir", po::value<std::vector<std::string>>(&dirs));
  po::options_description all;
  all.add(opts).add(hidden);
  po::positional_options_description pos;
  pos.add("dir", -1);
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(all).positional(pos).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw Error(e.what());
  }
  if (vm.count("help")) {
    std::cout << "usage: synclab report DIR... [--out NAME.html] [--target ACC] [--objective NAME]\n\n"
                 "Compares runs: each DIR is a run directory or a sweep directory. Seeds of one config are\n"
                 "aggregated (mean and 95% interval). Writes one self-contained HTML file (Vega charts inlined,\n"
                 "opens offline) and NAME.md: a recommendation for the objective, accuracy and loss vs time\n"
                 "and vs updates, time to target, final accuracy, throughput, cost and its Pareto front,\n"
                 "staleness histograms, per-worker breakdown, sim-vs-real prediction errors.\n\n"
              << opts;
    return 0;
  }
  if (dirs.empty()) throw Error("missing DIR (synclab report --help)");
  const auto chosen = experiments::parse_objective(objective);
  if (!chosen) throw ConfigError("--objective", "must be time, accuracy, throughput or cost, got '" + objective + "'");
  if (vm.count("target") && (target <= 0 || target > 1)) throw ConfigError("--target", "must be in (0, 1]");
  experiments::ReportOptions ro;
  if (vm.count("target")) ro.target = target;
  if (!title.empty()) ro.title = title;
  std::vector<std::filesystem::path> inputs(dirs.begin(), dirs.end());
  const auto model = experiments::build_report_model(inputs, ro);
  for (const auto& r : model.runs)
    for (const auto& w : r.warnings) std::cerr << "report: warning: " << r.name << ": " << w << "\n";
  for (const auto& f : model.failed)
    if (f.status == "unreadable") std::cerr << "report: warning: " << f.name << " is left out, unreadable: " << f.error << "\n";
  const auto files = experiments::write_report(model, out, *chosen);
  std::cerr << "report: " << model.runs.size() << " runs, " << model.groups.size() << " configs; markdown: "
            << files.markdown.string() << "\n";
  std::cout << files.html.string() << "\n";
  return 0;
}

}  // namespace synclab::app
