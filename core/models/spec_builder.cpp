#include "core/models/spec_builder.hpp"

#include "core/common/error.hpp"

namespace synclab {

SpecBuilder::SpecBuilder(std::string name, int c, int h, int w) : c_(c), h_(h), w_(w) {
  spec_.name = std::move(name);
  spec_.in_c = c;
  spec_.in_h = h;
  spec_.in_w = w;
}

void SpecBuilder::dense(const std::string& name, int out) {
  LayerSpec l = start(LayerKind::Dense, name);
  const int in = c_ * h_ * w_;
  // A dense layer sees its input flattened: [N, C*H*W].
  l.in_c = in;
  l.in_h = l.in_w = 1;
  l.weight_block = add_block(name + ".weight", {in, out}, false);
  l.bias_block = add_block(name + ".bias", {out}, true);
  finish(l, out, 1, 1);
}

void SpecBuilder::conv(const std::string& name, int out_c, int kernel) {
  if (kernel <= 0 || kernel % 2 == 0) throw Error("model " + spec_.name + ": layer " + name + " needs an odd kernel");
  LayerSpec l = start(LayerKind::Conv2d, name);
  l.kernel = kernel;
  l.weight_block = add_block(name + ".weight", {out_c, c_, kernel, kernel}, false);
  l.bias_block = add_block(name + ".bias", {out_c}, true);
  finish(l, out_c, h_, w_);
}

void SpecBuilder::maxpool(const std::string& name) {
  if (h_ < 2 || w_ < 2) throw Error("model " + spec_.name + ": layer " + name + " needs at least 2x2 inputs");
  LayerSpec l = start(LayerKind::MaxPool2x2, name);
  finish(l, c_, h_ / 2, w_ / 2);
}

void SpecBuilder::relu(const std::string& name) { elementwise(LayerKind::Relu, name, 0.f); }
void SpecBuilder::sigmoid(const std::string& name) { elementwise(LayerKind::Sigmoid, name, 0.f); }

void SpecBuilder::dropout(const std::string& name, float p) {
  if (!(p >= 0.f && p < 1.f)) throw Error("model " + spec_.name + ": layer " + name + " needs a drop probability in [0, 1)");
  elementwise(LayerKind::Dropout, name, p);
}

ModelSpec SpecBuilder::done(int classes) {
  if (c_ * h_ * w_ != classes)
    throw Error("model " + spec_.name + ": the last layer outputs " + std::to_string(c_ * h_ * w_) + " values, not " +
                std::to_string(classes) + " logits");
  spec_.classes = classes;
  return std::move(spec_);
}

LayerSpec SpecBuilder::start(LayerKind kind, const std::string& name) const {
  LayerSpec l{};
  l.kind = kind;
  l.name = name;
  l.in_c = c_;
  l.in_h = h_;
  l.in_w = w_;
  return l;
}

void SpecBuilder::elementwise(LayerKind kind, const std::string& name, float p) {
  LayerSpec l = start(kind, name);
  l.dropout = p;
  finish(l, c_, h_, w_);
}

int SpecBuilder::add_block(std::string name, std::vector<int> shape, bool is_bias) {
  spec_.layout.add(std::move(name), std::move(shape), is_bias);
  return static_cast<int>(spec_.layout.blocks.size()) - 1;
}

void SpecBuilder::finish(LayerSpec& l, int c, int h, int w) {
  l.out_c = c_ = c;
  l.out_h = h_ = h;
  l.out_w = w_ = w;
  spec_.layers.push_back(std::move(l));
}

}  // namespace synclab
