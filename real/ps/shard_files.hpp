#pragma once
// Small files a PS shard reads and writes besides the run directory: the header of its
// checkpoints, its final parameter range (merged by the launcher when there are several
// shards), and the rows of an earlier run directory to carry over after a restart.
#include <cstdint>
#include <filesystem>
#include <iosfwd>
#include <span>
#include <vector>

#include "core/tensor/param_layout.hpp"

namespace synclab::real {

/// Prefix of a checkpoint body, before the server state proper.
struct CheckpointHeader {
  std::uint64_t fingerprint = 0;
  std::uint64_t range_begin = 0, range_end = 0;
  double run_time = 0;        ///< seconds into the run when written
  std::uint64_t samples = 0;  ///< samples behind the pushes received so far
};
void write_checkpoint_header(std::ostream& out, const CheckpointHeader& h);
/// Throws Error when the stream does not start with a valid header.
CheckpointHeader read_checkpoint_header(std::istream& in);

/// <dir>/shard-<i>.params: the shard's range of the final parameters, raw fp32 after a
/// small header (range begin, end). Written atomically.
void write_shard_params(const std::filesystem::path& dir, int shard, Range range, std::span<const float> values);
/// Reads every shard file 0..shards-1 and assembles the flat buffer of `total` floats;
/// throws Error naming the missing or inconsistent file.
std::vector<float> read_all_shard_params(const std::filesystem::path& dir, int shards, std::size_t total);

/// A row of updates.csv (a=worker, b=staleness, c=loss) or evals.csv (a=samples, b=loss, c=accuracy).
struct CsvRow {
  double time_s = 0;
  std::uint64_t update = 0;
  double a = 0, b = 0, c = 0;
};
/// Rows with update <= max_update from an existing run-directory CSV (none if absent).
std::vector<CsvRow> read_csv_rows(const std::filesystem::path& file, std::uint64_t max_update);

}  // namespace synclab::real
