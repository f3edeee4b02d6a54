#include "experiments/recommendation.hpp"

#include <algorithm>
#include <cmath>
#include <map>

#include <fmt/format.h>

#include "experiments/seed_stats.hpp"

namespace synclab::experiments {

namespace {

constexpr double kAlpha = 0.05;  // significance level of the Welch test

// The objective's figure for one run; nullopt when the run does not have it (missed target).
std::optional<double> run_value(const RunData& r, Objective o, double target) {
  switch (o) {
    case Objective::TimeToTarget: {
      const auto hit = first_at_target(r, target);
      return hit ? std::optional<double>(hit->time_s) : std::nullopt;
    }
    case Objective::FinalAccuracy:
      return r.number("final_test_accuracy", r.evals.empty() ? 0.0 : r.evals.back().test_accuracy);
    case Objective::Throughput: {
      const double t = r.number("time_s");
      return t > 0 ? r.number("samples") / t : 0.0;
    }
    case Objective::Cost: {
      const auto hit = first_at_target(r, target);
      if (!hit) return std::nullopt;
      const double updates = r.number("updates");
      const double share = updates > 0 ? std::min(1.0, static_cast<double>(hit->update) / updates) : 1.0;
      return r.number("bytes_sent") * share;
    }
  }
  return std::nullopt;
}

struct Entry {
  const RunGroup* group = nullptr;
  std::map<std::string, double> by_seed;  // train.seed -> value
  std::vector<double> values;
  Spread spread;
};

std::string seed_of(const RunData& r) {
  const auto it = r.config.find("train.seed");
  return it != r.config.end() ? it->second : r.name;
}

std::string policy_of(const RunGroup& g) {
  const auto it = g.config.find("policy.name");
  if (it != g.config.end()) return it->second;
  return g.runs.empty() ? std::string() : g.runs.front()->summary.value("policy", std::string());
}

std::string bytes_text(double b) {
  if (b >= 1e9) return fmt::format("{:.3g} GB", b / 1e9);
  if (b >= 1e6) return fmt::format("{:.3g} MB", b / 1e6);
  if (b >= 1e3) return fmt::format("{:.3g} kB", b / 1e3);
  return fmt::format("{:.0f} bytes", b);
}

std::string value_text(Objective o, double v) {
  switch (o) {
    case Objective::TimeToTarget: return fmt::format("{:.3g} s", v);
    case Objective::FinalAccuracy: return fmt::format("{:.3f}", v);
    case Objective::Throughput: return fmt::format("{:.4g} samples/s", v);
    case Objective::Cost: return bytes_text(v);
  }
  return fmt::format("{:g}", v);
}

std::string interval_text(Objective o, const Spread& s) {
  if (s.n < 2) return value_text(o, s.mean) + " (1 seed)";
  return fmt::format("{} [{}, {}]", value_text(o, s.mean), value_text(o, s.lo), value_text(o, s.hi));
}

// "41% sooner", "0.021 higher": how the best beats the runner-up in the metric's own terms.
std::string margin_text(Objective o, double best, double runner, double pct) {
  switch (o) {
    case Objective::TimeToTarget: return fmt::format("{:.0f}% sooner", pct);
    case Objective::FinalAccuracy: return fmt::format("{:.3f} higher", best - runner);
    case Objective::Throughput: return fmt::format("{:.0f}% more", pct);
    case Objective::Cost: return fmt::format("{:.0f}% fewer bytes", pct);
  }
  return "";
}

// accuracy_only: compare final accuracy alone (for the most accurate config beyond the runner-up).
void add_tradeoffs(Recommendation& rec, const ReportModel& m, const RunGroup& best, const RunGroup& other,
                   bool accuracy_only = false) {
  const auto& b = best.label;
  const auto& o = other.label;
  // Final accuracy is what a faster or cheaper winner most often gives up.
  const double acc_gap = other.final_accuracy.mean - best.final_accuracy.mean;
  if (rec.objective != Objective::FinalAccuracy && acc_gap >= 0.005 && m.has_accuracy) {
    if (rec.objective == Objective::TimeToTarget)
      rec.tradeoffs.push_back(fmt::format("{} reaches {:.2f} first but ends {:.3f} lower than {} ({:.3f} vs {:.3f}).", b,
                                          m.target, acc_gap, o, best.final_accuracy.mean, other.final_accuracy.mean));
    else
      rec.tradeoffs.push_back(fmt::format("{} ends {:.3f} lower in final accuracy than {} ({:.3f} vs {:.3f}).", b, acc_gap, o,
                                          best.final_accuracy.mean, other.final_accuracy.mean));
  }
  if (accuracy_only) return;
  if (rec.objective != Objective::TimeToTarget && m.has_accuracy && other.time_to_target &&
      (!best.time_to_target || *other.time_to_target < *best.time_to_target * 0.95)) {
    rec.tradeoffs.push_back(best.time_to_target
                                ? fmt::format("{} reaches {:.2f} accuracy sooner ({:.3g} s vs {:.3g} s).", o, m.target,
                                              *other.time_to_target, *best.time_to_target)
                                : fmt::format("{} reaches {:.2f} accuracy ({:.3g} s); {} does not with every seed.", o,
                                              m.target, *other.time_to_target, b));
  }
  if (rec.objective != Objective::Throughput && other.samples_per_s.mean > best.samples_per_s.mean * 1.1)
    rec.tradeoffs.push_back(fmt::format("{} processes {:.0f}% more samples per second ({:.4g} vs {:.4g}).", o,
                                        100.0 * (other.samples_per_s.mean / best.samples_per_s.mean - 1),
                                        other.samples_per_s.mean, best.samples_per_s.mean));
  if (rec.objective != Objective::Cost && best.bytes_sent.mean > 0 && other.bytes_sent.mean < best.bytes_sent.mean * 0.9)
    rec.tradeoffs.push_back(fmt::format("{} sends {:.0f}% fewer bytes ({} vs {}).", o,
                                        100.0 * (1 - other.bytes_sent.mean / best.bytes_sent.mean),
                                        bytes_text(other.bytes_sent.mean), bytes_text(best.bytes_sent.mean)));
}

// The groups with the objective's figure in every seed, best mean first; the others are
// named in `excluded` (when given).
std::vector<Entry> rank(const std::vector<const RunGroup*>& groups, const ReportModel& m, Objective objective, bool lower,
                        std::vector<std::string>* excluded) {
  std::vector<Entry> entries;
  for (const auto* g : groups) {
    Entry e;
    e.group = g;
    std::size_t missing = 0;
    for (const auto* r : g->runs) {
      const auto v = run_value(*r, objective, m.target);
      if (!v) {
        ++missing;
        continue;
      }
      e.values.push_back(*v);
      e.by_seed[seed_of(*r)] = *v;
    }
    if (missing > 0) {
      if (excluded)
        excluded->push_back(fmt::format("{}: reached {:.2f} in {} of {} seeds.", g->label, m.target,
                                        g->runs.size() - missing, g->runs.size()));
      continue;
    }
    if (e.values.empty()) continue;
    e.spread = make_spread(e.values);
    entries.push_back(std::move(e));
  }
  std::stable_sort(entries.begin(), entries.end(), [lower](const Entry& a, const Entry& b) {
    return lower ? a.spread.mean < b.spread.mean : a.spread.mean > b.spread.mean;
  });
  return entries;
}

// For each way the real runs were simulated: the config simulation alone ranks first, and
// whether it is the one the real runs rank first (`real`, ranked, possibly empty).
std::vector<std::string> simulated_picks(const ReportModel& m, Objective objective, bool lower,
                                         const std::vector<Entry>& real, const std::string& metric) {
  std::vector<std::string> variants;
  for (const auto& p : m.pairs)
    if (std::find(variants.begin(), variants.end(), p.sim_variant) == variants.end()) variants.push_back(p.sim_variant);
  std::vector<std::string> out;
  for (const auto& v : variants) {
    std::vector<const RunGroup*> sims;
    std::map<const RunGroup*, const RunGroup*> twin;
    for (const auto& p : m.pairs)
      if (p.sim_variant == v) {
        sims.push_back(p.sim);
        twin[p.sim] = p.real;
      }
    const std::string who = v.empty() ? "Simulation" : "Simulation [" + v + "]";
    const auto ranked = rank(sims, m, objective, lower, nullptr);
    if (ranked.empty()) {
      out.push_back(fmt::format("{} has no config with a {} in every seed.", who, metric));
      continue;
    }
    const RunGroup* pick = twin.at(ranked.front().group);
    const auto measured = std::find_if(real.begin(), real.end(), [pick](const Entry& e) { return e.group == pick; });
    const std::string simulated = value_text(objective, ranked.front().spread.mean);
    if (!real.empty() && real.front().group == pick) {
      out.push_back(fmt::format("{} ranks the same config first: {} (simulated {}, real {}).", who, config_label(*pick),
                                simulated, value_text(objective, real.front().spread.mean)));
    } else if (real.empty()) {
      out.push_back(fmt::format("{} ranks {} first (simulated {}); no real config has the figure.", who,
                                config_label(*pick), simulated));
    } else {
      const std::string its_real = measured != real.end()
                                       ? "real " + value_text(objective, measured->spread.mean)
                                       : "its real runs lack the figure in some seed";
      out.push_back(fmt::format("{} ranks {} first instead (simulated {}, {}); the real runs rank {} first ({}).", who,
                                config_label(*pick), simulated, its_real, config_label(*real.front().group),
                                value_text(objective, real.front().spread.mean)));
    }
  }
  return out;
}

}  // namespace

std::optional<Objective> parse_objective(const std::string& name) {
  if (name == "time") return Objective::TimeToTarget;
  if (name == "accuracy") return Objective::FinalAccuracy;
  if (name == "throughput") return Objective::Throughput;
  if (name == "cost") return Objective::Cost;
  return std::nullopt;
}

const char* objective_name(Objective o) {
  switch (o) {
    case Objective::TimeToTarget: return "time";
    case Objective::FinalAccuracy: return "accuracy";
    case Objective::Throughput: return "throughput";
    case Objective::Cost: return "cost";
  }
  return "?";
}

const char* certainty_name(Certainty c) {
  switch (c) {
    case Certainty::Clear: return "clear";
    case Certainty::WithinNoise: return "within-noise";
    case Certainty::SeedsDisagree: return "seeds-disagree";
    case Certainty::SingleSeed: return "single-seed";
    case Certainty::Alone: return "alone";
    case Certainty::NoCandidate: return "none";
  }
  return "?";
}

Recommendation recommend(const ReportModel& m, Objective objective) {
  Recommendation rec;
  if (!m.has_accuracy && objective != Objective::Throughput) {
    rec.excluded.push_back(fmt::format("These runs have no evaluations (timing mode): the {} objective needs accuracy, so "
                                       "throughput decides instead.",
                                       objective_name(objective)));
    objective = Objective::Throughput;
  }
  rec.objective = objective;
  switch (objective) {
    case Objective::TimeToTarget:
      rec.metric = fmt::format("time to {:.2f} test accuracy", m.target);
      rec.unit = "s";
      break;
    case Objective::FinalAccuracy:
      rec.metric = "final test accuracy";
      rec.unit = "fraction";
      rec.lower_is_better = false;
      break;
    case Objective::Throughput:
      rec.metric = "throughput";
      rec.unit = "samples/s";
      rec.lower_is_better = false;
      break;
    case Objective::Cost:
      rec.metric = fmt::format("bytes sent until {:.2f} test accuracy", m.target);
      rec.unit = "bytes";
      break;
  }

  // A fidelity report ranks its real configs: their simulated twins are predictions of them.
  std::vector<const RunGroup*> candidates;
  for (const auto& g : m.groups)
    if (m.pairs.empty() || g.backend == "real") candidates.push_back(&g);
  if (candidates.size() < m.groups.size()) {
    rec.basis = fmt::format("Ranked on the {} real configs; their simulated runs predict them (below) and are not "
                            "ranked beside them.",
                            candidates.size());
    std::size_t unpaired = 0;
    for (const auto& g : m.groups)
      unpaired += g.backend != "real" && std::none_of(m.pairs.begin(), m.pairs.end(),
                                                      [&g](const SimRealPair& p) { return p.sim == &g; });
    if (unpaired > 0)
      rec.basis += fmt::format(" {} simulated config{} without a real run {} not ranked either.", unpaired,
                               unpaired == 1 ? "" : "s", unpaired == 1 ? "is" : "are");
  }
  const bool lower = rec.lower_is_better;
  const std::vector<Entry> entries = rank(candidates, m, objective, lower, &rec.excluded);
  if (!m.pairs.empty()) rec.simulated_picks = simulated_picks(m, objective, lower, entries, rec.metric);

  for (const auto& p : m.pairs) {
    const double total = std::fabs(p.time_error_pct);
    std::string line = fmt::format("{}: predicted by simulation within {:.1f}% (total time, sim {:.3g} s vs real {:.3g} s)",
                                   pair_label(p), total, p.sim->time_s.mean, p.real->time_s.mean);
    if (p.tta_error_pct) line += fmt::format("; time to target within {:.1f}%", std::fabs(*p.tta_error_pct));
    if (p.updates_to_target_error_pct)
      line += fmt::format(" (updates to target sim {:.3g} vs real {:.3g})", *p.sim->updates_to_target, *p.real->updates_to_target);
    if (m.has_accuracy) line += fmt::format("; final accuracy {:+.3f}", p.accuracy_diff);
    rec.sim_real.push_back(line + ".");
  }

  if (entries.empty()) {
    rec.certainty = Certainty::NoCandidate;
    rec.headline = objective == Objective::TimeToTarget || objective == Objective::Cost
                       ? fmt::format("No config reached {:.2f} test accuracy with every seed: lower the target (--target) "
                                     "or train longer before choosing on {}.",
                                     m.target, rec.metric)
                       : fmt::format("No config has a {} to compare.", rec.metric);
    rec.confidence = "Nothing to compare.";
    return rec;
  }
  const Entry& best = entries.front();
  rec.best = Candidate{best.group->label, policy_of(*best.group), best.spread};
  if (entries.size() == 1) {
    rec.certainty = Certainty::Alone;
    rec.headline = fmt::format("Deploy {}: it is the only config with a {} ({}).", best.group->label, rec.metric,
                               interval_text(objective, best.spread));
    rec.confidence = "No other config qualifies, so there is nothing to compare it with.";
    return rec;
  }
  const Entry& runner = entries[1];
  rec.runner_up = Candidate{runner.group->label, policy_of(*runner.group), runner.spread};
  const double b = best.spread.mean, r = runner.spread.mean;
  rec.margin_pct = r != 0 ? std::fabs(b - r) / std::fabs(r) * 100.0 : 0.0;
  for (const auto& [seed, v] : best.by_seed) {
    const auto it = runner.by_seed.find(seed);
    if (it == runner.by_seed.end()) continue;
    ++rec.seeds_compared;
    if (lower ? v < it->second : v > it->second) ++rec.seeds_agreeing;
  }
  const auto test = welch_test(best.values, runner.values);
  if (test) rec.p_value = test->p;
  const std::string both = fmt::format("{} {} vs {} {}", best.group->label, interval_text(objective, best.spread),
                                       runner.group->label, interval_text(objective, runner.spread));
  if (!test) {
    rec.certainty = Certainty::SingleSeed;
    rec.headline = fmt::format("{} leads on {} ({}, {} than {}), but with one seed the noise is unknown: run more seeds "
                               "(seeds: [1, 2, 3] in the sweep) before deploying it.",
                               best.group->label, rec.metric, value_text(objective, b), margin_text(objective, b, r, rec.margin_pct),
                               runner.group->label);
    rec.confidence = fmt::format("One seed: {}; no interval or test possible.", both);
  } else if (test->p >= kAlpha) {
    rec.certainty = Certainty::WithinNoise;
    for (const auto& e : entries) {
      const auto t = welch_test(best.values, e.values);
      if (&e == &best || !t || t->p >= kAlpha) rec.tied.push_back(e.group->label);
    }
    std::string names;
    for (std::size_t i = 0; i < rec.tied.size(); ++i)
      names += (i == 0 ? "" : i + 1 == rec.tied.size() ? " and " : ", ") + rec.tied[i];
    rec.headline = fmt::format("No clear winner on {}: {} are within noise of each other across the seeds; choose among "
                               "them on the trade-offs below.",
                               rec.metric, names);
    rec.confidence = fmt::format("Welch's t-test, best vs runner-up: p = {:.2g} (>= {}); 95% intervals: {}.", test->p,
                                 kAlpha, both);
  } else {
    rec.certainty = rec.seeds_agreeing < rec.seeds_compared ? Certainty::SeedsDisagree : Certainty::Clear;
    if (rec.certainty == Certainty::Clear)
      rec.headline = fmt::format("Deploy {}: {} {}, {} than the runner-up {} ({}).", best.group->label, rec.metric,
                                 value_text(objective, b), margin_text(objective, b, r, rec.margin_pct),
                                 runner.group->label, value_text(objective, r));
    else
      rec.headline = fmt::format("{} leads on {} on average ({} vs {} for {}), but the seeds disagree: it is ahead in {} "
                                 "of {} seeds; treat the ranking as uncertain.",
                                 best.group->label, rec.metric, value_text(objective, b), value_text(objective, r),
                                 runner.group->label, rec.seeds_agreeing, rec.seeds_compared);
    rec.confidence = fmt::format("Welch's t-test, best vs runner-up: p = {:.2g} (< {}); ahead in {} of {} matched seeds; "
                                 "95% intervals: {}.",
                                 test->p, kAlpha, rec.seeds_agreeing, rec.seeds_compared, both);
  }
  add_tradeoffs(rec, m, *best.group, *runner.group);
  // The most accurate config, when it is neither: what the user would give up for the objective.
  if (objective != Objective::FinalAccuracy && m.has_accuracy) {
    const RunGroup* top = best.group;
    for (const auto* g : candidates)
      if (g->final_accuracy.mean > top->final_accuracy.mean) top = g;
    if (top != best.group && top != runner.group) add_tradeoffs(rec, m, *best.group, *top, true);
  }
  return rec;
}

}  // namespace synclab::experiments
