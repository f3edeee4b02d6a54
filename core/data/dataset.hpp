#pragma once
// Datasets in memory, IDX files (gzip or raw), seeded shuffling and sharding over workers.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/backends/network.hpp"

namespace synclab {

/// Images as floats in [0, 1], [n, c*h*w] row-major; labels [n].
struct Dataset {
  std::string name;
  int c = 1, h = 28, w = 28, classes = 10;
  std::vector<float> x;
  std::vector<std::uint8_t> y;
  std::size_t size() const { return y.size(); }
  std::size_t sample_size() const { return static_cast<std::size_t>(c) * h * w; }
  /// Contiguous samples [first, first + n) as a batch (no copy).
  Batch slice(std::size_t first, std::size_t n) const;
};

struct DataSplit {
  Dataset train, test;
};

/// Where data comes from; mirrors config keys data.*.
struct DataSpec {
  std::string dataset = "fashion-mnist";  ///< fashion-mnist | mnist | synthetic
  std::string dir;                        ///< empty: the Debian dataset-fashion-mnist location
  std::size_t synthetic_train = 10000;    ///< synthetic only
  std::size_t synthetic_test = 2000;
  std::size_t train_limit = 0;            ///< 0: all; else first n training samples
  std::size_t test_limit = 0;             ///< 0: all; else first n test samples
};

/// Default directory of Debian's dataset-fashion-mnist package.
inline constexpr const char* kDefaultFashionMnistDir = "/usr/share/datasets/fashion-mnist";

/// Reads an IDX image file (magic 0x00000803) and label file (0x00000801), gzip or raw.
/// Throws DataError naming the file on a missing, truncated or inconsistent file.
/// limit > 0: only the first `limit` samples are read (and checked).
Dataset read_idx(const std::string& images_path, const std::string& labels_path, const std::string& name,
                 std::size_t limit = 0);

/// A learnable synthetic dataset: one random prototype image per class plus Gaussian noise.
/// Prototypes depend on seed only, so train and test splits share them.
Dataset make_synthetic(std::size_t n, std::uint64_t seed, std::uint64_t stream, const std::string& name = "synthetic");

/// Loads train and test splits (synthetic data is generated from seed).
DataSplit load_data(const DataSpec& spec, std::uint64_t seed);

enum class Sharding { Iid, NonIid };

/// Sample indices per worker. Iid: a seeded permutation cut in W near-equal parts.
/// NonIid: worker w sees only classes_per_worker labels (classes assigned round-robin).
std::vector<std::vector<std::uint32_t>> shard_indices(const Dataset& train, int workers, Sharding sharding,
                                                      int classes_per_worker, std::uint64_t seed);

/// Endless batches over a set of indices, reshuffled every epoch from (seed, epoch).
class BatchSampler {
 public:
  BatchSampler(const Dataset& data, std::vector<std::uint32_t> indices, std::size_t batch, std::uint64_t seed);
  /// Next batch; the view stays valid until the following call.
  Batch next();
  std::uint64_t epoch() const { return epoch_; }         ///< completed passes over the indices
  std::uint64_t samples_drawn() const { return drawn_; }
 private:
  void reshuffle();
  const Dataset* data_;
  std::vector<std::uint32_t> indices_;
  std::size_t batch_, pos_ = 0;
  std::uint64_t seed_, epoch_ = 0, drawn_ = 0;
  std::vector<float> x_;        // [batch, sample_size]
  std::vector<std::uint8_t> y_; // [batch]
};

/// Seed of worker w's BatchSampler, the one definition for every driver that runs workers
/// (sim, real): bit-identical sim and real runs depend on both drawing the same batches.
std::uint64_t worker_sampler_seed(std::uint64_t seed, int worker);

}  // namespace synclab
