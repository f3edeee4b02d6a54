// The table below is the single source of truth for config keys; keep one row per key.
#include "core/config/config_schema.hpp"

#include <cmath>
#include <limits>

#include <fmt/format.h>

namespace synclab {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kMaxInt = 9007199254740992.0;  // 2^53: integers exact in a double

// Shorthands so each row stays on one line.
ConfigKey key(const char* k, KeyType t, const char* def, double lo, double hi, bool lo_open, const char* help) {
  return ConfigKey{k, t, def, lo, hi, lo_open, nullptr, help, nullptr};
}
ConfigKey choice(const char* k, const char* def, const char* choices, const char* help) {
  return ConfigKey{k, KeyType::Choice, def, -kInf, kInf, false, choices, help, nullptr};
}
ConfigKey text(const char* k, const char* def, const char* help) {
  return ConfigKey{k, KeyType::String, def, -kInf, kInf, false, nullptr, help, nullptr};
}
ConfigKey path(const char* k, const char* help) {
  return ConfigKey{k, KeyType::Path, "", -kInf, kInf, false, nullptr, help, nullptr};
}
ConfigKey alias(const char* k, KeyType t, const char* of) {
  return ConfigKey{k, t, "", 0, kInf, false, nullptr, "same as the key it aliases", of};
}

}  // namespace

const std::vector<ConfigKey>& config_schema() {
  using T = KeyType;
  static const std::vector<ConfigKey> schema = {
      text("model", "cnn", "softmax | mlp | cnn; in sim.mode timing also a cost-only profile (resnet50, vgg16, bert-base, ...)"),
      text("tag", "", "free-form scenario label (e.g. a testbed's bandwidth); reports never pool or pair runs of different tags"),
      choice("data.dataset", "fashion-mnist", "fashion-mnist|mnist|synthetic", "training data"),
      path("data.dir", "directory of the IDX files (gz or raw); empty: the dataset-fashion-mnist package's; mnist needs it"),
      key("data.batch", T::Count, "100", 1, kMaxInt, false, "samples per worker per step"),
      choice("data.sharding", "iid", "iid|noniid", "how training samples are split over workers"),
      key("data.classes_per_worker", T::Int, "2", 1, 1000, false, "noniid: labels each worker sees"),
      key("data.eval_samples", T::Count, "0", 0, kMaxInt, false, "test samples per evaluation; 0 = the whole test set"),
      key("data.train_limit", T::Count, "0", 0, kMaxInt, false, "use only the first n training samples; 0 = all"),
      key("data.test_limit", T::Count, "0", 0, kMaxInt, false, "use only the first n test samples; 0 = all"),
      key("data.synthetic_train", T::Count, "10000", 1, kMaxInt, false, "synthetic: training samples"),
      key("data.synthetic_test", T::Count, "2000", 1, kMaxInt, false, "synthetic: test samples"),
      choice("train.optimizer.name", "adam", "sgd|momentum|adam", "server-side optimizer"),
      key("train.optimizer.lr", T::Real, "0.0001", 0, kInf, true, "learning rate"),
      key("train.optimizer.momentum", T::Real, "0.9", 0, 0.999999, false, "momentum: coefficient"),
      key("train.optimizer.beta1", T::Real, "0.9", 0, 0.999999, false, "adam: first-moment decay"),
      key("train.optimizer.beta2", T::Real, "0.999", 0, 0.999999, false, "adam: second-moment decay"),
      key("train.optimizer.eps", T::Real, "1e-08", 0, kInf, true, "adam: denominator epsilon"),
      key("train.optimizer.weight_decay", T::Real, "0", 0, kInf, false, "L2 coefficient added to the gradient"),
      key("train.stop.updates", T::Count, "2000", 0, kMaxInt, false, "stop after this many server updates; 0 = no limit"),
      key("train.stop.sim_time", T::Duration, "0", 0, kInf, false, "stop after this much time (simulated in sim, wall in train/real); 0 = no limit"),
      alias("train.stop.time", T::Duration, "train.stop.sim_time"),
      key("train.stop.accuracy", T::Real, "0", 0, 1, false, "stop once an evaluation reaches this test accuracy; 0 = no limit"),
      key("train.eval_every", T::Count, "100", 0, kMaxInt, false, "server updates between evaluations; 0 = only at the end"),
      key("train.seed", T::Count, "1", 0, kMaxInt, false, "seed of every random choice (init, data order, noise)"),
      choice("train.backend", "fast", "reference|fast|cuda", "compute backend for gradients in train and sim"),
      key("train.threads", T::Int, "1", 0, 1024, false, "CPU threads per network; 0 = all cores"),
      text("policy.name", "bsp", "synchronization policy; its parameters (staleness, k, backup, tau, timeout, ...) sit beside name"),
      key("cluster.workers", T::Int, "8", 1, 10000, false, "number of workers (limit: one simulator actor each, see Limits)"),
      key("cluster.servers", T::Int, "1", 1, 128, false, "parameter-server shards (limit: simulation cost, see Limits)"),
      key("cluster.colocated_cores", T::Int, "0", 0, 4096, false, "sim: 0 = every host has a CPU of its own; N = all hosts run on one machine of N cores (a one-machine testbed), each core simulated on its own: steps, the shards' threads and message encoding land on the core that runs the fewest of them, and each transfer's kernel work takes its share of one core before them; synclab calibrate writes it when its peer runs on the same kernel"),
      ConfigKey{"cluster.gpu", T::Gpu, "v100", -kInf, kInf, false, nullptr, "a profile name (v100 | a100 | h100) or a map of the keys below", nullptr},
      text("cluster.gpu.profile", "v100", "v100 | a100 | h100, or custom (then flops is required)"),
      choice("cluster.gpu.precision", "fp32", "fp32|tf32", "which peak of the profile applies (v100 has no tf32)"),
      key("cluster.gpu.flops", T::Real, "", 0, kInf, true, "peak flop/s; default: the profile's peak for the precision"),
      key("cluster.gpu.efficiency", T::Real, "", 0, 1, true, "fraction of peak reached; default: the profile's (0.4), 1 for custom"),
      key("cluster.link.bandwidth", T::Bandwidth, "10Gbps", 0, kInf, true, "every host's NIC bandwidth (written back as bytes/s)"),
      key("cluster.link.latency", T::Duration, "50us", 0, kInf, false, "every host's NIC latency (written back as seconds)"),
      key("cluster.ps_link.bandwidth", T::Bandwidth, "", 0, kInf, true, "parameter-server NIC bandwidth; default: cluster.link.bandwidth"),
      key("cluster.ps_link.latency", T::Duration, "", 0, kInf, false, "parameter-server NIC latency; default: cluster.link.latency"),
      choice("cluster.straggler.dist", "exponential", "none|exponential|lognormal|periodic", "extra compute time per step"),
      key("cluster.straggler.mean", T::Duration, "0", 0, kInf, false, "exponential/lognormal: mean extra seconds per step"),
      key("cluster.straggler.sigma", T::Real, "0.5", 0, kInf, false, "lognormal: sigma of the underlying normal"),
      key("cluster.straggler.period", T::Duration, "0", 0, kInf, false, "periodic: seconds between slow phases"),
      key("cluster.straggler.duration", T::Duration, "0", 0, kInf, false, "periodic: seconds each slow phase lasts"),
      key("cluster.straggler.slowdown", T::Real, "1", 0, kInf, true, "periodic: compute-time multiplier while slow"),
      key("cluster.straggler.workers", T::IntList, "[]", 0, 1000000, false, "workers subject to the noise; empty = all"),
      key("cluster.speeds", T::RealList, "[]", 0, kInf, true, "per-worker speed factors (one per worker); empty = all 1"),
      key("cluster.software.apply.sgd", T::Real, "0", 0, 1, false, "seconds per shard parameter per update with sgd (and model deltas); from synclab calibrate, 0 = free"),
      key("cluster.software.apply.momentum", T::Real, "0", 0, 1, false, "seconds per shard parameter per update with momentum; from synclab calibrate, 0 = free"),
      key("cluster.software.apply.adam", T::Real, "0", 0, 1, false, "seconds per shard parameter per update with adam; from synclab calibrate, 0 = free"),
      key("cluster.software.aggregate", T::Real, "0", 0, 1, false, "seconds per shard parameter per push folded into an update; from synclab calibrate, 0 = free"),
      key("cluster.software.send_message", T::Duration, "0", 0, 1, false, "sender's encoding time per message; from synclab calibrate, 0 = free"),
      key("cluster.software.send_byte", T::Real, "0", 0, 1, false, "sender's encoding time per payload byte (checksum); from synclab calibrate, 0 = free"),
      key("cluster.software.write_byte", T::Real, "0", 0, 1, false, "seconds per byte the server's thread spends in the first write() of a reply into its socket, 64 KiB at most as asio writes (the kernel copies it then); a shard's replies leave one such first write apart, and the thread is busy meanwhile; synclab calibrate measures it, 0 = free"),
      key("cluster.software.receive_message", T::Duration, "0", 0, 1, false, "receiver's parsing time per message; from synclab calibrate, 0 = free"),
      key("cluster.software.receive_byte", T::Real, "0", 0, 1, false, "receiver's time per payload byte (buffer, checksum); from synclab calibrate, 0 = free"),
      key("cluster.software.snapshot_byte", T::Real, "0", 0, 1, false, "server's time per byte copied for an evaluation; from synclab calibrate, 0 = free"),
      key("cluster.software.first_step", T::Duration, "0", 0, 3600, false, "how much longer a worker's first step takes than the others (its math backend's start-up: primitive creation, kernel generation, first touch); from synclab calibrate, 0 = free"),
      key("cluster.software.kernel_byte", T::Real, "0", 0, 1, false, "CPU seconds the operating system spends per byte moved over TCP, both ends together (copies, TCP, qdisc, softirq); charged only with cluster.colocated_cores; from synclab calibrate, 0 = free"),
      key("cluster.software.evaluate_sample", T::Real, "0", 0, 1, false, "CPU seconds of one test sample scored by an evaluation (forward pass), which the real PS runs on a helper thread; charged only with cluster.colocated_cores; from synclab calibrate, 0 = free"),
      key("cluster.software.wake_on_busy_core", T::Real, "0", 0, 1, false, "of the wake-ups of a thread by packets that a core running another thread moved, the fraction in which the woken thread waits for that core though another idles (a sync wake-up stays on the waker's core where the kernel sees no cache shared between cores); charged only with cluster.colocated_cores; from synclab calibrate, 0 = never"),
      key("cluster.software.step_after_wait.waits", T::RealList, "[]", 0, 3600, false, "waits (seconds, increasing) after which synclab calibrate timed a step: a core that idled runs the next step slower (caches, clock, wake-up); empty = never"),
      key("cluster.software.step_after_wait.extra", T::RealList, "[]", 0, 3600, false, "how much longer (seconds) a worker's step takes than the hot median after each of those waits, one per wait; interpolated linearly in the wait since the worker's previous step ended; from synclab calibrate"),
      key("cluster.software.step_beside_kernel", T::RealList, "[]", 0, 1000, false, "shape of how much a step beside a full-rate transfer's kernel work is slowed: quantiles, at equally spaced probabilities, of its extra time over the quiet step, divided by their mean; the simulator lumps each step's share of the cores into draws from it (colocated hosts only); from synclab calibrate, empty = spread evenly"),
      ConfigKey{"cluster.failures", T::Failures, "[]", 0, kInf, false, nullptr, "scheduled crashes: list of {worker, at} (at: a duration)", nullptr},
      path("cluster.platform", "optional SimGrid XML platform file (hosts worker-<i>, server-<j>)"),
      choice("sim.mode", "full", "full|timing", "full: real gradients in simulated time; timing: cost model only"),
      choice("sim.network", "auto", "auto|star|simgrid|packet", "bandwidth sharing: star = exact fluid fast path (built star, one shard), simgrid = SimGrid's fluid solver, auto = star where it applies, packet = FIFO packet queues with TCP windows (built star, one shard)"),
      key("sim.packet.segment", T::Count, "1448", 1, kMaxInt, false, "packet model: bytes per packet (TCP MSS of a 1500-byte MTU; the NIC's GSO size where the queue holds GSO packets)"),
      key("sim.packet.window", T::Count, "14480", 1, kMaxInt, false, "packet model: bytes one flow may have in flight (default TCP's initial window, 10 MSS)"),
      choice("sim.packet.acks", "queued", "queued|free", "packet model: queued = each flow's ACKs are packets in the other direction's queue at the shard's NIC (behind the data waiting there); free = ACKs return at once (the data path alone)"),
      choice("sim.packet.congestion", "measured", "measured|bbr", "packet model: measured = each transfer's window is sim.packet.windows (drawn) or sim.packet.window; bbr = each worker's connection keeps the window Linux's BBR sets from what its ACKs met (one per direction, persisting from message to message)"),
      key("sim.packet.gso", T::Count, "65536", 1, 524288, false, "packet model with sim.packet.congestion bbr: the largest GSO packet (bytes) of the senders' interface, which caps a TSO burst (Linux's gso_max_size; synclab calibrate reads it from the interface toward its peer)"),
      key("sim.packet.rtt", T::Duration, "0", 0, 1, false, "packet model with sim.packet.congestion bbr: the path's round trip as the senders' TCP sees it (an ACK sent by the receiving kernel, no process woken; BBR's min RTT after synclab calibrate's transfers), which BBR's RTT samples carry; 0 = the NICs' latencies there and back (cluster.link.latency + cluster.ps_link.latency)"),
      key("sim.packet.burst", T::Count, "0", 0, 1 << 30, false, "packet model: the token bucket of every NIC (bytes; a shaper's burst, as tc tbf's): after an idle spell that many bytes leave at once, then the rate holds; 0 = none, each packet leaves after its time at the rate"),
      choice("sim.packet.small_queues", "on", "on|off", "packet model with sim.packet.congestion bbr: on = the shard's senders obey TCP small queues (at most ~1 ms of their pacing rate, two TSO bursts at least, in the shard's egress queue), so replies interleave there; off = each sends what its window and pace allow"),
      key("sim.packet.first_reads", T::RealList, "[]", 0, 1, false, "packet model: seconds from a message's first packet reaching a receiver asleep in its read to the receiving process's first read of it (synclab calibrate measures them); each transfer draws one (seeded by train.seed), and its receiver sends no ACK before, unless it is reading another message of that direction already: Linux acknowledges at once only while the window it offers keeps up, which takes a read; empty = ACKs at once"),
      key("sim.packet.windows", T::IntList, "[]", 1, kMaxInt, false, "packet model: windows (bytes) measured on the path by synclab calibrate; each transfer draws its window from them (seeded by train.seed); empty = every transfer has sim.packet.window"),
      choice("sim.trace", "off", "off|on", "on: the traffic through the shard's NIC in <run dir>/trace/: messages.csv (every transfer: start, end, direction, worker, bytes) and, with sim.network packet, packets.csv (every data packet leaving the NIC's queues, with the time it waited there); the built star only (star or packet)"),
      text("worker.device", "auto", "auto | cpu | cuda | cuda:N: where workers compute (real workers, train, sim full mode; docs/cuda.md)"),
      ConfigKey{"real.hosts", T::StringList, "[]", -kInf, kInf, false, nullptr, "hosts of a real run (host or host:port); empty = local processes", nullptr},
      key("real.port", T::Int, "0", 0, 65535, false, "parameter-server TCP port; 0 = any free port"),
      text("real.token", "", "shared job token, at least 128 bits (32 hex or 22 base64 random characters; see docs/real.md, Security); empty = `SYNCLAB_TOKEN`, or generated by the launcher"),
      text("real.testbed", "", "name of a one-machine testbed (experiments/testbed/testbed.sh) whose host namespaces run the roles; empty = none"),
      path("real.checkpoint_dir", "where server checkpoints go; empty = <run dir>/checkpoints"),
      key("real.checkpoint_every", T::Count, "0", 0, kMaxInt, false, "server updates between checkpoints; 0 = none"),
      key("real.timeout", T::Duration, "30s", 0, kInf, true, "seconds without a message before a peer counts as lost"),
      key("real.checkpoint_interval", T::Duration, "0", 0, kInf, false, "seconds between server checkpoints; 0 = none"),
      key("real.frame_timeout", T::Duration, "30s", 0, kInf, true, "a started frame must arrive completely within this (slow peers are dropped)"),
      key("real.heartbeat", T::Duration, "1s", 0, kInf, true, "interval of heartbeats on an otherwise quiet connection"),
      choice("real.trace", "off", "off|on", "on: each PS shard records the order of the events it processed in <run dir>/trace/ps<k>.csv (replayable in-process)"),
  };
  return schema;
}

const ConfigKey* find_config_key(std::string_view k) {
  for (const auto& entry : config_schema()) {
    if (k == entry.key) return &entry;
  }
  return nullptr;
}

bool is_open_section(std::string_view k) { return k == "policy"; }

bool is_path_key(std::string_view k) {
  const ConfigKey* entry = find_config_key(k);
  return entry && entry->type == KeyType::Path;
}

std::string type_name(KeyType type) {
  switch (type) {
    case KeyType::Int: return "integer";
    case KeyType::Count: return "integer";
    case KeyType::Real: return "number";
    case KeyType::String: return "string";
    case KeyType::Path: return "path";
    case KeyType::Choice: return "choice";
    case KeyType::Bandwidth: return "bandwidth";
    case KeyType::Duration: return "duration";
    case KeyType::IntList: return "list of integers";
    case KeyType::RealList: return "list of numbers";
    case KeyType::StringList: return "list of strings";
    case KeyType::Gpu: return "name or map";
    case KeyType::Failures: return "list of maps";
  }
  return "value";
}

std::string range_text(const ConfigKey& k) {
  if (k.type == KeyType::Choice) {
    std::string out = k.choices;
    for (std::size_t p = out.find('|'); p != std::string::npos; p = out.find('|', p + 3)) out.replace(p, 1, " | ");
    return out;
  }
  const bool numeric = k.type == KeyType::Int || k.type == KeyType::Count || k.type == KeyType::Real ||
                       k.type == KeyType::Bandwidth || k.type == KeyType::Duration || k.type == KeyType::IntList ||
                       k.type == KeyType::RealList;
  if (!numeric || k.alias_of) return "";
  const bool has_lo = std::isfinite(k.lo), has_hi = std::isfinite(k.hi) && k.hi < kMaxInt;
  if (has_lo && has_hi) return fmt::format("{}{}, {}]", k.lo_open ? "(" : "[", k.lo, k.hi);
  if (has_lo) return fmt::format("{} {}", k.lo_open ? ">" : ">=", k.lo);
  if (has_hi) return fmt::format("<= {}", k.hi);
  return "";
}

std::string config_keys_markdown() {
  std::string out = "| key | type | default | range | meaning |\n|---|---|---|---|---|\n";
  for (const auto& k : config_schema()) {
    const bool textual = k.type == KeyType::String || k.type == KeyType::Path || k.type == KeyType::Choice;
    const std::string def = k.alias_of ? "" : *k.def ? fmt::format("`{}`", k.def) : textual ? "`\"\"`" : "(derived)";
    const std::string help = k.alias_of ? fmt::format("alias of `{}`", k.alias_of) : k.help;
    auto cell = [](std::string t) {  // a bare '|' would end the Markdown cell
      for (std::size_t p = t.find('|'); p != std::string::npos; p = t.find('|', p + 2)) t.replace(p, 1, "\\|");
      return t;
    };
    out += fmt::format("| `{}` | {} | {} | {} | {} |\n", k.key, type_name(k.type), def, cell(range_text(k)), cell(help));
  }
  return out;
}

}  // namespace synclab
