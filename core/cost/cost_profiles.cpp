#include "core/cost/cost_profiles.hpp"

namespace synclab {
namespace {

// Backward ~ 2x forward (gradients w.r.t. activations and w.r.t. weights each cost about a
// forward pass); the usual estimate, e.g. Kaplan et al. 2020, "Scaling Laws for Neural
// Language Models", section 2.1.
ModelCost profile(const char* name, std::size_t params, double forward_macs, const char* source) {
  ModelCost m;
  m.name = name;
  m.num_params = params;
  m.param_bytes = 4 * params;
  m.forward_flops = 2 * forward_macs;
  m.backward_flops = 2 * m.forward_flops;
  m.source = source;
  m.trainable = false;
  return m;
}

// Multiply-adds of one transformer encoder/decoder layer per token: Q, K, V and output
// projections (4 d^2), the feed-forward block (2 d * ff), attention scores and the
// weighted sum over the context (2 ctx d). Layer norms, softmax and embeddings are ignored.
double transformer_layer_macs_per_token(double d, double ff, double ctx) { return 4 * d * d + 2 * d * ff + 2 * ctx * d; }

// VGG-16 (configuration D) on 224x224 RGB: 3x3 convolutions, multiply-adds per image.
double vgg16_macs() {
  struct Block { double side; int convs; double in_c, out_c; };
  const Block blocks[] = {{224, 2, 3, 64}, {112, 2, 64, 128}, {56, 3, 128, 256}, {28, 3, 256, 512}, {14, 3, 512, 512}};
  double macs = 0;
  for (const auto& b : blocks)
    for (int i = 0; i < b.convs; ++i) macs += b.side * b.side * 9 * (i == 0 ? b.in_c : b.out_c) * b.out_c;
  return macs + 7.0 * 7 * 512 * 4096 + 4096.0 * 4096 + 4096.0 * 1000;  // fc6, fc7, fc8
}

std::vector<ModelCost> build() {
  std::vector<ModelCost> p;
  // He et al. 2016, "Deep Residual Learning for Image Recognition" (CVPR), Table 1:
  // ResNet-50 takes 3.8e9 multiply-adds per 224x224 image. 25,557,032 parameters (about
  // 25.6M) as counted in the reference torchvision implementation.
  p.push_back(profile("resnet50", 25557032, 3.8e9,
                      "He et al. 2016, Deep Residual Learning for Image Recognition, Table 1: 3.8e9 multiply-adds per "
                      "224x224 image; 25.6M parameters"));
  // Simonyan & Zisserman 2015, "Very Deep Convolutional Networks for Large-Scale Image
  // Recognition" (ICLR), configuration D: 138M parameters (Table 2); multiply-adds computed
  // from the architecture (15.47e9 per 224x224 image).
  p.push_back(profile("vgg16", 138357544, vgg16_macs(),
                      "Simonyan & Zisserman 2015, Very Deep Convolutional Networks, configuration D: 138M parameters "
                      "(Table 2); 15.5e9 multiply-adds per 224x224 image computed from the architecture"));
  // Devlin et al. 2019, "BERT: Pre-training of Deep Bidirectional Transformers" (NAACL):
  // BERT-base has L=12, H=768, A=12, 110M parameters. One sample = one sequence of 128
  // tokens (the pre-training length of 90% of its steps); FLOPs derived from the layer shapes.
  p.push_back(profile("bert-base", 109482240, 128 * 12 * transformer_layer_macs_per_token(768, 3072, 128),
                      "Devlin et al. 2019, BERT: L=12, H=768, 110M parameters; per sample = one 128-token sequence, "
                      "2.2e10 FLOPs forward derived from the layer shapes"));
  p.push_back(profile("bert-base-512", 109482240, 512 * 12 * transformer_layer_macs_per_token(768, 3072, 512),
                      "Devlin et al. 2019, BERT: L=12, H=768, 110M parameters; per sample = one 512-token sequence, "
                      "FLOPs derived from the layer shapes"));
  // Radford et al. 2019, "Language Models are Unsupervised Multitask Learners": the
  // smallest GPT-2 (12 layers, d=768, context 1024, vocabulary 50257; 124M parameters as
  // released). One sample = one 1024-token sequence, including the output projection.
  p.push_back(profile("gpt2", 124439808, 1024 * (12 * transformer_layer_macs_per_token(768, 3072, 1024) + 768.0 * 50257),
                      "Radford et al. 2019, GPT-2 small: 12 layers, d=768, 124M parameters; per sample = one "
                      "1024-token sequence, FLOPs derived from the layer shapes (Kaplan et al. 2020 counting)"));
  return p;
}

}  // namespace

const std::vector<ModelCost>& cost_profiles() {
  static const std::vector<ModelCost> profiles = build();
  return profiles;
}

}  // namespace synclab
