#pragma once
// The parameter-server shards as a worker sees them: a push is cut into one piece per
// shard, and the replies of every shard to one pull are joined into the worker's buffer and
// one PulledParams, the same way in every driver (in-process, sim, real, replay).
// What staleness means with shards: docs/run-directory.md.
#include <cstddef>
#include <optional>
#include <span>
#include <vector>

#include "core/tensor/param_layout.hpp"
#include "policies/events.hpp"
#include "policies/worker_core.hpp"

namespace synclab {

/// The contiguous ranges of the flat parameter buffer that the shards own.
class ShardSet {
 public:
  /// `shards` ranges over [0, num_params) whose sizes differ by at most one float.
  ShardSet(std::size_t num_params, int shards);
  int size() const { return static_cast<int>(ranges_.size()); }
  const Range& range(int shard) const { return ranges_[static_cast<std::size_t>(shard)]; }
  const std::vector<Range>& ranges() const { return ranges_; }
  std::size_t num_params() const { return num_params_; }
  /// Shard `shard`'s piece of a full-buffer payload; empty for an empty payload (timing mode).
  std::span<const float> piece(std::span<const float> full, int shard) const;
  /// Copies shard `shard`'s reply into its range of the full buffer; an empty reply (timing
  /// mode) copies nothing. Error naming the shard when the reply is not its range's size.
  void place(std::span<float> full, int shard, std::span<const float> values) const;

 private:
  std::size_t num_params_ = 0;
  std::vector<Range> ranges_;
};

/// Joins the replies of every shard to one pull into what the worker's core is told.
/// The version is the LOWEST over the shards: every range the worker holds is at least that
/// new, so a push computed on it counts its staleness from its oldest range. The tau hint
/// (shards decide alike) is the last one given, in shard order.
class PullJoin {
 public:
  /// One shard's reply, in shard order.
  void add(Version version, std::optional<int> local_steps);
  /// The joined reply; requires at least one add().
  PulledParams result() const { return joined_; }
  /// True when the shards replied with different versions (a reply of mixed ages).
  bool mixed_versions() const { return mixed_; }
  int replies() const { return replies_; }

 private:
  PulledParams joined_;
  int replies_ = 0;
  bool mixed_ = false;
};

}  // namespace synclab
