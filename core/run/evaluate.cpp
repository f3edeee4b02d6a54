// Test-set evaluation shared by train, sim and the real parameter server.
#include <algorithm>

#include "core/common/error.hpp"
#include "core/run/run_writer.hpp"

namespace synclab {

TestResult evaluate_dataset(Network& net, std::span<const float> params, const Dataset& test, std::size_t limit,
                            std::size_t chunk) {
  const std::size_t n = limit ? std::min(limit, test.size()) : test.size();
  if (n == 0) throw Error(test.name + ": the test set is empty");
  if (chunk == 0) chunk = 100;
  EvalStats total;
  for (std::size_t first = 0; first < n; first += chunk) {
    const EvalStats s = net.evaluate(params, test.slice(first, std::min(chunk, n - first)));
    total.loss_sum += s.loss_sum;
    total.correct += s.correct;
    total.count += s.count;
  }
  TestResult r;
  r.samples = total.count;
  if (total.count == 0) throw Error(test.name + ": evaluation counted no samples");
  r.loss = total.loss_sum / static_cast<double>(total.count);
  r.accuracy = static_cast<double>(total.correct) / static_cast<double>(total.count);
  return r;
}

}  // namespace synclab
