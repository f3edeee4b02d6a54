// The software half of `synclab calibrate`: times the real executor's own code on
// model-sized buffers, so the simulator can charge what a real run spends besides
// computing gradients and moving bytes (docs/simulator.md, "Software costs").
#include <malloc.h>

#include <algorithm>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include <fmt/format.h>

#include "core/common/error.hpp"
#include "core/common/rng.hpp"
#include "core/models/model_spec.hpp"
#include "experiments/calibrate.hpp"
#include "experiments/median_seconds.hpp"
#include "policies/registry.hpp"
#include "policies/server_core.hpp"
#include "real/protocol/frame.hpp"
#include "real/protocol/messages.hpp"

namespace synclab::experiments {
namespace {

// A ServerCore as the real PS builds it (real/ps), over the whole model as one shard.
std::unique_ptr<ServerCore> make_core(const std::string& policy, int workers, const std::string& optimizer,
                                      std::span<const float> params) {
  PolicySpec p;
  p.name = policy;
  ServerCoreOptions o;
  o.range = Range{0, params.size()};
  o.optimizer.name = optimizer;
  return std::make_unique<ServerCore>(make_policy(p, workers).server, params, o);
}

// Receives one push frame as real/net/connection.cpp does: header and metadata through
// feed(), the floats received by the kernel straight into payload_space() and committed
// (checksum). The kernel's copy is the network's part and is not timed: the frame's floats
// are zeros, which the fresh buffer already holds (the arithmetic after it costs the same
// for any values). Each frame gets a fresh buffer, as on the server, whose float buffers
// move into the core and are freed by the update.
real::Push receive_push(real::FrameParser& parser, std::span<const std::uint8_t> head, std::size_t n) {
  parser.feed(head);
  const auto space = parser.payload_space();
  parser.commit(space.size());
  if (!parser.has_frame()) throw Error("calibrate: the frame parser rejected the push it was timed on: " + parser.error_text());
  real::Frame f = parser.take();
  auto p = real::decode_push(f, n);
  if (!p) throw Error("calibrate: the push timed on does not decode");
  return std::move(*p);
}

// Seconds of one update made of `workers` pushes and their pulls, as the real server
// runs them: each push received into a fresh buffer, moved into the core, each pull
// answered from the shared snapshot of the new version, the outbox taken and dropped.
// Receipts are timed here too (and subtracted by the caller): the allocator's work for
// the buffers freed by an update shows up in the next receipts, as on the server.
double update_seconds(const std::string& policy, int workers, const std::string& optimizer, std::span<const float> params,
                      std::span<const std::uint8_t> push_head, int repeats, double min_seconds) {
  auto core = make_core(policy, workers, optimizer, params);
  real::FrameParser parser(real::FrameAdmission::any(real::max_param_payload(params.size())));
  std::uint64_t clock = 0;
  return median_seconds(repeats, min_seconds, [] {}, [&] {
    const Version base = core->version();
    for (int w = 0; w < workers; ++w) {
      real::Push push = receive_push(parser, push_head, params.size());
      PushInfo info;
      info.worker = w;
      info.worker_clock = clock;
      info.id = make_push_id(w, clock);
      info.base_version = base;
      core->push(info, std::move(push.values));
      core->pull(PullInfo{w, clock + 1});
      ServerOutbox out = core->take_outbox();
    }
    ++clock;
  });
}

}  // namespace

SoftwareCalibration calibrate_software(const std::string& model, int repeats, double min_seconds) {
  if (repeats < 1) throw ConfigError("--repeats", "must be >= 1");
  // A loop of model-sized allocations and frees makes glibc hand the top of its heap back
  // to the kernel after every update of several pushes and fault it in again (3-7 ms per
  // bsp update of the MLP, measured on a 2-core VM), which a long-running server's heap,
  // with other blocks above, rarely does (a real PS made 61 brk calls in 100 bsp updates
  // of the MLP). Keeping the memory mapped times the code rather than that artefact.
  mallopt(M_MMAP_THRESHOLD, 64 * 1024 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024 * 1024);
  const ModelSpec spec = make_model_spec(model);
  const std::size_t n = spec.num_params();
  std::vector<float> params(n), gradient(n);
  init_params(spec, params.data(), 1);
  Rng rng(11);
  for (auto& g : gradient) g = static_cast<float>(0.01 * (rng.uniform() - 0.5));
  SoftwareCalibration out;
  out.model = model;
  out.params = n;
  out.repeats = static_cast<std::size_t>(repeats);
  SoftwareCostSpec& c = out.costs;
  const double bytes = static_cast<double>(n * sizeof(float));

  // Messages. A push of the model against a pull request (the smallest frame a peer sends
  // per update): the difference per byte is the payload's cost, the small one the rest.
  real::Push meta;
  meta.worker = 0;
  const real::PullRequest pull{0, 1};
  const double send_push = median_seconds(repeats, min_seconds, [] {}, [&] {
    auto e = real::encode_push(meta, gradient);
    (void)e;
  });
  const double send_pull = median_seconds(repeats, min_seconds, [] {}, [&] {
    auto e = real::encode(pull);
    (void)e;
  });
  out.timed_s = {{"send push", send_push}, {"send pull request", send_pull}};
  c.send_message = send_pull;
  c.send_byte = std::max(0.0, send_push - send_pull) / bytes;

  // Receiving (receive_push above). The decoded push is freed untimed: on the server the
  // update frees it.
  const std::vector<float> zeros(n, 0.0f);
  const auto push_frame = real::encode_push(meta, zeros).flatten();
  const std::size_t push_head = real::kHeaderSize + real::fixed_meta_size(real::MsgType::Push);
  const auto pull_frame = real::encode(pull).flatten();
  real::FrameParser parser(real::FrameAdmission::any(real::max_param_payload(n)));
  const std::span<const std::uint8_t> head = std::span<const std::uint8_t>(push_frame).first(push_head);
  std::optional<real::Push> received;
  const double receive_one = median_seconds(repeats, min_seconds, [&] { received.reset(); },
                                            [&] { received = receive_push(parser, head, n); });
  const double receive_pull = median_seconds(repeats, min_seconds, [] {}, [&] {
    parser.feed(pull_frame);
    if (!parser.has_frame()) throw Error("calibrate: the frame parser rejected the pull request it was timed on");
    real::Frame f = parser.take();
    if (!real::decode_pull(f.payload)) throw Error("calibrate: the frame parser rejected the pull request it was timed on");
  });
  out.timed_s.insert(out.timed_s.end(), {{"receive push", receive_one}, {"receive pull request", receive_pull}});
  c.receive_message = receive_pull;
  c.receive_byte = std::max(0.0, receive_one - receive_pull) / bytes;

  // Updates, receipts included (update_seconds), each receipt's own cost taken off. One
  // push per update (async) against four folded into one (bsp with four workers): the
  // difference is three pushes folded in, the rest the update itself (zeroing the sum,
  // the optimizer step, the reply snapshot's copy, the policy).
  const double dn = static_cast<double>(n);
  auto update = [&](const char* policy, int pushes, const char* optimizer) {
    const double s = update_seconds(policy, pushes, optimizer, params, head, repeats, min_seconds);
    out.timed_s.emplace_back(fmt::format("update {}, {} push(es)", optimizer, pushes), s);
    return s;
  };
  const double adam1 = update("async", 1, "adam") - receive_one;
  const double adam4 = update("bsp", 4, "adam") - 4 * receive_one;
  c.aggregate = std::max(0.0, adam4 - adam1) / (3 * dn);
  auto apply_rate = [&](double one_push) { return std::max(0.0, (one_push - receive_one) / dn - c.aggregate); };
  c.apply_adam = std::max(0.0, adam1 / dn - c.aggregate);
  c.apply_sgd = apply_rate(update("async", 1, "sgd"));
  c.apply_momentum = apply_rate(update("async", 1, "momentum"));

  // The evaluation snapshot: the copy real/ps/ps_server.cpp makes on the server's thread.
  std::shared_ptr<std::vector<float>> snapshot;
  const double snapshot_s = median_seconds(repeats, min_seconds, [&] { snapshot.reset(); }, [&] {
    const std::span<const float> p(params);
    snapshot = std::make_shared<std::vector<float>>(p.begin(), p.end());
  });
  out.timed_s.emplace_back("evaluation snapshot", snapshot_s);
  c.snapshot_byte = snapshot_s / bytes;
  return out;
}

}  // namespace synclab::experiments
