#!/usr/bin/env python3
"""How TCP flows shared the PS's NIC in a real run, from a packet capture taken on it.

    ip netns exec <testbed>-h0 tcpdump -i eth0 -s 96 -w ps.pcap tcp &   # during a launch
    experiments/fidelity/ack_stalls.py ps.pcap

The capture sees packets as they leave the NIC's tbf (egress: replies, and the PS's ACKs
for pushes) and as they arrive through the switch port's tbf (ingress: pushes). Prints,
per direction: bytes and rate, the idle time (gaps over 2 ms between data packets), and
the stalls inside a transfer (1-20 ms gaps in one flow) that happened while the flow's own
direction was idle and the other busy (a window waiting for ACKs queued behind the other
direction's data); and how long the PS's ACKs for pushes waited at its egress after the
data they acknowledge arrived. docs/fidelity.md uses these figures. Standard library only.
"""
import bisect
import collections
import struct
import sys


def read(path):
    """Packets as (time, src last octet, dst last octet, sport, dport, seq, ack, payload bytes,
    TCP flags, bytes on the wire, the payload's captured bytes)."""
    with open(path, 'rb') as f:
        head = f.read(24)
        if len(head) < 24:
            sys.exit(f'{path}: not a pcap file')
        magic = struct.unpack('<I', head[:4])[0]
        if magic not in (0xa1b2c3d4, 0xa1b23c4d):
            sys.exit(f'{path}: not a little-endian pcap file (magic {magic:#x})')
        scale = 1e-9 if magic == 0xa1b23c4d else 1e-6
        packets = []
        while True:
            rec = f.read(16)
            if len(rec) < 16:
                break
            sec, frac, caplen, wire = struct.unpack('<IIII', rec)
            d = f.read(caplen)
            if len(d) < 54 or d[12:14] != b'\x08\x00' or d[23] != 6:
                continue  # IPv4 TCP only
            ihl = (d[14] & 15) * 4
            total = struct.unpack('>H', d[16:18])[0]
            tcp = 14 + ihl
            sport, dport, seq, ack = struct.unpack('>HHII', d[tcp:tcp + 12])
            doff = (d[tcp + 12] >> 4) * 4
            packets.append((sec + frac * scale, d[29], d[33], sport, dport, seq, ack, total - ihl - doff,
                            d[tcp + 13], wire, d[tcp + doff:]))
    if not packets:
        sys.exit(f'{path}: no IPv4 TCP packets')
    return packets


def pct(values, q):
    return values[min(len(values) - 1, int(q * len(values)))]


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    packets = read(sys.argv[1])
    ps = collections.Counter(p[1] for p in packets).most_common(1)[0][0]  # the busiest sender
    out = [p for p in packets if p[1] == ps and p[7] > 0]
    into = [p for p in packets if p[2] == ps and p[7] > 0]
    times = {'replies': [p[0] for p in out], 'pushes': [p[0] for p in into]}

    def count(ts, a, b):
        return bisect.bisect_left(ts, b) - bisect.bisect_right(ts, a)

    for name, data, other in (('replies', out, 'pushes'), ('pushes', into, 'replies')):
        span = data[-1][0] - data[0][0]
        total = sum(p[7] for p in data)
        idle = sum(b[0] - a[0] for a, b in zip(data, data[1:]) if b[0] - a[0] > 0.002)
        last, stalled = {}, 0.0
        for p in data:
            key = (p[1], p[2], p[3], p[4])
            if key in last and 0.001 < p[0] - last[key] < 0.02:
                if count(times[name], last[key], p[0]) == 0 and count(times[other], last[key], p[0]) > 0:
                    stalled += p[0] - last[key]
            last[key] = p[0]
        print(f'{name}: {total / 1e6:.1f} MB in {span:.2f} s ({total / span / 1e6:.2f} MB/s); idle {idle:.2f} s; '
              f'stalled with own direction idle, other busy: {stalled:.2f} s')
    # The PS's ACKs for pushes: time from the arrival of the data they acknowledge to their leaving.
    arrived = collections.defaultdict(dict)
    for p in into:
        arrived[(p[1], p[3])][(p[5] + p[7]) & 0xffffffff] = p[0]
    delays = []
    for p in packets:
        if p[1] == ps and p[7] == 0:
            t = arrived.get((p[2], p[4]), {}).get(p[6])
            if t is not None and t <= p[0]:
                delays.append(p[0] - t)
    if delays:
        delays.sort()
        print(f'PS ACKs for pushes: {len(delays)}, waited median {1e3 * pct(delays, 0.5):.2f} ms, '
              f'90th percentile {1e3 * pct(delays, 0.9):.2f} ms, max {1e3 * delays[-1]:.1f} ms')


if __name__ == '__main__':
    main()
