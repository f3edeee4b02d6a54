#pragma once
// Crash-safe file replacement: the bytes go to a temporary file in the same folder, which is
// fsynced, renamed over the target and made durable by an fsync of the folder. A reader sees
// the old file or the new one, never a half-written one, even across a crash or power loss;
// a failed write (a full disk, a file-size limit) leaves the old file as it was.
#include <cstddef>
#include <filesystem>
#include <string_view>

namespace synclab {

/// One file being replaced. Destruction without commit() removes the temporary file.
class AtomicFile {
 public:
  /// Creates the temporary file: tmp when given (a name the caller recognizes and cleans
  /// up), else "<path>.tmp.<host>.<pid>.<n>" (unique even for writers on several hosts of a
  /// shared file system). Throws Error naming path when it cannot be created.
  explicit AtomicFile(std::filesystem::path path, std::filesystem::path tmp = {});
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  /// Appends bytes; throws Error naming path and the reason ("No space left on device").
  void write(const void* data, std::size_t n);
  void write(std::string_view text) { write(text.data(), text.size()); }
  /// fsync, close, rename over path, fsync of the folder. Throws Error naming path.
  void commit();
  const std::filesystem::path& path() const { return path_; }
  const std::filesystem::path& temporary() const { return tmp_; }

 private:
  [[noreturn]] void fail(const char* what, int err);
  std::filesystem::path path_, tmp_;
  int fd_ = -1;
};

/// Replaces path's content with bytes through an AtomicFile. On failure the old file (if
/// any) is unchanged, no temporary file is left, and Error says which file and why
/// ("index.csv: cannot write: No space left on device").
void write_file_atomic(const std::filesystem::path& path, std::string_view bytes);

/// fsync of a folder, so that a rename or a new file in it survives a crash. False when the
/// folder cannot be opened or synced (some file systems refuse; the caller decides).
bool fsync_directory(const std::filesystem::path& dir);

}  // namespace synclab
