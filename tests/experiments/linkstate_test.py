#!/usr/bin/env python3
"""experiments/fidelity/linkstate.py on a capture and a simulated trace written here, one
traffic pattern in both, whose figures are known.

The PS (10.0.0.1:7000) serves workers A (.2) and B (.3) at 1.054 MB/s, each packet 1054
bytes on the wire (1 ms). Every 50 ms (20 cycles, from 0): A pushes 5 packets leaving at
+1, +2, +3, +7, +8 ms (TCP holds it back 3 ms), a 4968-byte frame and a 32-byte one behind
it in the last packet; the PS replies to A at +10..+14 ms (turnaround 2 ms); B pushes at
+20..+24 and gets its reply at +25..+29 (turnaround 1 ms). Frames of 5000 bytes otherwise.
With --skip 0.049 the window is 0.05-0.979 s (0.929 s, 19 cycles):
  pushes: busy 190 ms (20.5%); idle spells 3 ms held in each cycle (57 ms, 6.1%), 11 + 26 ms
  waiting in each but the last, where only the 11 count (677 ms, 72.9%); on the link A 8 ms
  and B 5 ms a cycle, never together (1 at once 247 ms, 26.6%); median 8.0 ms, 10th 5.0.
  replies: busy 20.5%; waiting 18 x 40 + 10 = 730 ms (78.6%), none held; PS turnaround median
  and max 2.00 ms over 38 pushes; worker turnaround A 37 ms, B 41 ms (the next cycle's push
  at +1 and +20 ms), 18 each (none after the last cycle): median and max 41.00 ms.
No two replies start within one message time (4.7 ms) there, so none is written together.
A second pattern, a bsp-like round every 50 ms: A pushes at +1..+5 ms, B at +6..+10, and the
PS answers both at once, interleaved (one reply at +12, +14, ... +20, the other at +13, ... +21):
19 sets of two replies in the window, first packets 1 ms apart, last packets 1 ms apart,
1 / 4.74 = 0.21 of one after another; the first has one packet (1,054 bytes) out before the
second starts, then four of the eight packets until its last (0.50). A's reply goes first
but in rounds 2, 5, 8, ...: the first reply changes worker 12 times over the 19 sets.
Usage: linkstate_test.py PATH/TO/linkstate.py
"""
import os
import re
import struct
import subprocess
import sys
import tempfile

RATE = 1.054e6
PS, A, B = 1, 2, 3
PORT = {A: 40002, B: 40003}


def frame(payload_len):
    return struct.pack('<IHBBIII', 0x4C4E5953, 1, 3, 0, payload_len, 0, 0)


def record(t, src, dst, sport, dport, seq, flags, payload):
    eth = b'\x00' * 12 + b'\x08\x00'
    n = len(payload) if isinstance(payload, bytes) else payload
    data = payload if isinstance(payload, bytes) else b''
    ip = struct.pack('>BBHHHBBH4s4s', 0x45, 0, 40 + n, 0, 0, 64, 6, 0, bytes([10, 0, 0, src]), bytes([10, 0, 0, dst]))
    tcp = struct.pack('>HHIIBBHHH', sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0)
    kept = eth + ip + tcp + data[:30]  # -s 84: 30 payload bytes
    sec = int(t)
    return t, struct.pack('<IIII', sec, int(round((t - sec) * 1e6)), len(kept), 54 + n) + kept


def packets():
    """(time, src, dst, payload bytes or the captured prefix) of every packet, and handshakes."""
    out = []
    seq = {}
    for w in (A, B):
        out.append(record(0.0, w, PS, PORT[w], 7000, 999, 0x02, 0))          # SYN
        out.append(record(0.0, PS, w, 7000, PORT[w], 4999, 0x12, 0))         # SYN-ACK
        seq[(w, PS)], seq[(PS, w)] = 1000, 5000
    trace = []  # (time, direction, peer) for the simulated twin

    def send(t, src, dst, payload):
        w = dst if src == PS else src
        ports = (7000, PORT[w]) if src == PS else (PORT[w], 7000)
        out.append(record(t, src, dst, ports[0], ports[1], seq[(src, dst)], 0x18, payload))
        seq[(src, dst)] += 1000
        trace.append((t, 'reply' if src == PS else 'push', w))

    for c in range(20):
        b = 0.05 * c
        push_a = frame(4948) + bytes(4948) + frame(12) + bytes(12)
        for k, ms in enumerate((1, 2, 3, 7, 8)):
            send(b + ms / 1e3, A, PS, push_a[1000 * k:1000 * (k + 1)])
        for w, first, reply_at in ((A, None, 10), (B, 20, 25)):
            if first is not None:
                msg = frame(4980) + bytes(4980)
                for k in range(5):
                    send(b + (first + k) / 1e3, w, PS, msg[1000 * k:1000 * (k + 1)])
            msg = frame(4980) + bytes(4980)
            for k in range(5):
                send(b + (reply_at + k) / 1e3, PS, w, msg[1000 * k:1000 * (k + 1)])
    return sorted(out), trace


def round_packets():
    """The second pattern: (capture records, the simulated trace's packets and transfers)."""
    out, trace, transfers = [], [], []
    seq = {}
    for w in (A, B):
        out.append(record(0.0, w, PS, PORT[w], 7000, 999, 0x02, 0))
        out.append(record(0.0, PS, w, 7000, PORT[w], 4999, 0x12, 0))
        seq[(w, PS)], seq[(PS, w)] = 1000, 5000
    msg = frame(4980) + bytes(4980)
    for c in range(20):
        b = 0.05 * c
        first, second = (B, A) if c % 3 == 2 else (A, B)  # every third round B's reply goes first
        for d, w, times in (('push', A, (1, 2, 3, 4, 5)), ('push', B, (6, 7, 8, 9, 10)),
                            ('reply', first, (12, 14, 16, 18, 20)), ('reply', second, (13, 15, 17, 19, 21))):
            src, dst = (w, PS) if d == 'push' else (PS, w)
            ports = (PORT[w], 7000) if d == 'push' else (7000, PORT[w])
            for k, ms in enumerate(times):
                out.append(record(b + ms / 1e3, src, dst, ports[0], ports[1], seq[(src, dst)], 0x18, msg[1000 * k:1000 * (k + 1)]))
                seq[(src, dst)] += 1000
                trace.append((b + ms / 1e3, d, w))
            transfers.append((d, w, 5000, b + (times[0] - 0.5) / 1e3, b + times[-1] / 1e3))
    return sorted(out), trace, transfers


def write_capture(path, recs):
    with open(path, 'wb') as f:
        f.write(struct.pack('<IHHiIII', 0xa1b2c3d4, 2, 4, 0, 0, 96, 1))
        for _, r in recs:
            f.write(r)


def write_trace(run_dir, trace, transfers=None):
    os.makedirs(os.path.join(run_dir, 'trace'))
    with open(os.path.join(run_dir, 'config.yaml'), 'w') as f:
        f.write(f'cluster:\n  workers: 2\n  link:\n    bandwidth: {RATE:g}\n    latency: 1e-05\n  ps_link: {{}}\n')
    with open(os.path.join(run_dir, 'trace', 'packets.csv'), 'w') as f:
        f.write('time_s,direction,peer,bytes,queued_s\n')
        for t, d, w in trace:
            f.write(f'{t:.9f},{d},worker-{w},1054,0.001\n')
    # Transfers as the simulator writes them: start before their first packet, end at their last.
    with open(os.path.join(run_dir, 'trace', 'messages.csv'), 'w') as f:
        f.write('direction,peer,bytes,start_s,end_s,status\n')
        for d, w, n, start, end in transfers or []:
            f.write(f'{d},worker-{w},{n},{start:.9f},{end:.9f},done\n')
        for c in range(20 if transfers is None else 0):
            b = 0.05 * c
            for d, w, n, first, last in (('push', A, 4968, 0, 8), ('reply', A, 5000, 9, 14),
                                         ('push', B, 5000, 19, 24), ('reply', B, 5000, 24.5, 29)):
                f.write(f'{d},worker-{w},{n},{b + first / 1e3:.9f},{b + last / 1e3:.9f},done\n')
        if transfers is None:
            f.write('push,worker-2,5000,0.990000000,,unfinished\n')


EXPECT = [
    r'pushes \(into the PS\): link busy 20\.5% of 0\.93 s; idle spells over 0\.5 ms 79\.0% '
    r'\(no message on the link 72\.9%, a message held back 6\.1%\)',
    r'messages at once \(share of time\): 0: 73\.4%  1: 26\.6%  2: 0\.0%  3\+: 0\.0%',
    r'a message on the link: median 8\.0 ms \(10th-90th percentile 5\.0-8\.0\), alone 4\.\d ms; 38 messages',
    r'replies \(out of the PS\): link busy 20\.5% of 0\.93 s; idle spells over 0\.5 ms 78\.6% '
    r'\(no message on the link 78\.6%, a message held back 0\.0%\)',
    r'PS turnaround, a push\'s last packet to its reply\'s first: median 2\.00 ms, 90th percentile 2\.00 ms, '
    r'max 2\.00 ms \(38 pushes\)',
    r'worker turnaround, a reply\'s last packet to the worker\'s next push\'s first: median 41\.00 ms, '
    r'90th percentile 41\.00 ms, max 41\.00 ms \(36 replies\)',
    r'replies written together \(first packets within one message time, 4\.7 ms\): none',
]
EXPECT_ROUND = [
    r'replies written together \(first packets within one message time, 4\.7 ms\): 19 of 19 sets, 2 replies '
    r'\(median\); first packets 1\.00 ms apart per reply; last packets spread 0\.21 of one after another '
    r'\(median; 10th-90th percentile 0\.21-0\.21; 0: they end together\)',
    r'the first two of a set: the first has 1\.1 kB out before the second starts, then 0\.50 of their bytes while '
    r'both are on \(medians\); the first reply goes to another worker than the set before in 12 of 18 sets',
]


def main():
    script = sys.argv[1]
    failed = []
    with tempfile.TemporaryDirectory() as d:
        recs, trace = packets()
        write_capture(os.path.join(d, 'ps.pcap'), recs)
        write_trace(os.path.join(d, 'run'), trace)
        recs, trace, transfers = round_packets()
        write_capture(os.path.join(d, 'round.pcap'), recs)
        write_trace(os.path.join(d, 'round'), trace, transfers)
        runs = {
            'capture': ([os.path.join(d, 'ps.pcap'), '--rate', str(RATE)], EXPECT),
            'simulated trace': ([os.path.join(d, 'run')], EXPECT),
            'capture of rounds': ([os.path.join(d, 'round.pcap'), '--rate', str(RATE)], EXPECT_ROUND),
            'simulated trace of rounds': ([os.path.join(d, 'round')], EXPECT_ROUND),
        }
        for name, (args, expect) in runs.items():
            r = subprocess.run([sys.executable, script] + args + ['--skip', '0.049'], capture_output=True, text=True)
            print(f'--- {name}\n{r.stdout}{r.stderr}', end='')
            for e in expect:
                if not re.search(e, r.stdout):
                    print(f'FAIL ({name}): no line matches {e}')
                    failed.append(e)
        # Bad input is refused with a message that says what is missing.
        os.remove(os.path.join(d, 'run', 'trace', 'packets.csv'))
        for source, needle in (('ps.pcap', '--rate'), ('run', 'sim.trace=on')):
            r = subprocess.run([sys.executable, script, os.path.join(d, source)], capture_output=True, text=True)
            if r.returncode == 0 or needle not in r.stderr:
                print(f'FAIL: {source} without {needle} was accepted or not named: rc {r.returncode}, {r.stderr!r}')
                failed.append(needle)
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
