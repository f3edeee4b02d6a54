#include "sim/simgrid_network.hpp"

#include <simgrid/s4u/Comm.hpp>
#include <simgrid/s4u/Engine.hpp>
#include <simgrid/s4u/Host.hpp>
#include <simgrid/s4u/Link.hpp>

#include <algorithm>
#include <cmath>

namespace sg = simgrid::s4u;

namespace synclab::sim {
namespace {

class SimgridTransfer final : public Transfer {
 public:
  SimgridTransfer(sg::CommPtr comm, std::uint64_t bytes, double first_byte)
      : comm_(std::move(comm)), bytes_(bytes), first_byte_(first_byte) {}
  void wait() override { comm_->wait(); }
  bool done() const override { return comm_->get_state() == sg::Activity::State::FINISHED; }
  std::uint64_t delivered() override {
    if (done()) return bytes_;
    const double left = std::ceil(comm_->get_remaining());
    return bytes_ - std::min(bytes_, static_cast<std::uint64_t>(std::max(0.0, left)));
  }
  void cancel() override {
    if (comm_->get_state() == sg::Activity::State::STARTED) comm_->cancel();
  }
  double first_byte_at() const override { return first_byte_; }
  const sg::CommPtr& comm() const { return comm_; }

 private:
  sg::CommPtr comm_;
  std::uint64_t bytes_;
  double first_byte_;
};

}  // namespace

std::string SimgridNetwork::describe() const { return "simgrid: CM02 exact (crosstraffic 0, TCP-gamma 0)"; }

TransferPtr SimgridNetwork::start(sg::Host* from, sg::Host* to, std::uint64_t bytes) {
  // Comm::sendto: no receiving actor has to post a get (no rendezvous delay, no search
  // through thousands of pending receives on one mailbox).
  // The fluid solver moves bytes once the route's latency has passed.
  const double first_byte = sg::Engine::get_clock() + latency(from, to);
  return std::make_shared<SimgridTransfer>(sg::Comm::sendto_async(from, to, bytes), bytes, first_byte);
}

double SimgridNetwork::latency(sg::Host* from, sg::Host* to) {
  const auto [it, added] = latency_.try_emplace({from, to}, 0.0);
  if (added) {
    std::vector<sg::Link*> route;
    from->route_to(to, route, &it->second);
  }
  return it->second;
}

std::size_t SimgridNetwork::wait_any(const std::vector<TransferPtr>& transfers) {
  std::vector<sg::CommPtr> comms;
  comms.reserve(transfers.size());
  for (const auto& t : transfers) comms.push_back(static_cast<const SimgridTransfer&>(*t).comm());
  return static_cast<std::size_t>(sg::Comm::wait_any(comms));
}

}  // namespace synclab::sim
