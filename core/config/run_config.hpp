#pragma once
// The run config (YAML, keys in docs/config.md): loaded, overridden with --set a.b=v,
// validated against the schema (unknown key, wrong type, out of range: ConfigError naming
// the key), every default filled in.
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "core/config/policy_spec.hpp"
#include "core/config/units.hpp"
#include "core/data/dataset.hpp"
#include "core/optim/optimizer.hpp"

namespace synclab {

struct LinkSpec {
  double bandwidth = 1.25e9;  ///< bytes/s (config accepts "10Gbps", "100MBps", ...)
  double latency = 50e-6;     ///< seconds ("50us", "1ms", ...)
};

struct GpuSpec {
  std::string profile = "v100";  ///< named profile, or "custom" when flops were given
  double flops = 0;              ///< peak flop/s (filled from the profile when named)
  double efficiency = 0;         ///< fraction of peak reached (filled from the profile)
};

struct StragglerSpec {
  std::string dist = "exponential";  ///< none | exponential | lognormal | periodic
  double mean = 0.0;                 ///< exponential/lognormal: mean extra seconds per step
  double sigma = 0.5;                ///< lognormal: sigma of the underlying normal
  double period = 0.0;               ///< periodic: seconds between slow phases
  double duration = 0.0;             ///< periodic: seconds each slow phase lasts
  double slowdown = 1.0;             ///< periodic: compute-time multiplier while slow
  std::vector<int> workers;          ///< which workers; empty = all
};

/// The most a sender thread hands its socket in one write(): asio::async_write's default
/// completion condition (transfer_all) writes at most asio's default_max_transfer_size,
/// 64 KiB, per call, and the rest of the message in further calls from the event loop.
inline constexpr std::uint64_t kSocketWriteChunk = 65536;

/// Per-message and per-update CPU costs of the real executor, measured by `synclab
/// calibrate` (cluster.software) and charged by the simulator in simulated time
/// (docs/simulator.md, "Software costs"). All zero (the default): software is free.
struct SoftwareCostSpec {
  double apply_sgd = 0;        ///< seconds per shard parameter per update, sgd (also model deltas)
  double apply_momentum = 0;   ///< same, momentum
  double apply_adam = 0;       ///< same, adam
  double aggregate = 0;        ///< seconds per shard parameter per push folded into an update
  double send_message = 0;     ///< seconds per message encoded by its sender
  double send_byte = 0;        ///< seconds per payload byte encoded (checksum)
  double write_byte = 0;       ///< seconds per byte of a sender thread's first write() (kSocketWriteChunk at most) into an idle socket
  double receive_message = 0;  ///< seconds per message parsed and decoded by its receiver
  double receive_byte = 0;     ///< seconds per payload byte received (buffer, checksum)
  double snapshot_byte = 0;    ///< seconds per byte of the server's evaluation snapshot
  double first_step = 0;       ///< extra seconds of a worker's first step (its math backend's start-up)
  double kernel_byte = 0;      ///< CPU seconds the OS spends per byte moved over TCP, both ends (colocated hosts only)
  double evaluate_sample = 0;  ///< CPU seconds per test sample an evaluation scores (colocated hosts only)
  double wake_on_busy_core = 0;  ///< of wake-ups by packets a busy core moved, the fraction that wait for it (colocated hosts only)
  std::vector<double> wait_s;      ///< waits (s, increasing) after which a step was timed (step_after_wait.waits)
  std::vector<double> wait_extra;  ///< extra seconds of the step after each of those waits (step_after_wait.extra)
  /// Quantiles (equally spaced probabilities) of a step's extra time beside a full-rate
  /// transfer over its mean (step_beside_kernel); empty: the extra is spread evenly.
  std::vector<double> beside_kernel;
  /// The extra-time factor at probability u in [0, 1): beside_kernel interpolated between
  /// its quantiles, over their mean (so its mean over u is 1); 1 without measurements.
  double beside_kernel_factor(double u) const;
  /// Extra seconds of a worker's step that starts `waited` seconds after its previous
  /// step ended: wait_extra interpolated linearly in the wait (from 0 extra at no wait,
  /// the last figure beyond the last wait); 0 without measurements.
  double after_wait(double waited) const;
  /// The apply rate of an optimizer by name (sgd | momentum | adam).
  double apply(const std::string& optimizer) const;
  bool any() const;            ///< true when some cost is non-zero
};

struct FailureSpec {
  int worker = 0;
  double at = 0;  ///< seconds from the start
};

struct RunConfig {
  std::string tag;                      ///< free-form scenario label; reports keep tags apart
  std::string model = "cnn";
  struct Data {
    DataSpec source;
    std::size_t batch = 100;
    Sharding sharding = Sharding::Iid;
    int classes_per_worker = 2;
    std::size_t eval_samples = 0;  ///< test samples per evaluation; 0 = whole test set
  } data;
  struct Train {
    OptimizerSpec optimizer;
    std::uint64_t stop_updates = 2000;  ///< 0 = no limit
    double stop_time = 0;               ///< seconds (sim time, wall for real); 0 = no limit
    double stop_accuracy = 0;           ///< 0 = no limit
    std::uint64_t eval_every = 100;
    std::uint64_t seed = 1;
    std::string backend = "fast";       ///< reference | fast (CPU) for train/sim
    int threads = 1;
  } train;
  PolicySpec policy;
  struct Cluster {
    int workers = 8;
    int servers = 1;
    int colocated_cores = 0;            ///< > 0: every host runs on one machine of this many cores (sim)
    GpuSpec gpu;
    LinkSpec link;
    std::optional<LinkSpec> ps_link;    ///< unset: same as link
    StragglerSpec straggler;
    SoftwareCostSpec software;          ///< measured software costs; zero = free
    std::vector<double> speeds;         ///< per-worker speed factors; empty = all 1
    std::vector<FailureSpec> failures;
    std::string platform;               ///< optional SimGrid XML platform file
  } cluster;
  struct Sim {
    std::string mode = "full";          ///< full | timing
    std::string network = "auto";       ///< auto | star | simgrid | packet (sim/network_model.hpp)
    std::uint64_t packet_segment = 1448; ///< packet model: bytes per packet (TCP MSS of a 1500-byte MTU)
    std::uint64_t packet_window = 14480; ///< packet model: bytes a flow may have in flight
    bool packet_acks_queued = true;      ///< packet model: ACKs queue in the other direction (sim.packet.acks: queued | free)
    bool packet_bbr = false;             ///< packet model: windows from BBR per connection (sim.packet.congestion: measured | bbr)
    std::uint64_t packet_gso = 65536;    ///< packet model with bbr: the senders' interface's GSO size (sim.packet.gso)
    std::uint64_t packet_burst = 0;      ///< packet model: every NIC's token bucket in bytes, 0 = none (sim.packet.burst)
    double packet_rtt = 0;               ///< packet model with bbr: s, the path's round trip TCP sees; 0 = the NICs' latencies (sim.packet.rtt)
    bool packet_small_queues = true;     ///< packet model with bbr: the shard's senders obey TCP small queues (sim.packet.small_queues)
    std::vector<double> packet_first_reads;    ///< packet model: s from a message's first packet in to its receiver's first read, drawn per transfer (empty: ACKs at once)
    std::vector<std::uint64_t> packet_windows; ///< packet model: measured windows each transfer draws from (empty: packet_window)
    bool trace = false;                  ///< write the shard NIC's traffic under <run dir>/trace/ (sim.trace: off | on)
  } sim;
  struct Worker {
    std::string device = "auto";        ///< auto | cpu | cuda | cuda:N
  } worker;
  struct Real {
    std::vector<std::string> hosts;     ///< host or host:port per process; empty = local processes
    int port = 0;                       ///< parameter-server port; 0 = any free port
    std::string token;                  ///< shared job token; empty = generated by the launcher
    std::string testbed;                ///< one-machine testbed whose namespaces host the roles; empty = none
    std::string checkpoint_dir;         ///< empty = <run dir>/checkpoints
    std::uint64_t checkpoint_every = 0; ///< server updates between checkpoints; 0 = none
    double timeout = 30;                ///< seconds of silence before a peer counts as lost
    double checkpoint_interval = 0;     ///< seconds between checkpoints; 0 = none
    double frame_timeout = 30;          ///< seconds a started frame may take to arrive
    double heartbeat = 1;               ///< seconds between heartbeats on a quiet connection
  } real;
  YAML::Node resolved;                  ///< the full config with defaults, as written to config.yaml
};

/// Loads path (or only defaults when path is empty), applies overrides ("a.b.c=value") in
/// order, validates, resolves. Throws ConfigError naming the key, or Error for a bad file
/// (unreadable, invalid or empty YAML, a key given twice). Relative paths in the file
/// resolve from its folder, relative paths in overrides from the working directory.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});

/// Same, from a YAML node (sweeps build configs in memory); relative paths in it and in the
/// overrides resolve from the working directory. The resolved tree holds absolute paths.
RunConfig resolve_run_config(const YAML::Node& user, const std::vector<std::string>& overrides = {});

/// Makes every relative, non-empty path key (data.dir, cluster.platform, ...) of a user
/// config tree absolute against base; a tree that is no map is left alone.
void resolve_config_paths(YAML::Node& config, const std::filesystem::path& base);

/// Throws ConfigError naming the dotted key and both lines when a map of the tree holds a
/// key twice (yaml-cpp keeps both; lookups would silently take the first). `file` is named
/// in the message.
void check_unique_keys(const YAML::Node& root, const std::string& file);

/// Applies one "a.b.c=value" override to a config tree (value parsed as a YAML scalar or
/// flow collection; an empty value resets the key to its default). Throws ConfigError.
void apply_override(YAML::Node& config, const std::string& assignment);

/// One line for a run whose only limit is train.stop.accuracy (it may never end), saying
/// how to bound it; "" when an update or time limit bounds the run.
std::string unbounded_run_notice(const RunConfig& config);

/// config.yaml text of a resolved config (numbers in SI base units).
std::string to_yaml(const RunConfig& config);

}  // namespace synclab
