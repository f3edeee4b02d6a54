#pragma once
// Vega specifications of the report's charts, built from a ReportModel. Every axis title
// carries its unit.
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "experiments/report_model.hpp"

namespace synclab::experiments {

struct Chart {
  std::string id;           ///< stable element id, e.g. "accuracy-vs-time"
  std::string title;        ///< heading shown above the chart
  std::string caption;      ///< one sentence on how to read it
  nlohmann::json spec;      ///< a complete Vega v5 spec
};

/// The charts that have data: accuracy vs time and vs updates, final accuracy, throughput,
/// time to target (when reached), staleness histogram (when updates.csv has rows),
/// per-worker breakdown (when summaries carry per_worker), sim-vs-real overlay (when
/// pairs exist).
std::vector<Chart> build_charts(const ReportModel& model);

}  // namespace synclab::experiments
