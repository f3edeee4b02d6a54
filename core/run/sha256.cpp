// SHA-256 of a parameter buffer, so two runs can be compared bit for bit.
#include <openssl/evp.h>

#include <bit>
#include <cstring>
#include <memory>
#include <vector>

#include "core/common/error.hpp"
#include "core/run/run_writer.hpp"

namespace synclab {

std::string sha256_hex(std::span<const float> values) {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) throw Error("sha256: OpenSSL initialisation failed");
  if constexpr (std::endian::native == std::endian::little) {
    EVP_DigestUpdate(ctx.get(), values.data(), values.size_bytes());
  } else {
    // The digest is defined over little-endian fp32 so it matches across machines.
    std::vector<unsigned char> le(values.size_bytes());
    for (std::size_t i = 0; i < values.size(); ++i) {
      unsigned char b[4];
      std::memcpy(b, &values[i], 4);
      for (int k = 0; k < 4; ++k) le[i * 4 + static_cast<std::size_t>(k)] = b[3 - k];
    }
    EVP_DigestUpdate(ctx.get(), le.data(), le.size());
  }
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) throw Error("sha256: OpenSSL digest failed");
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

}  // namespace synclab
