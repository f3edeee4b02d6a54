#include "sim/star_network.hpp"

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Semaphore.hpp>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include <fmt/format.h>

#include "sim/fair_share_link.hpp"
#include "sim/link_trace.hpp"
#include "sim/packet_link.hpp"

namespace sg = simgrid::s4u;

namespace synclab::sim {
namespace {

// SimGrid ends a timed wait up to its timing precision (1e-9 s) early or late, and at large
// clocks the double itself is coarser: a flow within this of its end is done now. This also
// keeps every timed wait of the completing actor longer than the precision, so the clock
// always moves on.
double tolerance(double now) { return std::max(2e-9, now * 4e-15); }

}  // namespace

class StarNetwork::Flow final : public Transfer {
 public:
  explicit Flow(StarNetwork* net) : net_(net) {}
  void wait() override {
    if (over()) return;
    waiter_ = sg::Semaphore::create(0);
    waiter_->acquire();
    waiter_ = nullptr;
  }
  bool done() const override { return done_; }
  std::uint64_t delivered() override {
    if (done_) return bytes_;
    if (cancelled_) return 0;
    return std::min(bytes_, net_->link_->delivered(sg::Engine::get_clock(), id_));
  }
  void cancel() override {
    if (!over()) net_->cancel(*this);
  }
  double first_byte_at() const override { return first_byte_; }
  bool over() const { return done_ || cancelled_; }

  StarNetwork* net_;
  SharedLink::FlowId id_ = 0;
  std::uint64_t bytes_ = 0;
  double first_byte_ = 0;  // its start until done, then where the link says its first byte arrived
  bool done_ = false, cancelled_ = false;
  sg::SemaphorePtr waiter_;  // released when done or cancelled; set while an actor waits
};

// Two FairShareLinks behind the SharedLink interface (they keep their own, which takes
// fractional bytes, for their tests and for exactness of the fluid arithmetic): the
// directions share nothing, and ids map to each direction's own.
class FluidLink final : public SharedLink {
 public:
  FluidLink(double capacity, double flow_cap) : links_{{capacity, flow_cap}, {capacity, flow_cap}} {}
  FlowId add(double now, Direction direction, std::uint64_t bytes, std::uint64_t /*connection*/ = 0) override {
    const int d = static_cast<int>(direction);
    const FlowId id = next_id_++;
    const FlowId own = links_[d].add(now, static_cast<double>(bytes));
    ids_[d][own] = id;
    where_[id] = {d, own, bytes};
    return id;
  }
  void remove(double now, FlowId id) override {
    const auto it = where_.find(id);
    if (it == where_.end()) return;
    links_[it->second.direction].remove(now, it->second.own);
    ids_[it->second.direction].erase(it->second.own);
    where_.erase(it);
  }
  std::uint64_t delivered(double now, FlowId id) override {
    const auto it = where_.find(id);
    if (it == where_.end()) return kDone;
    const Where& w = it->second;
    const double left = std::ceil(links_[w.direction].remaining(now, w.own));
    return w.bytes - std::min(w.bytes, static_cast<std::uint64_t>(left));
  }
  double next_completion() const override { return std::min(links_[0].next_completion(), links_[1].next_completion()); }
  std::vector<FlowId> complete(double now, double tolerance) override {
    std::vector<FlowId> done;
    for (int d : {0, 1})
      for (FlowId own : links_[d].complete(now, tolerance)) {
        const auto it = ids_[d].find(own);
        if (it == ids_[d].end()) continue;
        done.push_back(it->second);
        where_.erase(it->second);
        ids_[d].erase(it);
      }
    return done;
  }
  // A fluid flow's bytes move from its start: its first one arrives then.
  double first_byte(FlowId /*id*/) const override { return kAtStart; }

 private:
  FairShareLink links_[2];
  FlowId next_id_ = 0;
  std::unordered_map<FlowId, FlowId> ids_[2];                    // a direction's own id -> ours
  struct Where {
    int direction;
    FlowId own;  // the direction's id
    std::uint64_t bytes;
  };
  std::unordered_map<FlowId, Where> where_;  // ours -> where it moves
};

StarNetwork::StarNetwork(sg::Host* server, std::unique_ptr<SharedLink> link, std::string description)
    : server_(server), link_(std::move(link)), description_(std::move(description)),
      wake_(sg::Semaphore::create(0)) {
  sg::Actor::create("network", server_, [this] { serve(); })->daemonize();
}

StarNetwork::~StarNetwork() = default;

std::string StarNetwork::describe() const { return description_; }

std::unique_ptr<StarNetwork> make_fluid_star(sg::Host* server, double ps_bandwidth, double worker_cap) {
  return std::make_unique<StarNetwork>(
      server, std::make_unique<FluidLink>(ps_bandwidth, worker_cap),
      fmt::format("star: exact max-min sharing of the shard NIC ({:g} B/s per direction), worker NICs {:g} B/s caps",
                  ps_bandwidth, worker_cap));
}

std::unique_ptr<StarNetwork> make_packet_star(sg::Host* server, const PacketLinkSpec& spec) {
  // Pushes: the worker's NIC, then the shard's downlink queue. Replies: the shard's uplink
  // queue (the sender's own egress), then the worker's NIC. ACKs go the other way.
  const std::string per_flow = spec.bbr ? std::string("windows of each connection's BBR sender")
                               : spec.windows.empty()
                                   ? fmt::format("window {} bytes per flow", spec.window)
                                   : fmt::format("windows drawn per flow from {} measured ({}-{} bytes)", spec.windows.size(),
                                                 *std::min_element(spec.windows.begin(), spec.windows.end()),
                                                 *std::max_element(spec.windows.begin(), spec.windows.end()));
  return std::make_unique<StarNetwork>(
      server, std::make_unique<PacketLink>(spec),
      fmt::format("packet: FIFO queues of {}-byte packets at the shard NIC ({:g} B/s per direction, {}), {}, worker NICs {:g} B/s",
                  spec.segment, spec.rate, spec.acks_queued ? "ACKs queued in the other direction" : "ACKs free", per_flow,
                  spec.flow_cap));
}

TransferPtr StarNetwork::start(sg::Host* from, sg::Host* to, std::uint64_t bytes) {
  if ((from == server_) == (to == server_))
    throw std::logic_error("star network: a transfer must have the shard at exactly one end");
  const auto direction = to == server_ ? SharedLink::Direction::Into : SharedLink::Direction::OutOf;
  auto flow = std::make_shared<Flow>(this);
  // One TCP connection per worker: numbered as they first appear (a deterministic order).
  const sg::Host* peer = to == server_ ? from : to;
  const auto [it, added] = connections_.try_emplace(peer, connections_.size());
  if (added) peers_.push_back(peer->get_name());
  const std::uint64_t connection = it->second;
  flow->bytes_ = bytes;
  flow->first_byte_ = sg::Engine::get_clock();  // a fluid link's flow moves bytes from its start
  flow->id_ = link_->add(sg::Engine::get_clock(), direction, bytes, connection);
  flows_.emplace(flow->id_, flow);
  if (trace_) trace_->started(flow->id_, sg::Engine::get_clock(), direction, peers_[connection], bytes);
  poke();
  return flow;
}

std::size_t StarNetwork::wait_any(const std::vector<TransferPtr>& transfers) {
  auto first_done = [&]() -> std::ptrdiff_t {
    for (std::size_t i = 0; i < transfers.size(); ++i)
      if (static_cast<const Flow&>(*transfers[i]).over()) return static_cast<std::ptrdiff_t>(i);
    return -1;
  };
  std::ptrdiff_t i = first_done();
  if (i >= 0) return static_cast<std::size_t>(i);
  // One semaphore for the whole set: the first of them to finish releases it.
  sg::SemaphorePtr sem = sg::Semaphore::create(0);
  for (const auto& t : transfers) static_cast<Flow&>(*t).waiter_ = sem;
  sem->acquire();
  for (const auto& t : transfers) static_cast<Flow&>(*t).waiter_ = nullptr;
  i = first_done();
  if (i < 0) throw std::logic_error("star network: woken without a finished transfer");
  return static_cast<std::size_t>(i);
}

bool StarNetwork::trace_to(LinkTrace* trace) {
  trace_ = trace;
  link_->observe_packets([this](double time, SharedLink::Direction direction, std::uint64_t connection, std::uint64_t bytes,
                                double queued) { trace_->packet(time, direction, peers_.at(connection), bytes, queued); });
  return true;
}

void StarNetwork::cancel(Flow& flow) {
  flow.cancelled_ = true;
  if (trace_) trace_->ended(flow.id_, sg::Engine::get_clock(), true);
  if (flow.waiter_) flow.waiter_->release();
  link_->remove(sg::Engine::get_clock(), flow.id_);
  flows_.erase(flow.id_);
  poke();
}

void StarNetwork::poke() {
  // One release per wake-up is enough: the actor recomputes everything when it runs.
  if (poked_) return;
  poked_ = true;
  wake_->release();
}

void StarNetwork::finish(const std::vector<SharedLink::FlowId>& ids) {
  for (SharedLink::FlowId id : ids) {
    auto it = flows_.find(id);
    if (it == flows_.end()) continue;  // cancelled at the instant it completed
    Flow& flow = *it->second;
    flow.done_ = true;
    if (const double first = link_->first_byte(id); first != SharedLink::kAtStart) flow.first_byte_ = first;
    if (trace_) trace_->ended(id, sg::Engine::get_clock(), false);
    if (flow.waiter_) flow.waiter_->release();
    flows_.erase(it);
  }
}

void StarNetwork::serve() {
  for (;;) {
    const double now = sg::Engine::get_clock();
    finish(link_->complete(now, tolerance(now)));
    const double next = link_->next_completion();
    poked_ = false;
    if (std::isinf(next)) wake_->acquire();
    else wake_->acquire_timeout(next - now);
  }
}

}  // namespace synclab::sim
