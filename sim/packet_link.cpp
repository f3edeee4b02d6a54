#include "sim/packet_link.hpp"

#include <algorithm>
#include <stdexcept>

namespace synclab::sim {

PacketLink::PacketLink(double rate, double flow_cap, std::uint64_t segment, std::uint64_t window, bool cap_upstream,
                       std::vector<std::uint64_t> windows, std::uint64_t seed)
    : rate_(rate),
      cap_(flow_cap),
      segment_(segment),
      window_(std::max(window, segment)),
      cap_upstream_(cap_upstream),
      windows_(std::move(windows)),
      rng_(seed) {
  if (!(rate > 0)) throw std::invalid_argument("PacketLink: rate must be positive");
  if (segment == 0) throw std::invalid_argument("PacketLink: segment must be positive");
}

void PacketLink::push(double time, Kind kind, FlowId flow, std::uint64_t bytes) {
  events_.push(Event{time, seq_++, kind, flow, bytes});
}

PacketLink::FlowId PacketLink::add(double now, std::uint64_t bytes) {
  predicted_ = -1;
  // Events up to `now` must be applied first: the new flow's segments queue behind them.
  // Flows that complete on the way wait in finished_ for the next complete().
  run(now, false);
  now_ = std::max(now_, now);
  const FlowId id = next_id_++;
  Flow& f = flows_[id];
  f.size = bytes;
  f.cap_free = now_;
  // Flows start in the simulation's deterministic order, so the draws repeat run to run.
  f.window = windows_.empty() ? window_ : std::max(segment_, windows_[rng_.below(windows_.size())]);
  if (bytes == 0) push(now_, Kind::Delivered, id, 0);
  else release(id, f);
  return id;
}

void PacketLink::remove(double now, FlowId id) {
  predicted_ = -1;
  run(now, false);
  // Segments of a removed flow are still served (its bytes are on the wire) but no longer
  // counted; one that completed unseen is forgotten too.
  flows_.erase(id);
  finished_.erase(std::remove(finished_.begin(), finished_.end(), id), finished_.end());
  now_ = std::max(now_, now);
}

void PacketLink::release(FlowId id, Flow& f) {
  // Hand segments to the first stage while the window has room (one segment always fits,
  // so a window smaller than a segment still moves).
  while (f.released < f.size) {
    const std::uint64_t s = std::min(segment_, f.size - f.released);
    const std::uint64_t in_flight = f.released - f.delivered;
    if (in_flight > 0 && in_flight + s > f.window) return;
    f.released += s;
    if (cap_upstream_ && cap_ > 0) {
      // The flow's own NIC serializes its segments; each reaches the shared queue whole.
      f.cap_free = std::max(now_, f.cap_free) + static_cast<double>(s) / cap_;
      push(f.cap_free, Kind::Arrive, id, s);
    } else {
      push(now_, Kind::Arrive, id, s);
    }
  }
}

void PacketLink::start_service() {
  if (!queue_.empty()) push(now_ + static_cast<double>(queue_.front().bytes) / rate_, Kind::Served, queue_.front().flow, queue_.front().bytes);
}

double PacketLink::run(double until, bool first) {
  double last = std::numeric_limits<double>::infinity();
  while (!events_.empty() && events_.top().time <= until) {
    const Event e = events_.top();
    events_.pop();
    now_ = std::max(now_, e.time);
    auto it = flows_.find(e.flow);
    switch (e.kind) {
      case Kind::Arrive:
        queue_.push_back({e.flow, e.bytes});
        if (queue_.size() == 1) start_service();
        break;
      case Kind::Served:
        ++segments_;
        queue_.pop_front();
        start_service();
        if (it == flows_.end()) break;
        if (!cap_upstream_ && cap_ > 0) {
          it->second.cap_free = std::max(now_, it->second.cap_free) + static_cast<double>(e.bytes) / cap_;
          push(it->second.cap_free, Kind::Delivered, e.flow, e.bytes);
        } else {
          push(now_, Kind::Delivered, e.flow, e.bytes);
        }
        break;
      case Kind::Delivered:
        if (it == flows_.end()) break;
        it->second.delivered += e.bytes;
        if (it->second.delivered >= it->second.size) {
          finished_.push_back(e.flow);
          flows_.erase(it);
          last = now_;
          if (first) return last;
        } else {
          release(e.flow, it->second);
        }
        break;
    }
  }
  return last;
}

double PacketLink::next_completion() const {
  if (!finished_.empty()) return now_;
  if (flows_.empty()) return std::numeric_limits<double>::infinity();
  if (predicted_ < 0) {
    // The future is fixed until a flow starts or stops: play it out on a copy up to the
    // first completion. complete() later replays the same events on the real state.
    PacketLink probe = *this;
    predicted_ = probe.run(std::numeric_limits<double>::infinity(), true);
  }
  return predicted_;
}

std::vector<PacketLink::FlowId> PacketLink::complete(double now, double tolerance) {
  run(now + tolerance, false);
  std::vector<FlowId> done;
  done.swap(finished_);
  if (!done.empty()) predicted_ = -1;
  return done;
}

}  // namespace synclab::sim
