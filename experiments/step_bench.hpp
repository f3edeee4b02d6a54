#pragma once
// A worker's training step on synthetic data, for timing: the model's network on a
// backend, its parameters, and batches drawn at random from a synthetic training set as a
// worker's sampler draws them. calibrate times it quiet, after waits and beside a transfer.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/backends/network.hpp"
#include "core/data/dataset.hpp"
#include "core/models/model_spec.hpp"

namespace synclab::experiments {

class StepBench {
 public:
  /// Builds the network and up to 256 MB of `samples` synthetic samples. Throws Error for
  /// an unknown model or backend, ConfigError naming --batch, --samples or --threads.
  StepBench(const std::string& model, const std::string& backend, std::size_t batch, int threads, std::size_t samples);
  /// Runs one forward+backward step on the next batch; returns its seconds.
  double step();
  const ModelSpec& spec() const { return spec_; }
  const std::vector<float>& params() const { return params_; }
  const Dataset& set() const { return set_; }
  std::size_t batch() const { return batch_; }

 private:
  ModelSpec spec_;
  std::size_t batch_;
  std::unique_ptr<Network> net_;
  std::vector<float> params_, grad_;
  Dataset set_;
  std::unique_ptr<BatchSampler> sampler_;
  std::size_t steps_ = 0;
};

}  // namespace synclab::experiments
