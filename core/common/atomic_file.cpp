#include "core/common/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "core/common/error.hpp"

namespace synclab {
namespace {

std::filesystem::path default_tmp(const std::filesystem::path& path) {
  // Host and pid keep concurrent writers (Slurm shards on a shared file system) from
  // clobbering each other's temporary file; the counter, threads of one process.
  static std::atomic<unsigned> counter{0};
  char host[64] = {};
  ::gethostname(host, sizeof host - 1);
  auto tmp = path;
  tmp += ".tmp." + std::string(host) + "." + std::to_string(::getpid()) + "." + std::to_string(counter++);
  return tmp;
}

}  // namespace

AtomicFile::AtomicFile(std::filesystem::path path, std::filesystem::path tmp)
    : path_(std::move(path)), tmp_(tmp.empty() ? default_tmp(path_) : std::move(tmp)) {
  fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(path_.string() + ": cannot create " + tmp_.filename().string() + ": " + std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) {
    std::error_code ec;
    std::filesystem::remove(tmp_, ec);
  }
}

void AtomicFile::fail(const char* what, int err) {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
  std::error_code ec;
  std::filesystem::remove(tmp_, ec);  // a partial copy must not linger (it holds disk space)
  tmp_.clear();
  throw Error(path_.string() + ": " + what + ": " + std::strerror(err));
}

void AtomicFile::write(const void* data, std::size_t n) {
  if (fd_ < 0) throw Error(path_.string() + ": written after it was committed or failed");
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) fail("cannot write", w < 0 ? errno : ENOSPC);
    p += w;
    n -= static_cast<std::size_t>(w);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) throw Error(path_.string() + ": committed twice or after a failure");
  // The data must be on disk before the rename makes it visible under the final name, or a
  // crash could leave an empty file there (ext4 and XFS reorder otherwise).
  if (::fsync(fd_) != 0) fail("cannot write", errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0) fail("cannot write", errno);  // NFS and quotas report late
  if (::rename(tmp_.c_str(), path_.c_str()) != 0) fail("cannot replace", errno);
  tmp_.clear();
  // The rename itself is durable only once the folder is synced. It has happened: a
  // failure here cannot be undone and is not reported as a failed write.
  fsync_directory(path_.has_parent_path() ? path_.parent_path() : std::filesystem::path("."));
}

void write_file_atomic(const std::filesystem::path& path, std::string_view bytes) {
  AtomicFile f(path);
  f.write(bytes);
  f.commit();
}

bool fsync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

}  // namespace synclab
