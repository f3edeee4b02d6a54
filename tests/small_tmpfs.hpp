#pragma once
// A size-limited tmpfs for disk-full tests: mounted on a fresh folder (needs root, or
// CAP_SYS_ADMIN), unmounted and removed by the destructor. Where it cannot be mounted,
// ok() is false and reason() says why, for GTEST_SKIP.
#include <sys/mount.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

namespace synclab::testing {

class SmallTmpfs {
 public:
  SmallTmpfs(const std::string& tag, std::size_t bytes)
      : path_(std::filesystem::temp_directory_path() / ("synclab-" + tag + "-" + std::to_string(::getpid()))) {
    if (::geteuid() != 0) {
      reason_ = "needs root to mount a small tmpfs";
      return;
    }
    std::filesystem::create_directories(path_);
    const std::string opts = "size=" + std::to_string(bytes);
    if (::mount("tmpfs", path_.c_str(), "tmpfs", 0, opts.c_str()) != 0) {
      reason_ = std::string("cannot mount a tmpfs: ") + std::strerror(errno);
      return;
    }
    mounted_ = true;
  }
  ~SmallTmpfs() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  SmallTmpfs(const SmallTmpfs&) = delete;
  SmallTmpfs& operator=(const SmallTmpfs&) = delete;

  bool ok() const { return mounted_; }                              ///< mounted and usable
  const std::string& reason() const { return reason_; }             ///< why not, when !ok()
  const std::filesystem::path& path() const { return path_; }       ///< the mount point

  /// Writes `name` until the file system is full (to the last byte).
  void fill(const std::string& name = "filler") const {
    std::ofstream out(path_ / name, std::ios::binary);
    const std::string block(4096, 'x');
    while (out.write(block.data(), static_cast<std::streamsize>(block.size()))) out.flush();
    out.clear();
    for (char c = 'x'; out.put(c) && out.flush();) {
    }
  }

 private:
  std::filesystem::path path_;
  std::string reason_;
  bool mounted_ = false;
};

}  // namespace synclab::testing
