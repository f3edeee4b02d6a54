#pragma once
// An advisory lock on a directory, so that two processes never work in the same sweep or run
// directory at once. It is an open-file-description record lock on DIR/.synclab.lock: the
// kernel drops it when the holder exits, however it exits (crash and kill -9 included).
//
// The whole directory (part = -1) conflicts with everything; part k (e.g. shard k of a
// sweep) conflicts with the whole directory and with part k only. Each holder writes
// "pid host purpose" into the lock file at the offset of its own lock, so a refused caller
// can name the process in its way. Works on local file systems and NFS (lockd).
#include <sys/types.h>

#include <filesystem>
#include <string>

namespace synclab {

/// Who holds a lock that was refused.
struct LockHolder {
  pid_t pid = 0;        ///< 0 when the holder had not yet written its record
  std::string host;     ///< the holder's host name (matters on shared file systems)
  std::string purpose;  ///< what the holder said it was doing, e.g. "synclab sweep"
};

class DirLock {
 public:
  /// Name of the lock file inside the locked directory.
  static constexpr const char* kFileName = ".synclab.lock";

  /// Takes the lock or throws Error naming the directory and the holder in one line, e.g.
  /// "runs/x: in use by synclab sweep (pid 4242 on node7); wait for it to end or stop it".
  /// dir must exist. purpose is recorded for whoever is refused later.
  DirLock(const std::filesystem::path& dir, const std::string& purpose, int part = -1);
  ~DirLock();
  DirLock(DirLock&& other) noexcept;
  DirLock& operator=(DirLock&& other) noexcept;
  DirLock(const DirLock&) = delete;
  DirLock& operator=(const DirLock&) = delete;

  /// Without taking anything: the holder of a lock that would conflict with (dir, part), if any.
  static bool held(const std::filesystem::path& dir, int part, LockHolder* holder = nullptr);

  const std::filesystem::path& dir() const { return dir_; }

 private:
  void release() noexcept;
  std::filesystem::path dir_;
  int fd_ = -1;
};

}  // namespace synclab
