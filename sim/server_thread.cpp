#include "sim/server_thread.hpp"

#include <exception>
#include <utility>

#include <simgrid/s4u/Actor.hpp>

namespace sg = simgrid::s4u;

namespace synclab::sim {

ServerThread::ServerThread(sg::Host* host, const MachineCpu& cpu, std::string name,
                           std::function<void(const std::string&)> on_error)
    : host_(host), cpu_(cpu), name_(std::move(name)), on_error_(std::move(on_error)), ready_(sg::Semaphore::create(0)) {}

void ServerThread::submit(double before, Work work, std::size_t woken_on) {
  if (!idle()) woken_on = SIZE_MAX;  // a busy thread takes it up without a wake-up
  if (idle() && before <= 0) {
    // Nothing to wait for: decide now, in the caller, so that free events keep the event
    // order (and the results) of a run without software costs.
    Outcome out = work();
    if (out.seconds <= 0) {
      // The writes after the effect make the thread busy before the effect runs: its
      // simcalls let other actors submit, and those must queue behind them.
      if (out.after > 0) enqueue(Item{0, {}, Outcome{0, {}, out.after}});
      if (out.effect) out.effect();
      return;
    }
    enqueue(Item{0, {}, std::move(out), woken_on});
    return;
  }
  enqueue(Item{before, std::move(work), std::nullopt, woken_on});
}

void ServerThread::enqueue(Item item) {
  items_.push_back(std::move(item));
  if (!started_) {
    started_ = true;
    sg::Actor::create(name_, host_, [this] {
      // A daemon: when only it is left, blocked on an empty queue, the run is over (or deadlocked).
      sg::Actor::self()->daemonize();
      serve();
    });
  }
  ready_->release();
}

void ServerThread::serve() {
  for (;;) {
    ready_->acquire();
    Item item = std::move(items_.front());
    items_.pop_front();
    running_ = true;
    try {
      if (item.woken_on != SIZE_MAX) cpu_.woken_on(item.woken_on);
      if (!item.decided) {
        cpu_.spend(item.before);
        item.decided = item.work();
      }
      cpu_.spend(item.decided->seconds);
      if (item.decided->effect) item.decided->effect();
      // The writes last as calibrate timed them, the kernel's work inside them included
      // (kernel_byte charges that CPU with the transfer's): not slowed down a second time
      // by the kernel work of the replies they start.
      if (item.decided->after > 0) sg::this_actor::sleep_for(item.decided->after);
      cpu_.woken_on(SIZE_MAX);  // an event that cost nothing leaves no wake-up to the next
    } catch (const std::exception& e) {
      // SimGrid's kill is no std::exception and passes through.
      on_error_(e.what());
    }
    running_ = false;
  }
}

}  // namespace synclab::sim
