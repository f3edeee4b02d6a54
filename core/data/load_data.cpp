// Dataset selection (data.dataset / data.dir) and the in-memory Dataset helpers.
#include <filesystem>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "core/data/dataset.hpp"

namespace synclab {

namespace {

// Prefers the gzip file, as distributed; falls back to an unpacked one.
std::string idx_path(const std::filesystem::path& dir, const std::string& stem, const std::string& dataset) {
  const auto gz = dir / (stem + ".gz");
  if (std::filesystem::exists(gz)) return gz.string();
  const auto raw = dir / stem;
  if (std::filesystem::exists(raw)) return raw.string();
  std::string hint = dataset == "fashion-mnist" && dir == kDefaultFashionMnistDir
                         ? " (install the Debian package dataset-fashion-mnist, or set data.dir)"
                         : " (set data.dir to the directory of the IDX files)";
  throw DataError(gz.string(), "no such file, nor " + stem + " unpacked" + hint);
}

}  // namespace

Batch Dataset::slice(std::size_t first, std::size_t n) const {
  if (first > size() || n > size() - first) {
    throw Error(fmt::format("{}: samples [{}, {}) are outside the {} samples", name, first, first + n, size()));
  }
  return Batch{x.data() + first * sample_size(), y.data() + first, n};
}

DataSplit load_data(const DataSpec& spec, std::uint64_t seed) {
  DataSplit split;
  if (spec.dataset == "synthetic") {
    const std::size_t n_train = spec.train_limit ? std::min(spec.train_limit, spec.synthetic_train) : spec.synthetic_train;
    const std::size_t n_test = spec.test_limit ? std::min(spec.test_limit, spec.synthetic_test) : spec.synthetic_test;
    split.train = make_synthetic(n_train, seed, 0);
    split.test = make_synthetic(n_test, seed, 1);
    return split;
  }
  if (spec.dataset != "fashion-mnist" && spec.dataset != "mnist") {
    throw ConfigError("data.dataset", "expected fashion-mnist | mnist | synthetic, got '" + spec.dataset + "'");
  }
  if (spec.dataset == "mnist" && spec.dir.empty()) {
    throw ConfigError("data.dir", "required for dataset mnist (the directory of its IDX files)");
  }
  const std::filesystem::path dir = spec.dir.empty() ? std::filesystem::path(kDefaultFashionMnistDir) : std::filesystem::path(spec.dir);
  if (!std::filesystem::is_directory(dir)) {
    const std::string hint = spec.dir.empty() ? " (install the Debian package dataset-fashion-mnist, or set data.dir)" : "";
    throw DataError(dir.string(), "no such directory" + hint);
  }
  split.train = read_idx(idx_path(dir, "train-images-idx3-ubyte", spec.dataset),
                         idx_path(dir, "train-labels-idx1-ubyte", spec.dataset), spec.dataset, spec.train_limit);
  split.test = read_idx(idx_path(dir, "t10k-images-idx3-ubyte", spec.dataset),
                        idx_path(dir, "t10k-labels-idx1-ubyte", spec.dataset), spec.dataset, spec.test_limit);
  if (split.train.sample_size() != split.test.sample_size()) {
    throw DataError(dir.string(), "train and test images have different sizes");
  }
  return split;
}

}  // namespace synclab
