#include "sim/link_trace.hpp"

#include <fmt/format.h>

#include "core/common/error.hpp"

namespace synclab::sim {
namespace {

const char* name(SharedLink::Direction d) { return d == SharedLink::Direction::Into ? "push" : "reply"; }

std::ofstream open(const std::filesystem::path& file, const char* header) {
  std::ofstream out(file, std::ios::trunc);
  if (!out) throw Error(fmt::format("{}: cannot create the trace file (sim.trace)", file.string()));
  out << header << '\n';
  return out;
}

}  // namespace

LinkTrace::LinkTrace(const std::filesystem::path& dir, bool packets) : dir_(dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  messages_ = open(dir / "messages.csv", "direction,peer,bytes,start_s,end_s,status");
  if (packets) packets_ = open(dir / "packets.csv", "time_s,direction,peer,bytes,queued_s");
}

void LinkTrace::started(std::uint64_t id, double now, SharedLink::Direction direction, std::string_view peer,
                        std::uint64_t bytes) {
  moving_[id] = Started{direction, std::string(peer), bytes, now};
}

void LinkTrace::ended(std::uint64_t id, double now, bool cancelled) {
  const auto it = moving_.find(id);
  if (it == moving_.end()) return;
  write_message(it->second, fmt::format("{:.9f}", now), cancelled ? "cancelled" : "done");
  moving_.erase(it);
}

void LinkTrace::packet(double now, SharedLink::Direction direction, std::string_view peer, std::uint64_t bytes,
                       double queued) {
  // Nanoseconds: a packet's time at 1 Gb/s is a few microseconds.
  packets_ << fmt::format("{:.9f},{},{},{},{:.9f}\n", now, name(direction), peer, bytes, queued);
}

void LinkTrace::write_message(const Started& m, std::string_view end, std::string_view status) {
  messages_ << fmt::format("{},{},{},{:.9f},{},{}\n", name(m.direction), m.peer, m.bytes, m.start, end, status);
}

void LinkTrace::finish() {
  for (const auto& [id, m] : moving_) write_message(m, "", "unfinished");
  moving_.clear();
  messages_.flush();
  if (packets_.is_open()) packets_.flush();
  if (!messages_ || (packets_.is_open() && !packets_))
    throw Error(fmt::format("{}: cannot write the trace files (sim.trace)", dir_.string()));
}

}  // namespace synclab::sim
