#pragma once
// Does simulation rank the policies as the real runs do? For every setting (a config up to
// its policy, simulated one way), the policies ordered by time to the target accuracy in
// each world, and how far the two orders are apart. A simulator that is off by a few
// percent everywhere still picks the right policy; one that swaps two policies does not.
// With several seeds per run, two policies whose real runs overlap (one's slowest seed
// reached the target after the other's fastest, also when the other missed it with some
// seeds) are tied: the real order of the two depends on the seed, so no simulated order of
// them is wrong.
#include <cstddef>
#include <string>
#include <vector>

#include "experiments/report_model.hpp"

namespace synclab::experiments {

/// The policies of one setting, fastest to the target first, in simulation and for real.
struct PolicyOrder {
  std::string setting;                 ///< the config keys in which settings differ ("k=v k=v"; "all runs" when one)
  std::string sim_variant;             ///< the pairs' sim_variant (several sims of one real run)
  std::vector<std::string> sim, real;  ///< policy labels ("ssp staleness=2"); unreached ones last, by final accuracy
  std::size_t discordant = 0;          ///< policy pairs the two orders rank the other way round (Kendall distance)
  std::size_t tied = 0;                ///< policy pairs tied in the real runs (their seeds' ranges overlap)
  std::size_t tied_discordant = 0;     ///< of the discordant pairs, those tied in the real runs
  bool same() const { return sim == real; }
  bool agrees() const { return discordant == tied_discordant; }  ///< every pair the real runs tell apart ranked alike
};

/// The policy label of a group: policy.name, then its other policy.* keys as k=v.
std::string policy_label(const RunGroup& group);

/// "same order", "same order but for N real tie(s)" or "N pair(s) swapped[, M more within real ties]".
std::string agreement_text(const PolicyOrder& order);

/// Whether two real groups' order depends on the seed: both have two or more seeds and
/// overlapping ranges of time to target (both reached it with every seed) or of final
/// accuracy (neither did), or one reached it with every seed and a seed of the other,
/// which missed it with some, reached it before the first's slowest seed.
bool tied(const RunGroup& a, const RunGroup& b);

/// One entry per setting with two or more policies paired sim-to-real, in the order the
/// settings first appear among the pairs.
std::vector<PolicyOrder> policy_orders(const std::vector<SimRealPair>& pairs);

}  // namespace synclab::experiments
