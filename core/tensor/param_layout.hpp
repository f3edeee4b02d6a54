#pragma once
// One flat float buffer per model; a layout names the ranges inside it. Shards of a
// parameter server own contiguous ranges of the same buffer.
#include <cstddef>
#include <string>
#include <vector>

namespace synclab {

/// One named parameter tensor inside the flat buffer.
struct ParamBlock {
  std::string name;          ///< e.g. "conv1.weight"
  std::size_t offset = 0;    ///< first float of the block in the flat buffer
  std::size_t count = 0;     ///< number of floats
  std::vector<int> shape;    ///< logical shape, row-major (conv: [out_c, in_c, k, k]; dense: [in, out])
  bool is_bias = false;      ///< biases are initialised to a constant, weights randomly
};

/// The whole flat buffer: blocks in order, back to back.
struct ParamLayout {
  std::vector<ParamBlock> blocks;
  std::size_t total = 0;     ///< floats in the buffer
  /// Appends a block at the end and returns its offset.
  std::size_t add(std::string name, std::vector<int> shape, bool is_bias);
};

/// Half-open range [begin, end) of the flat buffer.
struct Range {
  std::size_t begin = 0, end = 0;
  std::size_t size() const { return end - begin; }
};

/// Splits [0, total) into n contiguous ranges whose sizes differ by at most one float.
std::vector<Range> shard_ranges(std::size_t total, int n);

}  // namespace synclab
