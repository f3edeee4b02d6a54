#pragma once
// Small models covering every layer kind (the real ones are too big to check every
// coordinate), and helpers to run a spec on random data.
#include <vector>

#include "core/models/spec_builder.hpp"

namespace synclab::test {

/// Conv (first layer, no input gradient), relu, pool, conv (with input gradient), relu,
/// pool, dense, relu, dropout, dense: a scaled-down cnn on 1x8x8 inputs.
inline ModelSpec tiny_cnn() {
  SpecBuilder b("tiny-cnn", 1, 8, 8);
  b.conv("conv1", 3, 5);
  b.relu("relu1");
  b.maxpool("pool1");
  b.conv("conv2", 4, 3);
  b.relu("relu2");
  b.maxpool("pool2");
  b.dense("fc1", 6);
  b.relu("relu3");
  b.dropout("dropout", 0.5f);
  b.dense("fc2", 3);
  return b.done(3);
}

/// Dense, sigmoid, dense on 2x3x3 inputs: a scaled-down mlp.
inline ModelSpec tiny_mlp() {
  SpecBuilder b("tiny-mlp", 2, 3, 3);
  b.dense("fc1", 5);
  b.sigmoid("sigmoid");
  b.dense("fc2", 4);
  return b.done(4);
}

/// Layers in unusual places: a dense layer first feeding a conv is not supported, so this
/// starts with a multi-channel conv, odd spatial size (pool drops a row), dropout then sigmoid.
inline ModelSpec tiny_mixed() {
  SpecBuilder b("tiny-mixed", 2, 7, 5);
  b.conv("conv", 3, 3);
  b.maxpool("pool");
  b.relu("relu");
  b.dense("fc1", 7);
  b.dropout("dropout", 0.25f);
  b.sigmoid("sigmoid");
  b.dense("fc2", 3);
  return b.done(3);
}

}  // namespace synclab::test
