// One way to split pushes over the shards and join their replies, for every driver.
#include "policies/shard_set.hpp"

#include <algorithm>

#include <fmt/format.h>

#include "core/common/error.hpp"

namespace synclab {

ShardSet::ShardSet(std::size_t num_params, int shards) : num_params_(num_params) {
  if (shards < 1) throw Error(fmt::format("shards must be >= 1, not {}", shards));
  ranges_ = shard_ranges(num_params, shards);
}

std::span<const float> ShardSet::piece(std::span<const float> full, int shard) const {
  if (full.empty()) return {};
  const Range& r = range(shard);
  if (full.size() != num_params_)
    throw Error(fmt::format("a push of {} floats cannot be cut into shards of a {}-float model", full.size(), num_params_));
  return full.subspan(r.begin, r.size());
}

void ShardSet::place(std::span<float> full, int shard, std::span<const float> values) const {
  if (values.empty()) return;
  const Range& r = range(shard);
  if (values.size() != r.size() || full.size() < r.end)
    throw Error(fmt::format("ps{} sent {} floats for a range of {}", shard, values.size(), r.size()));
  std::copy(values.begin(), values.end(), full.begin() + static_cast<std::ptrdiff_t>(r.begin));
}

void PullJoin::add(Version version, std::optional<int> local_steps) {
  if (replies_ == 0) {
    joined_.version = version;
  } else {
    mixed_ = mixed_ || version != joined_.version;
    joined_.version = std::min(joined_.version, version);
  }
  if (local_steps) joined_.local_steps = local_steps;
  ++replies_;
}

}  // namespace synclab
