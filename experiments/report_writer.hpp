#pragma once
// Writes a report: NAME.html (self-contained, Vega inlined, opens offline) and NAME.md.
#include <filesystem>
#include <string>
#include <vector>

#include "experiments/report_charts.hpp"
#include "experiments/recommendation.hpp"
#include "experiments/report_model.hpp"

namespace synclab::experiments {

/// The Markdown summary: the recommendation first, then inputs, target, per-config table
/// (final accuracy, time, throughput, staleness, time to target), cost, breakdown,
/// sim-vs-real errors, failed runs.
std::string render_markdown(const ReportModel& model, const Recommendation& recommendation);

/// The HTML page: the recommendation in <section id="recommendation" data-policy
/// data-config data-certainty>, the same tables, one Vega view per chart. The page records its own
/// state for headless checks: <body data-charts-total data-charts-rendered>, each chart
/// <div data-rendered>, and <html data-errors> counting console errors and warnings and
/// uncaught exceptions (their text goes to <pre id="report-errors">).
std::string render_html(const ReportModel& model, const Recommendation& recommendation, const std::vector<Chart>& charts,
                        const std::string& vega_js);

/// Paths written by write_report.
struct ReportFiles {
  std::filesystem::path html, markdown;
};

/// Builds the recommendation for the objective and the charts, and writes html_path and the
/// .md beside it (same stem).
ReportFiles write_report(const ReportModel& model, const std::filesystem::path& html_path,
                         Objective objective = Objective::TimeToTarget);

}  // namespace synclab::experiments
