#pragma once
// Model fingerprint exchanged in the handshake: peers with different models (name, block
// names, shapes or sizes) must not exchange parameters.
#include <cstdint>

#include "core/models/model_spec.hpp"

namespace synclab::real {

/// 64-bit FNV-1a over the model name and every block's name, shape and count.
std::uint64_t model_fingerprint(const ModelSpec& spec);

}  // namespace synclab::real
