#include "policies/server_trace.hpp"

#include <charconv>
#include <fstream>
#include <string_view>

#include <fmt/format.h>

#include "core/common/error.hpp"

namespace synclab {

namespace {

constexpr std::pair<TraceEvent::Kind, const char*> kKinds[] = {
    {TraceEvent::Kind::Push, "push"},     {TraceEvent::Kind::Pull, "pull"},   {TraceEvent::Kind::Lost, "lost"},
    {TraceEvent::Kind::Joined, "joined"}, {TraceEvent::Kind::Timer, "timer"}, {TraceEvent::Kind::Resumed, "resumed"},
};

template <class T>
T field(std::string_view text, const std::string& where, const char* name) {
  T value{};
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size())
    throw Error(fmt::format("{}: field {} is '{}', expected an integer", where, name, text));
  return value;
}

}  // namespace

const char* trace_kind_name(TraceEvent::Kind kind) {
  for (const auto& [k, name] : kKinds)
    if (k == kind) return name;
  return "?";
}

std::string format_trace_event(const TraceEvent& e) {
  return fmt::format("{},{},{},{},{},{}", trace_kind_name(e.kind), e.worker, e.clock, e.base_version, e.timer, e.version);
}

TraceEvent parse_trace_event(const std::string& line, const std::string& where) {
  std::vector<std::string_view> parts;
  std::string_view rest(line);
  for (;;) {
    const auto comma = rest.find(',');
    parts.push_back(rest.substr(0, comma));
    if (comma == std::string_view::npos) break;
    rest.remove_prefix(comma + 1);
  }
  if (parts.size() != 6) throw Error(fmt::format("{}: {} fields, expected 6 ({})", where, parts.size(), kServerTraceHeader));
  TraceEvent e;
  bool known = false;
  for (const auto& [k, name] : kKinds)
    if (parts[0] == name) {
      e.kind = k;
      known = true;
    }
  if (!known) throw Error(fmt::format("{}: unknown event '{}'", where, parts[0]));
  e.worker = field<WorkerId>(parts[1], where, "worker");
  e.clock = field<std::uint64_t>(parts[2], where, "clock");
  e.base_version = field<Version>(parts[3], where, "base_version");
  e.timer = field<TimerId>(parts[4], where, "timer");
  e.version = field<Version>(parts[5], where, "version");
  return e;
}

std::vector<TraceEvent> read_server_trace(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw Error(fmt::format("{}: cannot open the trace", file.string()));
  std::string line;
  if (!std::getline(in, line) || line != kServerTraceHeader)
    throw Error(fmt::format("{}: not a server trace (first line should be '{}')", file.string(), kServerTraceHeader));
  std::vector<TraceEvent> events;
  for (int n = 2; std::getline(in, line); ++n)
    if (!line.empty()) events.push_back(parse_trace_event(line, fmt::format("{}:{}", file.string(), n)));
  return events;
}

}  // namespace synclab
