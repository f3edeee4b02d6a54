#!/usr/bin/env python3
"""How the parameter server's NIC carried a run, real or simulated, in the same figures.

    experiments/fidelity/linkstate.py ps.pcap --rate BYTES_PER_S [--skip S]
    experiments/fidelity/linkstate.py RUN_DIR [--rate BYTES_PER_S] [--skip S]

ps.pcap: a capture on the PS host's interface during a real run (`tcpdump -i eth0 -s 96 -w
ps.pcap tcp` in the PS's namespace: replies as they leave its shaper, pushes as they arrive
through the switch port's). Messages are found by the synclab frame header each one starts
with, so the capture must keep 20 payload bytes of a packet (-s 96 does). RUN_DIR: a
simulated run made with `sim.trace: on` and `sim.network: packet` (trace/messages.csv and
trace/packets.csv); its rate is the PS link's bandwidth in config.yaml unless --rate says.
--skip: seconds left out at the start (connections and the first message; default 0.5).

Per direction (pushes into the PS, replies out of it): the share of time the link carried
data; its idle spells over 0.5 ms, split into those with no message of that direction on
the link (the link waited for the application) and those with one (TCP held it back);
how long the link carried 0, 1, 2 or 3 and more messages at once; a message's time on the
link (its first packet to its last) against its bytes' time alone at the rate. Replies
written together (first packets within one message time of each other, as a bsp round's):
how far apart they started and ended, 0 for together, 1 for one after another; how far the
first of them got before the second started, its share while both were on, and how often
the first goes to another worker than the set before's. Then the
turnarounds at either end, as the PS's NIC sees them: the PS's, from a push's last packet
to the first packet of the next reply to that worker; a worker's, from its reply's last
packet to the first packet of its next push (its step and both NICs' transit included). Only model-sized messages count (at least half the largest one each way).
docs/fidelity.md uses these figures. Standard library only.
"""
import argparse
import bisect
import collections
import csv
import os
import re
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ack_stalls import read  # noqa: E402  (the capture reader of the sibling tool)

FRAME_MAGIC = b'SYNL'  # a frame's first bytes on the wire, real/protocol/frame.hpp
FRAME_HEADER = 20
IDLE = 0.0005
PLURAL = {'push': 'pushes', 'reply': 'replies'}


def pct(values, q):
    return values[min(len(values) - 1, int(q * len(values)))]


def capture_traffic(path):
    """Data packets (time, direction, peer, wire bytes) and messages (direction, peer, bytes,
    first packet's time, last packet's time, first packet's wire bytes) at the PS's NIC,
    from a capture taken there. A packet's time is when it left (or reached) the NIC."""
    packets = read(path)
    # The PS is the host that accepted connections (sent SYN-ACKs); else the busiest sender.
    synack = collections.Counter(p[1] for p in packets if p[8] & 0x12 == 0x12)
    ps = (synack or collections.Counter(p[1] for p in packets)).most_common(1)[0][0]
    base = {}
    for p in packets:
        if p[8] & 0x02:
            base[p[1:5]] = (p[5] + 1) & 0xffffffff  # the first data byte follows the SYN
    streams = collections.defaultdict(list)
    data = []
    for p in packets:
        if p[7] <= 0 or ps not in (p[1], p[2]):
            continue
        direction = 'push' if p[2] == ps else 'reply'
        peer = p[1] if direction == 'push' else p[2]
        data.append((p[0], direction, peer, p[9]))
        streams[p[1:5]].append(p)
    messages = []
    for key, stream in streams.items():
        start = base.get(key, min(p[5] for p in stream))
        chunks = sorted(((p[5] - start) & 0xffffffff, p[7], p[0], p[10], p[9]) for p in stream)
        offsets = [c[0] for c in chunks]
        starts = [c[0] for c in chunks if c[3].startswith(FRAME_MAGIC)]  # packets that begin a frame
        direction = 'push' if key[1] == ps else 'reply'
        peer = key[0] if direction == 'push' else key[1]
        pos = 0
        end_of_stream = max(c[0] + c[1] for c in chunks)
        while pos < end_of_stream:
            i = bisect.bisect_right(offsets, pos) - 1
            if i < 0:
                break
            off, n, t, payload, wire = chunks[i]
            head = payload[pos - off:pos - off + FRAME_HEADER]
            if len(head) == FRAME_HEADER and head.startswith(FRAME_MAGIC):
                size = FRAME_HEADER + struct.unpack('<I', head[8:12])[0]
            else:
                # A frame that starts past a packet's captured bytes (a small one written
                # behind another): go on at the next packet that starts with a frame.
                k = bisect.bisect_right(starts, pos)
                if k == len(starts):
                    break
                pos = starts[k]
                continue
            last_byte = pos + size - 1
            covering = [c for c in chunks[i:bisect.bisect_right(offsets, last_byte)] if c[0] + c[1] > pos]
            if last_byte >= end_of_stream or not covering:
                break  # the capture ended inside it
            first = min(covering, key=lambda c: c[2])
            messages.append((direction, peer, size, first[2], max(c[2] for c in covering), first[4]))
            pos += size
    return data, messages


def read_csv(path):
    with open(path, newline='') as f:
        return list(csv.DictReader(f))


def trace_traffic(run_dir):
    """The same from a simulated run's sim.trace files: a message spans its packets that left
    the NIC while it was moving (one message per worker and direction at a time)."""
    trace = os.path.join(run_dir, 'trace')
    for name in ('messages.csv', 'packets.csv'):
        if not os.path.isfile(os.path.join(trace, name)):
            sys.exit(f'{run_dir}: no trace/{name} (simulate with --set sim.trace=on --set sim.network=packet)')
    data = [(float(r['time_s']), r['direction'], r['peer'], int(r['bytes'])) for r in read_csv(os.path.join(trace, 'packets.csv'))]
    times, sizes = collections.defaultdict(list), collections.defaultdict(list)
    for t, d, peer, n in data:
        times[(d, peer)].append(t)
        sizes[(d, peer)].append(n)
    messages = []
    for r in read_csv(os.path.join(trace, 'messages.csv')):
        if r['status'] != 'done':
            continue
        key = (r['direction'], r['peer'])
        ts = times[key]
        lo = bisect.bisect_left(ts, float(r['start_s']))
        hi = bisect.bisect_right(ts, float(r['end_s']))
        if hi > lo:
            messages.append((key[0], key[1], int(r['bytes']), ts[lo], ts[hi - 1], sizes[key][lo]))
    return data, messages


def config_rate(run_dir):
    """The PS link's bandwidth (bytes/s) from the run's config.yaml: cluster.ps_link, else cluster.link."""
    with open(os.path.join(run_dir, 'config.yaml')) as f:
        text = f.read()
    for block in ('ps_link', 'link'):
        m = re.search(rf'^  {block}:\n    bandwidth: ([0-9.e+]+)', text, re.M)
        if m:
            return float(m.group(1))
    sys.exit(f'{run_dir}/config.yaml: no cluster.link bandwidth; give --rate')


def busy_spells(packets, rate):
    """The link's busy intervals: each packet occupies its bytes' time at the rate before it leaves."""
    spans = sorted((t - n / rate, t) for t, n in packets)
    merged = []
    for a, b in spans:
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    return merged


def together(replies, alone, packets):
    """Replies written together (a decision that answers several workers, as bsp's): each
    set starts with a reply and takes every later one whose first packet leaves within one
    message's time alone of it. Prints, over the sets of two or more, how far apart their
    first packets left (per reply) and how far apart they ended against one after another;
    then, for the set's first two replies, the first one's bytes out before the second's
    first packet, its share of their bytes while both are on, and how often the set's
    first reply goes to another worker than the previous set's."""
    if not replies or alone <= 0:
        return
    sets = []
    for first, last, peer in sorted((first, last, peer) for peer, first, last in replies):
        if sets and first - sets[-1][0][0] < alone:
            sets[-1].append((first, last, peer))
        else:
            sets.append([(first, last, peer)])
    multi = [s for s in sets if len(s) > 1]
    title = f'replies written together (first packets within one message time, {1e3 * alone:.1f} ms)'
    if not multi:
        print(f'{title}: none')
        return
    sizes = sorted(len(s) for s in multi)
    starts = sorted((s[-1][0] - s[0][0]) / (len(s) - 1) for s in multi)
    ends = sorted((max(l for _, l, _ in s) - min(l for _, l, _ in s)) / ((len(s) - 1) * alone) for s in multi)
    print(f'{title}: {len(multi)} of {len(sets)} sets, {pct(sizes, 0.5)} replies (median); first packets '
          f'{1e3 * pct(starts, 0.5):.2f} ms apart per reply; last packets spread {pct(ends, 0.5):.2f} of one after '
          f'another (median; 10th-90th percentile {pct(ends, 0.1):.2f}-{pct(ends, 0.9):.2f}; 0: they end together)')
    times = [p[0] for p in packets]
    ahead, share = [], []
    for (a0, a1, a), (b0, b1, b) in ((s[0], s[1]) for s in multi):
        lo, mid, hi = (bisect.bisect_left(times, a0), bisect.bisect_left(times, b0),
                       bisect.bisect_right(times, min(a1, b1)))
        ahead.append(sum(p[3] for p in packets[lo:mid] if p[2] == a))
        na = sum(p[3] for p in packets[mid:hi] if p[2] == a)
        nb = sum(p[3] for p in packets[mid:hi] if p[2] == b)
        if na + nb:
            share.append(na / (na + nb))
    ahead.sort()
    share.sort()
    # A first reply can end before the second's first packet (nothing shared): no share then.
    shared = f'{pct(share, 0.5):.2f}' if share else 'none'
    changes = sum(1 for s, t in zip(multi, multi[1:]) if s[0][2] != t[0][2])
    print(f'   the first two of a set: the first has {pct(ahead, 0.5) / 1e3:.1f} kB out before the second starts, then '
          f'{shared} of their bytes while both are on (medians); the first reply goes to another worker '
          f'than the set before in {changes} of {len(multi) - 1} sets')


def report(data, messages, rate, skip):
    if not data:
        sys.exit('no data packets')
    t0 = min(p[0] for p in data) + skip
    t1 = max(p[0] for p in data)
    if t1 <= t0:
        sys.exit(f'--skip {skip}: leaves nothing of a {t1 - t0 + skip:.3f} s trace')
    out = {}
    reply_alone = 0.0
    for direction, title in (('push', 'pushes (into the PS)'), ('reply', 'replies (out of the PS)')):
        msgs = [m for m in messages if m[0] == direction]
        if not msgs:
            continue
        big = max(m[2] for m in msgs)
        # A message is on the link from its first packet's start to its last packet.
        spans = [(a - first / rate, b, n) for _, _, n, a, b, first in msgs if n * 2 >= big and b > t0 and a < t1]
        spells = [[max(a, t0), min(b, t1)] for a, b in busy_spells([(t, n) for t, d, _, n in data if d == direction], rate)
                  if b > t0 and a < t1]
        span = t1 - t0
        busy = sum(b - a for a, b in spells)
        waiting = held = 0.0
        for (_, a), (b, _) in zip(spells, spells[1:]):
            if b - a <= IDLE:
                continue
            mid = (a + b) / 2
            if any(s <= mid < e for s, e, _ in spans):
                held += b - a
            else:
                waiting += b - a
        events = sorted([(max(s, t0), 1) for s, e, _ in spans] + [(min(e, t1), -1) for s, e, _ in spans])
        at_once = collections.Counter()
        level, last = 0, t0
        for t, step in events:
            at_once[min(level, 3)] += t - last
            level, last = level + step, t
        at_once[min(level, 3)] += t1 - last
        times = sorted(e - s for s, e, _ in spans)
        alone = sorted(n / rate for _, _, n in spans)
        print(f'{title}: link busy {100 * busy / span:.1f}% of {span:.2f} s; idle spells over {IDLE * 1e3:.1f} ms '
              f'{100 * (waiting + held) / span:.1f}% (no message on the link {100 * waiting / span:.1f}%, '
              f'a message held back {100 * held / span:.1f}%)')
        print('   messages at once (share of time): ' +
              '  '.join(f'{k if k < 3 else "3+"}: {100 * at_once[k] / span:.1f}%' for k in range(4)))
        print(f'   a message on the link: median {1e3 * pct(times, 0.5):.1f} ms (10th-90th percentile '
              f'{1e3 * pct(times, 0.1):.1f}-{1e3 * pct(times, 0.9):.1f}), alone {1e3 * pct(alone, 0.5):.1f} ms; '
              f'{len(times)} messages')
        out[direction] = [(m[1], m[3], m[4]) for m in msgs if m[2] * 2 >= big and m[4] > t0]
        if direction == 'reply':
            reply_alone = pct(alone, 0.5)
    together(out.get('reply', []), reply_alone, sorted(p for p in data if p[1] == 'reply'))
    for ends, starts, what in (('push', 'reply', "PS turnaround, a push's last packet to its reply's first"),
                               ('reply', 'push', "worker turnaround, a reply's last packet to the worker's next push's first")):
        firsts = collections.defaultdict(list)
        for peer, first, _ in out.get(starts, []):
            firsts[peer].append(first)
        for peer in firsts:
            firsts[peer].sort()
        turn = []
        for peer, _, last in out.get(ends, []):
            i = bisect.bisect_right(firsts.get(peer, []), last)
            if i < len(firsts.get(peer, [])):
                turn.append(firsts[peer][i] - last)
        if turn:
            turn.sort()
            print(f'{what}: median {1e3 * pct(turn, 0.5):.2f} ms, 90th percentile {1e3 * pct(turn, 0.9):.2f} ms, '
                  f'max {1e3 * turn[-1]:.2f} ms ({len(turn)} {PLURAL[ends]})')


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('source', help='a pcap taken on the PS host, or a simulated run directory made with sim.trace: on')
    ap.add_argument('--rate', type=float, help='the PS link in bytes/s (a capture needs it)')
    ap.add_argument('--skip', type=float, default=0.5, help='seconds left out at the start (default 0.5)')
    a = ap.parse_args()
    if a.rate is not None and not a.rate > 0:
        ap.error(f'--rate {a.rate}: must be positive (bytes/s)')
    if a.skip < 0:
        ap.error(f'--skip {a.skip}: must not be negative')
    if os.path.isdir(a.source):
        data, messages = trace_traffic(a.source)
        rate = a.rate or config_rate(a.source)
    elif os.path.isfile(a.source):
        if a.rate is None:
            ap.error('a capture needs --rate (the PS link in bytes/s)')
        data, messages = capture_traffic(a.source)
        rate = a.rate
    else:
        ap.error(f"'{a.source}': neither a capture file nor a run directory")
    report(data, messages, rate, a.skip)


if __name__ == '__main__':
    main()
