#pragma once
// The training loss of a run from updates.csv: the mean loss of the gradients applied at each
// server update (a bsp update applies several), for the report's train-loss curve.
#include <cstdint>
#include <filesystem>
#include <vector>

namespace synclab::experiments {

/// Mean of the updates.csv rows of one server update.
struct TrainLossPoint {
  std::uint64_t update = 0;
  double time_s = 0;   ///< time of the update's last row
  double loss = 0;     ///< mean loss of the gradients applied
};

/// Streams updates.csv (rows in update order as the run wrote them); empty when the file is
/// missing or has no loss column. Rows whose loss is not a finite number are skipped.
std::vector<TrainLossPoint> read_train_loss(const std::filesystem::path& updates_csv);

}  // namespace synclab::experiments
