#!/usr/bin/env python3
"""The other bound: the fidelity job's throughput if the PS host's NIC served messages
first come, first served (one at a time, each at the full rate) instead of sharing its
bandwidth fairly among them, as the simulator's fluid model does. Real TCP flows through
one tbf queue behave in between; docs/fidelity.md compares the three.

Same job as job.yaml: W workers, one slowed by an exponential extra time per step, each
message = the model's bytes, a step's compute time `--compute` seconds.

  fifo_bound.py --bandwidth 1.214e8 [--bytes 318040] [--workers 3] [--compute 0.0004]
"""
import argparse
import heapq
import random


def async_fifo(T, c, noise, W, slow, updates, seed):
    """Updates/s of async: a push queues for the PS downlink, its reply for the uplink."""
    rng = random.Random(seed)
    step = lambda w: c + (rng.expovariate(1 / noise) if w == slow and noise > 0 else 0)
    down = up = 0.0
    events = [(step(w), "push", w) for w in range(W)]
    heapq.heapify(events)
    n = 0
    now = 0.0
    while n < updates:
        now, kind, w = heapq.heappop(events)
        if kind == "push":
            down = max(now, down) + T
            heapq.heappush(events, (down, "arrived", w))
        elif kind == "arrived":
            n += 1
            up = max(now, up) + T
            heapq.heappush(events, (up, "reply", w))
        else:
            heapq.heappush(events, (now + step(w), "push", w))
    return n / now


def bsp_fifo(T, c, noise, W, slow, rounds, seed):
    """Updates/s of bsp: pushes queue in arrival order; after the barrier the replies do."""
    rng = random.Random(seed)
    ready = [0.0] * W
    down = up = 0.0
    for _ in range(rounds):
        pushes = sorted((ready[w] + c + (rng.expovariate(1 / noise) if w == slow and noise > 0 else 0), w) for w in range(W))
        arrived = []
        for t, w in pushes:
            down = max(t, down) + T
            arrived.append((down, w))
        barrier = max(t for t, _ in arrived)
        for _, w in sorted(arrived):
            up = max(barrier, up) + T
            ready[w] = up
    return rounds / max(ready)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bandwidth", type=float, required=True, help="bytes/s of the PS NIC (the calibrated link)")
    p.add_argument("--bytes", type=float, default=318040, help="message bytes (the mlp's parameters)")
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--compute", type=float, default=0.0004, help="seconds of one step's math")
    p.add_argument("--noise", type=float, default=0.02, help="mean extra seconds per step of worker 1")
    p.add_argument("--updates", type=int, default=300)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    T = a.bytes / a.bandwidth
    print(f"fifo async: {async_fifo(T, a.compute, a.noise, a.workers, 1, a.updates, a.seed):.1f} updates/s")
    print(f"fifo bsp:   {bsp_fifo(T, a.compute, a.noise, a.workers, 1, a.updates, a.seed):.2f} updates/s")


if __name__ == "__main__":
    main()
