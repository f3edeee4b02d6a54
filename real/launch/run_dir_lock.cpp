#include "real/launch/run_dir_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include <fmt/format.h>

#include "core/common/error.hpp"

namespace synclab::real {
namespace {

pid_t read_pid(int fd) {
  char buf[32] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  if (n <= 0) return 0;
  try {
    return static_cast<pid_t>(std::stol(std::string(buf, static_cast<std::size_t>(n))));
  } catch (const std::exception&) {
    return 0;
  }
}

}  // namespace

RunDirLock::RunDirLock(const std::filesystem::path& dir) : file_(dir / ".lock") {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(fmt::format("{}: cannot create the run directory: {}", dir.string(), ec.message()));
  // O_CLOEXEC: the roles this process starts must not inherit (and so prolong) the lock.
  fd_ = ::open(file_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd_ < 0) throw Error(fmt::format("{}: cannot open: {}", file_.string(), std::strerror(errno)));
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int err = errno;
    const pid_t holder = read_pid(fd_);
    ::close(fd_);
    fd_ = -1;
    if (err == EWOULDBLOCK)
      throw Error(fmt::format("{} is in use by another job (pid {}, lock {}): wait for it to end or choose another --out", dir.string(),
                              holder > 0 ? std::to_string(holder) : std::string("unknown"), file_.string()));
    throw Error(fmt::format("{}: cannot lock: {}", file_.string(), std::strerror(err)));
  }
  const std::string pid = fmt::format("{}\n", ::getpid());
  if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    throw Error(fmt::format("{}: cannot write: {}", file_.string(), std::strerror(err)));
  }
}

RunDirLock::~RunDirLock() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace synclab::real
