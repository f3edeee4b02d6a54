#pragma once
// Helpers shared by the core tests: seeded random buffers and tolerance checks.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "core/common/rng.hpp"

namespace synclab::test {

/// n values uniform in [lo, hi) from seed.
template <class T>
std::vector<T> random_values(std::size_t n, std::uint64_t seed, double lo = -1.0, double hi = 1.0) {
  Rng rng(seed);
  std::vector<T> v(n);
  for (auto& x : v) x = static_cast<T>(lo + (hi - lo) * rng.uniform());
  return v;
}

/// n labels below classes from seed.
inline std::vector<std::uint8_t> random_labels(std::size_t n, int classes, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<std::uint8_t> y(n);
  for (auto& v : y) v = static_cast<std::uint8_t>(rng.below(static_cast<std::uint64_t>(classes)));
  return y;
}

/// Largest |x| (at least `floor`), the scale against which closeness is judged.
template <class A>
double max_abs(const A& a, double floor = 0.0) {
  double m = floor;
  for (auto x : a) m = std::max(m, std::fabs(static_cast<double>(x)));
  return m;
}

/// Every |actual - expected| <= tol * max|expected| (relative to the whole tensor's scale,
/// which suits sums computed in different orders); reports the first offender.
template <class A, class B>
::testing::AssertionResult all_close(const A& actual, const B& expected, double tol) {
  if (actual.size() != expected.size()) return ::testing::AssertionFailure() << "sizes differ";
  const double scale = max_abs(expected, 1e-30);
  for (std::size_t i = 0; i < actual.size(); ++i) {
    const double a = static_cast<double>(actual[i]), e = static_cast<double>(expected[i]);
    if (!(std::fabs(a - e) <= tol * scale))
      return ::testing::AssertionFailure() << "index " << i << ": " << a << " vs " << e << " (scale " << scale
                                           << ", tol " << tol << ")";
  }
  return ::testing::AssertionSuccess();
}

}  // namespace synclab::test
