#include "core/cost/cost_model.hpp"

#include "core/common/error.hpp"
#include "core/cost/cost_profiles.hpp"

namespace synclab {
namespace {

// FLOPs per sample, a multiply-add counting 2. Backward counts what the backends compute:
// weight (and bias) gradients always, the input gradient for every layer but the first.
LayerCost layer_cost(const ModelSpec& spec, const LayerSpec& l, bool first) {
  LayerCost c;
  c.name = l.name;
  const double out = static_cast<double>(l.out_size()), in = static_cast<double>(l.in_size());
  auto block = [&](int index) {
    return index < 0 ? std::size_t{0} : spec.layout.blocks[static_cast<std::size_t>(index)].count;
  };
  c.params = block(l.weight_block) + block(l.bias_block);
  c.activation_bytes = 4 * l.out_size();
  switch (l.kind) {
    case LayerKind::Dense:
    case LayerKind::Conv2d: {
      // Multiply-adds: dense in*out; conv k*k*in_c per output element.
      const double macs = l.kind == LayerKind::Dense ? in * out
                                                     : static_cast<double>(l.kernel) * l.kernel * l.in_c * out;
      c.forward_flops = 2 * macs + out;                        // + bias
      c.backward_flops = 2 * macs + out + (first ? 0 : 2 * macs);  // dW + db (+ dx)
      break;
    }
    case LayerKind::MaxPool2x2:
      c.forward_flops = in;    // one comparison per input element
      c.backward_flops = out;  // one scatter per output element
      break;
    case LayerKind::Relu:
    case LayerKind::Dropout:
      c.forward_flops = out;
      c.backward_flops = out;
      break;
    case LayerKind::Sigmoid:
      c.forward_flops = 4 * out;   // negate, exp, add, divide
      c.backward_flops = 3 * out;  // dy * y * (1 - y)
      break;
  }
  return c;
}

}  // namespace

ModelCost model_cost(const ModelSpec& spec) {
  ModelCost m;
  m.name = spec.name;
  m.trainable = true;
  m.num_params = spec.num_params();
  m.param_bytes = 4 * m.num_params;
  m.source = "computed layer by layer from the model spec";
  for (std::size_t i = 0; i < spec.layers.size(); ++i) m.layers.push_back(layer_cost(spec, spec.layers[i], i == 0));
  // Softmax cross-entropy: max, exp, sum, log per class forward; (p - onehot) / n backward.
  LayerCost loss;
  loss.name = "softmax_xent";
  loss.forward_flops = 4.0 * spec.classes;
  loss.backward_flops = 2.0 * spec.classes;
  m.layers.push_back(loss);
  for (const auto& l : m.layers) {
    m.forward_flops += l.forward_flops;
    m.backward_flops += l.backward_flops;
    m.activation_bytes += l.activation_bytes;
  }
  return m;
}

ModelCost cost_by_name(std::string_view name) {
  for (const auto& trainable : trainable_model_names())
    if (name == trainable) return model_cost(make_model_spec(name));
  for (auto& profile : cost_profiles())
    if (name == profile.name) return profile;
  std::string known;
  for (const auto& n : trainable_model_names()) known += n + ", ";
  for (const auto& n : cost_profile_names()) known += n + ", ";
  known.resize(known.size() - 2);
  throw ConfigError("model", "unknown model '" + std::string(name) + "' (known: " + known + ")");
}

std::vector<std::string> cost_profile_names() {
  std::vector<std::string> names;
  for (const auto& p : cost_profiles()) names.push_back(p.name);
  return names;
}

}  // namespace synclab
