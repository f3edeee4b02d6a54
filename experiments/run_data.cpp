#include "experiments/run_data.hpp"

#include <algorithm>
#include <fstream>

#include "core/common/error.hpp"
#include "experiments/csv.hpp"
#include "experiments/sweep_spec.hpp"

namespace synclab::experiments {
namespace fs = std::filesystem;

namespace {

bool is_run_dir(const fs::path& p) { return fs::is_regular_file(p / "summary.json"); }

void flatten_into(const YAML::Node& node, const std::string& prefix, std::map<std::string, std::string>& out) {
  if (node.IsMap()) {
    for (auto it = node.begin(); it != node.end(); ++it) {
      const auto k = it->first.as<std::string>();
      flatten_into(it->second, prefix.empty() ? k : prefix + "." + k, out);
    }
    if (node.size() == 0 && !prefix.empty()) out[prefix] = "{}";
  } else {
    out[prefix] = value_text(node);
  }
}

double to_double(const std::string& s, const fs::path& file, std::size_t line) {
  try {
    std::size_t used = 0;
    const double v = std::stod(s, &used);
    return v;
  } catch (const std::exception&) {
    throw Error(file.string() + ":" + std::to_string(line) + ": '" + s + "' is not a number");
  }
}

std::vector<EvalPoint> read_evals(const fs::path& file) {
  std::vector<EvalPoint> out;
  if (!fs::exists(file)) return out;
  const auto t = read_csv(file);
  const int ct = t.column("time_s"), cu = t.column("update"), cs = t.column("samples"), cl = t.column("test_loss"),
            ca = t.column("test_accuracy");
  if (ct < 0 || cu < 0 || ca < 0) throw Error(file.string() + ": header lacks time_s, update or test_accuracy");
  std::size_t line = 1;
  for (const auto& r : t.rows) {
    ++line;
    auto at = [&](int c) { return c >= 0 && static_cast<std::size_t>(c) < r.size() ? r[static_cast<std::size_t>(c)] : std::string("0"); };
    EvalPoint p;
    p.time_s = to_double(at(ct), file, line);
    p.update = static_cast<std::uint64_t>(to_double(at(cu), file, line));
    p.samples = static_cast<std::uint64_t>(to_double(at(cs), file, line));
    p.test_loss = to_double(at(cl), file, line);
    p.test_accuracy = to_double(at(ca), file, line);
    out.push_back(p);
  }
  return out;
}

// updates.csv can hold hundreds of thousands of rows: stream it, keep only the histogram.
std::map<std::int64_t, std::uint64_t> read_staleness(const fs::path& file) {
  std::map<std::int64_t, std::uint64_t> hist;
  std::ifstream in(file);
  if (!in) return hist;
  std::string line;
  if (!std::getline(in, line)) return hist;
  const auto header = split_csv_line(line);
  const auto it = std::find(header.begin(), header.end(), "staleness");
  if (it == header.end()) throw Error(file.string() + ": header lacks staleness");
  const auto col = static_cast<std::size_t>(it - header.begin());
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    // Fields are plain numbers: find the column by counting commas, no allocation per row.
    std::size_t start = 0;
    for (std::size_t c = 0; c < col && start != std::string::npos; ++c) {
      start = line.find(',', start);
      if (start != std::string::npos) ++start;
    }
    if (start == std::string::npos) continue;
    ++hist[std::strtoll(line.c_str() + start, nullptr, 10)];
  }
  return hist;
}

void find_runs(const fs::path& dir, int depth, std::vector<fs::path>& out) {
  std::vector<fs::path> subs;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_directory()) subs.push_back(e.path());
  std::sort(subs.begin(), subs.end());
  for (const auto& s : subs) {
    if (is_run_dir(s)) out.push_back(s);
    else if (depth > 1) find_runs(s, depth - 1, out);
  }
}

}  // namespace

double RunData::number(const char* key, double fallback) const {
  return summary.contains(key) && summary[key].is_number() ? summary[key].get<double>() : fallback;
}

std::map<std::string, std::string> flatten_yaml(const YAML::Node& node) {
  std::map<std::string, std::string> out;
  if (node && node.IsMap()) flatten_into(node, "", out);
  return out;
}

Discovery discover_runs(const std::vector<fs::path>& inputs) {
  Discovery d;
  for (const auto& in : inputs) {
    if (!fs::is_directory(in)) throw Error(in.string() + ": no such directory");
    if (is_run_dir(in)) {
      d.runs.push_back(in);
      continue;
    }
    const auto before = d.runs.size();
    find_runs(in, 2, d.runs);
    if (fs::exists(in / "index.csv")) {
      const auto t = read_csv(in / "index.csv");
      const int cr = t.column("run"), cs = t.column("status"), ce = t.column("error");
      // Keep the sweep's own order (its expansion order) rather than the alphabetical one.
      std::map<std::string, std::size_t> position;
      for (std::size_t i = 0; i < t.rows.size(); ++i)
        if (cr >= 0 && static_cast<std::size_t>(cr) < t.rows[i].size()) position[t.rows[i][static_cast<std::size_t>(cr)]] = i;
      std::stable_sort(d.runs.begin() + static_cast<std::ptrdiff_t>(before), d.runs.end(), [&](const fs::path& a, const fs::path& b) {
        const auto pa = position.find(a.filename().string()), pb = position.find(b.filename().string());
        return (pa == position.end() ? t.rows.size() : pa->second) < (pb == position.end() ? t.rows.size() : pb->second);
      });
      for (const auto& r : t.rows) {
        if (cr < 0 || cs < 0 || static_cast<std::size_t>(std::max(cr, cs)) >= r.size()) continue;
        const auto& status = r[static_cast<std::size_t>(cs)];
        if (status == "ok") continue;
        FailedRun f;
        f.name = in.filename().string() + "/" + r[static_cast<std::size_t>(cr)];
        f.status = status;
        if (ce >= 0 && static_cast<std::size_t>(ce) < r.size()) f.error = r[static_cast<std::size_t>(ce)];
        d.failed.push_back(f);
      }
    }
    if (d.runs.size() == before && d.failed.empty())
      throw Error(in.string() + ": holds no run directory (no summary.json here or below)");
  }
  if (d.runs.empty()) throw Error("no finished run (summary.json) in the given directories");
  return d;
}

RunData load_run(const fs::path& dir, const std::string& name) {
  RunData r;
  r.dir = dir;
  r.name = name;
  const auto sp = dir / "summary.json";
  try {
    r.summary = nlohmann::json::parse(read_text(sp));
  } catch (const nlohmann::json::exception& e) {
    throw Error(sp.string() + ": invalid JSON: " + e.what());
  }
  if (!r.summary.is_object()) throw Error(sp.string() + ": not a JSON object");
  r.backend = r.summary.value("backend", std::string("?"));
  if (fs::exists(dir / "config.yaml")) {
    try {
      r.config = flatten_yaml(YAML::LoadFile((dir / "config.yaml").string()));
    } catch (const YAML::Exception& e) {
      throw Error((dir / "config.yaml").string() + ": invalid YAML: " + e.msg);
    }
  }
  r.evals = read_evals(dir / "evals.csv");
  r.staleness_counts = read_staleness(dir / "updates.csv");
  r.train_loss = read_train_loss(dir / "updates.csv");
  // Backends may nest their extra fields under "extra" or write them at the top level;
  // `per_worker` (same entry fields) is accepted as another name for `workers_breakdown`.
  const nlohmann::json* wb = nullptr;
  for (const char* field : {"workers_breakdown", "per_worker"}) {
    if (wb) break;
    if (r.summary.contains(field)) wb = &r.summary[field];
    else if (r.summary.contains("extra") && r.summary["extra"].is_object() && r.summary["extra"].contains(field))
      wb = &r.summary["extra"][field];
  }
  if (wb && wb->is_array()) {
    for (const auto& w : *wb) {
      if (!w.is_object()) continue;
      WorkerBreakdown b;
      b.worker = w.value("worker", static_cast<int>(r.breakdown.size()));
      b.compute_s = w.value("compute_s", 0.0);
      b.wait_s = w.value("wait_s", 0.0);
      b.communicate_s = w.value("communicate_s", 0.0);
      r.breakdown.push_back(b);
    }
  }
  return r;
}

}  // namespace synclab::experiments
