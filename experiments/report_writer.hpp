#pragma once
// Writes a report: NAME.html (self-contained, Vega inlined, opens offline) and NAME.md.
#include <filesystem>
#include <string>
#include <vector>

#include "experiments/report_charts.hpp"
#include "experiments/report_model.hpp"

namespace synclab::experiments {

/// The Markdown summary: inputs, target, per-config table (final accuracy, time,
/// throughput, staleness, time to target), breakdown, sim-vs-real errors, failed runs.
std::string render_markdown(const ReportModel& model);

/// The HTML page: the same tables plus one Vega view per chart. The page records its own
/// state for headless checks: <body data-charts-total data-charts-rendered>, each chart
/// <div data-rendered>, and <html data-errors> counting console errors and warnings and
/// uncaught exceptions (their text goes to <pre id="report-errors">).
std::string render_html(const ReportModel& model, const std::vector<Chart>& charts, const std::string& vega_js);

/// Paths written by write_report.
struct ReportFiles {
  std::filesystem::path html, markdown;
};

/// Builds charts and writes html_path and the .md beside it (same stem).
ReportFiles write_report(const ReportModel& model, const std::filesystem::path& html_path);

}  // namespace synclab::experiments
