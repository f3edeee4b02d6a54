#pragma once
// A model is a sequence of layers ending in softmax cross-entropy over `classes` outputs.
// The spec is backend-free: every backend, the cost model and the param layout read it.
#include <string>
#include <string_view>
#include <vector>

#include "core/tensor/param_layout.hpp"

namespace synclab {

enum class LayerKind { Dense, Conv2d, MaxPool2x2, Relu, Sigmoid, Dropout };

/// One layer; activations are NCHW (dense layers see [N, C*H*W]).
struct LayerSpec {
  LayerKind kind;
  std::string name;                 ///< "conv1", "fc2", ...
  int in_c = 0, in_h = 1, in_w = 1; ///< input shape per sample
  int out_c = 0, out_h = 1, out_w = 1;  ///< output shape per sample
  int kernel = 0;                   ///< conv: square kernel size, SAME padding, stride 1
  float dropout = 0.f;              ///< dropout: drop probability in training
  int weight_block = -1;            ///< index into ParamLayout::blocks, -1 if none
  int bias_block = -1;
  std::size_t in_size() const { return static_cast<std::size_t>(in_c) * in_h * in_w; }
  std::size_t out_size() const { return static_cast<std::size_t>(out_c) * out_h * out_w; }
};

struct ModelSpec {
  std::string name;                 ///< "softmax" | "mlp" | "cnn"
  int in_c = 1, in_h = 28, in_w = 28;
  int classes = 10;
  std::vector<LayerSpec> layers;
  ParamLayout layout;
  float init_stddev = 0.1f;         ///< weights: truncated normal (|x| <= 2 stddev)
  float init_bias = 0.1f;           ///< biases: constant
  std::size_t num_params() const { return layout.total; }
  std::size_t input_size() const { return static_cast<std::size_t>(in_c) * in_h * in_w; }
};

/// Builds "softmax" (784->10), "mlp" (784-100-10 sigmoid) or "cnn" (the classic MNIST CNN,
/// 3,274,634 parameters). Throws ConfigError("model", ...) for other names.
ModelSpec make_model_spec(std::string_view name);

/// Names accepted by make_model_spec.
std::vector<std::string> trainable_model_names();

/// Fills `params` (size num_params) with the spec's initialisation, deterministically from seed.
void init_params(const ModelSpec& spec, float* params, unsigned long long seed);

}  // namespace synclab
