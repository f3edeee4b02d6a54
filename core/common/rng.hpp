#pragma once
// Deterministic, portable random numbers: same seed, same stream on every platform and
// standard library (std::*_distribution is implementation-defined, so we do not use it).
#include <cmath>
#include <cstdint>

namespace synclab {

/// SplitMix64: mixes a 64-bit value; used to derive independent seeds from (seed, stream ids).
constexpr uint64_t splitmix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

/// Seed for a named sub-stream, e.g. derive_seed(seed, worker, step): stable across runs.
constexpr uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0) {
  return splitmix64(splitmix64(splitmix64(seed ^ 0x5ca1ab1eULL) ^ a) ^ (b * 0x9e3779b97f4a7c15ULL)) ^ splitmix64(c);
}

/// xoshiro256** generator with portable uniform / normal / exponential draws.
class Rng {
 public:
  explicit Rng(uint64_t seed = 1) { reseed(seed); }
  void reseed(uint64_t seed) {
    for (auto& w : s_) w = seed = splitmix64(seed);
  }
  uint64_t next_u64() {
    const uint64_t result = rotl(s_[1] * 5, 7) * 9;
    const uint64_t t = s_[1] << 17;
    s_[2] ^= s_[0]; s_[3] ^= s_[1]; s_[1] ^= s_[2]; s_[0] ^= s_[3];
    s_[2] ^= t; s_[3] = rotl(s_[3], 45);
    return result;
  }
  /// Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }
  /// Uniform integer in [0, n); n > 0. (Lemire's method; bias < 2^-64 * n, fine here.)
  uint64_t below(uint64_t n) {
    __extension__ typedef unsigned __int128 u128;  // GCC/Clang extension; -Wpedantic accepts it marked so
    return static_cast<uint64_t>((static_cast<u128>(next_u64()) * n) >> 64);
  }
  /// Standard normal via Box-Muller (one value per call, no cached state).
  double normal() {
    double u1 = uniform();
    while (u1 <= 0.0) u1 = uniform();
    const double u2 = uniform();
    return std::sqrt(-2.0 * std::log(u1)) * std::cos(6.283185307179586 * u2);
  }
  /// Exponential with the given mean.
  double exponential(double mean) {
    double u = uniform();
    while (u <= 0.0) u = uniform();
    return -mean * std::log(u);
  }

 private:
  static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  uint64_t s_[4];
};

}  // namespace synclab
