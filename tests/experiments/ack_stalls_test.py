#!/usr/bin/env python3
"""experiments/fidelity/ack_stalls.py on a capture written here, whose figures are known.

The PS (10.0.0.1) sends replies to 10.0.0.3 without a break (a 1000-byte packet every
0.8 ms for 1 s). Worker 10.0.0.2 pushes in 20 cycles of 50 ms: 5 packets 0.8 ms apart,
15 ms with nothing (its ACKs late: the stall), 5 more, then 28.6 ms off. The PS acknowledges
each push packet 0.5 ms after it arrives, two per cycle 4 ms after. So: pushes idle
20 x 15 + 19 x 28.6 ms = 0.84 s, stalled 20 x 15 ms = 0.30 s with the replies busy; replies
neither idle nor stalled; ACK waits median 0.5 ms, 90th percentile and max 4 ms.
Usage: ack_stalls_test.py PATH/TO/ack_stalls.py
"""
import os
import re
import struct
import subprocess
import sys
import tempfile


def packet(t, src, dst, sport, dport, seq, ack, payload):
    eth = b'\x00' * 12 + b'\x08\x00'
    ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 40 + payload, 0, 0, 64, 6, 0, bytes([10, 0, 0, src]), bytes([10, 0, 0, dst]))
    tcp = struct.pack('>HHIIBBHHH', sport, dport, seq, ack, 5 << 4, 0x10, 65535, 0, 0)
    frame = eth + ip + tcp
    sec = int(t)
    return struct.pack('<IIII', sec, int(round((t - sec) * 1e6)), len(frame), len(frame) + payload) + frame


def capture(path):
    pk = []
    for i in range(1251):  # replies, PS -> .3
        pk.append((i * 0.0008, 1, 3, 7000, 40003, 1000 * i, 1, 1000))
    seq = 0
    for c in range(20):  # pushes, .2 -> PS, and the PS's ACKs
        base = 0.05 * c
        for k, offset in enumerate([0, 0.8, 1.6, 2.4, 3.2, 18.2, 19.0, 19.8, 20.6, 21.4]):
            t = base + offset / 1000
            pk.append((t, 2, 1, 40002, 7000, seq, 1, 1000))
            seq += 1000
            pk.append((t + (0.004 if k in (4, 9) else 0.0005), 1, 2, 7000, 40002, 1, seq, 0))
    pk.sort(key=lambda p: p[0])
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 96, 1))
        for p in pk:
            f.write(packet(*p))


def main():
    script = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, 'ps.pcap')
        capture(path)
        out = subprocess.run([sys.executable, script, path], capture_output=True, text=True, check=True).stdout
        bad = open(os.path.join(d, 'bad.pcap'), 'wb')
        bad.write(b'not a capture at all, longer than a header')
        bad.close()
        refused = subprocess.run([sys.executable, script, os.path.join(d, 'bad.pcap')], capture_output=True, text=True)
    print(out, end='')
    expect = [
        r'replies: 1\.3 MB in 1\.00 s .*; idle 0\.00 s; stalled with own direction idle, other busy: 0\.00 s',
        r'pushes: 0\.2 MB in 0\.97 s .*; idle 0\.84 s; stalled with own direction idle, other busy: 0\.30 s',
        r'PS ACKs for pushes: 200, waited median 0\.50 ms, 90th percentile 4\.00 ms, max 4\.0 ms',
    ]
    failed = [e for e in expect if not re.search(e, out)]
    for e in failed:
        print(f'FAIL: no line matches {e}')
    if refused.returncode == 0 or 'not a' not in refused.stderr:
        print(f'FAIL: a file that is not a capture was accepted: rc {refused.returncode}, {refused.stderr!r}')
        failed.append('bad input')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
