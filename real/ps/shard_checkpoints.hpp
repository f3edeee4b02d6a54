#pragma once
// One shard's checkpoints: its ServerCore's whole state behind a header (model fingerprint,
// range, run time, samples), written through CheckpointStore and read back on restart.
// A failed write is counted, not thrown: the job ends only after several in a row.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "core/tensor/param_layout.hpp"
#include "policies/server_core.hpp"

namespace synclab::real {

class ShardCheckpoints {
 public:
  static constexpr int kMaxFailures = 3;  ///< failed writes in a row that end the job

  /// `dir` empty: checkpoints off (every call is a no-op). `name` prefixes log lines.
  ShardCheckpoints(std::filesystem::path dir, int shard, std::uint64_t fingerprint, Range range, std::string name);

  bool enabled() const { return !dir_.empty(); }

  /// Where a resumed shard continues.
  struct Resumed {
    double run_time = 0;        ///< seconds into the run at the checkpoint
    std::uint64_t samples = 0;  ///< samples counted up to the checkpoint
  };
  /// Loads the newest valid checkpoint into `core`; nullopt when there is none. When files
  /// exist but none is valid, throws Error naming them, unless `fresh`: then they are
  /// renamed *.rejected and the shard starts at version 0. Throws Error when the valid one
  /// is for another model or shard layout.
  std::optional<Resumed> resume(ServerCore& core, bool fresh);

  /// Writes a checkpoint of `core` unless its version was already written (or checkpoints
  /// are off). A failure is logged; returns the job's failure text once kMaxFailures
  /// writes in a row have failed, nullopt otherwise.
  std::optional<std::string> write(const ServerCore& core, double run_time, std::uint64_t samples);

  /// Whether `version` is at least `every` updates past the last written or tried one.
  bool due(std::uint64_t version, std::uint64_t every) const;

 private:
  std::filesystem::path dir_;
  int shard_;
  std::uint64_t fingerprint_;
  Range range_;
  std::string name_;
  std::uint64_t last_written_ = 0, last_tried_ = 0;
  int failures_ = 0;
};

}  // namespace synclab::real
