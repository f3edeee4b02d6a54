#pragma once
// Exclusive use of a run directory by one running job: an flock on <dir>/.lock, which the
// kernel releases when the holder exits however it ends (so a crash never leaves a stale
// lock). The file holds the holder's pid, so a refused second job can name it.
#include <sys/types.h>

#include <filesystem>

namespace synclab::real {

class RunDirLock {
 public:
  /// Creates dir if needed and locks it; throws Error naming the directory and the pid of
  /// the process that holds it when another job is running there.
  explicit RunDirLock(const std::filesystem::path& dir);
  ~RunDirLock();
  RunDirLock(const RunDirLock&) = delete;
  RunDirLock& operator=(const RunDirLock&) = delete;

  /// The lock file (<dir>/.lock).
  const std::filesystem::path& file() const { return file_; }

 private:
  std::filesystem::path file_;
  int fd_ = -1;
};

}  // namespace synclab::real
