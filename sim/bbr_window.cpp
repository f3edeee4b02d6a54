#include "sim/bbr_window.hpp"

#include <algorithm>
#include <cmath>

namespace synclab::sim {
namespace {

// tcp_bbr.c's constants.
constexpr double kHighGain = 2.885;       // startup: 2/ln(2)
constexpr double kCwndGain = 2.0;         // after startup
constexpr double kPacingMargin = 0.99;    // paces about 1% below the estimate
constexpr std::uint64_t kBwRounds = 10;   // the bandwidth filter's window
constexpr int kExtraAckedRounds = 5;      // each of the two aggregation windows
constexpr double kExtraAckedMax = 0.1;    // s of bandwidth the aggregation term may reach
constexpr double kFullBwGrowth = 1.25;    // startup ends when a round grows less than this
constexpr int kFullBwRounds = 3;          // ... three times
constexpr std::uint64_t kInitialSegments = 10;  // TCP_INIT_CWND
constexpr double kNominalRtt = 1e-3;      // s: the round trip assumed before any sample
constexpr std::uint64_t kMinSegments = 4;       // bbr_cwnd_min_target
constexpr double kPacingShift = 1024.0;   // sk_pacing_shift 10: a TSO burst is ~1 ms of pacing
constexpr double kGsoHeaderRoom = 1 + 320;  // sk_gso_max_size: the device's GSO size - 1 - MAX_TCP_HEADER
constexpr double kLegacyGsoMax = 65536;     // GSO_LEGACY_MAX_SIZE: bbr_tso_segs_goal's cap
constexpr double kMinTsoRate = 1.2e6 / 8;  // bbr_min_tso_rate: below it, bursts of one segment
constexpr std::uint64_t kMaxTsoSegments = 127;
constexpr int kCycleLength = 8;
constexpr double kCycleGain[kCycleLength] = {1.25, 0.75, 1, 1, 1, 1, 1, 1};

}  // namespace

BbrWindow::BbrWindow(std::uint64_t mss, unsigned cycle_draw, double base_rtt, std::uint64_t gso_max_size)
    : mss_(std::max<std::uint64_t>(mss, 1)),
      tso_max_bytes_(std::max(static_cast<double>(mss_), static_cast<double>(gso_max_size) - kGsoHeaderRoom)),
      cwnd_(kInitialSegments * mss_),
      // bbr_init_pacing_rate_from_rtt: 2.885 x 10 segments per handshake round trip (1 ms
      // without one). On a LAN that is hundreds of MB/s, so bursts start at their cap and,
      // as startup only ever raises it, the sender keeps far more than two bursts in its
      // host's queues until startup ends (TCP small queues allow 1 ms of it).
      pacing_rate_(kHighGain * kPacingMargin * static_cast<double>(kInitialSegments * mss_) /
                   (base_rtt > 0 ? base_rtt : kNominalRtt)),
      cycle_draw_(cycle_draw % (kCycleLength - 1)) {
  if (base_rtt > 0) min_rtt_ = base_rtt;
}

double BbrWindow::pacing_gain() const {
  switch (mode_) {
    case Mode::Startup: return kHighGain;
    case Mode::Drain: return 1 / kHighGain;
    case Mode::ProbeBw: return kCycleGain[cycle_index_];
  }
  return 1;
}

double BbrWindow::inflight(double gain, double extra) const {
  const double bdp = std::isfinite(min_rtt_) ? std::ceil(bandwidth() * min_rtt_ * gain) : double(kInitialSegments * mss_);
  const double bytes = bdp + extra + static_cast<double>(3 * budget_burst());
  auto segments = static_cast<std::uint64_t>(std::ceil(bytes / static_cast<double>(mss_)));
  segments += segments % 2;  // even, against delayed ACKs
  if (mode_ == Mode::ProbeBw && kCycleGain[cycle_index_] > 1) segments += 2;
  return static_cast<double>(segments * mss_);
}

void BbrWindow::enter_probe_bw(double now) {
  // BBR starts the cycle anywhere but in the draining phase.
  mode_ = Mode::ProbeBw;
  cycle_index_ = (kCycleLength - cycle_draw_) % kCycleLength;
  cycle_stamp_ = now;
}

double BbrWindow::bandwidth() const { return bw_.empty() ? 0.0 : bw_.front().bw; }

std::uint64_t BbrWindow::aggregation() const {
  if (!full_bw_reached_) return 0;
  const double extra = static_cast<double>(std::max(extra_acked_[0], extra_acked_[1]));
  return static_cast<std::uint64_t>(std::min(extra, bandwidth() * kExtraAckedMax));
}

std::uint64_t BbrWindow::burst_of_at_most(double max_bytes) const {
  const double bytes = std::min(pacing_rate_ / kPacingShift, max_bytes);
  const std::uint64_t min_segments = pacing_rate_ < kMinTsoRate ? 1 : 2;
  const auto segments = std::clamp<std::uint64_t>(static_cast<std::uint64_t>(bytes) / mss_, min_segments, kMaxTsoSegments);
  return segments * mss_;
}

std::uint64_t BbrWindow::tso_burst() const { return burst_of_at_most(tso_max_bytes_); }

// The window keeps room for bursts of up to 64 KB even where the interface sends smaller
// ones (GSO_LEGACY_MAX_SIZE in bbr_tso_segs_goal): a testbed that caps GSO packets at 8 KB
// still runs windows of 200 KB and more (docs/fidelity.md, "Linux's budget of bursts, kept").
std::uint64_t BbrWindow::budget_burst() const { return burst_of_at_most(kLegacyGsoMax - kGsoHeaderRoom); }

std::uint64_t BbrWindow::small_queue_limit() const {
  // Linux counts an skb's truesize (payload and overhead) against the limit; the payload
  // alone is counted here, so the limit is the physical one to within that overhead.
  return std::max<std::uint64_t>(2 * tso_burst(), static_cast<std::uint64_t>(pacing_rate_ / kPacingShift));
}

BbrSent BbrWindow::sent(double now, std::uint64_t in_flight) {
  // Nothing in flight: the next sample's intervals start here, not at an ACK long ago.
  if (in_flight == 0) first_tx_time_ = delivered_time_ = now;
  return BbrSent{now, delivered_, delivered_time_, first_tx_time_, app_limited_until_ > 0};
}

void BbrWindow::out_of_data(std::uint64_t in_flight) { app_limited_until_ = std::max<std::uint64_t>(delivered_ + in_flight, 1); }

void BbrWindow::acked(double now, std::uint64_t bytes, const BbrSent& newest, std::uint64_t prior_in_flight) {
  delivered_ += bytes;
  if (app_limited_until_ > 0 && delivered_ > app_limited_until_) app_limited_until_ = 0;

  // The delivery-rate sample (tcp_rate_gen): over the longer of the send and ACK
  // intervals, so ACKs that arrive in a burst do not read as a faster link.
  const double send_elapsed = newest.time - newest.first_tx_time;
  const double ack_elapsed = now - newest.delivered_time;
  first_tx_time_ = newest.time;
  delivered_time_ = now;
  const double rtt = now - newest.time;
  min_rtt_ = std::min(min_rtt_, rtt);
  const double interval = std::max(send_elapsed, ack_elapsed);
  if (interval > 0 && interval >= min_rtt_) {
    bool round_start = false;
    if (newest.delivered >= next_round_delivered_) {
      next_round_delivered_ = delivered_;
      ++round_;
      round_start = true;
    }
    const double bw = static_cast<double>(delivered_ - newest.delivered) / interval;
    if (!newest.app_limited || bw >= bandwidth()) {
      while (!bw_.empty() && bw_.back().bw <= bw) bw_.pop_back();
      bw_.push_back(BwSample{round_, bw});
    }
    while (!bw_.empty() && bw_.front().round + kBwRounds <= round_) bw_.pop_front();

    // ACK aggregation (bbr_update_ack_aggregation): bytes acknowledged since the ACK rate
    // last fell below the estimate, beyond what the estimate explains.
    if (round_start && ++extra_acked_rounds_ >= kExtraAckedRounds) {
      extra_acked_rounds_ = 0;
      extra_acked_index_ ^= 1;
      extra_acked_[extra_acked_index_] = 0;
    }
    double expected = bandwidth() * (now - ack_epoch_time_);
    if (static_cast<double>(ack_epoch_acked_) <= expected) {
      ack_epoch_acked_ = 0;
      ack_epoch_time_ = now;
      expected = 0;
    }
    ack_epoch_acked_ += bytes;
    const double extra = std::min(static_cast<double>(ack_epoch_acked_) - expected, static_cast<double>(cwnd_));
    extra_acked_[extra_acked_index_] = std::max(extra_acked_[extra_acked_index_], static_cast<std::uint64_t>(extra));

    // The gain cycle (bbr_update_cycle_phase): a phase lasts a min RTT; probing lasts until
    // the flight reaches 1.25 BDP, draining ends early once it is down to one.
    if (mode_ == Mode::ProbeBw) {
      const bool full_length = now - cycle_stamp_ > min_rtt_;
      const double gain = kCycleGain[cycle_index_];
      const auto prior = static_cast<double>(prior_in_flight);
      const bool next = gain == 1 ? full_length
                        : gain > 1 ? full_length && prior >= inflight(gain)
                                   : full_length || prior <= inflight(1);
      if (next) {
        cycle_index_ = (cycle_index_ + 1) % kCycleLength;
        cycle_stamp_ = now;
      }
    }

    if (!full_bw_reached_ && round_start && !newest.app_limited) {
      if (bandwidth() >= full_bw_ * kFullBwGrowth) {
        full_bw_ = bandwidth();
        full_bw_count_ = 0;
      } else if (++full_bw_count_ >= kFullBwRounds) {
        full_bw_reached_ = true;
      }
    }
  }
  // Startup ends in drain, which ends once the flight is down to one BDP (bbr_check_drain).
  if (mode_ == Mode::Startup && full_bw_reached_) mode_ = Mode::Drain;
  if (mode_ == Mode::Drain && static_cast<double>(prior_in_flight - std::min(bytes, prior_in_flight)) <= inflight(1))
    enter_probe_bw(now);

  const double paced = bandwidth() * pacing_gain() * kPacingMargin;
  if (bandwidth() > 0 && (full_bw_reached_ || paced > pacing_rate_)) pacing_rate_ = paced;

  // The window (bbr_set_cwnd): toward 2 BDP + aggregation + three TSO bursts.
  if (bytes == 0) return;
  const double gain = mode_ == Mode::ProbeBw ? kCwndGain : kHighGain;
  const auto target_bytes = static_cast<std::uint64_t>(inflight(gain, static_cast<double>(aggregation())));
  if (full_bw_reached_) cwnd_ = std::min(cwnd_ + bytes, target_bytes);
  else if (cwnd_ < target_bytes || delivered_ < kInitialSegments * mss_) cwnd_ += bytes;
  cwnd_ = std::max(cwnd_, kMinSegments * mss_);
}

}  // namespace synclab::sim
