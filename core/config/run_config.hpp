#pragma once
// The run config (YAML, keys in docs/config.md): loaded, overridden with --set a.b=v,
// validated against the schema (unknown key, wrong type, out of range: ConfigError naming
// the key), every default filled in.
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <yaml-cpp/yaml.h>

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

struct FailureSpec {
  int worker = 0;
  double at = 0;  ///< seconds from the start
};

struct PolicySpec {
  std::string name = "bsp";
  /// Every key under policy: except name, as written (scalars as strings); the policy
  /// registry validates them and reports "policy.<key>: ...".
  std::map<std::string, std::string> params;
};

struct RunConfig {
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
    GpuSpec gpu;
    LinkSpec link;
    std::optional<LinkSpec> ps_link;    ///< unset: same as link
    StragglerSpec straggler;
    std::vector<double> speeds;         ///< per-worker speed factors; empty = all 1
    std::vector<FailureSpec> failures;
    std::string platform;               ///< optional SimGrid XML platform file
  } cluster;
  struct Sim {
    std::string mode = "full";          ///< full | timing
  } sim;
  struct Worker {
    std::string device = "auto";        ///< auto | cpu | cuda | cuda:N
  } worker;
  YAML::Node resolved;                  ///< the full config with defaults, as written to config.yaml
};

/// Loads path (or only defaults when path is empty), applies overrides ("a.b.c=value") in
/// order, validates, resolves. Throws ConfigError naming the key, or Error for a bad file.
RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides = {});

/// Same, from a YAML node (sweeps build configs in memory).
RunConfig resolve_run_config(const YAML::Node& user, const std::vector<std::string>& overrides = {});

/// Unit parsing, exposed for tests and other config files. Bare numbers are SI base units.
double parse_bandwidth(const std::string& key, const std::string& text);  ///< -> bytes/s
double parse_duration(const std::string& key, const std::string& text);   ///< -> seconds
double parse_bytes(const std::string& key, const std::string& text);      ///< -> bytes

}  // namespace synclab
