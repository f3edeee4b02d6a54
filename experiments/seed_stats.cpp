#include "experiments/seed_stats.hpp"

#include <cmath>

#include <boost/math/distributions/students_t.hpp>

namespace synclab::experiments {

namespace {

double mean_of(const std::vector<double>& v) {
  double s = 0;
  for (double x : v) s += x;
  return v.empty() ? 0.0 : s / static_cast<double>(v.size());
}

double variance_of(const std::vector<double>& v, double mean) {
  if (v.size() < 2) return 0;
  double s = 0;
  for (double x : v) s += (x - mean) * (x - mean);
  return s / static_cast<double>(v.size() - 1);
}

}  // namespace

MeanInterval mean_interval(const std::vector<double>& values) {
  MeanInterval m;
  m.n = values.size();
  m.mean = mean_of(values);
  m.lo = m.hi = m.mean;
  if (m.n < 2) return m;
  m.sd = std::sqrt(variance_of(values, m.mean));
  // Three seeds are the usual budget: the t quantile (4.30 for n = 3), not the normal 1.96,
  // keeps the interval honest that small.
  const boost::math::students_t dist(static_cast<double>(m.n - 1));
  const double half = boost::math::quantile(dist, 0.975) * m.sd / std::sqrt(static_cast<double>(m.n));
  m.lo = m.mean - half;
  m.hi = m.mean + half;
  return m;
}

std::optional<WelchTest> welch_test(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() < 2 || b.size() < 2) return std::nullopt;
  const double ma = mean_of(a), mb = mean_of(b);
  const double va = variance_of(a, ma) / static_cast<double>(a.size());
  const double vb = variance_of(b, mb) / static_cast<double>(b.size());
  WelchTest w;
  const double se2 = va + vb;
  if (se2 <= 0) {
    // Deterministic results (e.g. seeds that do not change a timing-mode run).
    w.p = ma == mb ? 1.0 : 0.0;
    w.t = ma == mb ? 0.0 : std::copysign(INFINITY, ma - mb);
    w.df = static_cast<double>(a.size() + b.size() - 2);
    return w;
  }
  w.t = (ma - mb) / std::sqrt(se2);
  w.df = se2 * se2 /
         (va * va / static_cast<double>(a.size() - 1) + vb * vb / static_cast<double>(b.size() - 1));
  const boost::math::students_t dist(w.df);
  w.p = 2 * boost::math::cdf(boost::math::complement(dist, std::fabs(w.t)));
  return w;
}

}  // namespace synclab::experiments
