#include "experiments/sweep_spec.hpp"

#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "core/common/fnv1a.hpp"
#include "core/config/config_schema.hpp"
#include "core/config/run_config.hpp"
#include "core/config/yaml_key.hpp"

namespace synclab::experiments {
namespace fs = std::filesystem;

namespace {

const std::set<std::string> kBackends = {"sim", "launch", "train"};

YAML::Node load_yaml_file(const fs::path& path, const std::string& key) {
  if (!fs::exists(path)) throw ConfigError(key, "file not found: " + path.string());
  YAML::Node node;
  try {
    node = YAML::LoadFile(path.string());
  } catch (const YAML::Exception& e) {
    throw Error(path.string() + ": invalid YAML: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
  }
  check_unique_keys(node, path.string());
  // Relative paths in a config file mean its own folder, as for `synclab sim FILE`.
  resolve_config_paths(node, fs::absolute(path).parent_path());
  return node;
}

// A value that must be one string (a name, a path), not a map or list.
std::string scalar_text(const YAML::Node& node, const std::string& key) {
  if (!node.IsScalar()) throw ConfigError(key, "must be a single value, not a map or list");
  return node.Scalar();
}

// Recursive merge: maps merge key by key, anything else replaces.
void merge_into(YAML::Node dst, const YAML::Node& src) {
  for (auto it = src.begin(); it != src.end(); ++it) {
    const auto k = yaml_key(it->first, "sweep");
    if (it->second.IsMap() && dst[k] && dst[k].IsMap()) {
      merge_into(dst[k], it->second);
    } else {
      dst[k] = YAML::Clone(it->second);
    }
  }
}

std::vector<SweepAxis> parse_axes(const YAML::Node& node, const std::string& section, const fs::path& dir) {
  std::vector<SweepAxis> axes;
  if (!node || node.IsNull()) return axes;
  if (!node.IsMap()) throw ConfigError(section, "must be a map of key: [values]");
  for (auto it = node.begin(); it != node.end(); ++it) {
    SweepAxis axis;
    axis.key = yaml_key(it->first, section);
    const std::string where = section + "." + axis.key;
    if (!it->second.IsSequence()) throw ConfigError(where, "must be a list of values");
    if (it->second.size() == 0) throw ConfigError(where, "empty list");
    // A named node: it->second belongs to a temporary that a range-for would not keep alive.
    const YAML::Node list = it->second;
    for (const auto& v : list) {
      // A swept path written in the sweep file means the sweep file's folder.
      if (is_path_key(axis.key) && v.IsScalar() && !v.Scalar().empty() && fs::path(v.Scalar()).is_relative())
        axis.values.push_back(YAML::Node((dir / v.Scalar()).lexically_normal().string()));
      else
        axis.values.push_back(YAML::Clone(v));
    }
    if (axis.key == "backend")
      for (const auto& v : axis.values)
        if (!v.IsScalar() || !kBackends.count(v.as<std::string>()))
          throw ConfigError(where, "must be sim, launch or train");
    if (axis.key == "train.seed") throw ConfigError(where, "use seeds: [...] for seeds");
    axes.push_back(std::move(axis));
  }
  return axes;
}

std::string sanitize(const std::string& text) {
  std::string out;
  for (char c : text) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
                    c == '-' || c == '+' || c == '_';
    out += ok ? c : '-';
  }
  // Collapse runs of '-' and trim them at the ends so names stay readable.
  std::string squeezed;
  for (char c : out)
    if (!(c == '-' && !squeezed.empty() && squeezed.back() == '-')) squeezed += c;
  while (!squeezed.empty() && squeezed.back() == '-') squeezed.pop_back();
  while (!squeezed.empty() && squeezed.front() == '-') squeezed.erase(squeezed.begin());
  return squeezed.empty() ? "x" : squeezed;
}

// FNV-1a: a short, platform-independent disambiguator for long or colliding names.
std::string short_hash(const std::string& text) {
  const std::uint64_t h = fnv1a(text);
  return fmt::format("{:08x}", static_cast<std::uint32_t>(h ^ (h >> 32)));
}

// "cluster.workers" -> "workers"; "policy.name" -> "policy" (the name says which policy).
std::string last_component(const std::string& key) {
  const auto pos = key.rfind('.');
  if (pos == std::string::npos) return key;
  const auto last = key.substr(pos + 1);
  if (last != "name") return last;
  const auto prev = key.rfind('.', pos - 1);
  return key.substr(prev == std::string::npos ? 0 : prev + 1, pos - (prev == std::string::npos ? 0 : prev + 1));
}

}  // namespace

void set_dotted(YAML::Node& root, const std::string& key, const YAML::Node& value) {
  const auto dot = key.find('.');
  const std::string head = key.substr(0, dot);
  if (dot == std::string::npos) {
    root[head] = YAML::Clone(value);
    return;
  }
  YAML::Node child = root[head];
  if (!child.IsMap()) {
    // A scalar here (e.g. gpu: v100) is replaced by a map when a sub-key is swept.
    root[head] = YAML::Node(YAML::NodeType::Map);
    child = root[head];
  }
  set_dotted(child, key.substr(dot + 1), value);
}

std::string value_label(const YAML::Node& value) {
  if (!value || value.IsNull()) return "null";
  if (value.IsScalar()) return value.Scalar();
  std::string out;
  if (value.IsSequence()) {
    for (const auto& v : value) out += (out.empty() ? "" : "-") + value_label(v);
  } else {
    for (auto it = value.begin(); it != value.end(); ++it) {
      const auto k = yaml_key(it->first, "sweep");
      out += (out.empty() ? "" : "-") + (k == "name" ? "" : k) + value_label(it->second);
    }
  }
  return out;
}

std::string value_text(const YAML::Node& value) {
  if (!value || value.IsNull()) return "";
  if (value.IsScalar()) return value.Scalar();
  YAML::Emitter e;
  e.SetMapFormat(YAML::Flow);
  e.SetSeqFormat(YAML::Flow);
  e << value;
  return e.c_str();
}

SweepSlurm parse_sweep_slurm(const YAML::Node& node) {
  if (!node.IsMap()) throw ConfigError("slurm", "must be a map (partition, time, account, gres, extra)");
  SweepSlurm s;
  // Values land on #SBATCH lines: one line each, no shell or sbatch metacharacters.
  auto text = [](const YAML::Node& v, const std::string& key) {
    if (!v.IsScalar()) throw ConfigError(key, "must be a single value");
    const std::string t = v.Scalar();
    if (t.empty() || t.find_first_of(" \t\n\r'\"`$;&|<>\\") != std::string::npos)
      throw ConfigError(key, "'" + t + "' is empty or holds spaces, quotes or shell characters");
    return t;
  };
  for (auto it = node.begin(); it != node.end(); ++it) {
    const auto k = it->first.as<std::string>();
    const std::string key = "slurm." + k;
    if (k == "partition") s.partition = text(it->second, key);
    else if (k == "account") s.account = text(it->second, key);
    else if (k == "gres") s.gres = text(it->second, key);
    else if (k == "time") {
      s.time = text(it->second, key);
      // minutes | m:s | h:m:s | d-h | d-h:m | d-h:m:s (sbatch --time)
      if (s.time.find_first_not_of("0123456789:-") != std::string::npos || std::count(s.time.begin(), s.time.end(), '-') > 1 ||
          std::count(s.time.begin(), s.time.end(), ':') > 2 || s.time.front() == ':' || s.time.back() == ':' || s.time.front() == '-')
        throw ConfigError(key, "'" + s.time + "' is not a Slurm time (minutes, h:m:s or d-h:m:s)");
    } else if (k == "extra") {
      if (!it->second.IsSequence()) throw ConfigError(key, "must be a list of sbatch options, e.g. [--qos=short]");
      const YAML::Node options = it->second;  // the iterator's proxy would not outlive the loop
      for (const auto& e : options) {
        const std::string t = e.IsScalar() ? e.Scalar() : "";
        if (t.size() < 2 || t[0] != '-' || t.find_first_of("\n\r") != std::string::npos)
          throw ConfigError(key, "'" + t + "' is not an sbatch option (one line starting with -)");
        s.extra.push_back(t);
      }
    } else {
      throw ConfigError(key, "unknown key (known: partition, time, account, gres, extra)");
    }
  }
  return s;
}

SweepSpec parse_sweep(const YAML::Node& root, const fs::path& dir, const std::string& source) {
  if (!root || !root.IsMap()) throw Error(source + ": a sweep file must be a YAML map");
  static const std::set<std::string> known = {"name", "backend", "base", "config", "merge", "set",
                                              "grid", "zip", "seeds", "timeout", "slurm"};
  for (auto it = root.begin(); it != root.end(); ++it) {
    const auto k = yaml_key(it->first, "sweep");
    if (!known.count(k))
      throw ConfigError(k, "unknown sweep key (known: name, backend, base, config, merge, set, grid, zip, seeds, timeout, slurm)");
  }
  SweepSpec spec;
  spec.name = root["name"] ? scalar_text(root["name"], "name") : std::string("sweep");
  if (root["backend"]) {
    spec.backend = scalar_text(root["backend"], "backend");
    if (!kBackends.count(spec.backend)) throw ConfigError("backend", "must be sim, launch or train");
  }
  if (root["base"] && root["config"]) throw ConfigError("base", "give either base: or config:, not both");
  if (root["base"]) {
    const fs::path p = dir / scalar_text(root["base"], "base");
    spec.base = load_yaml_file(p, "base");
    if (!spec.base.IsMap()) throw Error(p.string() + ": a run config must be a YAML map");
  } else if (root["config"]) {
    if (!root["config"].IsMap()) throw ConfigError("config", "must be a map (an inline run config)");
    spec.base = YAML::Clone(root["config"]);
  } else {
    spec.base = YAML::Node(YAML::NodeType::Map);
  }
  if (const auto merge = root["merge"]) {
    if (!merge.IsSequence()) throw ConfigError("merge", "must be a list of YAML files");
    for (const auto& m : merge) {
      const fs::path p = dir / scalar_text(m, "merge");
      const YAML::Node frag = load_yaml_file(p, "merge");
      if (!frag.IsMap()) throw Error(p.string() + ": a merged fragment must be a YAML map");
      merge_into(spec.base, frag);
    }
  }
  if (const auto set = root["set"]) {
    if (!set.IsMap()) throw ConfigError("set", "must be a map of key: value");
    for (auto it = set.begin(); it != set.end(); ++it) set_dotted(spec.base, yaml_key(it->first, "set"), it->second);
  }
  // What is still relative was written in the sweep file itself (config:, set:).
  resolve_config_paths(spec.base, fs::absolute(dir));
  spec.grid = parse_axes(root["grid"], "grid", fs::absolute(dir));
  spec.zip = parse_axes(root["zip"], "zip", fs::absolute(dir));
  for (std::size_t i = 1; i < spec.zip.size(); ++i)
    if (spec.zip[i].values.size() != spec.zip[0].values.size())
      throw ConfigError("zip." + spec.zip[i].key, fmt::format("has {} values but zip.{} has {}; zipped lists must be equally long",
                                                           spec.zip[i].values.size(), spec.zip[0].key, spec.zip[0].values.size()));
  std::set<std::string> seen;
  for (const auto* axes : {&spec.grid, &spec.zip})
    for (const auto& a : *axes)
      if (!seen.insert(a.key).second) throw ConfigError(a.key, "swept twice (in grid and zip)");
  if (const auto seeds = root["seeds"]) {
    if (!seeds.IsSequence() || seeds.size() == 0) throw ConfigError("seeds", "must be a non-empty list of integers");
    for (const auto& s : seeds) {
      try {
        spec.seeds.push_back(s.as<std::uint64_t>());
      } catch (const YAML::Exception&) {
        throw ConfigError("seeds", "'" + s.Scalar() + "' is not a non-negative integer");
      }
    }
    std::set<std::uint64_t> uniq(spec.seeds.begin(), spec.seeds.end());
    if (uniq.size() != spec.seeds.size()) throw ConfigError("seeds", "repeated seed");
  }
  if (root["timeout"]) {
    try {
      spec.timeout_s = root["timeout"].as<double>();
    } catch (const YAML::Exception&) {
      throw ConfigError("timeout", "must be a number of seconds");
    }
    if (spec.timeout_s < 0) throw ConfigError("timeout", "must be >= 0");
  }
  if (const auto slurm = root["slurm"]) spec.slurm = parse_sweep_slurm(slurm);
  return spec;
}

SweepSpec load_sweep(const fs::path& file) {
  if (!fs::exists(file)) throw Error(file.string() + ": sweep file not found");
  YAML::Node root;
  try {
    root = YAML::LoadFile(file.string());
  } catch (const YAML::Exception& e) {
    throw Error(file.string() + ": invalid YAML: " + e.msg + " (line " + std::to_string(e.mark.line + 1) + ")");
  }
  check_unique_keys(root, file.string());
  try {
    auto spec = parse_sweep(root, fs::absolute(file).parent_path(), file.string());
    spec.file = file;
    if (!root["name"]) spec.name = file.stem().string();
    return spec;
  } catch (const ConfigError& e) {
    throw Error(file.string() + ": " + e.what());
  }
}

std::vector<SweepRun> expand_sweep(const SweepSpec& spec) {
  // Every swept key is shown by its last component unless two keys share it.
  std::vector<const SweepAxis*> axes;
  for (const auto& a : spec.grid) axes.push_back(&a);
  for (const auto& a : spec.zip) axes.push_back(&a);
  std::map<std::string, int> short_count;
  for (const auto* a : axes) ++short_count[last_component(a->key)];
  auto shown = [&](const std::string& key) {
    const auto s = last_component(key);
    return short_count[s] > 1 ? key : s;
  };

  std::vector<SweepRun> runs;
  const std::size_t zip_len = spec.zip.empty() ? 1 : spec.zip[0].values.size();
  std::vector<std::size_t> idx(spec.grid.size(), 0);
  const std::vector<std::uint64_t> no_seed = {0};
  const auto& seeds = spec.seeds.empty() ? no_seed : spec.seeds;
  for (bool done = false; !done;) {
    for (std::size_t z = 0; z < zip_len; ++z) {
      for (const auto seed : seeds) {
        SweepRun run;
        run.index = runs.size();
        run.backend = spec.backend;
        run.config = YAML::Clone(spec.base);
        for (std::size_t g = 0; g < spec.grid.size(); ++g)
          run.values.emplace_back(spec.grid[g].key, spec.grid[g].values[idx[g]]);
        for (const auto& a : spec.zip) run.values.emplace_back(a.key, a.values[z]);
        std::string name;
        for (const auto& [key, value] : run.values) {
          if (key == "backend") run.backend = value.as<std::string>();
          else set_dotted(run.config, key, value);
          name += (name.empty() ? "" : "_") + sanitize(shown(key)) + "=" + sanitize(value_label(value));
        }
        if (!spec.seeds.empty()) {
          run.has_seed = true;
          run.seed = seed;
          set_dotted(run.config, "train.seed", YAML::Node(seed));
          name += (name.empty() ? "" : "_") + std::string("seed=") + std::to_string(seed);
        }
        if (name.empty()) name = "run";
        if (name.size() > 120) name = name.substr(0, 110) + "~" + short_hash(name);
        run.name = name;
        runs.push_back(std::move(run));
      }
    }
    // Odometer over the grid: the last key varies fastest.
    if (spec.grid.empty()) break;
    for (std::size_t g = spec.grid.size();;) {
      if (g == 0) {
        done = true;
        break;
      }
      --g;
      if (++idx[g] < spec.grid[g].values.size()) break;
      idx[g] = 0;
    }
  }
  // Distinct values can sanitize to one name ("a/b", "a b"): make every name unique.
  std::map<std::string, int> count;
  for (const auto& r : runs) ++count[r.name];
  for (auto& r : runs)
    if (count[r.name] > 1) {
      std::string full;
      for (const auto& [k, v] : r.values) full += k + "=" + value_text(v) + ";";
      r.name += "~" + short_hash(full + std::to_string(r.seed));
    }
  return runs;
}

}  // namespace synclab::experiments
