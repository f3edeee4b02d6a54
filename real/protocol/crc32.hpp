#pragma once
// CRC-32 as zlib defines it (polynomial 0xEDB88320, the value zlib's crc32() returns),
// computed with libdeflate's carry-less-multiply implementation when available (about
// twice zlib's speed here; checksums cost most of the CPU of a 13 MB transfer), else zlib.
#include <cstddef>
#include <cstdint>

namespace synclab::real {

/// Continues crc over n bytes; start with crc = 0. n == 0 leaves crc unchanged.
std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n);

}  // namespace synclab::real
