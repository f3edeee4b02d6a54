#pragma once
// Slurm node lists ("rack[1-2]-n[01-02],gpu5"): expanded by Slurm itself when `scontrol`
// works on this machine, else by a built-in parser of the same syntax.
#include <optional>
#include <string>
#include <vector>

namespace synclab::real {

/// Built-in expansion. The list is comma-separated items; an item is literal text and
/// bracket groups of numbers and lo-hi ranges ("[01-03,7]", zero padded to the lower
/// bound's width); several groups give their product in Slurm's order.
/// Throws ConfigError(key, ...) on unbalanced brackets, a bad or reversed range, or a list
/// of more than a million hosts.
std::vector<std::string> parse_hostlist(const std::string& key, const std::string& list);

/// `scontrol show hostnames LIST` when scontrol is installed and answers within 5 s with
/// exit 0 (it needs a Slurm configuration); nullopt otherwise.
std::optional<std::vector<std::string>> scontrol_hostnames(const std::string& list);

/// Host names of a node list: plain comma lists directly, bracketed ones through scontrol
/// when a Slurm configuration is present (SLURM_CONF or /etc/slurm/slurm.conf) and it
/// answers, else through parse_hostlist. key names the variable in errors.
std::vector<std::string> expand_hostlist(const std::string& key, const std::string& list);

}  // namespace synclab::real
