#include "real/ps/shard_checkpoints.hpp"

#include <algorithm>
#include <sstream>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/common/error.hpp"
#include "real/checkpoint/checkpoint_store.hpp"
#include "real/ps/shard_files.hpp"

namespace synclab::real {

ShardCheckpoints::ShardCheckpoints(std::filesystem::path dir, int shard, std::uint64_t fingerprint, Range range, std::string name)
    : dir_(std::move(dir)), shard_(shard), fingerprint_(fingerprint), range_(range), name_(std::move(name)) {}

std::optional<ShardCheckpoints::Resumed> ShardCheckpoints::resume(ServerCore& core, bool fresh) {
  if (!enabled()) return std::nullopt;
  CheckpointStore store(dir_, shard_);
  std::vector<std::string> skipped;
  auto loaded = store.load_newest(&skipped);
  for (const auto& s : skipped) spdlog::warn("{}: skipping checkpoint {}", name_, s);
  if (!loaded && !skipped.empty()) {
    // Starting over at version 0 would discard the run's progress and reset its clock
    // while the run directory still holds the old rows: only when the operator says so.
    std::string names;
    for (const auto& s : skipped) names.append(names.empty() ? "" : "; ").append(s);
    if (!fresh)
      throw Error(fmt::format("{}: no valid checkpoint in {} (rejected {}); to start again at version 0 pass --fresh", name_,
                              dir_.string(), names));
    // Set aside, not deleted (they may be worth a look), and out of the way of the new
    // checkpoints, which would otherwise rank below them and be pruned.
    for (const auto& f : store.files()) {
      std::error_code ec;
      std::filesystem::rename(f, std::filesystem::path(f.string() + ".rejected"), ec);
      if (ec) throw Error(fmt::format("{}: cannot set aside {}: {}", name_, f.string(), ec.message()));
    }
    spdlog::warn("{}: --fresh: starting at version 0; the rejected checkpoints are renamed *.rejected ({})", name_, names);
  }
  if (!loaded) return std::nullopt;
  std::istringstream in(std::string(loaded->bytes.begin(), loaded->bytes.end()));
  const CheckpointHeader h = read_checkpoint_header(in);
  if (h.fingerprint != fingerprint_ || h.range_begin != range_.begin || h.range_end != range_.end)
    throw Error(fmt::format("{}: checkpoint {} is for another model or shard layout", name_, loaded->file.string()));
  core.load(in);
  last_written_ = last_tried_ = core.version();
  spdlog::info("{}: resumed from checkpoint {} (version {}, {:.2f} s into the run)", name_, loaded->file.string(), core.version(), h.run_time);
  return Resumed{h.run_time, h.samples};
}

// A checkpoint that cannot be written (disk full, file-size limit, I/O error) must not
// take the pushing worker, the stop condition or the summary with it: it is logged and
// tried again at the next checkpoint point; after kMaxFailures in a row the job ends with
// that error (it would otherwise run on without the protection asked for).
std::optional<std::string> ShardCheckpoints::write(const ServerCore& core, double run_time, std::uint64_t samples) {
  const auto version = core.version();
  if (!enabled() || version == last_written_) return std::nullopt;
  try {
    std::ostringstream out;
    write_checkpoint_header(out, CheckpointHeader{fingerprint_, range_.begin, range_.end, run_time, samples});
    core.save(out);
    const std::string s = out.str();
    CheckpointStore store(dir_, shard_);
    const auto path = store.write(version, std::vector<std::uint8_t>(s.begin(), s.end()));
    last_written_ = last_tried_ = version;
    failures_ = 0;
    spdlog::info("{}: checkpoint {} ({} bytes, version {})", name_, path.filename().string(), s.size(), version);
    return std::nullopt;
  } catch (const std::exception& e) {
    ++failures_;
    last_tried_ = version;
    spdlog::error("{}: checkpoint at version {} failed ({} in a row): {}", name_, version, failures_, e.what());
    if (failures_ < kMaxFailures) return std::nullopt;
    return fmt::format("{} checkpoints in a row failed, the last: {}", failures_, e.what());
  }
}

bool ShardCheckpoints::due(std::uint64_t version, std::uint64_t every) const {
  return enabled() && every > 0 && version >= std::max(last_written_, last_tried_) + every;
}

}  // namespace synclab::real
