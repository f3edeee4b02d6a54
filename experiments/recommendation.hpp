#pragma once
// The report's verdict: which config to deploy for the user's objective, by how much it beats
// the runner-up, how sure that is across seeds, and what it gives up. Pure: a function of the
// report model (itself a function of the run records), rendered by report_writer.
#include <optional>
#include <string>
#include <vector>

#include "experiments/report_model.hpp"

namespace synclab::experiments {

/// What the user optimises (`synclab report --objective`).
enum class Objective {
  TimeToTarget,   ///< time to reach the target accuracy (default; lower is better)
  FinalAccuracy,  ///< final test accuracy (higher is better)
  Throughput,     ///< training samples per second (higher is better)
  Cost,           ///< bytes sent until the target accuracy (lower is better)
};

/// Parses time | accuracy | throughput | cost; nullopt otherwise.
std::optional<Objective> parse_objective(const std::string& name);

/// The command-line name of an objective.
const char* objective_name(Objective objective);

/// How far the seeds back the verdict.
enum class Certainty {
  Clear,          ///< Welch's t-test p < 0.05 and every matched seed agrees
  WithinNoise,    ///< the best and the runner-up are not told apart (p >= 0.05)
  SeedsDisagree,  ///< significant on average, but some seed ranks them the other way round
  SingleSeed,     ///< one seed per config: the noise is unknown
  Alone,          ///< only one config qualifies: nothing to compare
  NoCandidate,    ///< no config has the figure (e.g. none reached the target with every seed)
};

/// Short name of a certainty for data attributes and tests: clear, within-noise, ...
const char* certainty_name(Certainty certainty);

/// One config's figure for the objective.
struct Candidate {
  std::string label;     ///< the group label, as in the report's table
  std::string policy;    ///< policy.name of the group
  Spread value;          ///< over its seeds (mean and 95% interval)
};

struct Recommendation {
  Objective objective = Objective::TimeToTarget;
  std::string metric;                   ///< "time to 0.78 test accuracy"
  std::string unit;                     ///< "s", "fraction", "samples/s", "bytes"
  bool lower_is_better = true;
  Certainty certainty = Certainty::NoCandidate;
  std::optional<Candidate> best;        ///< the config to deploy (when one leads)
  std::optional<Candidate> runner_up;
  std::vector<std::string> tied;        ///< configs within noise of the best (WithinNoise)
  double margin_pct = 0;                ///< |best - runner-up| / runner-up x 100
  std::optional<double> p_value;        ///< Welch's two-sided p, best vs runner-up
  std::size_t seeds_compared = 0;       ///< seeds both configs ran (matched by train.seed)
  std::size_t seeds_agreeing = 0;       ///< of those, seeds where the best is ahead
  std::string headline;                 ///< one sentence: the answer
  std::string confidence;               ///< one sentence: how sure, and by which test
  std::vector<std::string> tradeoffs;   ///< sentences: what the best gives up to the runner-up
  std::vector<std::string> excluded;    ///< configs left out, with why
  std::string basis;                    ///< which runs were ranked, when that is not all of them
  std::vector<std::string> simulated_picks;  ///< per simulated variant: does simulation alone pick the same config?
  std::vector<std::string> sim_real;    ///< "bsp: predicted by simulation within 7.7% ..."
};

/// The recommendation for the objective over the model's groups. Without evaluations
/// (timing mode) the accuracy objectives fall back to throughput, saying so in `excluded`.
/// Where simulated runs have real twins (a fidelity report), the real groups alone are
/// ranked (a config is deployed on what was measured, and a config's sim and real runs are
/// one config, not two candidates); each simulated variant's own pick is compared with it.
Recommendation recommend(const ReportModel& model, Objective objective);

}  // namespace synclab::experiments
