#pragma once
// Builds a ModelSpec layer by layer, tracking the activation shape and adding each layer's
// parameter blocks to the layout. The named models use it; tests build small custom ones.
#include <string>

#include "core/models/model_spec.hpp"

namespace synclab {

class SpecBuilder {
 public:
  /// A model named `name` over inputs of c x h x w.
  SpecBuilder(std::string name, int c, int h, int w);
  void dense(const std::string& name, int out);                ///< fully connected to `out` features
  void conv(const std::string& name, int out_c, int kernel);   ///< stride 1, SAME padding, odd kernel
  void maxpool(const std::string& name);                       ///< 2x2, stride 2
  void relu(const std::string& name);
  void sigmoid(const std::string& name);
  void dropout(const std::string& name, float p);              ///< drop probability p in [0, 1)
  /// The finished spec; the last layer must output `classes` values per sample.
  ModelSpec done(int classes);

 private:
  LayerSpec start(LayerKind kind, const std::string& name) const;
  void elementwise(LayerKind kind, const std::string& name, float p);
  int add_block(std::string name, std::vector<int> shape, bool is_bias);
  void finish(LayerSpec& l, int c, int h, int w);
  ModelSpec spec_;
  int c_, h_, w_;
};

}  // namespace synclab
