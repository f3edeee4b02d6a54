#include "sim/machine_cpu.hpp"

#include <algorithm>

#include <simgrid/s4u/Actor.hpp>
#include <simgrid/s4u/Host.hpp>

namespace sg = simgrid::s4u;

namespace synclab::sim {
namespace {

// Kernel work shares a core with a process's work in the ratio of their priorities: this
// one leaves the process a millionth of the core, the softirq's precedence over any task.
// Every piece of this priority gets the same bound (kernel_rate): SimGrid 3.32's solver
// aborted ("The Impossible Did Happen") when pieces of it with different bounds, or one
// without, shared a core.
constexpr double kKernelPriority = 1e6;

// An activity's s4u state says FINISHED only once its owner has waited for it (a transfer's
// kernel work is waited for when the transfer ends, an evaluation's later still), so work
// that started is asked what it has left.
bool running(const sg::ExecPtr& e) {
  switch (e->get_state()) {
    case sg::Activity::State::FINISHED:
    case sg::Activity::State::CANCELED:
    case sg::Activity::State::FAILED:
      return false;
    case sg::Activity::State::STARTED:
      return e->get_remaining() > 1e-9;
    default:
      return true;  // picked a core, not started yet
  }
}

}  // namespace

MachineCpu::MachineCpu(std::vector<sg::Host*> cores, double kernel_rate, std::uint64_t seed, double wake_on_busy)
    : cores_(std::move(cores)),
      kernel_rate_(kernel_rate),
      rng_(seed),
      work_(cores_.size()),
      open_(cores_.size()),
      wake_on_busy_(wake_on_busy) {}

std::size_t MachineCpu::least_busy(Pieces& pieces) const {
  // Asking a piece what it has left is a call into SimGrid, which may let the other actors
  // of this instant run and add pieces meanwhile: the lists are read from copies, and the
  // pieces found done are dropped after the last such call. The counting and the pick make
  // none, and the caller records its piece before it makes one.
  std::vector<const sg::Exec*> done;
  for (const auto& list : pieces) {
    const auto copy = list;
    for (const auto& e : copy)
      if (!running(e)) done.push_back(e.get());
  }
  for (auto& list : pieces)
    list.erase(std::remove_if(list.begin(), list.end(),
                              [&](const sg::ExecPtr& e) { return std::find(done.begin(), done.end(), e.get()) != done.end(); }),
               list.end());
  std::vector<std::size_t> counts;
  for (const auto& list : pieces) counts.push_back(list.size());
  return fewest(counts);
}

std::size_t MachineCpu::fewest(const std::vector<std::size_t>& counts) const {
  std::vector<std::size_t> best;
  std::size_t low = SIZE_MAX;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] < low) {
      low = counts[i];
      best.clear();
    }
    if (counts[i] == low) best.push_back(i);
  }
  return best.size() == 1 ? best[0] : best[rng_.below(best.size())];
}

void MachineCpu::spend(double seconds) const {
  if (seconds <= 0) return;
  if (!shared()) {
    sg::this_actor::sleep_for(seconds);
    return;
  }
  start(seconds)->wait();
}

void MachineCpu::woken_on(std::size_t core) const {
  if (!shared() || !(wake_on_busy_ > 0)) return;
  if (core < cores_.size())
    woken_[sg::this_actor::get_pid()] = core;
  else
    woken_.erase(sg::this_actor::get_pid());
}

double MachineCpu::backlog(std::size_t core) const {
  const auto copy = work_[core];  // get_remaining() may let other actors run and place pieces
  double left = 0;
  for (const auto& e : copy)
    if (running(e)) left += e->get_remaining();
  return left;
}

std::size_t MachineCpu::settle_wake() const {
  const auto it = woken_.find(sg::this_actor::get_pid());
  if (it == woken_.end()) return SIZE_MAX;
  const std::size_t core = it->second;
  woken_.erase(it);
  const double left = backlog(core);
  if (!(left > 1e-9)) return core;  // an idle waker's core: the thread runs there at once
  if (!(rng_.uniform() < wake_on_busy_)) return SIZE_MAX;  // the kernel found an idle core
  // The woken thread does not preempt the one running there: it waits for that work (the
  // work running there now, at a whole core: the kernel's pieces are what delay both).
  sg::this_actor::sleep_for(left);
  return core;
}

sg::ExecPtr MachineCpu::place(double seconds, Pieces& pieces) const {
  const std::size_t woken = settle_wake();
  sg::ExecPtr e = sg::this_actor::exec_init(seconds);
  const std::size_t core = woken != SIZE_MAX ? woken : least_busy(pieces);
  pieces[core].push_back(e);
  e->set_host(cores_[core]);
  return e;
}

sg::ExecPtr MachineCpu::start(double seconds) const {
  if (!shared() || seconds <= 0) return nullptr;
  sg::ExecPtr e = place(seconds, work_);
  e->start();
  return e;
}

std::size_t MachineCpu::open_kernel() const {
  if (!shared()) return 0;
  const std::size_t core = fewest(open_);
  ++open_[core];
  return core;
}

void MachineCpu::close_kernel(std::size_t core) const {
  if (core < open_.size() && open_[core] > 0) --open_[core];
}

sg::ExecPtr MachineCpu::start_kernel(double seconds, std::size_t core) const {
  if (!shared() || seconds <= 0) return nullptr;
  sg::ExecPtr e = sg::this_actor::exec_init(seconds);
  e->set_host(cores_[core]);
  e->set_priority(kKernelPriority);
  if (kernel_rate_ > 0 && kernel_rate_ < 1) e->set_bound(kernel_rate_);
  e->start();
  return e;
}

}  // namespace synclab::sim
