#include "core/cost/step_time.hpp"

#include <cmath>

#include "core/common/error.hpp"
#include "core/common/rng.hpp"

namespace synclab {
namespace {
// Stream tag so straggler draws never coincide with other users of derive_seed(seed, ...).
constexpr std::uint64_t kStragglerStream = 0x57a6'61e5ULL;
}  // namespace

StepTimeModel::StepTimeModel(const StragglerSpec& straggler, std::uint64_t seed, std::vector<double> base_seconds)
    : spec_(straggler), seed_(seed), base_(std::move(base_seconds)) {
  const std::string k = "cluster.straggler.";
  if (spec_.dist == "none" || spec_.dist.empty()) {
    dist_ = Dist::None;
  } else if (spec_.dist == "exponential") {
    dist_ = Dist::Exponential;
  } else if (spec_.dist == "lognormal") {
    dist_ = Dist::Lognormal;
    if (!(spec_.sigma >= 0)) throw ConfigError(k + "sigma", "must not be negative");
  } else if (spec_.dist == "periodic") {
    dist_ = Dist::Periodic;
    if (!(spec_.period > 0)) throw ConfigError(k + "period", "must be positive for dist periodic");
    if (!(spec_.duration >= 0 && spec_.duration <= spec_.period))
      throw ConfigError(k + "duration", "must be within [0, period]");
    if (!(spec_.slowdown >= 1)) throw ConfigError(k + "slowdown", "must be at least 1");
  } else {
    throw ConfigError(k + "dist", "unknown '" + spec_.dist + "' (none | exponential | lognormal | periodic)");
  }
  if (!(spec_.mean >= 0)) throw ConfigError(k + "mean", "must not be negative");
  if (dist_ == Dist::Lognormal && spec_.mean > 0)
    lognormal_mu_ = std::log(spec_.mean) - 0.5 * spec_.sigma * spec_.sigma;
  affected_.assign(base_.size(), spec_.workers.empty() ? 1 : 0);
  for (int w : spec_.workers) {
    if (w < 0 || static_cast<std::size_t>(w) >= base_.size())
      throw ConfigError(k + "workers", "worker " + std::to_string(w) + " does not exist");
    affected_[static_cast<std::size_t>(w)] = 1;
  }
  for (double b : base_)
    if (!(b >= 0) || !std::isfinite(b)) throw ConfigError("cluster.gpu", "gives a non-finite step time");
}

double StepTimeModel::seconds_from(int worker, std::uint64_t step, double now, double base) const {
  if (dist_ == Dist::None || !affected(worker)) return base;
  switch (dist_) {
    case Dist::Exponential: {
      if (spec_.mean <= 0) return base;
      Rng rng(derive_seed(seed_, kStragglerStream, static_cast<std::uint64_t>(worker), step));
      return base + rng.exponential(spec_.mean);
    }
    case Dist::Lognormal: {
      if (spec_.mean <= 0) return base;
      Rng rng(derive_seed(seed_, kStragglerStream, static_cast<std::uint64_t>(worker), step));
      return base + std::exp(lognormal_mu_ + spec_.sigma * rng.normal());
    }
    case Dist::Periodic: {
      // Slow phases are [k*period, k*period + duration); a step is slowed when it starts in one.
      const double phase = std::fmod(now, spec_.period);
      return phase < spec_.duration ? base * spec_.slowdown : base;
    }
    case Dist::None:
      break;
  }
  return base;
}

}  // namespace synclab
