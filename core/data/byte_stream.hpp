#pragma once
// A data file read front to back as bytes: raw, or gzip (one or more members) inflated on
// the fly. Only regular files are opened; every error is a DataError naming the file.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include <zlib.h>

namespace synclab {

class ByteStream {
 public:
  /// Opens path; refuses a missing file and anything but a regular file (directory, FIFO,
  /// device, socket) without blocking on it.
  explicit ByteStream(std::string path);
  ~ByteStream();
  ByteStream(const ByteStream&) = delete;
  ByteStream& operator=(const ByteStream&) = delete;

  /// Up to n bytes into dst; fewer only at the end of the data. `what` names the part
  /// being read in error messages.
  std::size_t read(void* dst, std::size_t n, const char* what);
  /// Exactly n bytes; a short read is a "truncated" DataError.
  void read_exact(void* dst, std::size_t n, const char* what);
  /// Appends exactly n bytes to out, growing it only as data arrives, so a header that
  /// overstates the size costs no more memory than the file really holds.
  void append_exact(std::vector<std::uint8_t>& out, std::size_t n, const char* what);
  /// True when no byte of data is left (gzip: and nothing follows the last member).
  bool at_end();

  bool compressed() const { return gzip_; }             ///< gzip, as told by its magic bytes
  std::uint64_t file_size() const { return file_size_; }  ///< bytes on disk
  const std::string& path() const { return path_; }

 private:
  std::size_t fill();  // more input from the file into in_; 0 at its end
  std::size_t read_raw(unsigned char* dst, std::size_t n);
  std::size_t read_gzip(unsigned char* dst, std::size_t n, const char* what);

  std::string path_;
  int fd_ = -1;
  std::uint64_t file_size_ = 0;
  bool gzip_ = false, inflating_ = false, member_done_ = false;
  std::vector<unsigned char> in_;
  std::size_t in_pos_ = 0, in_len_ = 0;
  z_stream zs_{};
};

}  // namespace synclab
