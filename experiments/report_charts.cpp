#include "experiments/report_charts.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace synclab::experiments {
using nlohmann::json;

namespace {

constexpr int kWidth = 640;

json base_spec(int height) {
  return json{{"$schema", "https://vega.github.io/schema/vega/v5.json"},
              {"width", kWidth},
              {"height", height},
              {"padding", 8},
              {"autosize", {{"type", "pad"}}}};
}

json axis(const char* orient, const char* scale, const std::string& title, bool grid) {
  return json{{"orient", orient}, {"scale", scale}, {"title", title}, {"grid", grid}, {"labelOverlap", true}};
}

// Lines with a min/max band per series; points: {series, x, y, lo, hi, style}.
json line_band_spec(const json& points, const std::string& x_title, const std::string& y_title, bool dashed_style,
                    bool log_x = false, const std::string& y_name = "accuracy") {
  auto spec = base_spec(320);
  spec["data"] = json::array({{{"name", "points"}, {"values", points}}});
  spec["scales"] = json::array({
      log_x ? json{{"name", "x"}, {"type", "log"}, {"domain", {{"data", "points"}, {"field", "x"}}}, {"range", "width"}, {"nice", true}}
            : json{{"name", "x"}, {"type", "linear"}, {"domain", {{"data", "points"}, {"field", "x"}}}, {"range", "width"}, {"nice", true}, {"zero", true}},
      {{"name", "y"}, {"type", "linear"}, {"domain", {{"data", "points"}, {"fields", json::array({"lo", "hi", "y"})}}}, {"range", "height"}, {"nice", true}, {"zero", y_name != "accuracy"}},
      {{"name", "color"}, {"type", "ordinal"}, {"domain", {{"data", "points"}, {"field", "series"}}}, {"range", "category"}},
  });
  spec["axes"] = json::array({axis("bottom", "x", x_title, true), axis("left", "y", y_title, true)});
  spec["legends"] = json::array({{{"stroke", "color"}, {"title", "run"}, {"orient", "right"}, {"limit", 420}}});
  json line_enc = {{"x", {{"scale", "x"}, {"field", "x"}}},
                   {"y", {{"scale", "y"}, {"field", "y"}}},
                   {"stroke", {{"scale", "color"}, {"field", "series"}}},
                   {"strokeWidth", {{"value", 2}}}};
  if (dashed_style) {
    spec["scales"].push_back({{"name", "dash"}, {"type", "ordinal"}, {"domain", json::array({"sim", "real"})}, {"range", json::array({json::array({1, 0}), json::array({6, 4})})}});
    line_enc["strokeDash"] = {{"scale", "dash"}, {"field", "style"}};
    spec["legends"].push_back({{"strokeDash", "dash"}, {"title", "backend"}, {"orient", "right"}, {"symbolType", "stroke"}});
  }
  spec["marks"] = json::array({{
      {"type", "group"},
      {"from", {{"facet", {{"name", "series_points"}, {"data", "points"}, {"groupby", "series"}}}}},
      {"marks", json::array({
           {{"type", "area"},
            {"from", {{"data", "series_points"}}},
            {"encode", {{"enter", {{"x", {{"scale", "x"}, {"field", "x"}}},
                                    {"y", {{"scale", "y"}, {"field", "lo"}}},
                                    {"y2", {{"scale", "y"}, {"field", "hi"}}},
                                    {"fill", {{"scale", "color"}, {"field", "series"}}},
                                    {"fillOpacity", {{"value", 0.18}}}}}}}},
           {{"type", "line"}, {"from", {{"data", "series_points"}}}, {"encode", {{"enter", line_enc}}}},
           {{"type", "symbol"},
            {"from", {{"data", "series_points"}}},
            {"encode", {{"enter", {{"x", {{"scale", "x"}, {"field", "x"}}},
                                    {"y", {{"scale", "y"}, {"field", "y"}}},
                                    {"fill", {{"scale", "color"}, {"field", "series"}}},
                                    {"size", {{"value", 16}}},
                                    {"tooltip", {{"signal", "{'run': datum.series, 'x': datum.x, '" + y_name + "': format(datum.y, '.4~g')}"}}}}}}}},
       })},
  }});
  return spec;
}

// Horizontal bars with optional min/max whiskers; rows: {label, value, lo, hi, text}.
json bar_spec(const json& rows, const std::string& x_title) {
  auto spec = base_spec(std::max(60, 26 * static_cast<int>(rows.size())));
  json order = json::array();
  for (const auto& r : rows) order.push_back(r["label"]);
  spec["data"] = json::array({{{"name", "bars"}, {"values", rows}}});
  spec["scales"] = json::array({
      {{"name", "y"}, {"type", "band"}, {"domain", order}, {"range", "height"}, {"padding", 0.2}},
      {{"name", "x"}, {"type", "linear"}, {"domain", {{"data", "bars"}, {"fields", json::array({"value", "hi"})}}}, {"range", "width"}, {"nice", true}, {"zero", true}},
  });
  spec["axes"] = json::array({axis("bottom", "x", x_title, true), axis("left", "y", "config (seeds aggregated)", false)});
  spec["axes"][1]["labelLimit"] = 260;
  spec["marks"] = json::array({
      {{"type", "rect"},
       {"from", {{"data", "bars"}}},
       {"encode", {{"enter", {{"y", {{"scale", "y"}, {"field", "label"}}},
                               {"height", {{"scale", "y"}, {"band", 1}}},
                               {"x", {{"scale", "x"}, {"value", 0}}},
                               {"x2", {{"scale", "x"}, {"field", "value"}}},
                               {"fill", {{"value", "#4c78a8"}}},
                               {"tooltip", {{"signal", "datum.text"}}}}}}}},
      {{"type", "rule"},
       {"from", {{"data", "bars"}}},
       {"encode", {{"enter", {{"y", {{"scale", "y"}, {"field", "label"}, {"band", 0.5}}},
                               {"x", {{"scale", "x"}, {"field", "lo"}}},
                               {"x2", {{"scale", "x"}, {"field", "hi"}}},
                               {"stroke", {{"value", "#222"}}},
                               {"strokeWidth", {{"value", 1.5}}}}}}}},
  });
  return spec;
}

json staleness_spec(const ReportModel& m) {
  // Buckets 0..29 one by one, then one "30+" bucket, so async runs with many workers stay readable.
  constexpr std::int64_t kCap = 30;
  json rows = json::array();
  std::int64_t top = 0;
  for (const auto& g : m.groups)
    for (const auto& [s, f] : g.staleness_fraction) top = std::max(top, std::min(s, kCap));
  json domain = json::array();
  for (std::int64_t s = 0; s <= top; ++s) domain.push_back(s == kCap ? std::string("30+") : std::to_string(s));
  for (const auto& g : m.groups) {
    std::map<std::int64_t, double> bucketed;
    for (const auto& [s, f] : g.staleness_fraction) bucketed[std::clamp<std::int64_t>(s, 0, kCap)] += f;
    for (const auto& [s, f] : bucketed)
      rows.push_back({{"series", g.label}, {"s", s == kCap ? std::string("30+") : std::to_string(s)}, {"fraction", f}});
  }
  auto spec = base_spec(280);
  spec["data"] = json::array({{{"name", "hist"}, {"values", rows}}});
  spec["scales"] = json::array({
      {{"name", "x"}, {"type", "band"}, {"domain", domain}, {"range", "width"}, {"padding", 0.15}},
      {{"name", "y"}, {"type", "linear"}, {"domain", {{"data", "hist"}, {"field", "fraction"}}}, {"range", "height"}, {"nice", true}, {"zero", true}},
      {{"name", "color"}, {"type", "ordinal"}, {"domain", {{"data", "hist"}, {"field", "series"}}}, {"range", "category"}},
  });
  spec["axes"] = json::array({axis("bottom", "x", "staleness (server versions behind)", false),
                              axis("left", "y", "share of applied gradients (fraction)", true)});
  spec["legends"] = json::array({{{"fill", "color"}, {"title", "run"}, {"orient", "right"}, {"limit", 420}}});
  spec["marks"] = json::array({{
      {"type", "group"},
      {"from", {{"facet", {{"name", "bin"}, {"data", "hist"}, {"groupby", "s"}}}}},
      {"encode", {{"enter", {{"x", {{"scale", "x"}, {"field", "s"}}}}}}},
      {"signals", json::array({{{"name", "width"}, {"update", "bandwidth('x')"}}})},
      {"scales", json::array({{{"name", "pos"}, {"type", "band"}, {"range", "width"}, {"domain", {{"data", "hist"}, {"field", "series"}}}}})},
      {"marks", json::array({{{"type", "rect"},
                              {"from", {{"data", "bin"}}},
                              {"encode", {{"enter", {{"x", {{"scale", "pos"}, {"field", "series"}}},
                                                      {"width", {{"scale", "pos"}, {"band", 1}}},
                                                      {"y", {{"scale", "y"}, {"field", "fraction"}}},
                                                      {"y2", {{"scale", "y"}, {"value", 0}}},
                                                      {"fill", {{"scale", "color"}, {"field", "series"}}},
                                                      {"tooltip", {{"signal", "{'run': datum.series, 'staleness': datum.s, 'share': format(datum.fraction, '.3f')}"}}}}}}}}})},
  }});
  return spec;
}

json breakdown_spec(const ReportModel& m) {
  json rows = json::array(), order = json::array();
  const char* parts[] = {"compute", "communicate", "wait"};
  for (const auto& g : m.groups)
    for (const auto& b : g.breakdown) {
      const auto row = fmt::format("{} / worker {}", g.label, b.worker);
      order.push_back(row);
      const double v[] = {b.compute_s, b.communicate_s, b.wait_s};
      for (int i = 0; i < 3; ++i) rows.push_back({{"row", row}, {"part", parts[i]}, {"order", i}, {"seconds", v[i]}});
    }
  auto spec = base_spec(std::max(60, 18 * static_cast<int>(order.size())));
  spec["data"] = json::array({{{"name", "parts"},
                               {"values", rows},
                               {"transform", json::array({{{"type", "stack"}, {"groupby", json::array({"row"})}, {"field", "seconds"}, {"sort", {{"field", "order"}}}}})}}});
  spec["scales"] = json::array({
      {{"name", "y"}, {"type", "band"}, {"domain", order}, {"range", "height"}, {"padding", 0.15}},
      {{"name", "x"}, {"type", "linear"}, {"domain", {{"data", "parts"}, {"field", "y1"}}}, {"range", "width"}, {"nice", true}, {"zero", true}},
      {{"name", "color"}, {"type", "ordinal"}, {"domain", json::array({"compute", "communicate", "wait"})}, {"range", json::array({"#4c78a8", "#f58518", "#bab0ac"})}},
  });
  spec["axes"] = json::array({axis("bottom", "x", "time per worker (s, mean over seeds)", true),
                              axis("left", "y", "config / worker (index)", false)});
  spec["axes"][1]["labelLimit"] = 300;
  spec["legends"] = json::array({{{"fill", "color"}, {"title", "time spent"}, {"orient", "right"}}});
  spec["marks"] = json::array({{{"type", "rect"},
                                {"from", {{"data", "parts"}}},
                                {"encode", {{"enter", {{"y", {{"scale", "y"}, {"field", "row"}}},
                                                        {"height", {{"scale", "y"}, {"band", 1}}},
                                                        {"x", {{"scale", "x"}, {"field", "y0"}}},
                                                        {"x2", {{"scale", "x"}, {"field", "y1"}}},
                                                        {"fill", {{"scale", "color"}, {"field", "part"}}},
                                                        {"tooltip", {{"signal", "{'worker': datum.row, 'part': datum.part, 'seconds': format(datum.seconds, '.3f')}"}}}}}}}}});
  return spec;
}

json curve_points(const RunGroup& g, bool by_time, const std::string& series, const std::string& style) {
  json pts = json::array();
  for (const auto& c : g.curve)
    pts.push_back({{"series", series}, {"x", by_time ? c.time_s : static_cast<double>(c.update)}, {"y", c.acc_mean},
                   {"lo", c.acc_lo}, {"hi", c.acc_hi}, {"style", style}});
  return pts;
}

json test_loss_points(const RunGroup& g) {
  json pts = json::array();
  for (const auto& c : g.curve)
    pts.push_back({{"series", g.label}, {"x", c.time_s}, {"y", c.loss_mean}, {"lo", c.loss_lo}, {"hi", c.loss_hi}, {"style", g.backend}});
  return pts;
}

json train_loss_points(const RunGroup& g) {
  json pts = json::array();
  for (const auto& c : g.train_loss)
    pts.push_back({{"series", g.label}, {"x", c.time_s}, {"y", c.mean}, {"lo", c.lo}, {"hi", c.hi}, {"style", g.backend}});
  return pts;
}

// Every bar is a non-negative figure: a wide interval is cut at zero rather than drawn left of the axis.
json bar_row(const std::string& label, const Spread& s, const std::string& text) {
  return {{"label", label}, {"value", s.mean}, {"lo", std::max(0.0, s.lo)}, {"hi", s.hi}, {"text", text}};
}

// Time to target against bytes sent until then, one point per config; the configs no other
// config beats on both axes are joined by the frontier line.
json pareto_spec(const ReportModel& m) {
  json pts = json::array(), front = json::array();
  struct P {
    std::string label;
    double x, y;
  };
  std::vector<P> all;
  for (const auto& g : m.groups)
    if (g.tta && g.bytes_to_target) all.push_back({g.label, g.tta->mean, g.bytes_to_target->mean / 1e6});
  std::vector<P> frontier;
  for (const auto& p : all) {
    bool dominated = false;
    for (const auto& q : all)
      dominated |= (q.x <= p.x && q.y <= p.y && (q.x < p.x || q.y < p.y));
    pts.push_back({{"label", p.label}, {"x", p.x}, {"y", p.y}, {"front", !dominated}});
    if (!dominated) frontier.push_back(p);
  }
  std::sort(frontier.begin(), frontier.end(), [](const P& a, const P& b) { return a.x < b.x; });
  for (const auto& p : frontier) front.push_back({{"x", p.x}, {"y", p.y}});
  auto spec = base_spec(320);
  spec["data"] = json::array({{{"name", "points"}, {"values", pts}}, {{"name", "front"}, {"values", front}}});
  spec["scales"] = json::array({
      {{"name", "x"}, {"type", "linear"}, {"domain", {{"data", "points"}, {"field", "x"}}}, {"range", "width"}, {"nice", true}, {"zero", true}},
      {{"name", "y"}, {"type", "linear"}, {"domain", {{"data", "points"}, {"field", "y"}}}, {"range", "height"}, {"nice", true}, {"zero", true}},
      {{"name", "color"}, {"type", "ordinal"}, {"domain", json::array({true, false})}, {"range", json::array({"#d62728", "#888888"})}},
  });
  spec["axes"] = json::array({axis("bottom", "x", fmt::format("time to {:.2f} test accuracy (s)", m.target), true),
                              axis("left", "y", fmt::format("bytes sent until {:.2f} accuracy (MB)", m.target), true)});
  spec["marks"] = json::array({
      {{"type", "line"},
       {"from", {{"data", "front"}}},
       {"encode", {{"enter", {{"x", {{"scale", "x"}, {"field", "x"}}}, {"y", {{"scale", "y"}, {"field", "y"}}},
                               {"stroke", {{"value", "#d62728"}}}, {"strokeDash", {{"value", json::array({4, 3})}}}}}}}},
      {{"type", "symbol"},
       {"from", {{"data", "points"}}},
       {"encode", {{"enter", {{"x", {{"scale", "x"}, {"field", "x"}}}, {"y", {{"scale", "y"}, {"field", "y"}}},
                               {"fill", {{"scale", "color"}, {"field", "front"}}}, {"size", {{"value", 70}}},
                               {"tooltip", {{"signal", "{'config': datum.label, 'time (s)': format(datum.x, '.4~g'), 'MB': format(datum.y, '.4~g')}"}}}}}}}},
      {{"type", "text"},
       {"from", {{"data", "points"}}},
       {"encode", {{"enter", {{"x", {{"scale", "x"}, {"field", "x"}, {"offset", 7}}}, {"y", {{"scale", "y"}, {"field", "y"}, {"offset", -5}}},
                               {"text", {{"field", "label"}}}, {"fontSize", {{"value", 11}}}, {"fill", {{"value", "#333"}}}}}}}},
  });
  return spec;
}

std::string bytes_label(double b) {
  if (b >= 1e9) return fmt::format("{:.4g} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.4g} MB", b / 1e6);
  return fmt::format("{:.4g} kB", b / 1e3);
}

}  // namespace

std::vector<Chart> build_charts(const ReportModel& m) {
  std::vector<Chart> charts;
  const std::string acc_axis = "test accuracy (fraction correct)";
  if (m.has_accuracy) {
    json by_time = json::array(), by_update = json::array();
    for (const auto& g : m.groups) {
      for (auto& p : curve_points(g, true, g.label, g.backend)) by_time.push_back(p);
      for (auto& p : curve_points(g, false, g.label, g.backend)) by_update.push_back(p);
    }
    charts.push_back({"accuracy-vs-time", "Test accuracy vs time",
                      "Mean over seeds; the band is the 95% interval of the mean (t distribution, absent for one seed).",
                      line_band_spec(by_time, "time (s; simulated time for sim runs, wall time for real runs)", acc_axis, false)});
    json test_loss = json::array(), train_loss = json::array();
    for (const auto& g : m.groups) {
      for (auto& p : test_loss_points(g)) test_loss.push_back(p);
      for (auto& p : train_loss_points(g)) train_loss.push_back(p);
    }
    charts.push_back({"test-loss-vs-time", "Test loss vs time", "Mean cross-entropy on the evaluation samples; band = 95% interval over seeds.",
                      line_band_spec(test_loss, "time (s; simulated time for sim runs, wall time for real runs)",
                                     "test loss (cross-entropy, nats)", false, false, "loss")});
    if (!train_loss.empty())
      charts.push_back({"train-loss-vs-time", "Training loss vs time",
                        "Loss of the applied gradients' batches (updates.csv), averaged over windows of updates; band = 95% interval over seeds.",
                        line_band_spec(train_loss, "time (s; simulated time for sim runs, wall time for real runs)",
                                       "training loss (cross-entropy, nats)", false, false, "loss")});
    charts.push_back({"accuracy-vs-updates", "Test accuracy vs server updates",
                      "One update is one new server model version; band = 95% interval over seeds.",
                      line_band_spec(by_update, "server updates (model versions)", acc_axis, false)});
  }
  json fa = json::array(), thr = json::array(), tta = json::array(), bytes = json::array(), ws = json::array();
  for (const auto& g : m.groups) {
    fa.push_back(bar_row(g.label, g.final_accuracy, fmt::format("{}: {:.4f} [{:.4f}, {:.4f}]", g.label, g.final_accuracy.mean,
                                                                 g.final_accuracy.lo, g.final_accuracy.hi)));
    thr.push_back(bar_row(g.label, g.samples_per_s,
                          fmt::format("{}: {:.4g} samples/s, {:.4g} updates/s", g.label, g.samples_per_s.mean, g.updates_per_s.mean)));
    if (g.tta) tta.push_back(bar_row(g.label, *g.tta, fmt::format("{}: {:.4g} s [{:.4g}, {:.4g}]", g.label, g.tta->mean, g.tta->lo, g.tta->hi)));
    Spread mb = g.bytes_sent;
    for (double* v : {&mb.mean, &mb.lo, &mb.hi, &mb.min, &mb.max}) *v /= 1e6;
    bytes.push_back(bar_row(g.label, mb, fmt::format("{}: {} sent", g.label, bytes_label(g.bytes_sent.mean))));
    ws.push_back(bar_row(g.label, g.worker_seconds, fmt::format("{}: {:.4g} worker-seconds", g.label, g.worker_seconds.mean)));
  }
  if (m.has_accuracy)
    charts.push_back({"final-accuracy", "Final test accuracy", "Mean over seeds, whisker = 95% interval of the mean.",
                      bar_spec(fa, "final test accuracy (fraction correct)")});
  charts.push_back({"throughput", "Throughput",
                    "Training samples processed per second of (simulated or wall) time, which compares policies fairly "
                    "(a bsp update carries every worker's gradient); whisker = 95% interval over seeds.",
                    bar_spec(thr, "throughput (samples/s)")});
  if (m.numeric_axis) {
    const auto& a = *m.numeric_axis;
    json pts = json::array();
    for (const auto& p : a.points)
      pts.push_back({{"series", p.series}, {"x", p.x}, {"y", p.samples_per_s}, {"lo", p.lo}, {"hi", p.hi}, {"style", "sim"}});
    std::stable_sort(pts.begin(), pts.end(), [](const json& l, const json& r) { return l["x"].get<double>() < r["x"].get<double>(); });
    charts.push_back({"throughput-vs-" + a.key, "Throughput vs " + a.key,
                      std::string("Samples per second against the swept ") + a.key +
                          (a.log_x ? " (log scale)" : "") + "; band = 95% interval over seeds.",
                      line_band_spec(pts, a.title, "throughput (samples/s)", false, a.log_x, "samples/s")});
  }
  if (m.has_accuracy && !tta.empty())
    charts.push_back({"time-to-target", fmt::format("Time to {:.2f} test accuracy", m.target),
                      "First evaluation at or above the target, mean over seeds, whisker = 95% interval; configs where a "
                      "seed missed it are left out.",
                      bar_spec(tta, fmt::format("time to reach accuracy {:.2f} (s)", m.target))});
  charts.push_back({"bytes-sent", "Cost: bytes sent",
                    "Bytes put on the network by workers and servers over the whole run (summary.json bytes_sent); "
                    "whisker = 95% interval over seeds.",
                    bar_spec(bytes, "bytes sent (MB)")});
  charts.push_back({"worker-seconds", "Cost: worker-seconds",
                    "Workers x run time: the machine time the run occupies; whisker = 95% interval over seeds.",
                    bar_spec(ws, "worker time (worker-seconds)")});
  std::size_t on_pareto = 0;
  for (const auto& g : m.groups) on_pareto += g.tta && g.bytes_to_target ? 1 : 0;
  if (m.has_accuracy && on_pareto >= 2)
    charts.push_back({"pareto", "Time to target vs cost",
                      "Each config's mean time to the target against the bytes it sent until then (pro-rated by updates); "
                      "red points joined by the dashed line are the Pareto front: no other config is both faster and cheaper.",
                      pareto_spec(m)});
  bool any_staleness = false, any_breakdown = false;
  for (const auto& g : m.groups) {
    any_staleness |= !g.staleness_fraction.empty();
    any_breakdown |= !g.breakdown.empty();
  }
  if (any_staleness)
    charts.push_back({"staleness", "Staleness of applied gradients",
                      "Server version at apply time minus the version the gradient was computed on (updates.csv).",
                      staleness_spec(m)});
  if (any_breakdown)
    charts.push_back({"worker-breakdown", "Per-worker time breakdown",
                      "Where each worker's time went: computing, moving bytes, waiting for the policy (summary.json per_worker).",
                      breakdown_spec(m)});
  if (!m.pairs.empty()) {
    json pts = json::array();
    for (const auto& p : m.pairs) {
      const auto name = pair_label(p);
      for (auto& x : curve_points(*p.sim, true, "sim: " + name, "sim")) pts.push_back(x);
      for (auto& x : curve_points(*p.real, true, "real: " + name, "real")) pts.push_back(x);
    }
    charts.push_back({"sim-vs-real", "Simulated vs real runs of the same config",
                      "Solid: simulation's prediction; dashed: the real run on this machine.",
                      line_band_spec(pts, "time (s; simulated vs wall)", acc_axis, true)});
  }
  return charts;
}

}  // namespace synclab::experiments
