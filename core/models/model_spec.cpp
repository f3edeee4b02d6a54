#include "core/models/model_spec.hpp"

#include <cmath>

#include "core/common/error.hpp"
#include "core/common/rng.hpp"
#include "core/models/spec_builder.hpp"

namespace synclab {

ModelSpec make_model_spec(std::string_view name) {
  if (name == "softmax") {
    SpecBuilder b("softmax", 1, 28, 28);
    b.dense("fc", 10);
    return b.done(10);
  }
  if (name == "mlp") {
    SpecBuilder b("mlp", 1, 28, 28);
    b.dense("fc1", 100);
    b.sigmoid("sigmoid1");
    b.dense("fc2", 10);
    return b.done(10);
  }
  if (name == "cnn") {
    SpecBuilder b("cnn", 1, 28, 28);
    b.conv("conv1", 32, 5);
    b.relu("relu1");
    b.maxpool("pool1");
    b.conv("conv2", 64, 5);
    b.relu("relu2");
    b.maxpool("pool2");
    b.dense("fc1", 1024);
    b.relu("relu3");
    b.dropout("dropout", 0.5f);
    b.dense("fc2", 10);
    return b.done(10);
  }
  throw ConfigError("model", "unknown model '" + std::string(name) + "' (trainable models: softmax, mlp, cnn)");
}

std::vector<std::string> trainable_model_names() { return {"softmax", "mlp", "cnn"}; }

void init_params(const ModelSpec& spec, float* params, unsigned long long seed) {
  // One generator per block (derived from seed and block index), so a block's values do
  // not depend on the sizes of the blocks before it.
  for (std::size_t b = 0; b < spec.layout.blocks.size(); ++b) {
    const ParamBlock& block = spec.layout.blocks[b];
    float* out = params + block.offset;
    if (block.is_bias) {
      for (std::size_t i = 0; i < block.count; ++i) out[i] = spec.init_bias;
      continue;
    }
    Rng rng(derive_seed(seed, 0x1a7a11, b));
    const double stddev = spec.init_stddev;
    for (std::size_t i = 0; i < block.count; ++i) {
      double z = rng.normal();
      while (std::fabs(z) > 2.0) z = rng.normal();  // truncated normal: redraw beyond 2 stddev
      out[i] = static_cast<float>(z * stddev);
    }
  }
}

}  // namespace synclab
