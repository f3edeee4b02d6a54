#pragma once
// Statistics over a config's seeds: the mean with a 95% Student-t interval, and Welch's
// unequal-variance t-test between two configs (two-sided).
#include <cstddef>
#include <optional>
#include <vector>

namespace synclab::experiments {

/// Mean of n values with its 95% confidence interval mean +- t(0.975, n-1) * sd / sqrt(n);
/// lo = hi = mean when n < 2 (no estimate of the noise).
struct MeanInterval {
  double mean = 0, lo = 0, hi = 0;
  double sd = 0;          ///< sample standard deviation (n - 1 in the denominator)
  std::size_t n = 0;
};

/// The interval of the values (all zeros when empty).
MeanInterval mean_interval(const std::vector<double>& values);

/// Welch's t-test of mean(a) == mean(b).
struct WelchTest {
  double t = 0;           ///< (mean a - mean b) / sqrt(var a / n a + var b / n b)
  double df = 0;          ///< Welch-Satterthwaite degrees of freedom
  double p = 1;           ///< two-sided p-value
};

/// nullopt when either side has fewer than 2 values. Two noiseless samples give p = 0 when
/// their means differ and p = 1 when they are equal.
std::optional<WelchTest> welch_test(const std::vector<double>& a, const std::vector<double>& b);

}  // namespace synclab::experiments
