#include "sim/fair_share_link.hpp"

#include <algorithm>
#include <stdexcept>

namespace synclab::sim {
namespace {

// std heap algorithms build a max-heap: "less" is "finishes later" (ties: started later).
bool later(double fa, FairShareLink::FlowId ia, double fb, FairShareLink::FlowId ib) {
  return fa > fb || (fa == fb && ia > ib);
}

// Virtual bytes grow for as long as the link stays busy; past this many flow sizes they are
// shifted back to 0, so that a flow's size keeps ~1e-10 relative precision in the sum.
constexpr double kRebaseAfter = 1e6;

}  // namespace

FairShareLink::FairShareLink(double capacity, double flow_cap) : capacity_(capacity), cap_(flow_cap) {
  if (!(capacity > 0)) throw std::invalid_argument("FairShareLink: capacity must be positive");
}

double FairShareLink::rate() const {
  if (active_ == 0) return cap_ > 0 ? std::min(cap_, capacity_) : capacity_;
  const double share = capacity_ / static_cast<double>(active_);
  return cap_ > 0 ? std::min(cap_, share) : share;
}

void FairShareLink::advance(double now) {
  if (now < last_) throw std::logic_error("FairShareLink: time went backwards");
  if (active_ > 0) virtual_ += rate() * (now - last_);
  last_ = now;
}

FairShareLink::FlowId FairShareLink::add(double now, double bytes) {
  if (!(bytes >= 0)) throw std::invalid_argument("FairShareLink: negative flow size");
  advance(now);
  if (active_ == 0) {
    // An idle link starts a new epoch: nothing in the heap but removed leftovers.
    heap_.clear();
    removed_.clear();
    finish_of_.clear();
    virtual_ = 0;
    largest_ = 0;
  } else if (virtual_ > kRebaseAfter * largest_) {
    rebase();
  }
  largest_ = std::max(largest_, bytes);
  const FlowId id = next_id_++;
  heap_.push_back({virtual_ + bytes, id});
  finish_of_[id] = virtual_ + bytes;
  std::push_heap(heap_.begin(), heap_.end(), [](const Entry& a, const Entry& b) { return later(a.finish, a.id, b.finish, b.id); });
  ++active_;
  return id;
}

void FairShareLink::remove(double now, FlowId id) {
  advance(now);
  // Only flows still in the heap can be removed; the caller tracks which ones finished.
  removed_.insert(id);
  finish_of_.erase(id);
  --active_;
  drop_removed_top();
}

void FairShareLink::drop_removed_top() {
  auto cmp = [](const Entry& a, const Entry& b) { return later(a.finish, a.id, b.finish, b.id); };
  while (!heap_.empty()) {
    auto it = removed_.find(heap_.front().id);
    if (it == removed_.end()) return;
    removed_.erase(it);
    std::pop_heap(heap_.begin(), heap_.end(), cmp);
    heap_.pop_back();
  }
}

void FairShareLink::rebase() {
  // Shifting every key by the same amount keeps their order (rounding is monotone); ties
  // that the shift creates are settled by id, hence the rebuild.
  for (auto& e : heap_) {
    e.finish = std::max(0.0, e.finish - virtual_);
    if (const auto it = finish_of_.find(e.id); it != finish_of_.end()) it->second = e.finish;
  }
  virtual_ = 0;
  std::make_heap(heap_.begin(), heap_.end(), [](const Entry& a, const Entry& b) { return later(a.finish, a.id, b.finish, b.id); });
  drop_removed_top();  // the rebuild may have brought a removed flow to the top
}

double FairShareLink::remaining(double now, FlowId id) {
  advance(now);
  const auto it = finish_of_.find(id);
  return it == finish_of_.end() ? 0 : std::max(0.0, it->second - virtual_);
}

double FairShareLink::next_completion() const {
  if (active_ == 0) return std::numeric_limits<double>::infinity();
  const double left = std::max(0.0, heap_.front().finish - virtual_);
  return last_ + left / rate();
}

std::vector<FairShareLink::FlowId> FairShareLink::complete(double now, double tolerance) {
  advance(now);
  std::vector<FlowId> done;
  auto cmp = [](const Entry& a, const Entry& b) { return later(a.finish, a.id, b.finish, b.id); };
  while (active_ > 0) {
    const Entry& top = heap_.front();
    // Each completion speeds up the rest, but none of them moves a byte within this instant.
    if (top.finish - virtual_ > rate() * tolerance) break;
    done.push_back(top.id);
    finish_of_.erase(top.id);
    std::pop_heap(heap_.begin(), heap_.end(), cmp);
    heap_.pop_back();
    --active_;
    drop_removed_top();
  }
  return done;
}

}  // namespace synclab::sim
