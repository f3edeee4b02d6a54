// synclab calibrate: measures this machine into a platform fragment for the simulator.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <string>

#include <boost/program_options.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "app/commands.hpp"
#include "core/common/atomic_file.hpp"
#include "core/common/error.hpp"
#include "core/config/run_config.hpp"
#include "core/cost/cost_model.hpp"
#include "experiments/calibrate.hpp"
#include "experiments/csv.hpp"
#include "experiments/step_bench.hpp"
#include "experiments/wake_probe.hpp"

namespace po = boost::program_options;

namespace synclab::app {

int cmd_calibrate(int argc, char** argv) {
  po::options_description opts("options");
  std::string model = "cnn", backend = "fast", out, peer;
  int serve_port = -1, clients = 0;
  std::size_t batch = 100, bytes = 0, round_trips = 2000, samples = 60000;
  int threads = 1, repeats = 9;
  double seconds = 3.0;
  opts.add_options()
      ("help,h", "show this help")
      ("model", po::value<std::string>(&model)->default_value(model), "trainable model to time: softmax | mlp | cnn")
      ("backend", po::value<std::string>(&backend)->default_value(backend), "compute backend: reference | fast | cuda")
      ("batch", po::value<std::size_t>(&batch)->default_value(batch), "samples per step (the run's data.batch)")
      ("samples", po::value<std::size_t>(&samples)->default_value(samples),
       "training samples the timed steps draw their batches from, as a worker does (default: the size of the built-in datasets' training sets)")
      ("threads", po::value<int>(&threads)->default_value(threads), "CPU threads for the fast backend (the run's train.threads)")
      ("seconds", po::value<double>(&seconds)->default_value(seconds), "minimum time spent timing compute steps")
      ("bytes", po::value<std::size_t>(&bytes)->default_value(0), "bandwidth message size (default: the model's parameter bytes)")
      ("repeats", po::value<int>(&repeats)->default_value(repeats), "timed runs of each software cost, at least (median taken)")
      ("round-trips", po::value<std::size_t>(&round_trips)->default_value(round_trips), "1-byte round trips for latency")
      ("peer", po::value<std::string>(&peer), "measure the network to HOST:PORT (a `synclab calibrate --serve PORT`) instead of loopback")
      ("serve", po::value<int>(&serve_port), "only serve network measurements on PORT for --peer clients")
      ("clients", po::value<int>(&clients)->default_value(0), "with --serve: exit after this many clients (0 = never)")
      ("out,o", po::value<std::string>(&out), "write the YAML fragment here (default: print it)");
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(argc, argv).options(opts).run(), vm);
    po::notify(vm);
  } catch (const po::error& e) {
    throw Error(e.what());
  }
  if (vm.count("help")) {
    std::cout << "usage: synclab calibrate [--model cnn] [--backend fast] [--out platform.yaml]\n\n"
                 "Times a worker's step on this machine (a batch drawn from --samples, forward+backward:\n"
                 "flop/s achieved, from the cost model's FLOPs) and TCP latency/bandwidth (ping-pong between\n"
                 "two threads over loopback, or to another host running `synclab calibrate --serve PORT`\n"
                 "with --peer HOST:PORT), the real executor's software costs (server update per optimizer,\n"
                 "message encoding and parsing, evaluation snapshot and scoring) on the model's size, and\n"
                 "writes a YAML fragment: cluster.gpu {flops, efficiency: 1}, cluster.link {bandwidth,\n"
                 "latency} and cluster.software. Where the peer runs on this machine's kernel (loopback,\n"
                 "or another namespace of it) it also writes cluster.colocated_cores and the kernel's CPU\n"
                 "per byte moved (cluster.software.kernel_byte). Merge it into a run config (sweep files:\n"
                 "merge: [platform.yaml]) or use the --set line in its comments, so a simulated run predicts\n"
                 "a real one on this machine.\n\n"
              << opts;
    return 0;
  }
  if (seconds <= 0) throw ConfigError("--seconds", "must be positive");
  if (repeats < 1) throw ConfigError("--repeats", "must be >= 1");
  if (vm.count("serve")) {
    experiments::serve_calibration(serve_port, clients, [](int port) {
      spdlog::info("calibrate: serving network measurements on port {}", port);
    });
    return 0;
  }
  std::string peer_host;
  int peer_port = 0;
  if (!peer.empty()) {
    const auto colon = peer.rfind(':');
    try {
      if (colon == std::string::npos || colon == 0) throw std::invalid_argument(peer);
      peer_host = peer.substr(0, colon);
      peer_port = std::stoi(peer.substr(colon + 1));
    } catch (const std::exception&) {
      throw ConfigError("--peer", "'" + peer + "' is not HOST:PORT");
    }
  }
  spdlog::info("calibrate: timing {} forward+backward, batch {}, backend {} ...", model, batch, backend);
  // One bench: timed quiet here, then again beside the kernel phase below, already warm.
  experiments::StepBench bench(model, backend, batch, threads, samples);
  const auto c = experiments::calibrate_compute(bench, model, backend, threads, seconds);
  spdlog::info("calibrate: {:.4g} ms per step, {:.4g} flop/s", c.step_s * 1e3, c.flops_per_s);
  if (!c.wait_s.empty())
    spdlog::info("calibrate: after a {:g} ms wait a step takes {:.4g} ms more, after {:g} ms {:.4g} ms more", c.wait_s.front() * 1e3,
                 c.wait_extra_s.front() * 1e3, c.wait_s.back() * 1e3, c.wait_extra_s.back() * 1e3);
  if (bytes == 0) bytes = cost_by_name(model).param_bytes;
  spdlog::info("calibrate: TCP to {}, {} round trips, {}-byte transfers ...", peer.empty() ? "loopback" : peer, round_trips, bytes);
  // 20 transfers: the best rate is the bandwidth, and the sender's window after each is a
  // sample of what TCP keeps in flight (it moves from one transfer to the next).
  // The step again, beside the kernel phase's transfers (only where both ends share this
  // machine's kernel does calibrate run that phase).
  const auto step = [&bench] { return bench.step(); };
  auto n = peer.empty() ? experiments::calibrate_loopback(bytes, round_trips, 20, step)
                              : experiments::calibrate_peer(peer_host, peer_port, bytes, round_trips, 20,
                                                            experiments::kDefaultPatience, step);
  spdlog::info("calibrate: latency {:.3g} us, bandwidth {:.4g} bytes/s, a message's first write() {:.3g} us",
               n.latency_s * 1e6, n.bandwidth_Bps,
               n.write_byte_s * static_cast<double>(std::min<std::uint64_t>(bytes, kSocketWriteChunk)) * 1e6);
  if (n.same_machine)
    spdlog::info("calibrate: both ends on this machine's kernel ({} cores): {:.3g} ns of kernel CPU per byte moved "
                 "(median of {} phases of {} messages each way; other work on the machine: {:.0f}% of the kernel time, {})",
                 n.cores, n.kernel_byte_s * 1e9, n.kernel_phases_s.size(), n.kernel_messages, 100 * n.kernel_background,
                 n.kernel_background > experiments::kBusyKernelShare
                     ? "too much to take off: an upper bound; calibrate on a quiet machine for a sure figure"
                     : "taken off");
  if (n.same_machine) {
    const auto wake = experiments::probe_wake_on_busy_core();
    n.wake_on_busy_core = wake.fraction;
    n.wake_probes = wake.wakeups;
    n.wake_busy_s = wake.busy_s;
    if (wake.wakeups > 0)
      spdlog::info("calibrate: a thread woken by a core busy for {:g} ms more waited for that core in {:.0f}% of {} wake-ups",
                   wake.busy_s * 1e3, 100 * wake.fraction, wake.wakeups);
  }
  if (const auto q = experiments::beside_kernel_quantiles(n.beside_steps_s, c.step_s); !q.empty())
    spdlog::info("calibrate: beside a transfer, {} steps: extra time over the quiet step at the median {:.3g}x its mean, "
                 "at the 95th percentile {:.3g}x",
                 n.beside_steps_s.size(), q[q.size() / 2], q[q.size() * 19 / 20]);
  spdlog::info("calibrate: timing the executor's software on {} ({} runs each, at least) ...", model, repeats);
  const auto sw = experiments::calibrate_software(model, repeats, 0.2);
  spdlog::info("calibrate: update {:.4g} us ({}), {:.4g} us per push folded in; a {}-byte message: {:.4g} us to encode, {:.4g} us to "
               "receive",
               sw.costs.apply_adam * static_cast<double>(sw.params) * 1e6, "adam",
               sw.costs.aggregate * static_cast<double>(sw.params) * 1e6, sw.params * 4,
               (sw.costs.send_message + sw.costs.send_byte * static_cast<double>(sw.params * 4)) * 1e6,
               (sw.costs.receive_message + sw.costs.receive_byte * static_cast<double>(sw.params * 4)) * 1e6);
  const auto yaml = experiments::calibration_yaml(c, n, sw);
  if (out.empty()) {
    std::cout << yaml;
  } else {
    if (const auto parent = std::filesystem::path(out).parent_path(); !parent.empty())
      std::filesystem::create_directories(parent);
    write_file_atomic(out, yaml);
    std::cout << out << "\n";
  }
  return 0;
}

}  // namespace synclab::app
