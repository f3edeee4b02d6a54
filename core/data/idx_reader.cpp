// IDX files (the MNIST format): big-endian magic and dimensions, then unsigned bytes.
// zlib's gz* functions read gzip and raw files alike, so one path serves both.
#include <zlib.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "core/data/dataset.hpp"

namespace synclab {

namespace {

constexpr std::uint32_t kImagesMagic = 0x00000803;  // unsigned byte, 3 dimensions
constexpr std::uint32_t kLabelsMagic = 0x00000801;  // unsigned byte, 1 dimension

struct GzCloser {
  void operator()(gzFile_s* f) const { gzclose(f); }
};

class IdxFile {
 public:
  explicit IdxFile(std::string path) : path_(std::move(path)) {
    if (!std::filesystem::exists(path_)) throw DataError(path_, "no such file");
    file_.reset(gzopen(path_.c_str(), "rb"));
    if (!file_) throw DataError(path_, "cannot open for reading");
  }

  // Reads exactly n bytes; anything short is a truncated (or corrupt) file.
  void read(void* dst, std::size_t n, const char* what) {
    auto* out = static_cast<unsigned char*>(dst);
    std::size_t got = 0;
    while (got < n) {
      const unsigned chunk = static_cast<unsigned>(std::min<std::size_t>(n - got, 1u << 30));
      const int r = gzread(file_.get(), out + got, chunk);
      if (r < 0) {
        int code = 0;
        const char* msg = gzerror(file_.get(), &code);
        throw DataError(path_, fmt::format("corrupt data while reading {}: {}", what, msg ? msg : "zlib error"));
      }
      if (r == 0) {
        throw DataError(path_, fmt::format("truncated: {} ends after {} of {} bytes", what, got, n));
      }
      got += static_cast<std::size_t>(r);
    }
  }

  std::uint32_t be32(const char* what) {
    std::array<unsigned char, 4> b{};
    read(b.data(), 4, what);
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
  }

  void expect_magic(std::uint32_t expected, const char* kind) {
    const std::uint32_t magic = be32("the header");
    if (magic != expected) {
      throw DataError(path_, fmt::format("wrong magic 0x{:08x} (expected 0x{:08x}, an IDX {} file)", magic, expected, kind));
    }
  }

  void expect_end() {
    unsigned char extra = 0;
    const int r = gzread(file_.get(), &extra, 1);
    if (r > 0) throw DataError(path_, "has more data than its header declares");
    if (r < 0) throw DataError(path_, "corrupt data at the end of the file");
  }

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::unique_ptr<gzFile_s, GzCloser> file_;
};

}  // namespace

// With a limit, the samples past it are neither read nor checked.
Dataset read_idx(const std::string& images_path, const std::string& labels_path, const std::string& name,
                 std::size_t limit) {
  IdxFile images(images_path);
  images.expect_magic(kImagesMagic, "image (idx3-ubyte)");
  const std::uint32_t n = images.be32("the header");
  const std::uint32_t rows = images.be32("the header");
  const std::uint32_t cols = images.be32("the header");
  if (n == 0 || rows == 0 || cols == 0 || rows > 4096 || cols > 4096 || n > 100'000'000u) {
    throw DataError(images_path, fmt::format("implausible dimensions {} x {} x {}", n, rows, cols));
  }
  IdxFile labels(labels_path);
  labels.expect_magic(kLabelsMagic, "label (idx1-ubyte)");
  const std::uint32_t m = labels.be32("the header");
  if (m != n) {
    throw DataError(labels_path, fmt::format("holds {} labels but {} holds {} images", m, images_path, n));
  }
  const std::size_t take = (limit > 0 && limit < n) ? limit : n;
  Dataset d;
  d.name = name;
  d.c = 1;
  d.h = static_cast<int>(rows);
  d.w = static_cast<int>(cols);
  d.classes = 10;
  const std::size_t ss = d.sample_size();
  std::vector<std::uint8_t> pixels(take * ss);
  images.read(pixels.data(), pixels.size(), "the pixel data");
  d.y.resize(take);
  labels.read(d.y.data(), take, "the labels");
  if (take == n) {
    images.expect_end();
    labels.expect_end();
  }
  for (std::size_t i = 0; i < take; ++i) {
    if (d.y[i] >= d.classes) {
      throw DataError(labels_path, fmt::format("label {} of sample {} is outside 0..{}", int{d.y[i]}, i, d.classes - 1));
    }
  }
  d.x.resize(pixels.size());
  for (std::size_t i = 0; i < pixels.size(); ++i) d.x[i] = static_cast<float>(pixels[i]) * (1.0f / 255.0f);
  return d;
}

}  // namespace synclab
