// IDX files (the MNIST format): big-endian magic and dimensions, then unsigned bytes. The
// header's counts are checked against what the file can hold before anything sized by
// them is allocated: a raw file must be at least that long, a gzip file must be able to
// inflate to it, and bytes are then read in steps so a lying header costs no more memory
// than the file really holds.
#include <array>
#include <cstdint>
#include <new>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "core/data/byte_stream.hpp"
#include "core/data/dataset.hpp"

namespace synclab {

namespace {

constexpr std::uint32_t kImagesMagic = 0x00000803;  // unsigned byte, 3 dimensions
constexpr std::uint32_t kLabelsMagic = 0x00000801;  // unsigned byte, 1 dimension
// Deflate emits at least one bit per 258-byte match, so no gzip file inflates to more than
// about 1032 times its size (zlib's documentation of the format's limit).
constexpr std::uint64_t kMaxInflateRatio = 1032;

std::uint32_t be32(ByteStream& in, const char* what) {
  std::array<unsigned char, 4> b{};
  in.read_exact(b.data(), 4, what);
  return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) | b[3];
}

void expect_magic(ByteStream& in, std::uint32_t expected, const char* kind) {
  const std::uint32_t magic = be32(in, "the header");
  if (magic != expected) {
    throw DataError(in.path(), fmt::format("wrong magic 0x{:08x} (expected 0x{:08x}, an IDX {} file)", magic, expected, kind));
  }
}

// A header's claim of `bytes` in all (header included) against the file behind it.
void check_claim(const ByteStream& in, std::uint64_t bytes, const std::string& claim) {
  if (!in.compressed() && bytes > in.file_size()) {
    throw DataError(in.path(), fmt::format("truncated: the header declares {} ({} bytes) but the file has {} bytes", claim,
                                           bytes, in.file_size()));
  }
  if (in.compressed() && bytes > kMaxInflateRatio * in.file_size()) {
    throw DataError(in.path(), fmt::format("the header declares {} ({} bytes), more than a {}-byte gzip file can hold",
                                           claim, bytes, in.file_size()));
  }
}

void expect_end(ByteStream& in) {
  if (!in.at_end()) throw DataError(in.path(), "has more data than its header declares");
}

}  // namespace

// With a limit, the samples past it are neither read nor checked.
Dataset read_idx(const std::string& images_path, const std::string& labels_path, const std::string& name,
                 std::size_t limit) {
  ByteStream images(images_path);
  expect_magic(images, kImagesMagic, "image (idx3-ubyte)");
  const std::uint32_t n = be32(images, "the header");
  const std::uint32_t rows = be32(images, "the header");
  const std::uint32_t cols = be32(images, "the header");
  if (n == 0 || rows == 0 || cols == 0 || rows > 4096 || cols > 4096 || n > 100'000'000u) {
    throw DataError(images_path, fmt::format("implausible dimensions {} x {} x {}", n, rows, cols));
  }
  const std::uint64_t sample_bytes = std::uint64_t{rows} * cols;
  check_claim(images, 16 + std::uint64_t{n} * sample_bytes, fmt::format("{} images of {}x{}", n, rows, cols));
  ByteStream labels(labels_path);
  expect_magic(labels, kLabelsMagic, "label (idx1-ubyte)");
  const std::uint32_t m = be32(labels, "the header");
  if (m != n) {
    throw DataError(labels_path, fmt::format("holds {} labels but {} holds {} images", m, images_path, n));
  }
  check_claim(labels, 8 + std::uint64_t{n}, fmt::format("{} labels", n));
  const std::size_t take = (limit > 0 && limit < n) ? limit : n;
  Dataset d;
  d.name = name;
  d.c = 1;
  d.h = static_cast<int>(rows);
  d.w = static_cast<int>(cols);
  d.classes = 10;
  std::vector<std::uint8_t> pixels;
  images.append_exact(pixels, take * d.sample_size(), "the pixel data");
  labels.append_exact(d.y, take, "the labels");
  if (take == n) {
    expect_end(images);
    expect_end(labels);
  }
  for (std::size_t i = 0; i < take; ++i) {
    if (d.y[i] >= d.classes) {
      throw DataError(labels_path, fmt::format("label {} of sample {} is outside 0..{}", int{d.y[i]}, i, d.classes - 1));
    }
  }
  try {
    d.x.resize(pixels.size());
  } catch (const std::bad_alloc&) {
    throw DataError(images_path, fmt::format("not enough memory for {} images as floats ({} bytes)", take, 4 * pixels.size()));
  }
  for (std::size_t i = 0; i < pixels.size(); ++i) d.x[i] = static_cast<float>(pixels[i]) * (1.0f / 255.0f);
  return d;
}

}  // namespace synclab
