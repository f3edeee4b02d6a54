#include "experiments/policy_order.hpp"

#include <algorithm>
#include <limits>
#include <map>
#include <set>

#include <fmt/format.h>

namespace synclab::experiments {

namespace {

bool is_policy_key(const std::string& k) { return k == "policy" || k.starts_with("policy."); }

std::map<std::string, std::string> setting_of(const RunGroup& g) {
  std::map<std::string, std::string> out;
  for (const auto& [k, v] : g.config)
    if (!is_policy_key(k) && !is_backend_specific(k)) out[k] = v;
  return out;
}

// The keys a setting's name shows: those in which the settings differ, as group labels
// do, less those the others imply.
std::vector<std::string> shown_keys(const std::vector<std::map<std::string, std::string>>& all) {
  std::set<std::string> keys;
  for (const auto& c : all)
    for (const auto& [k, v] : c) keys.insert(k);
  std::vector<std::string> varying;
  for (const auto& k : keys) {
    const auto first = all.front().find(k);
    const bool shared = std::all_of(all.begin(), all.end(), [&](const auto& other) {
      const auto it = other.find(k);
      return it != other.end() && first != all.front().end() && it->second == first->second;
    });
    if (!shared) varying.push_back(k);
  }
  std::vector<const std::map<std::string, std::string>*> configs;
  for (const auto& c : all) configs.push_back(&c);
  return without_implied_keys(configs, varying);
}

std::string name_of(const std::map<std::string, std::string>& setting, const std::vector<std::string>& shown) {
  std::string out;
  for (const auto& k : shown) {
    const auto it = setting.find(k);
    if (it == setting.end()) continue;
    if (!out.empty()) out += ' ';
    out.append(k).append("=").append(it->second);
  }
  return out.empty() ? "all runs" : out;
}

// Fastest to target first; a group that did not reach it ranks after every one that did,
// and among those the more accurate first (so the order still says something).
std::vector<std::string> order_of(std::vector<const RunGroup*> groups) {
  const auto key = [](const RunGroup* g) {
    return std::make_pair(g->time_to_target.value_or(std::numeric_limits<double>::infinity()), -g->final_accuracy.mean);
  };
  std::stable_sort(groups.begin(), groups.end(), [&](const RunGroup* a, const RunGroup* b) { return key(a) < key(b); });
  std::vector<std::string> out;
  for (const auto* g : groups) out.push_back(policy_label(*g));
  return out;
}

bool overlap(const Spread& a, const Spread& b) { return a.n >= 2 && b.n >= 2 && a.min <= b.max && b.min <= a.max; }

// Counts the pairs the orders rank the other way round, the pairs tied in the real runs,
// and the discordant ones among those.
void count_pairs(PolicyOrder& o, const std::map<std::string, const RunGroup*>& real_of) {
  std::map<std::string, std::size_t> rank;
  for (std::size_t i = 0; i < o.real.size(); ++i) rank[o.real[i]] = i;
  for (std::size_t i = 0; i < o.sim.size(); ++i)
    for (std::size_t j = i + 1; j < o.sim.size(); ++j) {
      const bool swapped = rank.at(o.sim[i]) > rank.at(o.sim[j]);
      const bool tie = tied(*real_of.at(o.sim[i]), *real_of.at(o.sim[j]));
      o.discordant += swapped;
      o.tied += tie;
      o.tied_discordant += swapped && tie;
    }
}

}  // namespace

std::string agreement_text(const PolicyOrder& o) {
  if (o.same()) return "same order";
  if (o.agrees()) return fmt::format("same order but for {} real tie(s)", o.tied_discordant);
  const std::size_t swapped = o.discordant - o.tied_discordant;
  return o.tied_discordant == 0 ? fmt::format("{} pair(s) swapped", swapped)
                                : fmt::format("{} pair(s) swapped, {} more within real ties", swapped, o.tied_discordant);
}

bool tied(const RunGroup& a, const RunGroup& b) {
  if (a.tta && b.tta) return overlap(*a.tta, *b.tta);
  if (!a.tta && !b.tta) return overlap(a.final_accuracy, b.final_accuracy);
  // One reached the target with every seed and ranks first; the other missed it with some
  // seeds, but where one of its seeds reached it before the first's slowest, the two change
  // places with the seed all the same.
  const RunGroup& all = a.tta ? a : b;
  const RunGroup& some = a.tta ? b : a;
  return all.tta->n >= 2 && some.final_accuracy.n >= 2 && some.fastest_to_target && *some.fastest_to_target <= all.tta->max;
}

std::string policy_label(const RunGroup& group) {
  std::string out;
  if (auto it = group.config.find("policy.name"); it != group.config.end()) out = it->second;
  else if (auto p = group.config.find("policy"); p != group.config.end()) out = p->second;
  for (const auto& [k, v] : group.config)
    if (k.starts_with("policy.") && k != "policy.name") {
      if (!out.empty()) out += ' ';
      out.append(k, 7).append("=").append(v);
    }
  return out.empty() ? group.label : out;
}

std::vector<PolicyOrder> policy_orders(const std::vector<SimRealPair>& pairs) {
  struct Setting {
    std::map<std::string, std::string> config;
    std::string variant;
    std::vector<const RunGroup*> sims, reals;
  };
  std::vector<Setting> settings;
  for (const auto& p : pairs) {
    const auto s = setting_of(*p.real);
    auto it = std::find_if(settings.begin(), settings.end(), [&](const Setting& x) { return x.config == s && x.variant == p.sim_variant; });
    if (it == settings.end()) it = settings.insert(settings.end(), Setting{s, p.sim_variant, {}, {}});
    it->sims.push_back(p.sim);
    it->reals.push_back(p.real);
  }
  std::vector<std::map<std::string, std::string>> configs;
  for (const auto& s : settings) configs.push_back(s.config);
  const auto shown = configs.empty() ? std::vector<std::string>{} : shown_keys(configs);
  std::vector<PolicyOrder> out;
  for (const auto& s : settings) {
    if (s.sims.size() < 2) continue;
    PolicyOrder o;
    o.setting = name_of(s.config, shown);
    o.sim_variant = s.variant;
    o.sim = order_of(s.sims);
    o.real = order_of(s.reals);
    std::map<std::string, const RunGroup*> real_of;
    for (const auto* g : s.reals) real_of[policy_label(*g)] = g;
    count_pairs(o, real_of);
    out.push_back(std::move(o));
  }
  return out;
}

}  // namespace synclab::experiments
