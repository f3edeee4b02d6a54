#include "core/backends/fast/fast_tensor.hpp"

namespace synclab::fast {

using dnnl::memory;

std::size_t FastTensor::count() const {
  std::size_t c = 1;
  for (auto d : desc.dims()) c *= static_cast<std::size_t>(d);
  return c;
}

bool FastTensor::plain() const { return desc == plain_desc(desc.dims()); }

memory::desc plain_desc(const memory::dims& dims) {
  const auto tag = dims.size() == 4 ? memory::format_tag::nchw : memory::format_tag::nc;
  return memory::desc(dims, memory::data_type::f32, tag);
}

FastTensor make_tensor(const FastContext& ctx, const memory::desc& desc, bool with_grad) {
  FastTensor t;
  t.desc = desc;
  t.value = memory(desc, ctx.engine);
  if (with_grad) t.grad = memory(desc, ctx.engine);
  return t;
}

}  // namespace synclab::fast
