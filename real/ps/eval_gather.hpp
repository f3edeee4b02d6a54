#pragma once
// Shard 0's view of the other shards, for evaluations: it dials each one as an observer,
// and to evaluate a version it asks every shard for its range and joins the answers with
// its own into one flat parameter buffer. One gather at a time; the versions of async
// shards may differ by a few updates, as they would for any reader of a sharded PS.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>

#include "core/run/run_monitor.hpp"
#include "core/tensor/param_layout.hpp"
#include "real/launch/cluster_spec.hpp"
#include "real/net/connection.hpp"

namespace synclab::real {

class EvalGather {
 public:
  struct Options {
    std::string name;                   ///< log prefix ("ps0")
    std::vector<Endpoint> peers;        ///< shards 1..n-1, in order
    std::vector<Range> ranges;          ///< every shard's range, shard 0's first
    std::size_t num_params = 0;         ///< size of the joined buffer
    std::uint64_t fingerprint = 0;      ///< model fingerprint for the hellos
    std::string model;                  ///< model name for the hellos
    std::string token;                  ///< job token
    ConnectionLimits limits;            ///< frame / idle timeouts of the links
    double give_up_after = 30;          ///< seconds of failed connects before a link is abandoned
  };
  /// A full parameter buffer of one gather, with the evaluation it is for.
  struct Gathered {
    EvalPoint at;
    std::shared_ptr<std::vector<float>> params;
  };
  struct Hooks {
    std::function<std::span<const float>()> own_params;  ///< shard 0's current range
    std::function<void()> connected;                     ///< every link is up (again)
    std::function<void(Gathered&&)> gathered;            ///< a gather completed
    std::function<void()> abandoned;                     ///< a begun gather cannot complete
  };

  EvalGather(asio::io_context& io, Options options, Hooks hooks);

  /// Starts dialling every shard (with backoff, until give_up_after).
  void start();
  /// Begins a gather of the current params for `at`; false (logged) when a link is down or
  /// a gather is already in flight: then neither `gathered` nor `abandoned` will follow.
  bool begin(const EvalPoint& at);
  /// No more reconnects; links stay open until release().
  void finish() { finished_ = true; }
  /// Tells every connected shard the job is over (they finish on it) and flushes.
  asio::awaitable<void> release();

 private:
  struct Link {
    Endpoint endpoint;
    Range range;
    std::shared_ptr<Connection> conn;
  };
  struct InFlight {
    Gathered result;
    int missing = 0;
  };
  asio::awaitable<void> connect(std::size_t s);
  asio::awaitable<void> serve(std::size_t s, std::shared_ptr<Connection> conn);
  void on_params(std::size_t s, std::vector<float>&& values);

  asio::io_context& io_;
  Options o_;
  Hooks hooks_;
  std::vector<Link> links_;  // index = shard; [0] unused
  std::optional<InFlight> in_flight_;
  bool finished_ = false;
};

}  // namespace synclab::real
