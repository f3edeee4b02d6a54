// The single host->device copy of a batch (batch_staging.hpp): layout and contents, masks
// included, checked on the host against the data and the CPU backends' dropout masks.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "core/backends/cuda/batch_staging.hpp"
#include "core/layers/dropout.hpp"
#include "core/models/model_spec.hpp"

namespace synclab {
namespace {

TEST(BatchStagingHost, CnnTrainingBatchCarriesImagesLabelsAndTheCpuMask) {
  const ModelSpec spec = make_model_spec("cnn");
  const std::size_t n = 3;
  std::size_t dropout_layer = spec.layers.size();
  for (std::size_t l = 0; l < spec.layers.size(); ++l)
    if (spec.layers[l].kind == LayerKind::Dropout) dropout_layer = l;
  ASSERT_LT(dropout_layer, spec.layers.size());
  const std::size_t mask_size = n * spec.layers[dropout_layer].out_size();

  const cuda::StagedLayout layout = cuda::staged_layout(spec, n, true);
  EXPECT_EQ(layout.labels, n * 784 * sizeof(float));
  EXPECT_EQ(layout.masks[dropout_layer], layout.labels + n);
  EXPECT_EQ(layout.bytes, layout.labels + n + mask_size);
  for (std::size_t l = 0; l < spec.layers.size(); ++l) {
    if (l != dropout_layer) {
      EXPECT_EQ(layout.masks[l], 0u);
    }
  }

  std::vector<float> x(n * 784);
  for (std::size_t j = 0; j < x.size(); ++j) x[j] = static_cast<float>(j % 255) / 255.f;
  const std::vector<std::uint8_t> y{4, 0, 9};
  std::vector<unsigned char> staged(layout.bytes, 0xee);
  cuda::stage_batch(spec, Batch{x.data(), y.data(), n}, 77, layout, staged.data());

  EXPECT_EQ(std::memcmp(staged.data(), x.data(), layout.labels), 0);
  EXPECT_EQ(std::memcmp(staged.data() + layout.labels, y.data(), n), 0);
  std::vector<std::uint8_t> keep(mask_size);
  layers::dropout_mask(77, dropout_layer, spec.layers[dropout_layer].dropout, mask_size, keep.data());
  EXPECT_EQ(std::memcmp(staged.data() + layout.masks[dropout_layer], keep.data(), mask_size), 0);
}

TEST(BatchStagingHost, InferenceAndDropoutFreeModelsCarryNoMasks) {
  const ModelSpec cnn = make_model_spec("cnn");
  const cuda::StagedLayout eval = cuda::staged_layout(cnn, 5, false);
  EXPECT_EQ(eval.bytes, 5 * 784 * sizeof(float) + 5);
  for (std::size_t m : eval.masks) EXPECT_EQ(m, 0u);
  const cuda::StagedLayout mlp = cuda::staged_layout(make_model_spec("mlp"), 5, true);
  EXPECT_EQ(mlp.bytes, 5 * 784 * sizeof(float) + 5);
}

}  // namespace
}  // namespace synclab
