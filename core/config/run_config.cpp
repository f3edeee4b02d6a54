// Loading a run config: user YAML + --set overrides -> schema check -> typed RunConfig and
// the resolved tree written as config.yaml. Every problem is a ConfigError naming its key.
#include "core/config/run_config.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "core/config/config_schema.hpp"
#include "core/config/gpu_profiles.hpp"
#include "core/config/yaml_key.hpp"

namespace synclab {

namespace {

std::vector<std::string> split_dots(const std::string& key) {
  std::vector<std::string> parts;
  std::size_t start = 0;
  while (true) {
    const auto dot = key.find('.', start);
    parts.push_back(key.substr(start, dot == std::string::npos ? std::string::npos : dot - start));
    if (dot == std::string::npos) break;
    start = dot + 1;
  }
  return parts;
}

std::string kind_of(const YAML::Node& n) {
  if (n.IsMap()) return "a map";
  if (n.IsSequence()) return "a list";
  if (n.IsNull()) return "nothing";
  return "'" + n.Scalar() + "'";
}

// The node at a dotted path, or an undefined node. Takes const refs so yaml-cpp never
// inserts missing keys while looking.
YAML::Node find_path(const YAML::Node& node, const std::vector<std::string>& parts, std::size_t i) {
  if (i == parts.size()) return node;
  if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
  const YAML::Node child = node[parts[i]];
  if (!child.IsDefined()) return YAML::Node(YAML::NodeType::Undefined);
  return find_path(child, parts, i + 1);
}

void set_path(YAML::Node node, const std::vector<std::string>& parts, std::size_t i, const YAML::Node& value,
              const std::string& key) {
  if (i + 1 == parts.size()) {
    node[parts[i]] = value;
    return;
  }
  YAML::Node child = node[parts[i]];
  if (child.IsScalar() && !child.IsNull() && key.rfind("cluster.gpu.", 0) == 0 && i == 1) {
    // cluster.gpu: v100 --set cluster.gpu.efficiency=0.5: the name becomes the map's profile.
    YAML::Node m(YAML::NodeType::Map);
    m["profile"] = child.Scalar();
    node[parts[i]] = m;
    child.reset(node[parts[i]]);
  } else if (child.IsDefined() && !child.IsNull() && !child.IsMap()) {
    std::string prefix = parts[0];
    for (std::size_t j = 1; j <= i; ++j) prefix += "." + parts[j];
    throw ConfigError(key, "cannot set inside " + prefix + ", which is " + kind_of(child) + ", not a map");
  } else if (!child.IsDefined() || child.IsNull()) {
    node[parts[i]] = YAML::Node(YAML::NodeType::Map);
    child.reset(node[parts[i]]);
  }
  set_path(child, parts, i + 1, value, key);
}

// Known sections (every proper prefix of a schema key) and their children, for unknown-key
// messages.
const std::map<std::string, std::set<std::string>>& sections() {
  static const auto table = [] {
    std::map<std::string, std::set<std::string>> s;
    for (const auto& k : config_schema()) {
      const auto parts = split_dots(k.key);
      std::string prefix;
      for (const auto& p : parts) {
        s[prefix].insert(p);
        prefix += (prefix.empty() ? "" : ".") + p;
      }
    }
    return s;
  }();
  return table;
}

void check_known_keys(const YAML::Node& node, const std::string& path) {
  for (const auto& kv : node) {
    const std::string name = yaml_key(kv.first, path);
    const std::string key = path.empty() ? name : path + "." + name;
    const auto& children = sections().at(path);
    if (!children.count(name)) {
      std::string known;
      for (const auto& c : children) known += (known.empty() ? "" : ", ") + c;
      throw ConfigError(key, "unknown key (expected one of: " + known + ")");
    }
    const bool is_section = sections().count(key) > 0;
    const ConfigKey* leaf = find_config_key(key);
    const YAML::Node& value = kv.second;
    if (leaf && leaf->type == KeyType::Gpu) {
      if (value.IsMap()) check_known_keys(value, key);
      else if (!value.IsScalar() && !value.IsNull()) throw ConfigError(key, "expected a profile name or a map, got " + kind_of(value));
    } else if (is_open_section(key)) {
      if (value.IsMap()) {
        for (const auto& p : value) {
          if (!p.second.IsScalar() && !p.second.IsNull()) {
            throw ConfigError(key + "." + yaml_key(p.first, key), "expected a scalar, got " + kind_of(p.second));
          }
        }
      } else if (!value.IsScalar() && !value.IsNull()) {
        throw ConfigError(key, "expected a map or a policy name, got " + kind_of(value));
      }
    } else if (leaf && value.IsMap() && value.size() > 0 && leaf->type != KeyType::Failures) {
      const std::string inner = key + "." + yaml_key(value.begin()->first, key);
      throw ConfigError(inner, "unknown key (" + key + " is a " + type_name(leaf->type) + ", not a section)");
    } else if (is_section) {
      if (value.IsMap()) check_known_keys(value, key);
      else if (!value.IsNull()) throw ConfigError(key, "expected a map, got " + kind_of(value));
    }
  }
}

std::string number_text(double v) { return fmt::format("{}", v); }

// Resolves schema keys one by one: the user's value or the default, checked, recorded in the
// resolved tree in schema order.
class Resolver {
 public:
  explicit Resolver(const YAML::Node& user) : user_(user), out_(YAML::NodeType::Map) {}

  YAML::Node resolved() const { return out_; }

  // The user's node for a key (or its alias), undefined when absent or null.
  YAML::Node user(const std::string& key) {
    YAML::Node n = find_path(user_, split_dots(key), 0);
    for (const auto& k : config_schema()) {
      if (!k.alias_of || key != k.alias_of) continue;
      const YAML::Node a = find_path(user_, split_dots(k.key), 0);
      if (a.IsDefined() && !a.IsNull()) {
        if (n.IsDefined() && !n.IsNull()) throw ConfigError(k.key, std::string("give either ") + k.key + " or " + key + ", not both");
        n.reset(a);
      }
    }
    if (n.IsDefined() && n.IsNull()) return YAML::Node(YAML::NodeType::Undefined);
    return n;
  }

  // Scalar text of the user's value or the default; "" when neither exists.
  std::string scalar(const ConfigKey& k, bool* given = nullptr) {
    const YAML::Node n = user(k.key);
    if (given) *given = n.IsDefined();
    if (!n.IsDefined()) return k.def;
    if (!n.IsScalar()) throw ConfigError(k.key, "expected " + expected(k) + ", got " + kind_of(n));
    return n.Scalar();
  }

  std::string str(const std::string& key) {
    const ConfigKey& k = spec(key);
    const std::string v = scalar(k);
    if (k.type == KeyType::Choice) {
      const std::string choices = std::string("|") + k.choices + "|";
      if (choices.find("|" + v + "|") == std::string::npos) throw ConfigError(key, "expected " + expected(k) + ", got '" + v + "'");
    }
    put(key, YAML::Node(v));
    return v;
  }

  double real(const std::string& key) { return number(key); }

  // Empty default: returns fallback (derived) without recording unless the user gave one.
  double real_or(const std::string& key, double fallback) {
    bool given = false;
    const ConfigKey& k = spec(key);
    const std::string v = scalar(k, &given);
    if (!given && v.empty()) {
      check_range(k, fallback, number_text(fallback));
      put(key, YAML::Node(number_text(fallback)));
      return fallback;
    }
    return number(key);
  }

  std::int64_t integer(const std::string& key) {
    const ConfigKey& k = spec(key);
    const std::string v = scalar(k);
    const std::int64_t i = to_int(k, k.key, v);
    put(key, YAML::Node(std::to_string(i)));
    return i;
  }

  std::vector<std::int64_t> int_list(const std::string& key) {
    const ConfigKey& k = spec(key);
    std::vector<std::int64_t> out;
    YAML::Node seq(YAML::NodeType::Sequence);
    for (const auto& [item_key, text] : items(k)) {
      out.push_back(to_int(k, item_key, text));
      seq.push_back(std::to_string(out.back()));
    }
    put(key, seq);
    return out;
  }

  std::vector<double> real_list(const std::string& key) {
    const ConfigKey& k = spec(key);
    std::vector<double> out;
    YAML::Node seq(YAML::NodeType::Sequence);
    for (const auto& [item_key, text] : items(k)) {
      out.push_back(to_real(k, item_key, text));
      seq.push_back(number_text(out.back()));
    }
    put(key, seq);
    return out;
  }

  std::vector<std::string> str_list(const std::string& key) {
    const ConfigKey& k = spec(key);
    std::vector<std::string> out;
    YAML::Node seq(YAML::NodeType::Sequence);
    for (const auto& item : items(k)) {
      out.push_back(item.second);
      seq.push_back(item.second);
    }
    put(key, seq);
    return out;
  }

  std::vector<FailureSpec> failures(const std::string& key, int workers) {
    const YAML::Node n = user(key);
    std::vector<FailureSpec> out;
    YAML::Node seq(YAML::NodeType::Sequence);
    if (n.IsDefined()) {
      if (!n.IsSequence()) throw ConfigError(key, "expected a list of {worker, at}, got " + kind_of(n));
      for (std::size_t i = 0; i < n.size(); ++i) {
        const std::string item = fmt::format("{}[{}]", key, i);
        const YAML::Node f = n[i];
        if (!f.IsMap()) throw ConfigError(item, "expected a map {worker, at}, got " + kind_of(f));
        for (const auto& kv : f) {
          const auto name = yaml_key(kv.first, item);
          if (name != "worker" && name != "at") throw ConfigError(item + "." + name, "unknown key (expected one of: at, worker)");
        }
        if (!f["worker"] || !f["at"]) throw ConfigError(item, "needs both worker and at");
        FailureSpec spec_item;
        spec_item.worker = static_cast<int>(parse_int(item + ".worker", f["worker"]));
        if (spec_item.worker < 0 || spec_item.worker >= workers) {
          throw ConfigError(item + ".worker", fmt::format("{} is not a worker (cluster.workers: {})", spec_item.worker, workers));
        }
        if (!f["at"].IsScalar()) throw ConfigError(item + ".at", "expected a duration, got " + kind_of(f["at"]));
        spec_item.at = parse_duration(item + ".at", f["at"].Scalar());
        if (!(spec_item.at >= 0)) throw ConfigError(item + ".at", "must be >= 0");
        out.push_back(spec_item);
        YAML::Node w(YAML::NodeType::Map);
        w["worker"] = std::to_string(spec_item.worker);
        w["at"] = number_text(spec_item.at);
        seq.push_back(w);
      }
    }
    put(key, seq);
    return out;
  }

  void put(const std::string& key, const YAML::Node& value) { set_path(out_, split_dots(key), 0, value, key); }

  static const ConfigKey& spec(const std::string& key) {
    const ConfigKey* k = find_config_key(key);
    if (!k) throw std::logic_error("config key missing from the schema: " + key);
    return *k;
  }

 private:
  static std::string expected(const ConfigKey& k) {
    if (k.type == KeyType::Choice) return "one of " + range_text(k);
    const std::string range = range_text(k);
    return (k.type == KeyType::Int || k.type == KeyType::Count ? "an " : "a ") + type_name(k.type) +
           (range.empty() ? "" : " " + range);
  }

  void check_range(const ConfigKey& k, double v, const std::string& text) const { check_range(k, k.key, v, text); }
  static void check_range(const ConfigKey& k, const std::string& key, double v, const std::string& text) {
    const bool low = k.lo_open ? !(v > k.lo) : !(v >= k.lo);
    if (low) throw ConfigError(key, "expected " + expected(k) + ", got " + text);
    if (!(v <= k.hi)) throw ConfigError(key, "expected " + expected(k) + ", got " + text + upper_limit_reason(k.key));
  }

  // Why some upper limits are where they are (measured; docs/config.md "Limits").
  static std::string upper_limit_reason(const std::string& key) {
    if (key == "cluster.servers") {
      return ": the simulator's cost grows about 6x per doubling of shards (100 updates of the cnn on 8 workers: 1.7, 9.9 "
             "and 65 CPU s at 64, 128 and 256 shards), so more would take hours";
    }
    if (key == "cluster.workers") {
      return ": the simulator runs one actor with its own stack per worker; 10,000 workers take 22 CPU s for 2 bsp "
             "updates, 20,000 did not finish one in 51 CPU s, and 100,000 abort on Linux's default vm.max_map_count";
    }
    return "";
  }

  double number(const std::string& key) {
    const ConfigKey& k = spec(key);
    const std::string v = scalar(k);
    const double d = to_real(k, k.key, v);
    put(key, YAML::Node(number_text(d)));
    return d;
  }

  static double to_real(const ConfigKey& k, const std::string& key, const std::string& text) {
    double d = 0;
    if (k.type == KeyType::Bandwidth) {
      d = parse_bandwidth(key, text);
    } else if (k.type == KeyType::Duration) {
      d = parse_duration(key, text);
    } else {
      char* end = nullptr;
      d = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !std::isfinite(d)) throw ConfigError(key, "expected " + expected(k) + ", got '" + text + "'");
    }
    check_range(k, key, d, "'" + text + "'");
    return d;
  }

  static std::int64_t to_int(const ConfigKey& k, const std::string& key, const std::string& text) {
    std::int64_t i = 0;
    const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), i);
    if (ec != std::errc() || ptr != text.data() + text.size()) {
      // Accept integral numbers in exponent form ("1e5 updates").
      char* end = nullptr;
      const double d = std::strtod(text.c_str(), &end);
      if (text.empty() || *end != '\0' || !std::isfinite(d) || d != std::floor(d) || std::fabs(d) > 9.0e15) {
        throw ConfigError(key, "expected " + expected(k) + ", got '" + text + "'");
      }
      i = static_cast<std::int64_t>(d);
    }
    check_range(k, key, static_cast<double>(i), "'" + text + "'");
    return i;
  }

  std::int64_t parse_int(const std::string& key, const YAML::Node& n) {
    static const ConfigKey any{"", KeyType::Int, "", 0, 9.0e15, false, nullptr, "", nullptr};
    if (!n.IsScalar()) throw ConfigError(key, "expected an integer, got " + kind_of(n));
    return to_int(any, key, n.Scalar());
  }

  // (key[i], scalar text) per element of a list key; a scalar counts as a one-element list.
  std::vector<std::pair<std::string, std::string>> items(const ConfigKey& k) {
    YAML::Node n = user(k.key);
    if (!n.IsDefined()) n.reset(YAML::Load(k.def));
    std::vector<std::pair<std::string, std::string>> out;
    if (n.IsScalar()) {
      out.emplace_back(k.key, n.Scalar());
      return out;
    }
    if (!n.IsSequence()) throw ConfigError(k.key, "expected a " + type_name(k.type) + ", got " + kind_of(n));
    for (std::size_t i = 0; i < n.size(); ++i) {
      const std::string item = fmt::format("{}[{}]", k.key, i);
      if (!n[i].IsScalar()) throw ConfigError(item, "expected a scalar, got " + kind_of(n[i]));
      out.emplace_back(item, n[i].Scalar());
    }
    return out;
  }

  YAML::Node user_;
  YAML::Node out_;
};

void resolve_gpu(Resolver& r, GpuSpec& gpu) {
  const std::string profile = r.str("cluster.gpu.profile");
  const std::string precision = r.str("cluster.gpu.precision");
  const bool flops_given = r.user("cluster.gpu.flops").IsDefined();
  gpu.profile = profile;
  if (profile == "custom") {
    if (!flops_given) throw ConfigError("cluster.gpu.flops", "required when cluster.gpu.profile is custom");
    gpu.flops = r.real("cluster.gpu.flops");
    gpu.efficiency = r.real_or("cluster.gpu.efficiency", 1.0);
    return;
  }
  const GpuProfile* p = find_gpu_profile(profile);
  if (!p) {
    std::string known;
    for (const auto& g : gpu_profiles()) known += g.name + " | ";
    throw ConfigError("cluster.gpu", "unknown GPU profile '" + profile + "' (expected " + known + "custom, or a map {flops, efficiency})");
  }
  if (precision == "tf32" && p->tf32_flops <= 0) {
    throw ConfigError("cluster.gpu.precision", profile + " has no TF32 tensor cores (use fp32)");
  }
  gpu.flops = r.real_or("cluster.gpu.flops", precision == "tf32" ? p->tf32_flops : p->fp32_flops);
  gpu.efficiency = r.real_or("cluster.gpu.efficiency", p->efficiency);
}

// cluster.gpu as a bare name, or a map without a profile but with flops (a custom GPU).
YAML::Node normalize_gpu(YAML::Node user) {
  const YAML::Node& view = user;  // const: looking must not insert keys
  const YAML::Node cluster = view["cluster"];
  if (!cluster.IsDefined() || !cluster.IsMap()) return user;
  const YAML::Node gpu = cluster["gpu"];
  if (!gpu.IsDefined() || gpu.IsNull()) return user;
  if (gpu.IsScalar()) {
    YAML::Node m(YAML::NodeType::Map);
    m["profile"] = gpu.Scalar();
    user["cluster"]["gpu"] = m;
  } else if (gpu.IsMap() && !gpu["profile"] && gpu["flops"]) {
    user["cluster"]["gpu"]["profile"] = "custom";
  }
  return user;
}

// policy: async is shorthand for policy: {name: async}.
YAML::Node normalize_policy(YAML::Node user) {
  const YAML::Node& view = user;
  const YAML::Node policy = view["policy"];
  if (policy.IsDefined() && policy.IsScalar()) {
    YAML::Node m(YAML::NodeType::Map);
    m["name"] = policy.Scalar();
    user["policy"] = m;
  }
  return user;
}

}  // namespace

void resolve_config_paths(YAML::Node& config, const std::filesystem::path& base) {
  if (!config.IsMap()) return;
  for (const auto& k : config_schema()) {
    if (k.type != KeyType::Path) continue;
    const auto parts = split_dots(k.key);
    const YAML::Node found = find_path(config, parts, 0);
    if (!found.IsDefined() || !found.IsScalar() || found.Scalar().empty()) continue;
    const std::filesystem::path p(found.Scalar());
    if (p.is_absolute()) continue;
    set_path(config, parts, 0, YAML::Node((base / p).lexically_normal().string()), k.key);
  }
}

namespace {

void check_unique_in(const YAML::Node& node, const std::string& path, const std::string& file) {
  if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) check_unique_in(node[i], fmt::format("{}[{}]", path, i), file);
    return;
  }
  if (!node.IsMap()) return;
  std::map<std::string, YAML::Mark> first;  // key -> where it was first given
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) continue;
    const std::string name = kv.first.Scalar();
    const std::string key = path.empty() ? name : path + "." + name;
    const YAML::Mark at = kv.first.Mark();
    const auto [it, fresh] = first.emplace(name, at);
    if (!fresh) {
      const YAML::Mark& was = it->second;
      const bool same_line = was.line == at.line;
      throw ConfigError(key, fmt::format("given twice, on line {}{} and line {}{} of {} (keep one: YAML would silently use the first)",
                                         was.line + 1, same_line ? fmt::format(" column {}", was.column + 1) : "",
                                         at.line + 1, same_line ? fmt::format(" column {}", at.column + 1) : "", file));
    }
    check_unique_in(kv.second, key, file);
  }
}

}  // namespace

void check_unique_keys(const YAML::Node& root, const std::string& file) { check_unique_in(root, "", file); }

void apply_override(YAML::Node& config, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) throw ConfigError("--set", "'" + assignment + "' is not of the form key=value");
  const std::string key = assignment.substr(0, eq);
  const std::string text = assignment.substr(eq + 1);
  for (const auto& part : split_dots(key)) {
    if (part.empty()) throw ConfigError("--set", "'" + key + "' is not a dotted key like a.b.c");
  }
  YAML::Node value;
  try {
    value = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(key, "cannot parse value '" + text + "': " + e.msg);
  }
  if (!config.IsDefined() || config.IsNull()) config = YAML::Node(YAML::NodeType::Map);
  if (!config.IsMap()) throw ConfigError(key, "the config is not a map");
  set_path(config, split_dots(key), 0, value, key);
}

RunConfig resolve_run_config(const YAML::Node& user_in, const std::vector<std::string>& overrides) {
  YAML::Node user = (user_in.IsDefined() && !user_in.IsNull()) ? YAML::Clone(user_in) : YAML::Node(YAML::NodeType::Map);
  if (!user.IsMap()) throw ConfigError("config", "expected a YAML map at the top level, got " + kind_of(user));
  user = normalize_policy(normalize_gpu(user));
  for (const auto& o : overrides) apply_override(user, o);
  user = normalize_policy(normalize_gpu(user));
  check_known_keys(user, "");
  // Paths from a config file were made absolute against its folder when it was read; what
  // is still relative came from --set or an in-memory tree and means the working directory.
  // config.yaml then holds absolute paths and reproduces the run from anywhere.
  resolve_config_paths(user, std::filesystem::current_path());

  Resolver r(user);
  RunConfig c;
  c.tag = r.str("tag");
  c.model = r.str("model");
  if (c.model.empty()) throw ConfigError("model", "must not be empty");

  auto& d = c.data;
  d.source.dataset = r.str("data.dataset");
  d.source.dir = r.str("data.dir");
  d.batch = static_cast<std::size_t>(r.integer("data.batch"));
  d.sharding = r.str("data.sharding") == "noniid" ? Sharding::NonIid : Sharding::Iid;
  d.classes_per_worker = static_cast<int>(r.integer("data.classes_per_worker"));
  d.eval_samples = static_cast<std::size_t>(r.integer("data.eval_samples"));
  d.source.train_limit = static_cast<std::size_t>(r.integer("data.train_limit"));
  d.source.test_limit = static_cast<std::size_t>(r.integer("data.test_limit"));
  d.source.synthetic_train = static_cast<std::size_t>(r.integer("data.synthetic_train"));
  d.source.synthetic_test = static_cast<std::size_t>(r.integer("data.synthetic_test"));
  if (d.source.dataset == "mnist" && d.source.dir.empty()) {
    throw ConfigError("data.dir", "required for dataset mnist (the directory of its IDX files)");
  }

  auto& t = c.train;
  t.optimizer.name = r.str("train.optimizer.name");
  t.optimizer.lr = r.real("train.optimizer.lr");
  t.optimizer.momentum = r.real("train.optimizer.momentum");
  t.optimizer.beta1 = r.real("train.optimizer.beta1");
  t.optimizer.beta2 = r.real("train.optimizer.beta2");
  t.optimizer.eps = r.real("train.optimizer.eps");
  t.optimizer.weight_decay = r.real("train.optimizer.weight_decay");
  t.stop_updates = static_cast<std::uint64_t>(r.integer("train.stop.updates"));
  t.stop_time = r.real("train.stop.sim_time");
  t.stop_accuracy = r.real("train.stop.accuracy");
  if (t.stop_updates == 0 && t.stop_time == 0 && t.stop_accuracy == 0) {
    throw ConfigError("train.stop", "needs at least one limit: updates, sim_time (or time) or accuracy");
  }
  t.eval_every = static_cast<std::uint64_t>(r.integer("train.eval_every"));
  t.seed = static_cast<std::uint64_t>(r.integer("train.seed"));
  t.backend = r.str("train.backend");
  t.threads = static_cast<int>(r.integer("train.threads"));

  c.policy.name = r.str("policy.name");
  if (c.policy.name.empty()) throw ConfigError("policy.name", "must not be empty");
  const YAML::Node& view = user;
  const YAML::Node policy = view["policy"];
  if (policy.IsDefined() && policy.IsMap()) {
    for (const auto& kv : policy) {
      const auto name = yaml_key(kv.first, "policy");
      if (name == "name" || kv.second.IsNull()) continue;
      c.policy.params[name] = kv.second.Scalar();
      r.put("policy." + name, YAML::Node(kv.second.Scalar()));
    }
  }

  auto& cl = c.cluster;
  cl.workers = static_cast<int>(r.integer("cluster.workers"));
  cl.servers = static_cast<int>(r.integer("cluster.servers"));
  resolve_gpu(r, cl.gpu);
  cl.link.bandwidth = r.real("cluster.link.bandwidth");
  cl.link.latency = r.real("cluster.link.latency");
  if (r.user("cluster.ps_link.bandwidth").IsDefined() || r.user("cluster.ps_link.latency").IsDefined()) {
    LinkSpec ps;
    ps.bandwidth = r.real_or("cluster.ps_link.bandwidth", cl.link.bandwidth);
    ps.latency = r.real_or("cluster.ps_link.latency", cl.link.latency);
    cl.ps_link = ps;
  } else {
    r.put("cluster.ps_link", YAML::Node(YAML::NodeType::Map));
  }
  auto& s = cl.straggler;
  s.dist = r.str("cluster.straggler.dist");
  s.mean = r.real("cluster.straggler.mean");
  s.sigma = r.real("cluster.straggler.sigma");
  s.period = r.real("cluster.straggler.period");
  s.duration = r.real("cluster.straggler.duration");
  s.slowdown = r.real("cluster.straggler.slowdown");
  for (const auto w : r.int_list("cluster.straggler.workers")) {
    if (w >= cl.workers) throw ConfigError("cluster.straggler.workers", fmt::format("{} is not a worker (cluster.workers: {})", w, cl.workers));
    s.workers.push_back(static_cast<int>(w));
  }
  if (s.dist == "periodic" && s.slowdown != 1 && !(s.period > 0 && s.duration > 0)) {
    throw ConfigError("cluster.straggler.period", "periodic slowdown needs period > 0 and duration > 0");
  }
  auto& sw = cl.software;
  sw.apply_sgd = r.real("cluster.software.apply.sgd");
  sw.apply_momentum = r.real("cluster.software.apply.momentum");
  sw.apply_adam = r.real("cluster.software.apply.adam");
  sw.aggregate = r.real("cluster.software.aggregate");
  sw.send_message = r.real("cluster.software.send_message");
  sw.send_byte = r.real("cluster.software.send_byte");
  sw.write_byte = r.real("cluster.software.write_byte");
  sw.receive_message = r.real("cluster.software.receive_message");
  sw.receive_byte = r.real("cluster.software.receive_byte");
  sw.snapshot_byte = r.real("cluster.software.snapshot_byte");
  sw.first_step = r.real("cluster.software.first_step");
  sw.kernel_byte = r.real("cluster.software.kernel_byte");
  sw.evaluate_sample = r.real("cluster.software.evaluate_sample");
  sw.wake_on_busy_core = r.real("cluster.software.wake_on_busy_core");
  sw.wait_s = r.real_list("cluster.software.step_after_wait.waits");
  sw.wait_extra = r.real_list("cluster.software.step_after_wait.extra");
  if (sw.wait_extra.size() != sw.wait_s.size())
    throw ConfigError("cluster.software.step_after_wait.extra",
                      fmt::format("has {} entries for {} waits (one per entry of cluster.software.step_after_wait.waits)",
                                  sw.wait_extra.size(), sw.wait_s.size()));
  for (std::size_t i = 0; i < sw.wait_s.size(); ++i)
    if (!(sw.wait_s[i] > 0) || (i > 0 && !(sw.wait_s[i] > sw.wait_s[i - 1])))
      throw ConfigError("cluster.software.step_after_wait.waits",
                        fmt::format("entry {} ({:g} s) must be positive and greater than the one before", i, sw.wait_s[i]));
  sw.beside_kernel = r.real_list("cluster.software.step_beside_kernel");
  for (std::size_t i = 1; i < sw.beside_kernel.size(); ++i)
    if (sw.beside_kernel[i] < sw.beside_kernel[i - 1])
      throw ConfigError("cluster.software.step_beside_kernel",
                        fmt::format("entry {} ({:g}) is below the one before: quantiles never decrease", i, sw.beside_kernel[i]));
  if (!sw.beside_kernel.empty() && sw.beside_kernel.back() <= 0)
    throw ConfigError("cluster.software.step_beside_kernel", "has no positive entry (give calibrate's quantiles, or none)");
  cl.colocated_cores = static_cast<int>(r.integer("cluster.colocated_cores"));
  cl.speeds = r.real_list("cluster.speeds");
  if (!cl.speeds.empty() && cl.speeds.size() != static_cast<std::size_t>(cl.workers)) {
    throw ConfigError("cluster.speeds", fmt::format("has {} entries for {} workers (give one per worker, or none)", cl.speeds.size(), cl.workers));
  }
  cl.failures = r.failures("cluster.failures", cl.workers);
  cl.platform = r.str("cluster.platform");

  c.sim.mode = r.str("sim.mode");
  c.sim.network = r.str("sim.network");
  c.sim.packet_segment = static_cast<std::uint64_t>(r.integer("sim.packet.segment"));
  c.sim.packet_window = static_cast<std::uint64_t>(r.integer("sim.packet.window"));
  if (c.sim.packet_window < 2 * c.sim.packet_segment) {
    // With less, a lone flow waits for each packet to cross both NICs before sending the next.
    throw ConfigError("sim.packet.window", fmt::format("{} bytes is less than two packets of sim.packet.segment ({} bytes)",
                                                       c.sim.packet_window, c.sim.packet_segment));
  }
  c.sim.packet_acks_queued = r.str("sim.packet.acks") == "queued";
  c.sim.packet_bbr = r.str("sim.packet.congestion") == "bbr";
  c.sim.packet_small_queues = r.str("sim.packet.small_queues") == "on";
  c.sim.packet_gso = static_cast<std::uint64_t>(r.integer("sim.packet.gso"));
  c.sim.packet_burst = static_cast<std::uint64_t>(r.integer("sim.packet.burst"));
  c.sim.packet_rtt = r.real("sim.packet.rtt");
  c.sim.packet_first_reads = r.real_list("sim.packet.first_reads");
  c.sim.trace = r.str("sim.trace") == "on";
  for (const auto w : r.int_list("sim.packet.windows")) {
    if (static_cast<std::uint64_t>(w) < 2 * c.sim.packet_segment)
      throw ConfigError("sim.packet.windows", fmt::format("{} bytes is less than two packets of sim.packet.segment ({} bytes)", w,
                                                          c.sim.packet_segment));
    c.sim.packet_windows.push_back(static_cast<std::uint64_t>(w));
  }
  c.worker.device = r.str("worker.device");
  static const std::regex device_re("auto|cpu|cuda(:[0-9]+)?");
  if (!std::regex_match(c.worker.device, device_re)) {
    throw ConfigError("worker.device", "expected auto | cpu | cuda | cuda:N, got '" + c.worker.device + "'");
  }

  c.real.hosts = r.str_list("real.hosts");
  c.real.port = static_cast<int>(r.integer("real.port"));
  c.real.token = r.str("real.token");
  c.real.testbed = r.str("real.testbed");
  c.real.checkpoint_dir = r.str("real.checkpoint_dir");
  c.real.checkpoint_every = static_cast<std::uint64_t>(r.integer("real.checkpoint_every"));
  c.real.timeout = r.real("real.timeout");
  c.real.checkpoint_interval = r.real("real.checkpoint_interval");
  c.real.frame_timeout = r.real("real.frame_timeout");
  c.real.heartbeat = r.real("real.heartbeat");
  // Validated and kept in `resolved` (config.yaml); only the PS reads it, from there.
  (void)r.str("real.trace");

  c.resolved = r.resolved();
  return c;
}

RunConfig load_run_config(const std::string& path, const std::vector<std::string>& overrides) {
  if (path.empty()) return resolve_run_config(YAML::Node(YAML::NodeType::Map), overrides);
  if (!std::filesystem::is_regular_file(path)) throw Error(path + ": no such config file");
  YAML::Node user;
  try {
    user = YAML::LoadFile(path);
  } catch (const YAML::Exception& e) {
    throw Error(fmt::format("{}:{}: invalid YAML: {}", path, e.mark.line + 1, e.msg));
  }
  if (!user.IsDefined() || user.IsNull()) {
    throw Error(path + ": the config is empty (nothing but comments); a minimal one names the model, policy and "
                       "stop limit, e.g. 'model: cnn', 'policy: bsp', 'train: {stop: {updates: 2000}}' (keys: docs/config.md)");
  }
  check_unique_keys(user, path);
  resolve_config_paths(user, std::filesystem::absolute(path).parent_path());
  return resolve_run_config(user, overrides);
}

namespace {

// Lists and empty maps read best on one line: "speeds: [1, 0.5]", "ps_link: {}".
void compact_style(YAML::Node node) {
  if (node.IsSequence() || (node.IsMap() && node.size() == 0)) {
    node.SetStyle(YAML::EmitterStyle::Flow);
    if (node.IsSequence()) {
      for (auto item : node) {
        if (item.IsMap()) item.SetStyle(YAML::EmitterStyle::Flow);
      }
    }
    return;
  }
  if (node.IsMap()) {
    for (auto kv : node) compact_style(kv.second);
  }
}

}  // namespace

double SoftwareCostSpec::apply(const std::string& optimizer) const {
  if (optimizer == "adam") return apply_adam;
  if (optimizer == "momentum") return apply_momentum;
  return apply_sgd;
}

double SoftwareCostSpec::after_wait(double waited) const {
  if (wait_s.empty() || !(waited > 0)) return 0;
  if (waited >= wait_s.back()) return wait_extra.back();
  const auto hi = static_cast<std::size_t>(std::upper_bound(wait_s.begin(), wait_s.end(), waited) - wait_s.begin());
  const double w0 = hi == 0 ? 0.0 : wait_s[hi - 1], e0 = hi == 0 ? 0.0 : wait_extra[hi - 1];
  return e0 + (wait_extra[hi] - e0) * (waited - w0) / (wait_s[hi] - w0);
}

// Quantile k stands for probabilities [k/n, (k+1)/n): linear between the midpoints of
// neighbouring quantiles, flat in the outer halves, so the mean over u is their mean.
double SoftwareCostSpec::beside_kernel_factor(double u) const {
  const auto& q = beside_kernel;
  if (q.empty()) return 1;
  double mean = 0;
  for (const double v : q) mean += v;
  mean /= static_cast<double>(q.size());
  const double x = std::clamp(u, 0.0, 1.0) * static_cast<double>(q.size()) - 0.5;
  if (x <= 0) return q.front() / mean;
  const auto k = static_cast<std::size_t>(x);
  if (k + 1 >= q.size()) return q.back() / mean;
  const double f = x - static_cast<double>(k);
  return (q[k] + (q[k + 1] - q[k]) * f) / mean;
}

bool SoftwareCostSpec::any() const {
  return apply_sgd > 0 || apply_momentum > 0 || apply_adam > 0 || aggregate > 0 || send_message > 0 || send_byte > 0 ||
         write_byte > 0 || receive_message > 0 || receive_byte > 0 || snapshot_byte > 0 ||
         first_step > 0 || kernel_byte > 0 || evaluate_sample > 0 || wake_on_busy_core > 0 || !beside_kernel.empty() ||
         std::any_of(wait_extra.begin(), wait_extra.end(), [](double e) { return e > 0; });
}

std::string unbounded_run_notice(const RunConfig& config) {
  const auto& t = config.train;
  if (t.stop_updates > 0 || t.stop_time > 0) return "";
  return fmt::format("only train.stop.accuracy ({:g}) bounds this run: it goes on until an evaluation reaches it, which "
                     "may be never; bound it with train.stop.updates or train.stop.sim_time (e.g. --set train.stop.updates=20000)",
                     t.stop_accuracy);
}

std::string to_yaml(const RunConfig& config) {
  YAML::Node copy = YAML::Clone(config.resolved);
  compact_style(copy);
  YAML::Emitter out;
  out << copy;
  return std::string(out.c_str()) + "\n";
}

}  // namespace synclab
