#include <algorithm>
#include <chrono>
#include <ctime>
#include <thread>
#include <vector>

#include <asio.hpp>
#include <fmt/format.h>

#include "core/common/error.hpp"
#include "experiments/calibrate.hpp"

namespace synclab::experiments {
namespace {
using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

}  // namespace

NetworkCalibration calibrate_loopback(std::size_t message_bytes, std::size_t round_trips, int repeats) {
  if (message_bytes == 0 || round_trips == 0 || repeats <= 0) throw Error("calibrate: network sizes must be positive");
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  const auto endpoint = acceptor.local_endpoint();
  // The peer echoes each 1-byte ping, then acknowledges each bulk message with one byte
  // once it has all of it, so the sender's clock covers the whole transfer.
  std::exception_ptr peer_error;
  std::thread peer([&] {
    try {
      tcp::socket s(io);
      acceptor.accept(s);
      s.set_option(tcp::no_delay(true));
      char b = 0;
      for (std::size_t i = 0; i < round_trips; ++i) {
        asio::read(s, asio::buffer(&b, 1));
        asio::write(s, asio::buffer(&b, 1));
      }
      std::vector<char> buf(message_bytes);
      for (int r = 0; r < repeats; ++r) {
        asio::read(s, asio::buffer(buf));
        asio::write(s, asio::buffer(&b, 1));
      }
    } catch (...) {
      peer_error = std::current_exception();
    }
  });
  NetworkCalibration out;
  out.message_bytes = message_bytes;
  out.round_trips = round_trips;
  try {
    tcp::socket s(io);
    s.connect(endpoint);
    s.set_option(tcp::no_delay(true));
    char b = 1;
    std::vector<double> rtt;
    rtt.reserve(round_trips);
    for (std::size_t i = 0; i < round_trips; ++i) {
      const auto t0 = Clock::now();
      asio::write(s, asio::buffer(&b, 1));
      asio::read(s, asio::buffer(&b, 1));
      rtt.push_back(seconds_since(t0));
    }
    out.latency_s = median(rtt) / 2;
    std::vector<char> buf(message_bytes, 'x');
    double best = 0;
    for (int r = 0; r < repeats; ++r) {
      const auto t0 = Clock::now();
      asio::write(s, asio::buffer(buf));
      asio::read(s, asio::buffer(&b, 1));
      // The acknowledgement's return trip is latency, not bandwidth.
      const double t = std::max(1e-9, seconds_since(t0) - out.latency_s);
      best = std::max(best, static_cast<double>(message_bytes) / t);
    }
    out.bandwidth_Bps = best;
  } catch (const std::exception& e) {
    acceptor.close();
    peer.join();
    throw Error(std::string("calibrate: loopback TCP test failed: ") + e.what());
  }
  peer.join();
  if (peer_error) std::rethrow_exception(peer_error);
  return out;
}

std::string calibration_yaml(const ComputeCalibration& c, const NetworkCalibration& n) {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char when[32];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tm);
  std::string y;
  y += fmt::format("# Platform profile measured by `synclab calibrate` on {}.\n", when);
  y += fmt::format("# compute: model {}, batch {}, backend {}, {} thread(s): {:.4g} ms per forward+backward step\n",
                   c.model, c.batch, c.backend, c.threads, c.step_s * 1e3);
  y += fmt::format("#   (median of {} steps) = {:.4g} FLOP per step / step time = {:.4g} flop/s achieved.\n", c.steps,
                   c.step_flops, c.flops_per_s);
  y += "#   flops is that achieved rate, so efficiency is 1.\n";
  y += fmt::format("# network: loopback TCP, latency = half the median round trip of {} 1-byte messages;\n", n.round_trips);
  y += fmt::format("#   bandwidth = best rate of {} byte transfers.\n", n.message_bytes);
  y += "# Use: `merge: [this file]` in a sweep, paste into a run config, or pass as\n";
  y += fmt::format("#   --set cluster.gpu.flops={:.6g} --set cluster.gpu.efficiency=1 --set cluster.link.bandwidth={:.6g} "
                   "--set cluster.link.latency={:.6g}\n",
                   c.flops_per_s, n.bandwidth_Bps, n.latency_s);
  y += "cluster:\n";
  y += fmt::format("  gpu: {{flops: {:.6g}, efficiency: 1.0}}\n", c.flops_per_s);
  y += fmt::format("  link: {{bandwidth: {:.6g}, latency: {:.6g}}}\n", n.bandwidth_Bps, n.latency_s);
  return y;
}

}  // namespace synclab::experiments
