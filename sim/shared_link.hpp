#pragma once
// The one shared link of a star (the parameter-server shard's NIC), both directions, as the
// star network drives it: flows start and stop at given times, and the link says when the
// next one completes. The fluid model (FairShareLink per direction, max-min sharing) and
// PacketLink (FIFO queues of window-limited packets, whose ACKs cross the other direction)
// implement it. No clock and no SimGrid: the caller says the time.
#include <cstdint>
#include <functional>
#include <vector>

namespace synclab::sim {

class SharedLink {
 public:
  using FlowId = std::uint64_t;
  /// Into the shard (a push) or out of it (a reply).
  enum class Direction : int { Into = 0, OutOf = 1 };
  virtual ~SharedLink() = default;
  /// Starts a flow of `bytes` at time `now` (never before an earlier call's time) on
  /// `connection` (one per worker: flows of one connection and direction share its TCP
  /// sender's state, where the model keeps one); ids increase, over both directions.
  virtual FlowId add(double now, Direction direction, std::uint64_t bytes, std::uint64_t connection = 0) = 0;
  /// Drops an unfinished flow at time `now` (a crashed peer).
  virtual void remove(double now, FlowId id) = 0;
  /// Time the next flow completes if nothing starts or stops before; +inf with no flow.
  virtual double next_completion() const = 0;
  /// Bytes of flow `id` its receiver has by `now` (running the link up to it, never before
  /// an earlier call's time); kDone for a flow that is no longer moving (done or removed).
  virtual std::uint64_t delivered(double now, FlowId id) = 0;
  static constexpr std::uint64_t kDone = UINT64_MAX;
  /// Completes, in finish order, every flow done by `now` or within `tolerance` seconds after.
  virtual std::vector<FlowId> complete(double now, double tolerance) = 0;
  /// When the first byte of flow `id`, returned by the latest complete(), reached its
  /// receiver (for a flow of no bytes: when it completed); kAtStart for a link whose flows
  /// move bytes from their start (the fluid one, which keeps nothing for it).
  virtual double first_byte(FlowId id) const = 0;
  static constexpr double kAtStart = -1;
  /// Told of each data packet as it leaves a queue: when, which way, its connection, its
  /// bytes and the time it waited in the queue.
  using PacketObserver = std::function<void(double time, Direction direction, std::uint64_t connection,
                                            std::uint64_t bytes, double queued)>;
  /// Calls `observer` for every data packet from now on; false for a model without packets
  /// (the fluid one), which never calls it.
  virtual bool observe_packets(PacketObserver observer) {
    (void)observer;
    return false;
  }
};

}  // namespace synclab::sim
