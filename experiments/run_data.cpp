#include "experiments/run_data.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "core/run/run_writer.hpp"
#include "experiments/csv.hpp"
#include "experiments/sweep_spec.hpp"

namespace synclab::experiments {
namespace fs = std::filesystem;

bool parse_number(const std::string& text, double& out) {
  const char* b = text.data();
  const char* e = b + text.size();
  while (b < e && (*b == ' ' || *b == '\t')) ++b;
  while (e > b && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r')) --e;
  if (b == e) return false;
  const auto [ptr, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && ptr == e;
}


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

bool parse_count(const std::string& text, std::uint64_t& out) {
  double d = 0;
  if (!parse_number(text, d) || !(d >= 0) || d != std::floor(d) || d > 9.0e15) return false;
  out = static_cast<std::uint64_t>(d);
  return true;
}

// Counts the malformed rows of one CSV file and turns them into one warning.
class BadRows {
 public:
  explicit BadRows(fs::path file) : file_(std::move(file)) {}
  void add(std::size_t line) {
    if (lines_.size() < 5) lines_.push_back(line);
    ++count_;
  }
  void report(std::vector<std::string>& warnings) const {
    if (count_ == 0) return;
    std::string list;
    for (const auto l : lines_) list += (list.empty() ? "" : ", ") + std::to_string(l);
    warnings.push_back(fmt::format("{}: skipped {} malformed row{} (line{} {}{})", file_.string(), count_, count_ == 1 ? "" : "s",
                                   lines_.size() == 1 ? "" : "s", list, count_ > lines_.size() ? ", ..." : ""));
  }
 private:
  fs::path file_;
  std::vector<std::size_t> lines_;
  std::size_t count_ = 0;
};

std::vector<EvalPoint> read_evals(const fs::path& file, std::vector<std::string>& warnings) {
  std::vector<EvalPoint> out;
  std::ifstream in(file);
  if (!in) return out;
  std::string line;
  if (!std::getline(in, line)) return out;
  const auto header = split_csv_line(line);
  auto column = [&](const char* name) {
    const auto it = std::find(header.begin(), header.end(), name);
    return it == header.end() ? -1 : static_cast<int>(it - header.begin());
  };
  const int ct = column("time_s"), cu = column("update"), cs = column("samples"), cl = column("test_loss"),
            ca = column("test_accuracy");
  if (ct < 0 || cu < 0 || ca < 0) throw Error(file.string() + ": header lacks time_s, update or test_accuracy");
  BadRows bad(file);
  std::size_t number = 1;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line == "\r") continue;
    const auto fields = split_csv_line(line);
    auto field = [&](int c) -> const std::string* {
      return c >= 0 && static_cast<std::size_t>(c) < fields.size() ? &fields[static_cast<std::size_t>(c)] : nullptr;
    };
    EvalPoint p;
    const bool ok = fields.size() == header.size() && parse_number(*field(ct), p.time_s) && p.time_s >= 0 &&
                    parse_count(*field(cu), p.update) && (cs < 0 || parse_count(*field(cs), p.samples)) &&
                    (cl < 0 || parse_number(*field(cl), p.test_loss)) && parse_number(*field(ca), p.test_accuracy) &&
                    p.test_accuracy >= 0 && p.test_accuracy <= 1;
    if (ok) out.push_back(p);
    else bad.add(number);
  }
  bad.report(warnings);
  return out;
}

// updates.csv can hold hundreds of thousands of rows: stream it, keep only the histogram.
std::map<std::int64_t, std::uint64_t> read_staleness(const fs::path& file, std::vector<std::string>& warnings) {
  std::map<std::int64_t, std::uint64_t> hist;
  std::ifstream in(file);
  if (!in) return hist;
  std::string line;
  if (!std::getline(in, line)) return hist;
  const auto header = split_csv_line(line);
  const auto it = std::find(header.begin(), header.end(), "staleness");
  if (it == header.end()) throw Error(file.string() + ": header lacks staleness");
  const auto col = static_cast<std::size_t>(it - header.begin());
  BadRows bad(file);
  std::size_t number = 1;
  while (std::getline(in, line)) {
    ++number;
    if (line.empty() || line == "\r") continue;
    // Fields are plain numbers: find the column by counting commas, no allocation per row.
    std::size_t start = 0, commas = 0;
    for (std::size_t c = 0; c < col && start != std::string::npos; ++c) {
      start = line.find(',', start);
      if (start != std::string::npos) ++start;
    }
    for (const char ch : line) commas += ch == ',' ? 1 : 0;
    std::int64_t staleness = 0;
    bool ok = start != std::string::npos && commas + 1 == header.size();
    if (ok) {
      std::size_t end = line.find(',', start);
      if (end == std::string::npos) end = line.size();
      if (end > start && line[end - 1] == '\r') --end;
      const auto [ptr, ec] = std::from_chars(line.data() + start, line.data() + end, staleness);
      ok = ec == std::errc() && ptr == line.data() + end && end > start;
    }
    if (ok) ++hist[staleness];
    else bad.add(number);
  }
  bad.report(warnings);
  return hist;
}

// Why a run directory with a summary.json holds a failed run, or "" when it does not:
// backends write the summary also when the run fails (stop_reason failed, deadlock, error).
std::string summary_failure(const fs::path& dir) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text(dir / "summary.json"));
  } catch (const std::exception&) {
    return "";  // load_run names the file and what is wrong with it
  }
  if (!j.is_object()) return "";
  const auto reason = j.value("stop_reason", std::string());
  if (!is_failure_stop_reason(reason)) return "";
  std::string why = j.value("error", std::string());
  if (why.empty() && j.contains("extra") && j["extra"].is_object()) why = j["extra"].value("error", std::string());
  return "stop_reason " + reason + (why.empty() ? "" : ": " + why);
}

// The note a failed run that wrote a summary gets in the report: it is kept out of every
// comparison, and this says so.
std::string left_out_note(const fs::path& dir) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(read_text(dir / "summary.json"));
  } catch (const std::exception&) {
    return " (not compared)";
  }
  const auto updates = j.is_object() && j.contains("updates") && j["updates"].is_number() ? j["updates"].get<double>() : 0.0;
  return fmt::format(" (summary.json after {:.0f} updates; not compared)", updates);
}

// The summary fields every report needs (the run is unreadable without them) and the ones
// it can do without (left out, with a warning).
enum class Want { Number, String, NumberOrNull };

const char* want_text(Want w) {
  switch (w) {
    case Want::Number: return "a number";
    case Want::String: return "a string";
    case Want::NumberOrNull: return "a number or null";
  }
  return "?";
}

bool has_type(const nlohmann::json& v, Want w) {
  switch (w) {
    case Want::Number: return v.is_number();
    case Want::String: return v.is_string();
    case Want::NumberOrNull: return v.is_number() || v.is_null();
  }
  return false;
}

std::string json_excerpt(const nlohmann::json& v) {
  std::string t = v.dump();
  if (t.size() > 40) t = t.substr(0, 37) + "...";
  return std::string(v.type_name()) + " " + t;
}

void validate_summary(nlohmann::json& summary, const fs::path& file, std::vector<std::string>& warnings) {
  struct Field {
    const char* name;
    Want want;
    bool required;
  };
  static const Field fields[] = {
      {"backend", Want::String, true},          {"policy", Want::String, true},
      {"updates", Want::Number, true},          {"time_s", Want::Number, true},
      {"final_test_accuracy", Want::Number, true}, {"samples", Want::Number, false},
      {"workers", Want::Number, false},         {"mean_staleness", Want::Number, false},
      {"max_staleness", Want::Number, false},   {"bytes_sent", Want::Number, false},
      {"final_test_loss", Want::NumberOrNull, false}, {"stop_reason", Want::String, false},
  };
  for (const auto& f : fields) {
    const bool present = summary.contains(f.name);
    if (present && has_type(summary[f.name], f.want)) continue;
    const std::string what = present ? fmt::format("'{}' is {}, expected {}", f.name, json_excerpt(summary[f.name]), want_text(f.want))
                                     : fmt::format("'{}' is missing", f.name);
    if (f.required) throw Error(fmt::format("{}: {}", file.string(), what));
    warnings.push_back(fmt::format("{}: {}; left out of the report", file.string(), what));
    summary.erase(f.name);
  }
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
      if (const auto why = summary_failure(in); !why.empty()) d.failed.push_back({in.filename().string(), "failed", why + left_out_note(in)});
      else d.runs.push_back(in);
      continue;
    }
    const auto before = d.runs.size();
    find_runs(in, 2, d.runs);
    std::map<std::string, std::string> index_status;  // run folder -> status in index.csv
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
        index_status[r[static_cast<std::size_t>(cr)]] = status;
        if (status == "ok") continue;
        FailedRun f;
        f.name = in.filename().string() + "/" + r[static_cast<std::size_t>(cr)];
        f.status = status;
        if (ce >= 0 && static_cast<std::size_t>(ce) < r.size()) f.error = r[static_cast<std::size_t>(ce)];
        if (is_run_dir(in / r[static_cast<std::size_t>(cr)])) f.error += left_out_note(in / r[static_cast<std::size_t>(cr)]);
        d.failed.push_back(f);
      }
    }
    // A run the index calls failed (its child exited non-zero after writing summary.json)
    // or whose summary records a failure is listed with the failures, never compared.
    for (auto it = d.runs.begin() + static_cast<std::ptrdiff_t>(before); it != d.runs.end();) {
      const auto st = index_status.find(it->filename().string());
      if (st != index_status.end() && st->second != "ok") {
        it = d.runs.erase(it);
      } else if (const auto why = summary_failure(*it); !why.empty()) {
        const auto parent = it->parent_path().filename().string();
        d.failed.push_back({parent + "/" + it->filename().string(), "failed", why + left_out_note(*it)});
        it = d.runs.erase(it);
      } else {
        ++it;
      }
    }
    if (d.runs.size() == before && d.failed.empty())
      throw Error(in.string() + ": holds no run directory (no summary.json here or below)");
  }
  if (d.runs.empty()) {
    if (!d.failed.empty())
      throw Error(fmt::format("no successful run in the given directories ({} failed or unfinished, e.g. {}: {})",
                              d.failed.size(), d.failed.front().name, d.failed.front().error));
    throw Error("no finished run (summary.json) in the given directories");
  }
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
  validate_summary(r.summary, sp, r.warnings);
  r.backend = r.summary["backend"].get<std::string>();
  if (fs::exists(dir / "config.yaml")) {
    try {
      r.config = flatten_yaml(YAML::LoadFile((dir / "config.yaml").string()));
    } catch (const YAML::Exception& e) {
      throw Error((dir / "config.yaml").string() + ": invalid YAML: " + e.msg);
    }
  }
  r.evals = read_evals(dir / "evals.csv", r.warnings);
  r.staleness_counts = read_staleness(dir / "updates.csv", r.warnings);
  r.train_loss = read_train_loss(dir / "updates.csv");
  // Every backend writes the breakdown as `per_worker` (docs/run-directory.md); a summary
  // written by another tool may nest it under "extra".
  const nlohmann::json* wb = nullptr;
  if (r.summary.contains("per_worker")) wb = &r.summary["per_worker"];
  else if (r.summary.contains("extra") && r.summary["extra"].is_object() && r.summary["extra"].contains("per_worker"))
    wb = &r.summary["extra"]["per_worker"];
  if (wb && !wb->is_array()) {
    r.warnings.push_back(fmt::format("{}: the per-worker breakdown is {}, expected a list; left out of the report", sp.string(),
                                     json_excerpt(*wb)));
  } else if (wb) {
    std::size_t bad = 0;
    for (const auto& w : *wb) {
      auto num = [&](const char* k) { return w.contains(k) && w[k].is_number(); };
      if (!w.is_object() || !num("compute_s") || !num("wait_s") || !num("communicate_s") ||
          (w.contains("worker") && !w["worker"].is_number_integer())) {
        ++bad;
        continue;
      }
      WorkerBreakdown b;
      b.worker = w.value("worker", static_cast<int>(r.breakdown.size()));
      b.compute_s = w["compute_s"].get<double>();
      b.wait_s = w["wait_s"].get<double>();
      b.communicate_s = w["communicate_s"].get<double>();
      r.breakdown.push_back(b);
    }
    if (bad > 0)
      r.warnings.push_back(fmt::format("{}: {} per-worker breakdown entr{} lack numeric compute_s, wait_s and communicate_s; left out",
                                       sp.string(), bad, bad == 1 ? "y" : "ies"));
  }
  return r;
}

}  // namespace synclab::experiments
