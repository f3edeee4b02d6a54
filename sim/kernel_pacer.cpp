#include "sim/kernel_pacer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Engine.hpp>

namespace sg = simgrid::s4u;

namespace synclab::sim {

KernelPacer::KernelPacer(const MachineCpu& cpu, sg::Host* host, double tick, double link_rate)
    : cpu_(cpu), tick_(tick), link_rate_(link_rate), wake_(sg::Semaphore::create(0)) {
  if (!(tick > 0) || !(link_rate > 0)) throw std::invalid_argument("KernelPacer: tick and link rate must be positive");
  if (cpu_.shared()) sg::Actor::create("kernel", host, [this] { run(); })->daemonize();
}

KernelPacer::SharePtr KernelPacer::follow(TransferPtr transfer, std::uint64_t bytes, double seconds) {
  if (!cpu_.shared() || !(seconds > 0) || bytes == 0) return nullptr;
  auto share = std::make_shared<Share>();
  share->transfer = std::move(transfer);
  share->bytes = bytes;
  share->per_byte = seconds / static_cast<double>(bytes);
  share->core = cpu_.open_kernel();
  share->next = sg::Engine::get_clock() + tick_;
  shares_.push_back(share);
  if (!poked_) {
    poked_ = true;
    wake_->release();
  }
  charge(*share, static_cast<std::uint64_t>(std::min(static_cast<double>(bytes), link_rate_ * tick_)));
  return share;
}

void KernelPacer::charge(Share& share, std::uint64_t upto) {
  if (upto <= share.charged) return;
  const double seconds = share.per_byte * static_cast<double>(upto - share.charged);
  share.charged = upto;
  if (sg::ExecPtr piece = cpu_.start_kernel(seconds, share.core)) share.pieces.push_back(std::move(piece));
}

void KernelPacer::run() {
  for (;;) {
    double next = std::numeric_limits<double>::infinity();
    for (const SharePtr& s : shares_) next = std::min(next, s->next);
    poked_ = false;
    if (std::isinf(next)) {
      wake_->acquire();
      continue;
    }
    const double now = sg::Engine::get_clock();
    if (next > now) {
      wake_->acquire_timeout(next - now);
      continue;  // woken early by a new transfer, or on time: look again
    }
    // Calls into SimGrid may let other actors of this instant follow or finish transfers:
    // walk a copy, and drop the closed ones afterwards.
    const std::vector<SharePtr> due = shares_;
    for (const SharePtr& s : due) {
      if (s->closed || s->next > now) continue;
      s->next += tick_;
      const std::uint64_t seen = std::min(s->bytes, s->transfer->delivered());
      const std::uint64_t ahead = seen + (seen - std::min(seen, s->seen));  // the next tick's, at the last one's rate
      s->seen = seen;
      charge(*s, std::min(s->bytes, ahead));
    }
    shares_.erase(std::remove_if(shares_.begin(), shares_.end(), [](const SharePtr& s) { return s->closed; }),
                  shares_.end());
  }
}

void KernelPacer::finish(SharePtr& share) {
  if (!share) return;
  share->closed = true;
  cpu_.close_kernel(share->core);
  charge(*share, share->bytes);
  // A wait lets other actors run: the pacer may add a piece it was starting meanwhile.
  while (!share->pieces.empty()) {
    sg::ExecPtr piece = std::move(share->pieces.back());
    share->pieces.pop_back();
    piece->wait();
  }
  share = nullptr;
}

void KernelPacer::cancel(const SharePtr& share) {
  if (!share) return;
  if (!share->closed) cpu_.close_kernel(share->core);
  share->closed = true;
  while (!share->pieces.empty()) {
    sg::ExecPtr piece = std::move(share->pieces.back());
    share->pieces.pop_back();
    piece->cancel();
  }
}

}  // namespace synclab::sim
