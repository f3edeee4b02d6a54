#pragma once
// How simulated transfers move through the simulated network, and which SimGrid settings a
// simulation uses. Two solvers compute the same max-min fair sharing (docs/simulator.md,
// "Network model"): SimGrid's general solver over the platform's links, and an exact
// shortcut for the built star with one parameter-server shard (sim/star_network.hpp); the
// packet model queues packets first come, first served at the shard's NIC instead
// (sim/packet_link.hpp). `sim.network` chooses; choose_network() says which a run takes and why.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/config/run_config.hpp"
#include "sim/packet_link.hpp"

namespace simgrid::s4u {
class Host;
}

namespace synclab::sim {

struct Platform;
class LinkTrace;

/// SimGrid "key:value" settings synclab applies before building a platform.
std::vector<std::string> exact_network_settings();

/// Applies the settings SimGrid reads when the Engine is constructed (call before it): in
/// an AddressSanitizer build, one OS thread per actor instead of switched stacks.
void configure_contexts();

/// Applies exact_network_settings(), then the user's "key:value" settings in order (later
/// wins), and silences SimGrid's per-setting INFO lines. Must run before any zone exists.
/// Throws Error naming the setting when SimGrid rejects one.
void configure_engine(const std::vector<std::string>& user_settings);

/// One transfer started by a NetworkModel. Its methods are called from actors.
class Transfer {
 public:
  virtual ~Transfer() = default;
  /// Blocks the calling actor until the last byte has arrived.
  virtual void wait() = 0;
  /// True once the last byte has arrived.
  virtual bool done() const = 0;
  /// Bytes that have arrived by now (all of them once done; a cancelled one: no matter).
  virtual std::uint64_t delivered() = 0;
  /// Takes an unfinished transfer off the network now (a crashed peer); no-op once done.
  virtual void cancel() = 0;
  /// Once done: the simulated time its first byte reached the receiver (where a real
  /// receiver's read first returns); what it queued before that is not yet its transfer.
  virtual double first_byte_at() const = 0;
};
using TransferPtr = std::shared_ptr<Transfer>;

/// Moves bytes between the hosts of a simulated run.
class NetworkModel {
 public:
  virtual ~NetworkModel() = default;
  /// What summary.json's network_model says about this model.
  virtual std::string describe() const = 0;
  /// Starts moving `bytes` from one host to another now (a worker and a shard).
  virtual TransferPtr start(simgrid::s4u::Host* from, simgrid::s4u::Host* to, std::uint64_t bytes) = 0;
  /// Blocks the calling actor until one of `transfers` (not empty) is done; returns its index.
  virtual std::size_t wait_any(const std::vector<TransferPtr>& transfers) = 0;
  /// Records every transfer from now on (and every packet, where the model has packets) in
  /// `trace`, which must outlive the model; false where the model cannot (SimGrid's solver).
  virtual bool trace_to(LinkTrace* trace) {
    (void)trace;
    return false;
  }
};

/// The model a run takes: "star", "simgrid" or "packet", and why (for errors and summary.json).
struct NetworkChoice {
  std::string model;
  std::string reason;
};

/// Resolves config.sim.network ("auto" | "star" | "simgrid" | "packet") for this config and
/// these SimGrid settings: star and packet need the built platform (no cluster.platform),
/// one shard and no `network/...` setting (another SimGrid network model shares bandwidth
/// differently). auto takes star when it applies, else simgrid. Throws ConfigError naming
/// sim.network when star or packet is asked for but does not apply, or for an unknown value.
NetworkChoice choose_network(const RunConfig& config, const std::vector<std::string>& simgrid_settings);

/// The packet model's link for `config` (sim.packet.*, the PS's NIC shared, each worker's as
/// its flows' own): every field from the config, the BBR senders' round trip the kernel's
/// (sim.packet.rtt) where calibrate measured it.
PacketLinkSpec packet_link_spec(const RunConfig& config);

/// Builds the chosen model for `platform` (built into the current engine, before it runs).
std::unique_ptr<NetworkModel> make_network_model(const NetworkChoice& choice, const RunConfig& config,
                                                 const Platform& platform);

}  // namespace synclab::sim
