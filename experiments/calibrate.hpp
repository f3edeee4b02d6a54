#pragma once
// `synclab calibrate`: measures this machine (compute speed of a model's training step on
// a backend, loopback TCP latency and bandwidth) and writes a platform fragment the
// simulator accepts: cluster.gpu {flops, efficiency} and cluster.link {bandwidth, latency}.
#include <cstddef>
#include <string>

namespace synclab::experiments {

struct ComputeCalibration {
  std::string model;            ///< model name (trainable: softmax | mlp | cnn)
  std::string backend;          ///< reference | fast | cuda
  std::size_t batch = 0;
  int threads = 1;
  std::size_t steps = 0;        ///< timed forward+backward steps
  double step_s = 0;            ///< median seconds per step
  double step_flops = 0;        ///< cost model FLOPs of one step (forward + backward)
  double flops_per_s = 0;       ///< step_flops / step_s: the achieved rate
};

struct NetworkCalibration {
  double latency_s = 0;         ///< half the median round trip of 1-byte messages
  double bandwidth_Bps = 0;     ///< best one-way rate of message_bytes transfers, bytes/s
  std::size_t message_bytes = 0;
  std::size_t round_trips = 0;
  std::string peer;             ///< "host:port" measured against; empty = loopback
};

/// Times forward+backward of model on a synthetic batch (after warm-up) until min_seconds
/// have passed (at least 3 steps). Throws Error for an unknown model or backend.
ComputeCalibration calibrate_compute(const std::string& model, const std::string& backend, std::size_t batch,
                                     int threads, double min_seconds);

/// Ping-pong between two threads over a loopback TCP connection: round_trips 1-byte
/// exchanges for latency, then `repeats` transfers of message_bytes for bandwidth.
NetworkCalibration calibrate_loopback(std::size_t message_bytes, std::size_t round_trips, int repeats);

/// The same measurement against `synclab calibrate --serve PORT` running on host.
/// Throws Error naming host:port when it cannot connect or the peer breaks off.
NetworkCalibration calibrate_peer(const std::string& host, int port, std::size_t message_bytes,
                                  std::size_t round_trips, int repeats);

/// Serves measurements on port (all interfaces), one client at a time; returns after
/// `clients` clients (0 = forever). on_ready is called with the bound port.
void serve_calibration(int port, int clients, void (*on_ready)(int port));

/// The YAML fragment (with comments saying what was measured and how to use it).
std::string calibration_yaml(const ComputeCalibration& c, const NetworkCalibration& n);

}  // namespace synclab::experiments
