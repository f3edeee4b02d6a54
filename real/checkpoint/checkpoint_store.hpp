#pragma once
// Crash-safe checkpoint files of one PS shard: written atomically (temp file, fsync,
// rename, directory fsync) with a length and crc32 seal, so a crash at any instant leaves
// either the previous or the new checkpoint intact; loading picks the newest valid one.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace synclab::real {

class CheckpointStore {
 public:
  /// Files are dir/shard-<shard>-<sequence>.ckpt; `keep` newest ones survive each write.
  CheckpointStore(std::filesystem::path dir, int shard, int keep = 2);

  /// Writes bytes as checkpoint `sequence` (monotonic, e.g. the model version) atomically,
  /// removing temporaries a killed writer left. Throws Error naming the file and the
  /// system's reason when the disk refuses (ENOSPC, EFBIG, ...); the old checkpoints stay.
  std::filesystem::path write(std::uint64_t sequence, const std::vector<std::uint8_t>& bytes);

  struct Loaded {
    std::uint64_t sequence = 0;
    std::filesystem::path file;
    std::vector<std::uint8_t> bytes;
  };
  /// The newest checkpoint whose seal verifies; corrupt or truncated files are skipped and
  /// named in `skipped` (one line each). nullopt when none is valid.
  std::optional<Loaded> load_newest(std::vector<std::string>* skipped = nullptr) const;

  /// Why `file` is not a valid checkpoint (truncated, foreign, checksum mismatch); empty
  /// when its seal verifies.
  static std::string check(const std::filesystem::path& file);

  /// Every checkpoint file of this shard, newest first (valid or not).
  std::vector<std::filesystem::path> files() const;

  const std::filesystem::path& dir() const { return dir_; }

 private:
  std::vector<std::pair<std::uint64_t, std::filesystem::path>> list() const;
  std::filesystem::path dir_;
  int shard_, keep_;
};

}  // namespace synclab::real
