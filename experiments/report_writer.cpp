#include "experiments/report_writer.hpp"

#include <array>
#include <cmath>
#include <ctime>
#include <utility>

#include <fmt/format.h>

#include "core/common/atomic_file.hpp"
#include "core/common/error.hpp"
#include "experiments/csv.hpp"
#include "experiments/policy_order.hpp"
#include "experiments/vega_bundle.hpp"

namespace synclab::experiments {
namespace fs = std::filesystem;

namespace {

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string md_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '|') out += "\\|";
    else if (c == '\n') out += ' ';
    else out += c;
  }
  return out;
}

// JSON inside <script>: "</" would end the element early.
std::string script_json(const nlohmann::json& j) {
  auto text = j.dump();
  for (std::size_t pos = 0; (pos = text.find("</", pos)) != std::string::npos; pos += 3) text.replace(pos, 2, "<\\/");
  return text;
}

// Large figures (samples/s, bytes) read better whole than in exponent notation.
std::string num(double v, int digits = 4) {
  if (std::fabs(v) >= 1e4 && std::fabs(v) < 1e15) return fmt::format("{:.0f}", v);
  return fmt::format("{:.{}g}", v, digits);
}

// Mean [95% interval of the mean] over the seeds.
std::string spread_text(const Spread& s, std::size_t n, int digits = 4) {
  if (n <= 1) return num(s.mean, digits);
  return fmt::format("{} [{}, {}]", num(s.mean, digits), num(s.lo, digits), num(s.hi, digits));
}

std::string tta_text(const RunGroup& g) {
  if (g.time_to_target) return num(*g.time_to_target);
  return fmt::format("not reached ({}/{} seeds)", g.reached, g.runs.size());
}

std::string pct_text(double p) { return fmt::format("{:+.1f}%", p); }

using Table = std::vector<std::vector<std::string>>;  // first row is the header

Table runs_table(const ReportModel& m) {
  // Timing-mode runs have no evaluations: their tables leave the accuracy columns out.
  const bool acc = m.has_accuracy;
  std::vector<std::string> head = {"config", "backend", "seeds"};
  if (acc) head.push_back("final accuracy (fraction)");
  for (const char* h : {"time (s)", "updates", "throughput (updates/s)", "throughput (samples/s)",
                        "mean staleness (versions)", "max staleness (versions)"})
    head.push_back(h);
  if (acc) {
    head.push_back(fmt::format("time to {:.2f} accuracy (s)", m.target));
    head.push_back(fmt::format("updates to {:.2f}", m.target));
  }
  Table t = {head};
  for (const auto& g : m.groups) {
    const auto n = g.runs.size();
    std::vector<std::string> row = {g.label, g.backend, std::to_string(n)};
    if (acc) row.push_back(spread_text(g.final_accuracy, n));
    for (auto&& v : {spread_text(g.time_s, n), num(g.updates, 6), spread_text(g.updates_per_s, n),
                     spread_text(g.samples_per_s, n), num(g.mean_staleness, 3), num(g.max_staleness, 6)})
      row.push_back(v);
    if (acc) {
      row.push_back(tta_text(g));
      row.push_back(g.updates_to_target ? num(*g.updates_to_target, 6) : "-");
    }
    t.push_back(row);
  }
  return t;
}

Table cost_table(const ReportModel& m) {
  Table t = {{"config", "bytes sent (MB)", "worker-seconds", fmt::format("bytes sent until {:.2f} (MB)", m.target),
              fmt::format("worker-seconds until {:.2f}", m.target)}};
  for (const auto& g : m.groups) {
    const auto n = g.runs.size();
    Spread mb = g.bytes_sent;
    for (double* v : {&mb.mean, &mb.lo, &mb.hi}) *v /= 1e6;
    std::string to_bytes = "-", to_ws = "-";
    if (m.has_accuracy && g.bytes_to_target) {
      Spread b = *g.bytes_to_target;
      for (double* v : {&b.mean, &b.lo, &b.hi}) *v /= 1e6;
      to_bytes = spread_text(b, n);
      to_ws = num(g.worker_seconds.mean / std::max(1e-12, g.time_s.mean) * *g.time_to_target);
    }
    t.push_back({g.label, spread_text(mb, n), spread_text(g.worker_seconds, n), to_bytes, to_ws});
  }
  return t;
}

Table breakdown_table(const ReportModel& m) {
  Table t = {{"config", "worker", "compute (s)", "communicate (s)", "wait (s)", "wait share"}};
  for (const auto& g : m.groups)
    for (const auto& b : g.breakdown) {
      const double total = b.compute_s + b.communicate_s + b.wait_s;
      t.push_back({g.label, std::to_string(b.worker), num(b.compute_s), num(b.communicate_s), num(b.wait_s),
                   total > 0 ? fmt::format("{:.1f}%", 100.0 * b.wait_s / total) : "-"});
    }
  return t;
}

Table pairs_table(const ReportModel& m) {
  // The backend prefix of the group label is redundant in a table of pairs.
  Table t = {{"config", "sim time (s)", "real time (s)", "time error", "sim updates/s", "real updates/s",
              "throughput error", "time/update error", "real time/update spread", "sim time/update spread",
              "time-to-target error",
              "real time-to-target spread", "updates-to-target error", "sim - real final accuracy"}};
  for (const auto& p : m.pairs)
    t.push_back({pair_label(p), num(p.sim->time_s.mean), num(p.real->time_s.mean), pct_text(p.time_error_pct),
                 num(p.sim->updates_per_s.mean), num(p.real->updates_per_s.mean), pct_text(p.throughput_error_pct),
                 pct_text(p.time_per_update_error_pct),
                 p.real_spread_pct ? fmt::format("{:.1f}%", *p.real_spread_pct) : "-",
                 p.sim_spread_pct ? fmt::format("{:.1f}%", *p.sim_spread_pct) : "-",
                 p.tta_error_pct ? pct_text(*p.tta_error_pct) : "-",
                 p.real_tta_spread_pct ? fmt::format("{:.1f}%", *p.real_tta_spread_pct) : "-",
                 p.updates_to_target_error_pct ? pct_text(*p.updates_to_target_error_pct) : "-",
                 fmt::format("{:+.4f}", p.accuracy_diff)});
  return t;
}

// Where each pair's workers spent their time, simulated against real: shares of the
// workers' summed compute + communicate + wait (the drivers count the parts alike).
Table split_table(const ReportModel& m) {
  Table t = {{"config", "compute sim / real", "communicate sim / real", "wait sim / real"}};
  auto shares = [](const RunGroup& g) {
    std::array<double, 3> v{};
    for (const auto& b : g.breakdown) {
      v[0] += b.compute_s;
      v[1] += b.communicate_s;
      v[2] += b.wait_s;
    }
    const double total = v[0] + v[1] + v[2];
    if (total > 0)
      for (double& x : v) x *= 100.0 / total;
    return std::pair(v, total > 0);
  };
  for (const auto& p : m.pairs) {
    const auto [sim, sim_ok] = shares(*p.sim);
    const auto [real, real_ok] = shares(*p.real);
    if (!sim_ok || !real_ok) continue;
    std::vector<std::string> row = {pair_label(p)};
    for (std::size_t i = 0; i < 3; ++i) row.push_back(fmt::format("{:.1f}% / {:.1f}%", sim[i], real[i]));
    t.push_back(std::move(row));
  }
  return t;
}

constexpr const char* kSplitNote =
    "Shares of the workers' summed compute, communicate and wait time, simulated / real. Both drivers count a message "
    "as communication from its first byte at the receiver: bytes queued behind other messages are waiting.";

constexpr const char* kOrderNote =
    "Policies of one setting, fastest to the target accuracy first (those that missed it last, most accurate first). "
    "Two policies are tied when their real runs' seeds overlap (the slowest seed of one reached the target after the "
    "fastest of the other, also when that other missed it with some seeds; or neither reached it with every seed and "
    "their final accuracies overlap): the real order of a tied pair depends on the seed, so it is not counted as swapped.";

std::string join_order(const std::vector<std::string>& order) {
  std::string out;
  for (const auto& p : order) {
    if (!out.empty()) out += ", ";
    out += p;
  }
  return out;
}

Table order_table(const std::vector<PolicyOrder>& orders) {
  Table t = {{"setting", "simulated order", "real order", "agree"}};
  for (const auto& o : orders)
    t.push_back({o.setting + (o.sim_variant.empty() ? "" : " [" + o.sim_variant + "]"), join_order(o.sim), join_order(o.real),
                 agreement_text(o)});
  return t;
}

constexpr const char* kFailedNote =
    "Left out of every table and chart above, also when the run wrote a summary.json before failing.";

Table failed_table(const ReportModel& m) {
  Table t = {{"run", "status", "error"}};
  for (const auto& f : m.failed) t.push_back({f.name, f.status, f.error});
  return t;
}

std::string md_table(const Table& t) {
  std::string out;
  for (std::size_t r = 0; r < t.size(); ++r) {
    out += "|";
    for (const auto& c : t[r]) out.append(" ").append(md_escape(c)).append(" |");
    out += "\n";
    if (r == 0) {
      out += "|";
      for (std::size_t c = 0; c < t[0].size(); ++c) out += c == 0 ? " --- |" : " ---: |";
      out += "\n";
    }
  }
  return out;
}

std::string html_table(const Table& t) {
  std::string out = "<table>\n<thead><tr>";
  for (const auto& c : t[0]) out += "<th>" + html_escape(c) + "</th>";
  out += "</tr></thead>\n<tbody>\n";
  for (std::size_t r = 1; r < t.size(); ++r) {
    out += "<tr>";
    for (const auto& c : t[r]) out += "<td>" + html_escape(c) + "</td>";
    out += "</tr>\n";
  }
  return out + "</tbody></table>\n";
}

std::string target_note(const ReportModel& m) {
  return m.target_given ? fmt::format("Target accuracy {:.2f} (given with --target).", m.target)
                        : fmt::format("Target accuracy {:.2f}: 95% of the best mean final accuracy, rounded down "
                                      "(set it with --target).",
                                      m.target);
}

// The recommendation's sentences, in the order a reader needs them.
std::vector<std::string> recommendation_points(const Recommendation& r) {
  std::vector<std::string> out;
  out.push_back("How sure: " + r.confidence);
  if (!r.basis.empty()) out.push_back(r.basis);
  for (const auto& s : r.simulated_picks) out.push_back("Simulated pick: " + s);
  for (const auto& t : r.tradeoffs) out.push_back("Trade-off: " + t);
  for (const auto& e : r.excluded) out.push_back("Left out: " + e);
  for (const auto& s : r.sim_real) out.push_back("Sim vs real: " + s);
  return out;
}

std::string objective_note(const Recommendation& r) {
  return fmt::format("Objective: {} ({}; change with --objective time|accuracy|throughput|cost).", r.metric,
                     r.lower_is_better ? "lower is better" : "higher is better");
}

std::string now_utc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
  return buf;
}

}  // namespace

std::string render_markdown(const ReportModel& m, const Recommendation& rec) {
  std::string md = "# " + m.title + "\n\n";
  md += "## Recommendation\n\n**" + md_escape(rec.headline) + "**\n\n";
  for (const auto& p : recommendation_points(rec)) md += "- " + md_escape(p) + "\n";
  md += "- " + objective_note(rec) + "\n\n";
  md += fmt::format("{} runs in {} configs", m.runs.size(), m.groups.size());
  if (!m.inputs.empty()) {
    md += " from ";
    for (std::size_t i = 0; i < m.inputs.size(); ++i) md += (i ? ", `" : "`") + m.inputs[i] + "`";
  }
  md += ". " + (m.has_accuracy ? target_note(m) + " " : std::string()) + "Seeds of one config are aggregated: mean [95% interval of the mean].\n";
  md += "Times are seconds of simulated time for sim runs and wall time for real runs. Charts are in the HTML report.\n\n";
  md += "## Results per config\n\n" + md_table(runs_table(m)) + "\n";
  md += "## Cost\n\n" + md_table(cost_table(m)) + "\n";
  const auto bt = breakdown_table(m);
  if (bt.size() > 1) md += "## Per-worker time breakdown\n\n" + md_table(bt) + "\n";
  if (!m.pairs.empty())
    md += "## Simulation vs real runs\n\nPrediction error = (sim - real) / real.\n\n" + md_table(pairs_table(m)) + "\n";
  if (const auto st = split_table(m); st.size() > 1)
    md += "### Where the workers' time went, sim / real\n\n" + std::string(kSplitNote) + "\n\n" + md_table(st) + "\n";
  if (const auto orders = policy_orders(m.pairs); m.has_accuracy && !orders.empty())
    md += "## Policy order by time to target\n\n" + std::string(kOrderNote) + "\n\n" + md_table(order_table(orders)) + "\n";
  if (!m.failed.empty()) md += "## Failed and unfinished runs\n\n" + std::string(kFailedNote) + "\n\n" + md_table(failed_table(m)) + "\n";
  md += "## Runs\n\n";
  for (const auto& g : m.groups) {
    md += "- " + md_escape(g.label) + ":";
    for (const auto* r : g.runs) md += " `" + r->name + "`";
    md += "\n";
  }
  return md;
}

std::string render_html(const ReportModel& m, const Recommendation& rec, const std::vector<Chart>& charts,
                        const std::string& vega_js) {
  std::string h;
  h += "<!DOCTYPE html>\n<html lang=\"en\" data-errors=\"0\">\n<head>\n<meta charset=\"utf-8\">\n";
  // The page may not fetch anything: every script and style is inline, and an attempt to load
  // something else is blocked and counted in data-errors (securitypolicyviolation below).
  h += "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src 'unsafe-inline' "
       "'unsafe-eval'; style-src 'unsafe-inline'; img-src data: blob:; font-src data:\">\n";
  h += "<title>" + html_escape(m.title) + "</title>\n";
  h += "<style>\nbody{font-family:system-ui,sans-serif;margin:2em auto;max-width:1100px;padding:0 1em;color:#222}\n"
       "table{border-collapse:collapse;margin:1em 0;font-size:0.9em}th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}\n"
       "th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}.chart{margin:0.5em 0 2em}\n"
       "p.caption{color:#555;font-size:0.9em}#report-errors{color:#b00}\n"
       "#recommendation{border-left:5px solid #2a7;background:#f3faf6;padding:0.6em 1.2em;margin:1em 0}\n"
       "#recommendation[data-certainty=none],#recommendation[data-certainty=within-noise],"
       "#recommendation[data-certainty=seeds-disagree],#recommendation[data-certainty=single-seed]"
       "{border-left-color:#d90;background:#fdf8ee}\n#recommendation .headline{font-size:1.15em;font-weight:600}\n</style>\n";
  // Console capture comes first so that problems while loading Vega are recorded too.
  h += "<script>\n(function(){var errs=[];window.synclabErrors=errs;function rec(kind,args){"
       "errs.push(kind+': '+Array.prototype.map.call(args,String).join(' '));"
       "document.documentElement.setAttribute('data-errors',String(errs.length));"
       "var el=document.getElementById('report-errors');if(el)el.textContent=errs.join('\\n');}\n"
       "var ce=console.error,cw=console.warn;console.error=function(){rec('console.error',arguments);ce.apply(console,arguments);};"
       "console.warn=function(){rec('console.warn',arguments);cw.apply(console,arguments);};"
       "window.addEventListener('error',function(e){rec('uncaught',[e.message]);});"
       "window.addEventListener('unhandledrejection',function(e){rec('unhandled rejection',[e.reason]);});"
       "document.addEventListener('securitypolicyviolation',function(e){rec('blocked request',[e.blockedURI]);});})();\n</script>\n";
  h += "<script>\n" + vega_js + "</script>\n</head>\n";
  h += fmt::format("<body data-charts-total=\"{}\" data-charts-rendered=\"0\">\n", charts.size());
  h += "<h1>" + html_escape(m.title) + "</h1>\n";
  // The answer first: what to deploy, how sure, what it costs. data-* attributes for checks.
  h += fmt::format("<section id=\"recommendation\" data-objective=\"{}\" data-certainty=\"{}\" data-config=\"{}\" "
                   "data-policy=\"{}\">\n",
                   objective_name(rec.objective), certainty_name(rec.certainty),
                   html_escape(rec.best ? rec.best->label : std::string()), html_escape(rec.best ? rec.best->policy : std::string()));
  h += "<h2>Recommendation</h2>\n<p class=\"headline\">" + html_escape(rec.headline) + "</p>\n<ul>\n";
  for (const auto& p : recommendation_points(rec)) h += "<li>" + html_escape(p) + "</li>\n";
  h += "<li>" + html_escape(objective_note(rec)) + "</li>\n</ul>\n</section>\n";
  h += "<p>" + html_escape(fmt::format("{} runs in {} configs, generated {}. ", m.runs.size(), m.groups.size(), now_utc()) +
                           (m.has_accuracy ? target_note(m) : std::string("No evaluations (timing mode): throughput only."))) +
       " Seeds of one config are aggregated: mean [95% interval of the mean]. Times are seconds of simulated time for sim runs and "
       "wall time for real runs.</p>\n";
  h += "<pre id=\"report-errors\"></pre>\n";
  h += "<h2>Results per config</h2>\n" + html_table(runs_table(m));
  for (std::size_t i = 0; i < charts.size(); ++i) {
    const auto& c = charts[i];
    h += "<h2>" + html_escape(c.title) + "</h2>\n<p class=\"caption\">" + html_escape(c.caption) + "</p>\n";
    h += "<div class=\"chart\" id=\"chart-" + c.id + "\" data-rendered=\"0\"></div>\n";
    if (c.id == "worker-breakdown") h += html_table(breakdown_table(m));
    if (c.id == "worker-seconds") h += html_table(cost_table(m));
    if (c.id == "sim-vs-real") {
      h += "<p>Prediction error = (sim - real) / real.</p>\n" + html_table(pairs_table(m));
      if (const auto st = split_table(m); st.size() > 1)
        h += "<h3 id=\"worker-split\">Where the workers' time went, sim / real</h3>\n<p>" + html_escape(kSplitNote) + "</p>\n" +
             html_table(st);
      if (const auto orders = policy_orders(m.pairs); m.has_accuracy && !orders.empty())
        h += "<h3 id=\"policy-order\">Policy order by time to target</h3>\n<p>" + html_escape(kOrderNote) + "</p>\n" +
             html_table(order_table(orders));
    }
  }
  if (!m.failed.empty())
    h += "<h2 id=\"failed-runs\">Failed and unfinished runs</h2>\n<p>" + html_escape(kFailedNote) + "</p>\n" +
         html_table(failed_table(m));
  h += "<h2>Runs</h2>\n<ul>\n";
  for (const auto& g : m.groups) {
    h += "<li>" + html_escape(g.label) + ":";
    for (const auto* r : g.runs) h += " <code>" + html_escape(r->name) + "</code>";
    h += "</li>\n";
  }
  h += "</ul>\n";
  h += "<script>\nfunction synclabRender(id,spec){var el=document.getElementById('chart-'+id);"
       "try{new vega.View(vega.parse(spec),{renderer:'svg',container:el,hover:true}).runAsync().then(function(){"
       "el.setAttribute('data-rendered','1');var b=document.body;"
       "b.setAttribute('data-charts-rendered',String(Number(b.getAttribute('data-charts-rendered'))+1));})"
       ".catch(function(e){console.error('chart '+id+': '+e);});}catch(e){console.error('chart '+id+': '+e);}}\n";
  for (const auto& c : charts) h += "synclabRender(\"" + c.id + "\"," + script_json(c.spec) + ");\n";
  h += "</script>\n</body>\n</html>\n";
  return h;
}

ReportFiles write_report(const ReportModel& m, const fs::path& html_path, Objective objective) {
  ReportFiles files;
  files.html = html_path;
  files.markdown = html_path;
  files.markdown.replace_extension(".md");
  if (files.markdown == files.html) files.markdown += ".md";
  const auto js = vega_script();
  const auto charts = build_charts(m);
  if (html_path.has_parent_path()) fs::create_directories(html_path.parent_path());
  const auto rec = recommend(m, objective);
  write_file_atomic(files.html, render_html(m, rec, charts, js));
  write_file_atomic(files.markdown, render_markdown(m, rec));
  return files;
}

}  // namespace synclab::experiments
