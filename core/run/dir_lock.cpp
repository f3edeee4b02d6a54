// Directory locks: OFD record locks (fcntl F_OFD_SETLK). Unlike flock they also work over
// NFS, and unlike classic POSIX record locks they belong to the open file, so another lock
// in the same process conflicts too and closing some other descriptor releases nothing.
#include "core/run/dir_lock.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <sstream>

#include <fmt/format.h>

#include "core/common/error.hpp"

namespace synclab {

namespace {

// Each lock covers the record its holder writes: the whole directory from offset 0 to
// infinity (so it overlaps every part), part k the k+1-th record.
constexpr off_t kRecord = 128;

struct flock range_of(int part, short type) {
  struct flock fl {};
  fl.l_type = type;
  fl.l_whence = SEEK_SET;
  fl.l_start = part < 0 ? 0 : kRecord * (part + 1);
  fl.l_len = part < 0 ? 0 : kRecord;
  fl.l_pid = 0;  // required by the OFD commands
  return fl;
}

int open_lock_file(const std::filesystem::path& dir) {
  const auto file = dir / DirLock::kFileName;
  const int fd = ::open(file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw Error(file.string() + ": cannot open the lock file: " + std::strerror(errno));
  return fd;
}

LockHolder read_record(int fd, off_t at) {
  std::array<char, kRecord> buf{};
  LockHolder h;
  const ssize_t n = ::pread(fd, buf.data(), buf.size(), at);
  if (n <= 0) return h;
  std::istringstream in(std::string(buf.data(), strnlen(buf.data(), static_cast<std::size_t>(n))));
  long pid = 0;
  if (in >> pid >> h.host) {
    h.pid = static_cast<pid_t>(pid);
    std::getline(in >> std::ws, h.purpose);
  }
  return h;
}

// Returns true and the holder when a lock conflicting with `part` is held by someone else.
bool query(int fd, int part, LockHolder* holder) {
  struct flock fl = range_of(part, F_WRLCK);
  if (::fcntl(fd, F_OFD_GETLK, &fl) != 0) throw Error(std::string("cannot query a directory lock: ") + std::strerror(errno));
  if (fl.l_type == F_UNLCK) return false;
  if (holder) *holder = read_record(fd, fl.l_start);
  return true;
}

std::string host_name() {
  std::array<char, 256> buf{};
  if (::gethostname(buf.data(), buf.size() - 1) != 0) return "?";
  return buf.data();
}

}  // namespace

DirLock::DirLock(const std::filesystem::path& dir, const std::string& purpose, int part) : dir_(dir) {
  if (part < -1) throw Error(fmt::format("{}: bad lock part {}", dir.string(), part));
  fd_ = open_lock_file(dir);
  struct flock fl = range_of(part, F_WRLCK);
  if (::fcntl(fd_, F_OFD_SETLK, &fl) != 0) {
    const int err = errno;
    LockHolder h;
    const bool known = (err == EAGAIN || err == EACCES) && query(fd_, part, &h);
    release();
    if (err != EAGAIN && err != EACCES)
      throw Error(dir.string() + ": cannot lock the directory: " + std::strerror(err));
    std::string who = known && !h.purpose.empty() ? h.purpose : "another process";
    if (known && h.pid > 0) who += fmt::format(" (pid {} on {})", h.pid, h.host);
    throw Error(fmt::format("{}: in use by {}; wait for it to end or stop it", dir.string(), who));
  }
  // The record is informative only: a failed write (full disk) leaves the lock in force.
  std::string record = fmt::format("{} {} {}\n", ::getpid(), host_name(), purpose);
  record.resize(static_cast<std::size_t>(kRecord) - 1, ' ');
  record.push_back('\n');
  [[maybe_unused]] const ssize_t n = ::pwrite(fd_, record.data(), record.size(), fl.l_start);
}

DirLock::~DirLock() { release(); }

DirLock::DirLock(DirLock&& other) noexcept : dir_(std::move(other.dir_)), fd_(other.fd_) { other.fd_ = -1; }

DirLock& DirLock::operator=(DirLock&& other) noexcept {
  if (this != &other) {
    release();
    dir_ = std::move(other.dir_);
    fd_ = other.fd_;
    other.fd_ = -1;
  }
  return *this;
}

void DirLock::release() noexcept {
  // Closing the only descriptor of the open file description drops its locks.
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool DirLock::held(const std::filesystem::path& dir, int part, LockHolder* holder) {
  if (!std::filesystem::exists(dir / kFileName)) return false;
  const int fd = open_lock_file(dir);
  bool busy = false;
  try {
    busy = query(fd, part, holder);
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
  return busy;
}

}  // namespace synclab
