// Reading data files without trusting them: the file type is checked on the open
// descriptor (a FIFO would block a plain open, a directory fail only later), and gzip is
// inflated here rather than through gzread, which silently ignores bytes after the last
// member.
#include "core/data/byte_stream.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <limits>

#include <fmt/format.h>

#include "core/common/error.hpp"

namespace synclab {

namespace {

constexpr std::size_t kBuffer = 1 << 16;
constexpr std::size_t kGrowStep = std::size_t{16} << 20;  // append_exact grows by at most this

const char* file_kind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

}  // namespace

ByteStream::ByteStream(std::string path) : path_(std::move(path)), in_(kBuffer) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
  fd_ = ::open(path_.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd_ < 0) {
    const int err = errno;
    throw DataError(path_, err == ENOENT ? std::string("no such file") : fmt::format("cannot open for reading: {}", std::strerror(err)));
  }
  struct stat st {};
  if (::fstat(fd_, &st) != 0 || !S_ISREG(st.st_mode)) {
    const std::string kind = file_kind(st.st_mode);
    ::close(fd_);
    fd_ = -1;
    throw DataError(path_, fmt::format("is {}, not a regular file", kind));
  }
  file_size_ = static_cast<std::uint64_t>(st.st_size);
  ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) & ~O_NONBLOCK);
  while (in_len_ < 2 && fill() > 0) {
  }
  gzip_ = in_len_ >= 2 && in_[0] == 0x1f && in_[1] == 0x8b;
  if (gzip_) {
    if (inflateInit2(&zs_, 16 + MAX_WBITS) != Z_OK) {
      ::close(fd_);
      throw DataError(path_, "cannot start gzip decompression");
    }
    inflating_ = true;
  }
}

ByteStream::~ByteStream() {
  if (inflating_) inflateEnd(&zs_);
  if (fd_ >= 0) ::close(fd_);
}

std::size_t ByteStream::fill() {
  if (in_pos_ > 0) {
    std::memmove(in_.data(), in_.data() + in_pos_, in_len_ - in_pos_);
    in_len_ -= in_pos_;
    in_pos_ = 0;
  }
  while (in_len_ < in_.size()) {
    const ssize_t r = ::read(fd_, in_.data() + in_len_, in_.size() - in_len_);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw DataError(path_, fmt::format("read error: {}", std::strerror(errno)));
    in_len_ += static_cast<std::size_t>(r);
    return static_cast<std::size_t>(r);
  }
  return 0;
}

std::size_t ByteStream::read_raw(unsigned char* dst, std::size_t n) {
  std::size_t got = std::min(n, in_len_ - in_pos_);
  std::memcpy(dst, in_.data() + in_pos_, got);
  in_pos_ += got;
  while (got < n) {
    const ssize_t r = ::read(fd_, dst + got, n - got);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) throw DataError(path_, fmt::format("read error: {}", std::strerror(errno)));
    if (r == 0) break;
    got += static_cast<std::size_t>(r);
  }
  return got;
}

std::size_t ByteStream::read_gzip(unsigned char* dst, std::size_t n, const char* what) {
  std::size_t got = 0;
  while (got < n) {
    if (member_done_) {
      // gzip allows members to be concatenated; anything else after one is not data.
      while (in_len_ - in_pos_ < 2 && fill() > 0) {
      }
      const std::size_t left = in_len_ - in_pos_;
      if (left == 0) return got;
      if (left < 2 || in_[in_pos_] != 0x1f || in_[in_pos_ + 1] != 0x8b) {
        throw DataError(path_, "has data after the end of its gzip stream (trailing garbage; the file is damaged or not one gzip file)");
      }
      inflateReset(&zs_);
      member_done_ = false;
    }
    if (in_pos_ == in_len_ && fill() == 0) {
      throw DataError(path_, fmt::format("truncated: the gzip stream ends in the middle of {}", what));
    }
    zs_.next_in = in_.data() + in_pos_;
    zs_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
    zs_.next_out = dst + got;
    zs_.avail_out = static_cast<uInt>(std::min<std::size_t>(n - got, std::numeric_limits<uInt>::max()));
    const uInt out_before = zs_.avail_out;
    const int rc = inflate(&zs_, Z_NO_FLUSH);
    in_pos_ = in_len_ - zs_.avail_in;
    got += out_before - zs_.avail_out;
    if (rc == Z_STREAM_END) {
      member_done_ = true;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      throw DataError(path_, fmt::format("corrupt gzip data while reading {}: {}", what, zs_.msg ? zs_.msg : zError(rc)));
    }
  }
  return got;
}

std::size_t ByteStream::read(void* dst, std::size_t n, const char* what) {
  auto* out = static_cast<unsigned char*>(dst);
  return gzip_ ? read_gzip(out, n, what) : read_raw(out, n);
}

void ByteStream::read_exact(void* dst, std::size_t n, const char* what) {
  const std::size_t got = read(dst, n, what);
  if (got < n) throw DataError(path_, fmt::format("truncated: {} ends after {} of {} bytes", what, got, n));
}

void ByteStream::append_exact(std::vector<std::uint8_t>& out, std::size_t n, const char* what) {
  const std::size_t start = out.size();
  std::size_t got = 0;
  while (got < n) {
    const std::size_t step = std::min(n - got, kGrowStep);
    try {
      out.resize(start + got + step);
    } catch (const std::bad_alloc&) {
      throw DataError(path_, fmt::format("not enough memory for {} ({} bytes)", what, n));
    }
    const std::size_t r = read(out.data() + start + got, step, what);
    got += r;
    if (r < step) {
      out.resize(start + got);
      throw DataError(path_, fmt::format("truncated: {} ends after {} of {} bytes", what, got, n));
    }
  }
}

bool ByteStream::at_end() {
  unsigned char extra = 0;
  return read(&extra, 1, "the end of the file") == 0;
}

}  // namespace synclab
