#pragma once
// sim.trace: the traffic through the shard's NIC of a simulated run, written as it happens
// under <run dir>/trace/ so that it can be read beside a packet capture of the real PS
// (experiments/fidelity/linkstate.py reads both):
//   messages.csv  direction,peer,bytes,start_s,end_s,status   one line per transfer, as it
//                 ends (status done or cancelled; unfinished for those still moving at the end)
//   packets.csv   time_s,direction,peer,bytes,queued_s         one line per data packet as it
//                 leaves the NIC's queue (packet model only), with the time it waited there
// direction is push (into the shard) or reply (out of it); peer the worker's host name.
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <string_view>

#include "sim/shared_link.hpp"

namespace synclab::sim {

class LinkTrace {
 public:
  /// Creates `dir` and messages.csv (and packets.csv with `packets`); throws Error naming the
  /// file it cannot create.
  LinkTrace(const std::filesystem::path& dir, bool packets);
  /// Transfer `id` of `bytes` starts at `now` between the shard and `peer`.
  void started(std::uint64_t id, double now, SharedLink::Direction direction, std::string_view peer, std::uint64_t bytes);
  /// Transfer `id` is done (or cancelled) at `now`: writes its line.
  void ended(std::uint64_t id, double now, bool cancelled);
  /// A data packet of `bytes` leaves the NIC's queue at `now` after waiting `queued` s there.
  void packet(double now, SharedLink::Direction direction, std::string_view peer, std::uint64_t bytes, double queued);
  /// Writes the transfers still moving (status unfinished, no end) and flushes; throws Error
  /// if a write failed on the way.
  void finish();

 private:
  struct Started {
    SharedLink::Direction direction;
    std::string peer;
    std::uint64_t bytes;
    double start;
  };
  void write_message(const Started& m, std::string_view end, std::string_view status);

  std::filesystem::path dir_;
  std::ofstream messages_, packets_;
  std::map<std::uint64_t, Started> moving_;  // by id: the order transfers started in
};

}  // namespace synclab::sim
