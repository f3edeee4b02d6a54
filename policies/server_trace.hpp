#pragma once
// The order in which one parameter-server shard fed events to its ServerCore, as a real PS
// records it (real.trace): enough to replay a real run in the in-process driver exactly.
// One CSV file per shard, header kServerTraceHeader, one line per event.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "policies/events.hpp"

namespace synclab {

/// CSV header of a trace file.
inline constexpr const char* kServerTraceHeader = "event,worker,clock,base_version,timer,version";

/// One event a shard processed, with the shard's model version right after it.
struct TraceEvent {
  enum class Kind { Push, Pull, Lost, Joined, Timer, Resumed };
  Kind kind = Kind::Pull;
  WorkerId worker = -1;           ///< push, pull, lost, joined
  std::uint64_t clock = 0;        ///< push, pull: the worker clock the message carried
  Version base_version = 0;       ///< push: version of the params the payload was computed on
  TimerId timer = 0;              ///< timer: the id the policy chose
  Version version = 0;            ///< the shard's version after the event (resumed: the checkpoint's)
};

/// "push" | "pull" | "lost" | "joined" | "timer" | "resumed".
const char* trace_kind_name(TraceEvent::Kind kind);
/// One CSV line (no newline).
std::string format_trace_event(const TraceEvent& event);
/// Parses one CSV line; throws Error naming `where` (e.g. "trace/ps0.csv:12") and the field.
TraceEvent parse_trace_event(const std::string& line, const std::string& where);
/// Reads a whole trace file; throws Error naming the file (missing, wrong header, bad line).
std::vector<TraceEvent> read_server_trace(const std::filesystem::path& file);

}  // namespace synclab
