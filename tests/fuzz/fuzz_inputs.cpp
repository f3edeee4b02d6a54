// Fuzz targets of the file inputs: a run config (YAML text through the real loader), a
// sweep spec, and a pair of IDX files. Clean errors are synclab::Error; anything else
// escaping (a yaml-cpp conversion error, bad_alloc, a crash) is a bug.
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <span>
#include <string>

#include <spdlog/spdlog.h>
#include <yaml-cpp/yaml.h>

#include "core/common/error.hpp"
#include "core/config/run_config.hpp"
#include "core/data/dataset.hpp"
#include "experiments/sweep_spec.hpp"
#include "tests/fuzz/fuzz_targets.hpp"

namespace synclab::fuzz {
namespace {

// The bytes as a file in memory, reachable by path (no disk, nothing left behind).
class MemFile {
 public:
  explicit MemFile(std::span<const std::uint8_t> bytes) : fd_(::memfd_create("synclab-fuzz", 0)) {
    if (fd_ < 0) violated("memfd", "memfd_create failed");
    for (std::size_t at = 0; at < bytes.size();) {
      const ssize_t n = ::write(fd_, bytes.data() + at, bytes.size() - at);
      if (n <= 0) violated("memfd", "write failed");
      at += static_cast<std::size_t>(n);
    }
    path_ = "/proc/self/fd/" + std::to_string(fd_);
  }
  ~MemFile() { ::close(fd_); }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  const std::string& path() const { return path_; }

 private:
  int fd_;
  std::string path_;
};

void quiet() {
  static const bool once = [] {
    spdlog::set_level(spdlog::level::off);
    return true;
  }();
  (void)once;
}

}  // namespace

int fuzz_config(const std::uint8_t* data, std::size_t size) {
  quiet();
  MemFile file({data, size});
  try {
    (void)load_run_config(file.path());
  } catch (const Error&) {
  }
  return 0;
}

int fuzz_sweep(const std::uint8_t* data, std::size_t size) {
  quiet();
  YAML::Node root;
  try {
    root = YAML::Load(std::string(reinterpret_cast<const char*>(data), size));
  } catch (const YAML::Exception&) {
    return 0;  // not YAML: load_sweep reports that with the file and line
  }
  try {
    // Relative base/merge files resolve in a folder that does not exist.
    const auto spec = experiments::parse_sweep(root, "/nonexistent/synclab-fuzz", "fuzz.yaml");
    std::size_t runs = std::max<std::size_t>(1, spec.seeds.size());
    for (const auto& axis : spec.grid) runs *= std::max<std::size_t>(1, axis.values.size());
    if (runs <= 256) (void)experiments::expand_sweep(spec);  // bigger grids are slow, not wrong
  } catch (const Error&) {
  }
  return 0;
}

// First two bytes: length of the image file; the rest after it is the label file.
int fuzz_idx(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::size_t split = std::min<std::size_t>(size - 2, std::size_t{data[0]} << 8 | data[1]);
  MemFile images({data + 2, split}), labels({data + 2 + split, size - 2 - split});
  try {
    (void)read_idx(images.path(), labels.path(), "fuzz");
  } catch (const Error&) {
  }
  return 0;
}

}  // namespace synclab::fuzz
