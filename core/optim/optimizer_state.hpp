#pragma once
// Binary checkpoint format shared by the optimizers: a header (magic, format version,
// optimizer name, parameter count, steps) followed by the state arrays, each with its length.
#include <cstddef>
#include <iosfwd>
#include <string>
#include <vector>

namespace synclab::optim {

/// What an optimizer writes to / expects from a checkpoint.
struct OptimizerState {
  std::string name;                         ///< "sgd" | "momentum" | "adam"
  std::size_t size = 0;                     ///< parameters covered
  std::size_t steps = 0;
  std::vector<const std::vector<float>*> arrays;  ///< moments, each of length size
};

/// Writes the state; throws Error when the stream fails.
void write_state(std::ostream& out, const OptimizerState& state);

/// Reads into `arrays` after checking magic, version, name, size and every array's length
/// against the arguments (arrays are the destinations, each resized to size); returns the steps.
/// Throws Error with one line saying what does not match.
std::size_t read_state(std::istream& in, const std::string& name, std::size_t size,
                       const std::vector<std::vector<float>*>& arrays);

}  // namespace synclab::optim
