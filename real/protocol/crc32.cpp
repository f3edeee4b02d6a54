#include "real/protocol/crc32.hpp"

#ifdef SYNCLAB_HAVE_LIBDEFLATE
#include <libdeflate.h>
#else
#include <zlib.h>
#endif

namespace synclab::real {

std::uint32_t crc32_update(std::uint32_t crc, const void* data, std::size_t n) {
  if (n == 0) return crc;
#ifdef SYNCLAB_HAVE_LIBDEFLATE
  return libdeflate_crc32(crc, data, n);
#else
  return static_cast<std::uint32_t>(crc32_z(crc, static_cast<const Bytef*>(data), n));
#endif
}

}  // namespace synclab::real
