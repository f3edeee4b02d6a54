#include "sim/packet_link.hpp"

#include <algorithm>
#include <stdexcept>

namespace synclab::sim {
namespace {

constexpr int kInto = static_cast<int>(SharedLink::Direction::Into);
constexpr int kOutOf = static_cast<int>(SharedLink::Direction::OutOf);

}  // namespace

PacketLink::PacketLink(PacketLinkSpec spec) : spec_(std::move(spec)), rng_(spec_.seed) {
  if (!(spec_.rate > 0)) throw std::invalid_argument("PacketLink: rate must be positive");
  if (spec_.segment == 0) throw std::invalid_argument("PacketLink: segment must be positive");
  spec_.window = std::max(spec_.window, spec_.segment);
  // Small queues are sized from a BBR sender's pacing rate: without bbr there is none.
  spec_.small_queues = spec_.small_queues && spec_.bbr;
  // Free ACKs return each segment's room as it arrives: the data path alone.
  ack_bytes_every_ = spec_.acks_queued ? std::max<std::uint64_t>(spec_.ack_every, 1) * spec_.segment : spec_.segment;
}

void PacketLink::push(double time, Kind kind, int queue, FlowId flow, std::uint64_t bytes, bool ack, std::uint64_t conn) {
  events_.push(Event{time, seq_++, kind, queue, flow, bytes, ack, conn});
}

std::uint64_t PacketLink::window_of(FlowId id) const {
  const auto it = flows_.find(id);
  if (it == flows_.end()) return 0;
  if (!spec_.bbr) return it->second.window;
  const auto c = conns_.find(it->second.conn);
  return c == conns_.end() ? 0 : c->second.cc.cwnd();
}

bool PacketLink::observe_packets(PacketObserver observer) {
  observer_ = std::move(observer);
  return true;
}

const BbrWindow* PacketLink::sender(Direction direction, std::uint64_t connection) const {
  const auto c = conns_.find(connection_key(direction, connection));
  return c == conns_.end() ? nullptr : &c->second.cc;
}

PacketLink::FlowId PacketLink::add(double now, Direction direction, std::uint64_t bytes, std::uint64_t connection) {
  predicted_ = -1;
  // Events up to `now` must be applied first: the new flow's segments queue behind them.
  // Flows that complete on the way wait in finished_ for the next complete().
  run(now, false);
  now_ = std::max(now_, now);
  const FlowId id = next_id_++;
  Flow& f = flows_[id];
  f.direction = direction;
  f.size = bytes;
  f.peer = connection;
  f.cap_free = now_;
  if (spec_.bbr) {
    f.conn = connection_key(direction, connection);
    this->connection(f.conn).waiting.push_back(id);
  } else {
    // Flows start in the simulation's deterministic order, so the draws repeat run to run.
    f.window = spec_.windows.empty() ? spec_.window
                                     : std::max(spec_.segment, spec_.windows[rng_.below(spec_.windows.size())]);
  }
  // Flows start in the simulation's deterministic order, so the draws repeat run to run.
  if (!spec_.first_reads.empty() && bytes > 0) f.read_after = spec_.first_reads[rng_.below(spec_.first_reads.size())];
  if (bytes == 0) push(now_, Kind::Delivered, 0, id, 0);
  else if (spec_.bbr) release_connection(f.conn);
  else release(id, f);
  return id;
}

void PacketLink::remove(double now, FlowId id) {
  predicted_ = -1;
  run(now, false);
  // Packets of a removed flow are still served (its bytes are on the wire) but no longer
  // counted; one that completed unseen is forgotten too. Its peer is gone, and so is the
  // connection's sender: a reconnection starts a fresh one.
  const auto it = flows_.find(id);
  if (spec_.bbr && it != flows_.end()) conns_.erase(it->second.conn);
  flows_.erase(id);
  finished_.erase(std::remove_if(finished_.begin(), finished_.end(), [id](const Finished& f) { return f.id == id; }),
                  finished_.end());
  now_ = std::max(now_, now);
}

bool PacketLink::release(FlowId id, Flow& f) {
  // Hand segments to the first stage while the window has room (one segment always fits,
  // so a window smaller than a segment still moves). With bbr the window and what is in
  // flight are the connection's.
  Connection* c = spec_.bbr ? &connection(f.conn) : nullptr;
  // With bbr, what one call hands out leaves in TSO bursts: a burst leaves at once, the
  // next after the burst's bytes at the pacing rate (Linux paces per packet handed to the
  // NIC: tcp_update_skb_after_send), and the receiver acknowledges it once it has all of it.
  std::uint64_t burst = 0;
  auto end_burst = [&] {
    if (!c || burst == 0) return;
    if (spec_.acks_queued) f.burst_ends.push_back(f.released);
    c->next_send = std::max(c->next_send, now_) + static_cast<double>(burst) / c->cc.pacing_rate();
    burst = 0;
  };
  while (f.released < f.size) {
    const std::uint64_t s = std::min(spec_.segment, f.size - f.released);
    const std::uint64_t in_flight = c ? c->sent - c->acked : f.released - f.acked;
    if (in_flight > 0 && in_flight + s > (c ? c->cc.cwnd() : f.window)) {
      end_burst();
      return false;
    }
    if (c) {
      if (burst == 0 && c->next_send > now_) {  // the pace holds the next burst back
        if (!c->pace_pending) push(c->next_send, Kind::Paced, 0, id, 0, false, f.conn);
        c->pace_pending = true;
        return false;
      }
      if (spec_.small_queues && f.direction == Direction::OutOf) {
        // TCP small queues: past the limit the sender waits until its queued bytes leave.
        if (c->queued_own > 0 && c->queued_own + s > c->cc.small_queue_limit()) {
          c->queue_full = true;
          end_burst();
          return false;
        }
        c->queued_own += s;
      }
      c->unacked.push_back(Connection::Segment{c->sent + s, c->cc.sent(now_, in_flight)});
      c->sent += s;
    }
    f.released += s;
    if (c && (burst += s) >= c->cc.tso_burst()) end_burst();
    if (f.direction == Direction::Into && spec_.flow_cap > 0) {
      // The worker's NIC serializes its segments; each reaches the shard's queue whole.
      f.cap_free = through(f.cap_bucket, std::max(now_, f.cap_free), s, spec_.flow_cap);
      push(f.cap_free, Kind::Arrive, kInto, id, s);
    } else {
      push(now_, Kind::Arrive, static_cast<int>(f.direction), id, s, false, f.conn);
    }
  }
  end_burst();
  return true;
}

PacketLink::Connection& PacketLink::connection(std::uint64_t key) {
  auto it = conns_.find(key);
  if (it == conns_.end()) {
    // Connections open in the simulation's deterministic order, so the draws repeat.
    const auto draw = static_cast<unsigned>(rng_.below(7));
    it = conns_.try_emplace(key, spec_.segment, draw, spec_.base_rtt, spec_.gso_max_size).first;
  }
  return it->second;
}

void PacketLink::release_connection(std::uint64_t key) {
  Connection& c = connection(key);
  while (!c.waiting.empty()) {
    const auto it = flows_.find(c.waiting.front());
    if (it != flows_.end() && !release(it->first, it->second)) return;
    c.waiting.erase(c.waiting.begin());  // handed out, or gone (rarely more than one waits)
  }
  // Everything handed out: samples from here on are the application's pace, not the path's.
  c.cc.out_of_data(c.sent - c.acked);
}

void PacketLink::connection_acked(std::uint64_t key, std::uint64_t bytes) {
  Connection& c = conns_.at(key);
  const std::uint64_t prior_in_flight = c.sent - c.acked;
  c.acked = std::min(c.sent, c.acked + bytes);
  // The sender counts whole segments: the newest one this ACK completes carries the sample.
  std::uint64_t newly = 0;
  BbrSent newest{};
  while (c.unacked_head < c.unacked.size() && c.unacked[c.unacked_head].end <= c.acked) {
    newest = c.unacked[c.unacked_head].record;
    newly = c.unacked[c.unacked_head].end;
    ++c.unacked_head;
  }
  if (c.unacked_head == c.unacked.size()) {
    c.unacked.clear();
    c.unacked_head = 0;
  }
  if (newly == 0) return;
  // The link times a packet by its queues and its wire alone (a transfer pays the path's
  // latency once, outside); the sender's clock sees the ACK a round trip of the path after
  // its segment left, so BBR's RTT and delivery-rate samples carry it as Linux's do.
  c.cc.acked(now_ + spec_.base_rtt, newly - c.reported, newest, prior_in_flight);
  c.reported = newly;
}

void PacketLink::acknowledge(FlowId id, Flow& f, double at) {
  // The receiver's ACK for what it has not acknowledged yet. A push's ACK leaves the shard
  // through its egress queue (behind queued replies), then crosses the worker's NIC; a
  // reply's crosses the worker's NIC, then waits in the shard's ingress queue (behind
  // queued pushes). An ACK's private stage is not queued: the worker's NIC carries its own
  // transfer, and the ACK of its other direction interleaves with it.
  const std::uint64_t covered = f.unacked;
  f.unacked = 0;
  if (!spec_.acks_queued) {
    push(at, Kind::Acked, 0, id, covered, false, f.conn);
    return;
  }
  const double private_stage = spec_.flow_cap > 0 ? static_cast<double>(spec_.ack_bytes) / spec_.flow_cap : 0;
  if (f.direction == Direction::Into) push(at, Kind::Arrive, kOutOf, id, covered, true, f.conn);
  else push(at + private_stage, Kind::Arrive, kInto, id, covered, true, f.conn);
}

bool PacketLink::whole_bursts_in(Flow& f) {
  bool any = false;
  while (!f.burst_ends.empty() && f.burst_ends.front() <= f.delivered) {
    f.burst_ends.pop_front();
    any = true;
  }
  return any;
}

bool PacketLink::receiver_reading(FlowId id, const Flow& f) const {
  // A push's receiver is the shard, a reply's its worker: one that is in the middle of
  // another message of this direction is awake, and reads the new one as it comes.
  for (const auto& [other, g] : flows_) {
    if (other == id || g.direction != f.direction || (f.direction == Direction::OutOf && g.peer != f.peer)) continue;
    if (g.first_at >= 0 && g.read_at <= now_) return true;
  }
  return false;
}

void PacketLink::start_service(int queue) {
  const auto& q = queues_[queue];
  if (!q.empty()) push(through(buckets_[queue], now_, q.front().bytes, spec_.rate), Kind::Served, queue, q.front().flow, 0);
}

double PacketLink::TokenBucket::depart(double ready, double bytes, double rate, double burst) {
  // A bucket smaller than the packet would never let it go (tbf refuses such a burst): it
  // holds one packet at least.
  const double cap = std::max(burst, bytes);
  const double have = tokens < 0 ? cap : std::min(cap, tokens + (ready - at) * rate);
  const double leave = have >= bytes ? ready : ready + (bytes - have) / rate;
  tokens = std::max(0.0, have + (leave - ready) * rate - bytes);
  at = leave;
  return leave;
}

double PacketLink::through(TokenBucket& b, double ready, std::uint64_t bytes, double rate) const {
  if (spec_.burst == 0) return ready + static_cast<double>(bytes) / rate;
  return b.depart(ready, static_cast<double>(bytes), rate, static_cast<double>(spec_.burst));
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
        queues_[e.queue].push_back(e.ack ? Packet{e.flow, spec_.ack_bytes, std::max<std::uint64_t>(e.bytes, 1), e.conn, now_}
                                         : Packet{e.flow, e.bytes, 0, e.conn, now_});
        if (queues_[e.queue].size() == 1) start_service(e.queue);
        break;
      case Kind::Served: {
        ++segments_;
        const Packet p = queues_[e.queue].front();
        queues_[e.queue].pop_front();
        start_service(e.queue);
        const double cap_time = spec_.flow_cap > 0 ? static_cast<double>(p.bytes) / spec_.flow_cap : 0;
        if (p.acks > 0) {
          // An ACK through the shard's queue: a push's still crosses the worker's NIC. With
          // bbr it reaches its connection's sender even after its flow completed.
          if (it != flows_.end() || spec_.bbr)
            push(e.queue == kOutOf ? now_ + cap_time : now_, Kind::Acked, e.queue, p.flow, p.acks, false, p.conn);
          break;
        }
        if (spec_.small_queues && e.queue == kOutOf) {
          // The shard's own egress: the sender's small queue has room again.
          const auto c = conns_.find(p.conn);
          if (c != conns_.end()) {
            c->second.queued_own -= std::min(c->second.queued_own, p.bytes);
            if (c->second.queue_full) {
              c->second.queue_full = false;
              release_connection(p.conn);
            }
          }
        }
        if (it == flows_.end()) break;
        Flow& f = it->second;
        if (observer_) observer_(now_, static_cast<Direction>(e.queue), f.peer, p.bytes, now_ - p.arrived);
        if (e.queue == kOutOf && spec_.flow_cap > 0) {
          f.cap_free = through(f.cap_bucket, std::max(now_, f.cap_free), p.bytes, spec_.flow_cap);
          push(f.cap_free, Kind::Delivered, e.queue, p.flow, p.bytes);
        } else {
          push(now_, Kind::Delivered, e.queue, p.flow, p.bytes);
        }
        break;
      }
      case Kind::Delivered: {
        if (it == flows_.end()) break;
        Flow& f = it->second;
        f.delivered += e.bytes;
        f.unacked += e.bytes;
        if (f.first_at < 0) {
          f.first_at = now_;
          // Linux acknowledges data at once only while the window it can offer keeps up
          // with what it offered (__tcp_ack_snd_check); an application that has not read
          // yet leaves it behind, and its first read sends the ACK (tcp_cleanup_rbuf).
          if (f.read_after > 0 && !receiver_reading(e.flow, f)) {
            f.read_at = now_ + f.read_after;
            push(f.read_at, Kind::Read, 0, e.flow, 0, false, f.conn);
          }
        }
        const bool unread = f.read_at > now_;  // the receiving process has not read it yet: no ACK
        if (f.delivered >= f.size) {
          // Complete once the receiver has every byte; the last ACK still goes out (at the
          // first read, if that is still to come), but nothing waits for it.
          if (f.size > 0) acknowledge(e.flow, f, unread ? f.read_at : now_);
          finished_.push_back({e.flow, f.first_at});
          flows_.erase(it);
          last = now_;
          if (first) return last;
        } else if (unread) {
          break;
        } else if (spec_.bbr && spec_.acks_queued) {
          // A BBR sender hands its NIC TSO bursts; they reach the receiver whole (GRO puts
          // them back together, a veth passes GSO packets as they are), and Linux
          // acknowledges a packet it takes in once more than one full segment waits for an
          // ACK (__tcp_ack_snd_check): one ACK per burst, none inside one.
          if (whole_bursts_in(f) && f.unacked >= ack_bytes_every_) acknowledge(e.flow, f, now_);
        } else if (f.unacked >= ack_bytes_every_) {
          acknowledge(e.flow, f, now_);
        }
        break;
      }
      case Kind::Read: {
        // The receiving process reads: what it has so far is acknowledged at once if it is
        // more than one segment (tcp_cleanup_rbuf), and the rest as it comes (the process
        // goes on reading the message).
        if (it == flows_.end()) break;
        Flow& f = it->second;
        whole_bursts_in(f);  // one ACK covers them all
        if (f.unacked >= ack_bytes_every_) acknowledge(e.flow, f, now_);
        break;
      }
      case Kind::Paced: {
        const auto c = conns_.find(e.conn);
        if (c == conns_.end()) break;
        c->second.pace_pending = false;
        release_connection(e.conn);
        break;
      }
      case Kind::Acked:
        if (spec_.bbr) {
          if (conns_.count(e.conn) == 0) break;  // dropped with its peer: the ACK is stale
          connection_acked(e.conn, e.bytes);
          release_connection(e.conn);
          break;
        }
        if (it == flows_.end()) break;
        it->second.acked += e.bytes;
        release(e.flow, it->second);
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
    probe.observer_ = nullptr;  // the probe's packets are played again for real later
    predicted_ = probe.run(std::numeric_limits<double>::infinity(), true);
  }
  return predicted_;
}

std::uint64_t PacketLink::delivered(double now, FlowId id) {
  // Completions found on the way wait in finished_ for complete(), which the network's
  // actor calls at the time next_completion() predicted: running ahead of it in steps
  // replays the same events.
  run(now, false);
  const auto it = flows_.find(id);
  return it == flows_.end() ? kDone : it->second.delivered;
}

std::vector<PacketLink::FlowId> PacketLink::complete(double now, double tolerance) {
  run(now + tolerance, false);
  completed_.swap(finished_);
  finished_.clear();
  std::vector<FlowId> done;
  done.reserve(completed_.size());
  for (const Finished& f : completed_) done.push_back(f.id);
  if (!done.empty()) predicted_ = -1;
  return done;
}

double PacketLink::first_byte(FlowId id) const {
  for (const Finished& f : completed_)
    if (f.id == id) return f.first_byte;
  throw std::logic_error("packet link: first_byte() of a flow the latest complete() did not return");
}

}  // namespace synclab::sim
