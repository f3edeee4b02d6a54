#pragma once
// The timing loop every part of `synclab calibrate` uses for a repeated piece of code.
#include <functional>

namespace synclab::experiments {

/// Median seconds of `timed` over at least `repeats` runs (more while under min_seconds,
/// at most 1000), after two untimed warm-up runs (first touches of fresh pages).
/// `prepare` runs before each, untimed: it builds what the timed call consumes.
double median_seconds(int repeats, double min_seconds, const std::function<void()>& prepare,
                      const std::function<void()>& timed);

}  // namespace synclab::experiments
