#include "sim/software_charges.hpp"

#include <set>

namespace synclab::sim {

ShardCharges::ShardCharges(const SoftwareCostSpec& spec, double apply_per_param, std::size_t params, std::uint64_t bytes,
                           bool coordinator, std::uint64_t eval_every)
    : spec_(spec),
      messages_(spec),
      apply_per_param_(apply_per_param),
      params_(static_cast<double>(params)),
      bytes_(bytes),
      coordinator_(coordinator),
      eval_every_(eval_every) {}

double ShardCharges::outcome(const ServerOutbox& out, Version before, Version after) {
  double s = 0;
  if (!out.applied.empty()) {
    // One row per push; pushes folded into one update share its version.
    std::set<Version> updates;
    for (const auto& a : out.applied) updates.insert(a.update);
    s += params_ * (apply_per_param_ * static_cast<double>(updates.size()) +
                    spec_.aggregate * static_cast<double>(out.applied.size()));
  }
  if (eval_every_ > 0 && after / eval_every_ > before / eval_every_) {
    // The real server copies its range for the evaluation on its own thread before it
    // answers anyone; with several shards, shard 0 asks the others for theirs, and each
    // answers with a fresh copy, checksummed and encoded.
    const double copy = spec_.snapshot_byte * static_cast<double>(bytes_);
    s += coordinator_ ? copy : copy + messages_.receive(0) + messages_.send(bytes_);
  }
  for (const auto& r : out.replies) {
    s += spec_.send_message;
    if (checksummed_ != r.version) {
      s += spec_.send_byte * static_cast<double>(bytes_);
      checksummed_ = r.version;
    }
  }
  return s;
}

nlohmann::json software_costs_json(const SoftwareCostSpec& spec) {
  if (!spec.any()) return "free";
  return {{"apply_sgd", spec.apply_sgd},         {"apply_momentum", spec.apply_momentum},
          {"apply_adam", spec.apply_adam},       {"aggregate", spec.aggregate},
          {"send_message", spec.send_message},   {"send_byte", spec.send_byte},
          {"write_byte", spec.write_byte},
          {"receive_message", spec.receive_message}, {"receive_byte", spec.receive_byte},
          {"snapshot_byte", spec.snapshot_byte},
          {"first_step", spec.first_step},       {"kernel_byte", spec.kernel_byte},
          {"evaluate_sample", spec.evaluate_sample}, {"wake_on_busy_core", spec.wake_on_busy_core},
          {"step_after_wait", {{"waits", spec.wait_s}, {"extra", spec.wait_extra}}},
          {"step_beside_kernel", spec.beside_kernel}};
}

}  // namespace synclab::sim
