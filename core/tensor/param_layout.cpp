#include "core/tensor/param_layout.hpp"

#include <stdexcept>

namespace synclab {

std::size_t ParamLayout::add(std::string name, std::vector<int> shape, bool is_bias) {
  std::size_t count = 1;
  for (int d : shape) count *= static_cast<std::size_t>(d);
  const std::size_t offset = total;
  blocks.push_back({std::move(name), offset, count, std::move(shape), is_bias});
  total += count;
  return offset;
}

std::vector<Range> shard_ranges(std::size_t total, int n) {
  if (n <= 0) throw std::invalid_argument("shard_ranges: need at least one shard");
  std::vector<Range> out;
  const std::size_t shards = static_cast<std::size_t>(n), base = total / shards, extra = total % shards;
  std::size_t begin = 0;
  for (std::size_t i = 0; i < shards; ++i) {
    const std::size_t size = base + (i < extra ? 1 : 0);
    out.push_back({begin, begin + size});
    begin += size;
  }
  return out;
}

}  // namespace synclab
