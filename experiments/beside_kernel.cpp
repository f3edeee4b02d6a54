#include <algorithm>

#include "experiments/calibrate.hpp"

namespace synclab::experiments {

std::vector<double> beside_kernel_quantiles(std::vector<double> steps_s, double quiet_s, std::size_t n) {
  if (n == 0 || steps_s.size() < 2 * n) return {};
  for (double& t : steps_s) t = std::max(0.0, t - quiet_s);
  std::sort(steps_s.begin(), steps_s.end());
  std::vector<double> q(n);
  double mean = 0;
  for (std::size_t k = 0; k < n; ++k) {
    const double x = (static_cast<double>(k) + 0.5) / static_cast<double>(n) * static_cast<double>(steps_s.size() - 1);
    const auto i = static_cast<std::size_t>(x);
    const double f = x - static_cast<double>(i);
    q[k] = i + 1 < steps_s.size() ? steps_s[i] + (steps_s[i + 1] - steps_s[i]) * f : steps_s[i];
    mean += q[k];
  }
  mean /= static_cast<double>(n);
  if (!(mean > 0)) return {};
  for (double& v : q) v /= mean;
  return q;
}

}  // namespace synclab::experiments
