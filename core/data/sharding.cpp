// Splitting training samples over workers. Non-iid shards give each worker a few labels,
// the setting where stale gradients from other workers hurt most.
#include <algorithm>
#include <numeric>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "core/common/rng.hpp"
#include "core/data/dataset.hpp"

namespace synclab {

namespace {

void shuffle(std::vector<std::uint32_t>& v, Rng& rng) {
  for (std::size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng.below(i)]);
}

// Stream tag of the workers' batch samplers; changing it changes every run's batches.
constexpr std::uint64_t kSamplerStream = 0x5a3b1e;

}  // namespace

std::uint64_t worker_sampler_seed(std::uint64_t seed, int worker) { return derive_seed(seed, kSamplerStream, static_cast<std::uint64_t>(worker)); }

std::vector<std::vector<std::uint32_t>> shard_indices(const Dataset& train, int workers, Sharding sharding,
                                                      int classes_per_worker, std::uint64_t seed) {
  if (workers < 1) throw ConfigError("cluster.workers", "must be at least 1");
  const auto n = train.size();
  std::vector<std::vector<std::uint32_t>> shards(static_cast<std::size_t>(workers));
  Rng rng(derive_seed(seed, 0x5ba2d));
  if (sharding == Sharding::Iid) {
    std::vector<std::uint32_t> all(n);
    std::iota(all.begin(), all.end(), 0u);
    shuffle(all, rng);
    for (int w = 0; w < workers; ++w) {
      const std::size_t begin = n * static_cast<std::size_t>(w) / static_cast<std::size_t>(workers);
      const std::size_t end = n * static_cast<std::size_t>(w + 1) / static_cast<std::size_t>(workers);
      shards[static_cast<std::size_t>(w)].assign(all.begin() + static_cast<std::ptrdiff_t>(begin),
                                                 all.begin() + static_cast<std::ptrdiff_t>(end));
    }
  } else {
    const int classes = train.classes;
    if (classes_per_worker < 1 || classes_per_worker > classes) {
      throw ConfigError("data.classes_per_worker", fmt::format("expected an integer in [1, {}], got {}", classes, classes_per_worker));
    }
    // Worker w holds classes w*k .. w*k+k-1 (mod C); each class's samples are dealt out
    // evenly to the workers holding it.
    std::vector<std::vector<int>> holders(static_cast<std::size_t>(classes));
    for (int w = 0; w < workers; ++w) {
      for (int j = 0; j < classes_per_worker; ++j) holders[static_cast<std::size_t>((w * classes_per_worker + j) % classes)].push_back(w);
    }
    std::vector<std::vector<std::uint32_t>> by_class(static_cast<std::size_t>(classes));
    for (std::uint32_t i = 0; i < n; ++i) by_class[train.y[i]].push_back(i);
    for (int c = 0; c < classes; ++c) {
      auto& members = by_class[static_cast<std::size_t>(c)];
      const auto& h = holders[static_cast<std::size_t>(c)];
      if (h.empty()) continue;
      shuffle(members, rng);
      for (std::size_t k = 0; k < h.size(); ++k) {
        const std::size_t begin = members.size() * k / h.size(), end = members.size() * (k + 1) / h.size();
        auto& s = shards[static_cast<std::size_t>(h[k])];
        s.insert(s.end(), members.begin() + static_cast<std::ptrdiff_t>(begin), members.begin() + static_cast<std::ptrdiff_t>(end));
      }
    }
    for (auto& s : shards) std::sort(s.begin(), s.end());
  }
  for (int w = 0; w < workers; ++w) {
    if (shards[static_cast<std::size_t>(w)].empty()) {
      throw Error(fmt::format("data: worker {} gets no training samples ({} samples over {} workers)", w, n, workers));
    }
  }
  return shards;
}

BatchSampler::BatchSampler(const Dataset& data, std::vector<std::uint32_t> indices, std::size_t batch, std::uint64_t seed)
    : data_(&data), indices_(std::move(indices)), batch_(batch), seed_(seed) {
  if (indices_.empty()) throw Error("data: a batch sampler needs at least one sample");
  if (batch_ == 0) throw ConfigError("data.batch", "must be at least 1");
  x_.resize(batch_ * data.sample_size());
  y_.resize(batch_);
  reshuffle();
}

void BatchSampler::reshuffle() {
  // The order of epoch e depends only on (seed, e): reproducible, and restartable by epoch.
  std::sort(indices_.begin(), indices_.end());
  Rng rng(derive_seed(seed_, 0xba7c4, epoch_));
  shuffle(indices_, rng);
  pos_ = 0;
}

Batch BatchSampler::next() {
  const std::size_t ss = data_->sample_size();
  for (std::size_t b = 0; b < batch_; ++b) {
    if (pos_ == indices_.size()) {
      ++epoch_;
      reshuffle();
    }
    const std::uint32_t i = indices_[pos_++];
    std::copy_n(data_->x.data() + static_cast<std::size_t>(i) * ss, ss, x_.data() + b * ss);
    y_[b] = data_->y[i];
  }
  drawn_ += batch_;
  return Batch{x_.data(), y_.data(), batch_};
}

}  // namespace synclab
