#include "experiments/report_model.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "core/config/run_config.hpp"
#include "experiments/seed_stats.hpp"

namespace synclab::experiments {
namespace fs = std::filesystem;

namespace {

Spread spread(const std::vector<double>& v) { return make_spread(v); }

bool starts_with(const std::string& s, const std::string& p) { return s.starts_with(p); }

std::string short_key(const std::string& key) {
  const auto pos = key.rfind('.');
  return pos == std::string::npos ? key : key.substr(pos + 1);
}

double final_accuracy(const RunData& r) {
  if (r.summary.contains("final_test_accuracy") && r.summary["final_test_accuracy"].is_number())
    return r.summary["final_test_accuracy"].get<double>();
  return r.evals.empty() ? 0.0 : r.evals.back().test_accuracy;
}

// Train loss: per-update means are noisy (one batch each), so each seed's curve is averaged
// over windows of updates (about 60 per run) before the seeds are combined window by window.
void aggregate_train_loss(RunGroup& g) {
  std::uint64_t last = 0;
  for (const auto* r : g.runs)
    if (!r->train_loss.empty()) last = std::max(last, r->train_loss.back().update);
  if (last == 0) return;
  const std::uint64_t width = std::max<std::uint64_t>(1, (last + 59) / 60);
  std::map<std::uint64_t, std::vector<double>> loss_by_window, time_by_window;
  for (const auto* r : g.runs) {
    std::map<std::uint64_t, std::pair<double, std::size_t>> sum;  // window -> (loss sum, count)
    std::map<std::uint64_t, double> end_time;
    for (const auto& p : r->train_loss) {
      const auto w = (p.update + width - 1) / width;
      sum[w].first += p.loss;
      ++sum[w].second;
      end_time[w] = p.time_s;
    }
    for (const auto& [w, s] : sum) {
      loss_by_window[w].push_back(s.first / static_cast<double>(s.second));
      time_by_window[w].push_back(end_time[w]);
    }
  }
  for (const auto& [w, losses] : loss_by_window) {
    const auto l = spread(losses);
    g.train_loss.push_back({std::min(w * width, last), spread(time_by_window[w]).mean, l.mean, l.lo, l.hi});
  }
}

void aggregate(RunGroup& g) {
  // Curves: evaluations are matched across seeds by update count (eval_every is shared).
  std::map<std::uint64_t, std::vector<const EvalPoint*>> by_update;
  for (const auto* r : g.runs)
    for (const auto& e : r->evals) by_update[e.update].push_back(&e);
  for (const auto& [u, pts] : by_update) {
    CurvePoint c;
    c.update = u;
    std::vector<double> acc, loss, t;
    for (const auto* p : pts) {
      acc.push_back(p->test_accuracy);
      loss.push_back(p->test_loss);
      t.push_back(p->time_s);
    }
    const auto a = spread(acc), l = spread(loss);
    c.acc_mean = a.mean;
    c.acc_min = a.min;
    c.acc_max = a.max;
    c.acc_lo = a.lo;
    c.acc_hi = a.hi;
    c.loss_mean = l.mean;
    c.loss_lo = l.lo;
    c.loss_hi = l.hi;
    c.seeds = pts.size();
    c.time_s = spread(t).mean;
    g.curve.push_back(c);
  }
  aggregate_train_loss(g);
  std::vector<double> fa, fl, ts, ups, sps, upd, ms, mx, bytes, ws;
  std::uint64_t total_applied = 0;
  std::map<std::int64_t, std::uint64_t> hist;
  std::map<int, std::vector<WorkerBreakdown>> per_worker;
  for (const auto* r : g.runs) {
    fa.push_back(final_accuracy(*r));
    fl.push_back(r->number("final_test_loss", r->evals.empty() ? 0.0 : r->evals.back().test_loss));
    const double t = r->number("time_s");
    ts.push_back(t);
    bytes.push_back(r->number("bytes_sent"));
    ws.push_back(r->number("workers") * t);
    ups.push_back(t > 0 ? r->number("updates") / t : 0.0);
    sps.push_back(t > 0 ? r->number("samples") / t : 0.0);
    upd.push_back(r->number("updates"));
    ms.push_back(r->number("mean_staleness"));
    mx.push_back(r->number("max_staleness"));
    for (const auto& [s, n] : r->staleness_counts) {
      hist[s] += n;
      total_applied += n;
    }
    for (const auto& b : r->breakdown) per_worker[b.worker].push_back(b);
  }
  g.final_accuracy = spread(fa);
  g.final_loss = spread(fl);
  g.bytes_sent = spread(bytes);
  g.worker_seconds = spread(ws);
  g.time_s = spread(ts);
  g.updates_per_s = spread(ups);
  g.samples_per_s = spread(sps);
  g.updates = spread(upd).mean;
  g.mean_staleness = spread(ms).mean;
  g.max_staleness = spread(mx).max;
  for (const auto& [s, n] : hist)
    g.staleness_fraction[s] = static_cast<double>(n) / static_cast<double>(std::max<std::uint64_t>(1, total_applied));
  for (const auto& [w, list] : per_worker) {
    WorkerBreakdown m;
    m.worker = w;
    for (const auto& b : list) {
      m.compute_s += b.compute_s / static_cast<double>(list.size());
      m.wait_s += b.wait_s / static_cast<double>(list.size());
      m.communicate_s += b.communicate_s / static_cast<double>(list.size());
    }
    g.breakdown.push_back(m);
  }
}

void apply_target(RunGroup& g, double target) {
  std::vector<double> times, updates, bytes;
  for (const auto* r : g.runs) {
    const auto hit = first_at_target(*r, target);
    if (!hit) continue;
    times.push_back(hit->time_s);
    updates.push_back(static_cast<double>(hit->update));
    // Bytes move at a steady rate per update: pro-rate the run's total to the update that hit.
    const double total_updates = r->number("updates");
    bytes.push_back(total_updates > 0 ? r->number("bytes_sent") * std::min(1.0, static_cast<double>(hit->update) / total_updates)
                                      : r->number("bytes_sent"));
  }
  g.reached = times.size();
  g.fastest_to_target.reset();
  if (!times.empty()) g.fastest_to_target = *std::min_element(times.begin(), times.end());
  g.time_to_target.reset();
  g.updates_to_target.reset();
  g.tta.reset();
  g.bytes_to_target.reset();
  if (!g.runs.empty() && times.size() == g.runs.size()) {
    g.tta = spread(times);
    g.time_to_target = g.tta->mean;
    g.updates_to_target = spread(updates).mean;
    g.bytes_to_target = spread(bytes);
  }
}

// Config values as people write them: bandwidths in bit/s with a prefix, durations in s/ms/us.
std::string display_value(const std::string& key, const std::string& value) {
  char* end = nullptr;
  const double v = std::strtod(value.c_str(), &end);
  if (value.empty() || end != value.c_str() + value.size()) return value;
  const auto k = short_key(key);
  if (k == "bandwidth") {
    const double bits = v * 8;
    if (bits >= 1e9) return fmt::format("{:g}Gbps", bits / 1e9);
    if (bits >= 1e6) return fmt::format("{:g}Mbps", bits / 1e6);
    return fmt::format("{:g}bps", bits);
  }
  if (k == "latency" || k == "mean" || k == "period" || k == "duration" || k == "timeout") {
    if (v == 0 || v >= 1) return fmt::format("{:g}s", v);
    if (v >= 1e-3) return fmt::format("{:g}ms", v * 1e3);
    return fmt::format("{:g}us", v * 1e6);
  }
  return value;
}

// The key as a label shows it: its last part, or as many last parts as tell it apart from
// the other shown keys ("straggler.workers" beside "workers").
std::string label_key(const std::string& key, const std::vector<std::string>& keys) {
  std::size_t pos = key.rfind('.');
  while (pos != std::string::npos && pos > 0) {
    const std::string tail = key.substr(pos);  // ".workers"
    const bool shared = std::any_of(keys.begin(), keys.end(), [&](const std::string& k) {
      return k != key && (k.ends_with(tail) || "." + k == tail);
    });
    if (!shared) break;
    pos = key.rfind('.', pos - 1);
  }
  return pos == std::string::npos ? key : key.substr(pos + 1);
}

std::string make_label(const RunGroup& g, const std::vector<std::string>& keys, bool with_backend,
                       const std::string& skip = "") {
  std::string label;
  for (const auto& k : keys) {
    const auto it = g.config.find(k);
    if (k == skip || it == g.config.end()) continue;
    const bool name_only = short_key(k) == "name" || k == "model";
    if (!label.empty()) label += ' ';
    if (!name_only) label.append(label_key(k, keys)).append("=");
    label += display_value(k, it->second);
  }
  if (with_backend) label = g.backend + (label.empty() ? "" : ": " + label);
  return label;
}

// Labels name only what differs between groups, so a policy sweep reads "bsp", "ssp staleness=2".
std::vector<std::string> label_groups(std::vector<RunGroup>& groups) {
  std::set<std::string> keys;
  for (const auto& g : groups)
    for (const auto& [k, v] : g.config) keys.insert(k);
  std::vector<std::string> varying;
  for (const auto& k : keys) {
    std::set<std::string> vals;
    for (const auto& g : groups) {
      const auto it = g.config.find(k);
      vals.insert(it == g.config.end() ? std::string("\x01") : it->second);
    }
    if (vals.size() > 1) varying.push_back(k);
  }
  // The policy (name, then its parameters) first, then the rest in key order: the most
  // telling part leads.
  std::stable_partition(varying.begin(), varying.end(), [](const std::string& k) { return k.starts_with("policy."); });
  std::stable_partition(varying.begin(), varying.end(), [](const std::string& k) { return k == "policy.name"; });
  std::set<std::string> backends;
  for (const auto& g : groups) backends.insert(g.backend);
  // Sim-vs-real pairs differ in machine keys too; once the backend is in the label those
  // keys only add noise, unless nothing else tells the groups apart.
  std::vector<std::string> shown;
  for (const auto& k : varying)
    if (!(backends.size() > 1 && is_backend_specific(k))) shown.push_back(k);
  std::vector<const std::map<std::string, std::string>*> configs;
  for (const auto& g : groups) configs.push_back(&g.config);
  shown = without_implied_keys(configs, shown);
  std::map<std::string, std::vector<RunGroup*>> by_label;
  for (auto& g : groups) {
    auto label = make_label(g, shown, backends.size() > 1);
    if (label.empty()) label = g.runs.empty() ? "run" : (g.runs.front()->summary.value("policy", std::string("run")));
    g.label = label;
    by_label[label].push_back(&g);
  }
  // Groups told apart only by a hidden key (one real run simulated under two network
  // models) name it: "sim: bsp [sim.network=packet]"; a number only where nothing differs.
  std::map<std::string, int> used;
  for (auto& [label, same] : by_label) {
    if (same.size() < 2) continue;
    std::set<std::string> hidden;
    for (const auto* g : same)
      for (const auto& [k, v] : g->config)
        for (const auto* other : same) {
          const auto it = other->config.find(k);
          if (it == other->config.end() || it->second != v) hidden.insert(k);
        }
    for (auto* g : same) {
      std::string which;
      for (const auto& k : hidden) {
        const auto it = g->config.find(k);
        which += (which.empty() ? "" : ", ") + k + "=" + (it == g->config.end() ? std::string("-") : it->second);
      }
      g->label += which.empty() ? "" : " [" + which + "]";
    }
  }
  for (auto& g : groups)
    if (++used[g.label] > 1) g.label += fmt::format(" #{}", used[g.label]);
  return shown;
}

// A swept numeric key (workers, bandwidth, ...) with at least three values becomes the x axis
// of a throughput chart; every other difference between groups makes the series.
std::optional<NumericAxis> find_numeric_axis(const std::vector<RunGroup>& groups, const std::vector<std::string>& shown) {
  std::set<std::string> backends;
  for (const auto& g : groups) backends.insert(g.backend);
  for (const auto& k : shown) {
    if (k.starts_with("policy.")) continue;
    NumericAxis axis;
    axis.key = k;
    std::set<double> distinct;
    bool ok = true;
    for (const auto& g : groups) {
      const auto it = g.config.find(k);
      char* end = nullptr;
      const double v = it == g.config.end() ? 0 : std::strtod(it->second.c_str(), &end);
      if (it == g.config.end() || it->second.empty() || end != it->second.c_str() + it->second.size()) {
        ok = false;
        break;
      }
      // Bandwidths are stored in bytes/s; show them in bit/s like the config is written.
      const bool bits = short_key(k) == "bandwidth";
      const double x = bits ? v * 8 / 1e9 : v;
      distinct.insert(x);
      axis.points.push_back({make_label(g, shown, backends.size() > 1, k), x, g.samples_per_s.mean,
                             g.samples_per_s.min, g.samples_per_s.max});
      axis.title = bits ? k + " (Gbit/s)" : k + " (value)";
      if (short_key(k) == "workers") axis.title = "workers (count)";
      if (short_key(k) == "servers") axis.title = "parameter-server shards (count)";
    }
    if (!ok || distinct.size() < 3) continue;
    for (auto& p : axis.points)
      if (p.series.empty()) p.series = "all";
    axis.log_x = *distinct.begin() > 0 && *distinct.rbegin() / *distinct.begin() >= 20;
    return axis;
  }
  return std::nullopt;
}

std::map<std::string, std::string> comparable(const std::map<std::string, std::string>& config) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : config)
    if (!is_backend_specific(k)) out[k] = v;
  return out;
}

double pct(double sim, double real) { return real != 0 ? (sim - real) / real * 100.0 : 0.0; }

// A straggler section that slows no worker (dist none, a mean of 0, a periodic slowdown of
// 1 or of no duration) says nothing about the run, but its keys would name workers that
// run at full speed ("straggler.workers=[1]" on a run with none slowed). Such sections are
// made one: dist none, no workers, the rest at the config's defaults, so idle configs
// group and pair as one and their labels show no straggler.
void canonical_idle_straggler(std::map<std::string, std::string>& cfg) {
  const std::string prefix = "cluster.straggler.";
  const auto is = [&](const std::string& k, double x) {
    const auto it = cfg.find(prefix + k);
    double v = 0;
    return it != cfg.end() && parse_number(it->second, v) && v == x;
  };
  const auto dist = cfg.find(prefix + "dist");
  const std::string d = dist == cfg.end() ? std::string() : dist->second;
  const bool idle = d == "none" || ((d == "exponential" || d == "lognormal") && is("mean", 0)) ||
                    (d == "periodic" && (is("duration", 0) || is("slowdown", 1)));
  if (!idle) return;
  for (auto it = cfg.lower_bound(prefix); it != cfg.end() && it->first.starts_with(prefix);) it = cfg.erase(it);
  const StragglerSpec defaults;
  cfg[prefix + "dist"] = "none";
  for (const auto& [k, v] : {std::pair{"mean", defaults.mean}, std::pair{"sigma", defaults.sigma}, std::pair{"period", defaults.period},
                             std::pair{"duration", defaults.duration}, std::pair{"slowdown", defaults.slowdown}})
    cfg[prefix + k] = fmt::format("{:g}", v);
}

}  // namespace

bool is_backend_specific(const std::string& key) {
  for (const char* p : {"sim.", "worker.", "real.", "launch.", "cluster.gpu", "cluster.link", "cluster.ps_link"})
    if (starts_with(key, p)) return true;
  return key == "sim" || key == "cluster.platform" || key == "train.backend" || key == "train.threads";
}

std::string config_label(const RunGroup& group) {
  const std::string prefix = group.backend + ": ";
  const auto& label = group.label;
  return label.starts_with(prefix) && label.size() > prefix.size() ? label.substr(prefix.size()) : label;
}

std::string pair_label(const SimRealPair& pair) {
  std::string out = config_label(*pair.real);
  if (!pair.sim_variant.empty()) out += " [" + pair.sim_variant + "]";
  return out;
}

Spread make_spread(const std::vector<double>& v) {
  Spread s;
  if (v.empty()) return s;
  s.min = *std::min_element(v.begin(), v.end());
  s.max = *std::max_element(v.begin(), v.end());
  const auto ci = mean_interval(v);
  s.mean = ci.mean;
  s.lo = ci.lo;
  s.hi = ci.hi;
  s.n = v.size();
  return s;
}

// A calibrated platform per bandwidth puts a dozen measured costs beside `tag`, each telling
// the groups apart exactly as the tag does. The longest values go first, so the short name
// a user set stays.
std::vector<std::string> without_implied_keys(const std::vector<const std::map<std::string, std::string>*>& configs,
                                              std::vector<std::string> keys) {
  const auto value = [](const std::map<std::string, std::string>& c, const std::string& k) {
    const auto it = c.find(k);
    return it == c.end() ? std::string("\x01") : it->second;
  };
  // Each config's class among those with equal values on `on`, numbered by first occurrence,
  // so two partitions are equal exactly when their numberings are.
  const auto partition = [&](const std::vector<std::string>& on) {
    std::map<std::vector<std::string>, std::size_t> ids;
    std::vector<std::size_t> out;
    for (const auto* c : configs) {
      std::vector<std::string> sig;
      for (const auto& k : on) sig.push_back(value(*c, k));
      out.push_back(ids.emplace(std::move(sig), ids.size()).first->second);
    }
    return out;
  };
  std::vector<std::pair<std::size_t, std::string>> candidates;
  for (const auto& k : keys) {
    if (k == "policy" || k.starts_with("policy.")) continue;
    std::size_t longest = 0;
    for (const auto* c : configs) longest = std::max(longest, value(*c, k).size());
    candidates.emplace_back(longest, k);
  }
  std::stable_sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  const auto full = partition(keys);
  for (const auto& candidate : candidates) {
    std::vector<std::string> rest;
    for (const auto& k : keys)
      if (k != candidate.second) rest.push_back(k);
    if (partition(rest) == full) keys = std::move(rest);
  }
  return keys;
}

std::optional<EvalPoint> first_at_target(const RunData& run, double target) {
  for (const auto& e : run.evals)
    if (e.test_accuracy >= target) return e;
  return std::nullopt;
}

double default_target(const std::vector<RunGroup>& groups) {
  double best = 0;
  for (const auto& g : groups) best = std::max(best, g.final_accuracy.mean);
  return std::floor(best * 0.95 * 100.0 + 1e-9) / 100.0;
}

ReportModel build_report_model(std::vector<RunData> runs, const ReportOptions& options) {
  ReportModel m;
  m.title = options.title;
  m.runs = std::move(runs);
  // Group by config without the seed, plus the backend that produced the run.
  std::map<std::string, std::size_t> index;
  for (const auto& r : m.runs) {
    auto cfg = r.config;
    cfg.erase("train.seed");
    canonical_idle_straggler(cfg);
    std::string key = r.backend + "\n";
    for (const auto& [k, v] : cfg) key += k + "=" + v + "\n";
    auto it = index.find(key);
    if (it == index.end()) {
      it = index.emplace(key, m.groups.size()).first;
      RunGroup g;
      g.backend = r.backend;
      g.config = std::move(cfg);
      m.groups.push_back(std::move(g));
    }
    m.groups[it->second].runs.push_back(&r);
  }
  for (auto& g : m.groups) aggregate(g);
  const auto shown = label_groups(m.groups);
  m.numeric_axis = find_numeric_axis(m.groups, shown);
  for (const auto& r : m.runs) m.has_accuracy |= !r.evals.empty();
  m.target_given = options.target.has_value();
  m.target = options.target ? *options.target : default_target(m.groups);
  for (auto& g : m.groups) apply_target(g, m.target);
  for (const auto& real : m.groups) {
    if (real.backend != "real") continue;
    const auto want = comparable(real.config);
    for (const auto& sim : m.groups) {
      if (sim.backend != "sim" || comparable(sim.config) != want) continue;
      SimRealPair p;
      p.sim = &sim;
      p.real = &real;
      p.time_error_pct = pct(sim.time_s.mean, real.time_s.mean);
      p.throughput_error_pct = pct(sim.updates_per_s.mean, real.updates_per_s.mean);
      if (sim.updates_per_s.mean > 0 && real.updates_per_s.mean > 0)
        p.time_per_update_error_pct = pct(1.0 / sim.updates_per_s.mean, 1.0 / real.updates_per_s.mean);
      if (sim.time_to_target && real.time_to_target) p.tta_error_pct = pct(*sim.time_to_target, *real.time_to_target);
      if (sim.updates_to_target && real.updates_to_target)
        p.updates_to_target_error_pct = pct(*sim.updates_to_target, *real.updates_to_target);
      // How far the real run moves from seed to seed: an error inside it is noise. The
      // simulated seeds' spread beside it: wider where the model holds one regime a whole run.
      const auto spread = [](const Spread& ups) -> std::optional<double> {
        if (ups.n < 2 || ups.min <= 0) return std::nullopt;
        return 100.0 * (1.0 / ups.min - 1.0 / ups.max) * ups.mean;
      };
      p.real_spread_pct = spread(real.updates_per_s);
      p.sim_spread_pct = spread(sim.updates_per_s);
      if (real.tta && real.tta->n >= 2 && real.tta->mean > 0)
        p.real_tta_spread_pct = 100.0 * (real.tta->max - real.tta->min) / real.tta->mean;
      p.accuracy_diff = sim.final_accuracy.mean - real.final_accuracy.mean;
      m.pairs.push_back(p);
    }
  }
  // One real run simulated several ways (e.g. under two network models): its pairs are told
  // apart by the sim.* keys in which their simulations differ.
  for (std::size_t i = 0; i < m.pairs.size(); ++i) {
    std::set<std::string> differing;
    for (std::size_t j = 0; j < m.pairs.size(); ++j) {
      if (j == i || m.pairs[j].real != m.pairs[i].real) continue;
      for (const auto& [k, v] : m.pairs[i].sim->config) {
        if (!starts_with(k, "sim.")) continue;
        auto it = m.pairs[j].sim->config.find(k);
        if (it == m.pairs[j].sim->config.end() || it->second != v) differing.insert(k);
      }
    }
    for (const auto& k : differing)
      m.pairs[i].sim_variant += (m.pairs[i].sim_variant.empty() ? "" : ", ") + k + "=" + m.pairs[i].sim->config.at(k);
  }
  return m;
}

ReportModel build_report_model(const std::vector<fs::path>& inputs, const ReportOptions& options) {
  const auto found = discover_runs(inputs);
  std::vector<RunData> runs;
  std::vector<FailedRun> unreadable;
  for (const auto& dir : found.runs) {
    // Name a run by its sweep folder and its own folder, which is what users see on disk.
    const auto parent = dir.parent_path().filename().string();
    const bool top = std::find(inputs.begin(), inputs.end(), dir) != inputs.end();
    const auto name = top || parent.empty() ? dir.filename().string() : parent + "/" + dir.filename().string();
    // One damaged run must not cost the report of the others: it is listed with its reason.
    try {
      runs.push_back(load_run(dir, name));
    } catch (const std::exception& e) {
      unreadable.push_back(FailedRun{name, "unreadable", e.what()});
    }
  }
  if (runs.empty()) {
    throw Error(fmt::format("no readable run among {} ({}: {})", found.runs.size(), unreadable.front().name,
                            unreadable.front().error));
  }
  auto m = build_report_model(std::move(runs), options);
  m.failed = found.failed;
  m.failed.insert(m.failed.end(), unreadable.begin(), unreadable.end());
  for (const auto& in : inputs) m.inputs.push_back(in.string());
  return m;
}

}  // namespace synclab::experiments
