#include "sim/kernel_pacer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Engine.hpp>

namespace sg = simgrid::s4u;

namespace synclab::sim {
namespace {

// Takes each of the share's pieces off it, the newest first, and hands it to `act`, until
// none is left (`act` may let the pacer add one).
template <class Act>
void for_each_piece(KernelPacer::Share& share, Act act) {
  while (!share.pieces.empty()) {
    sg::ExecPtr piece = std::move(share.pieces.back());
    share.pieces.pop_back();
    act(*piece);
  }
}

}  // namespace

KernelPacer::KernelPacer(const MachineCpu& cpu, sg::Host* host, std::uint64_t chunk, double link_rate)
    : cpu_(cpu), chunk_(chunk), tick_(static_cast<double>(chunk) / link_rate), wake_(sg::Semaphore::create(0)) {
  if (chunk == 0 || !(link_rate > 0)) throw std::invalid_argument("KernelPacer: chunk and link rate must be positive");
  if (cpu_.shared()) sg::Actor::create("kernel", host, [this] { run(); })->daemonize();
}

KernelPacer::SharePtr KernelPacer::follow(TransferPtr transfer, std::uint64_t bytes, double seconds) {
  if (!cpu_.shared() || !(seconds > 0) || bytes == 0) return nullptr;
  auto share = std::make_shared<Share>();
  share->transfer = std::move(transfer);
  share->bytes = bytes;
  share->chunk = std::max(chunk_, (bytes + kMaxPieces - 1) / kMaxPieces);
  share->per_byte = seconds / static_cast<double>(bytes);
  share->core = cpu_.open_kernel();
  shares_.push_back(share);
  if (shares_.size() == 1 && !poked_) {  // the pacer idles: wake it
    poked_ = true;
    wake_->release();
  }
  charge(*share, std::min(bytes, share->chunk));
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
    poked_ = false;
    if (shares_.empty()) {
      wake_->acquire();
      continue;
    }
    sg::this_actor::sleep_for(tick_);
    // Calls into SimGrid may let other actors of this instant follow or finish transfers:
    // walk a copy, and drop the closed ones afterwards.
    const std::vector<SharePtr> due = shares_;
    for (const SharePtr& s : due) {
      if (s->closed) continue;
      const std::uint64_t seen = std::min(s->bytes, s->transfer->delivered());
      const std::uint64_t tick_bytes = seen - std::min(seen, s->seen);  // over the last tick
      s->seen = seen;
      // Charged up to what the next tick will likely bring: nothing to do. Else the work
      // of that and a chunk at least, so that a slow transfer goes out in whole chunks.
      if (s->charged >= std::min(s->bytes, seen + tick_bytes)) continue;
      charge(*s, std::min(s->bytes, seen + std::max(tick_bytes, s->chunk)));
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
  for_each_piece(*share, [](sg::Exec& piece) { piece.wait(); });
  share = nullptr;
}

void KernelPacer::cancel(const SharePtr& share) {
  if (!share) return;
  if (!share->closed) cpu_.close_kernel(share->core);
  share->closed = true;
  for_each_piece(*share, [](sg::Exec& piece) { piece.cancel(); });
}

}  // namespace synclab::sim
