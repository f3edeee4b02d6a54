#!/usr/bin/env python3
"""experiments/fidelity/pool.py on two made-up fidelity directories whose times are known:
the seeds of both pooled per configuration (a failed run left out), simulated runs from a
grid's own sweep or from its resim-TAG runs (GRID:TAG), time to target from evals.csv with
the default target as the report picks it, the policy order per setting with a swapped
pair that the real runs tell apart and one they do not, seeds simulated only
(runs-packet/sim-seeds/) pooled with the others, and the exit status of bad arguments.
Usage: pool_test.py PATH/TO/pool.py
"""
import json
import os
import subprocess
import sys
import tempfile


def fail(msg):
    print('FAIL: ' + msg)
    sys.exit(1)


def run_dir(root, cell, sweep, backend, policy, seed, ms, final=0.8, stop='updates'):
    """A run of 10 updates at ms per update; its evaluations reach 0.9 at update 5."""
    os.makedirs(os.path.join(root, cell, sweep, 'inputs'), exist_ok=True)
    d = os.path.join(root, cell, sweep, f'policy={policy}_backend={backend}_seed={seed}')
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, 'summary.json'), 'w') as f:
        json.dump({'time_s': ms * 10 / 1000.0, 'updates': 10, 'final_test_accuracy': final, 'stop_reason': stop}, f)
    with open(os.path.join(d, 'evals.csv'), 'w') as f:
        f.write('time_s,update,samples,test_loss,test_accuracy\n')
        for u in (0, 5, 10):
            f.write(f'{u * ms / 1000.0},{u},{u * 100},1.0,{0.9 if u >= 5 else 0.5}\n')


def pooled_ok(script, *grids):
    """pool.py's output for the grids; fails the test unless it exits 0."""
    r = subprocess.run([sys.executable, script, *grids], capture_output=True, text=True)
    if r.returncode != 0:
        fail(f'{" ".join(grids)}: exit {r.returncode}: {r.stdout}{r.stderr}')
    return r.stdout


def errors(out, cell, policy):
    line = next((ln for ln in out.splitlines() if ln.startswith(cell) and f' {policy} ' in ln), None)
    if line is None:
        fail(f'no line for {cell} {policy}: {out}')
    return line.split()[2], [c for c in line.split() if c.endswith('%')]


def main():
    script = sys.argv[1]
    slow, fast = '100Mbps/w2-slowed-none', '1Gbps/w2-slowed-none'
    with tempfile.TemporaryDirectory() as tmp:
        a, b = os.path.join(tmp, 'a'), os.path.join(tmp, 'b')
        # 100 Mb/s, grid a (seeds 1, 2) and grid b (seeds 3, 4): real bsp 60, 70, 80, 90 ms
        # (mean 75), simulated 65, 65, 75, 75 (70); real async 40, 44, 36, 40 (40), simulated
        # 50 everywhere; real ssp 50, 90 (70) in a only, simulated 20: faster than async in
        # simulation, slower for real, and their real runs do not overlap.
        for seed, real, sim in ((1, 60, 65), (2, 70, 65)):
            run_dir(a, slow, 'runs-packet', 'launch', 'bsp', seed, real, final=0.95)
            run_dir(a, slow, 'runs-packet', 'sim', 'bsp', seed, sim)
        for seed, real, sim in ((3, 80, 75), (4, 90, 75)):
            run_dir(b, slow, 'runs-packet', 'launch', 'bsp', seed, real, final=0.95)
            run_dir(b, slow, 'runs-packet', 'sim', 'bsp', seed, sim)
        for root, seeds in ((a, ((1, 40), (2, 44))), (b, ((3, 36), (4, 40)))):
            for seed, real in seeds:
                run_dir(root, slow, 'runs-packet', 'launch', 'async', seed, real)
                run_dir(root, slow, 'runs-packet', 'sim', 'async', seed, 50)
        run_dir(b, slow, 'runs-packet', 'launch', 'async', 5, 1, stop='failed')
        for seed, real in ((1, 50), (2, 90)):
            run_dir(a, slow, 'runs-packet', 'launch', 'ssp', seed, real)
            run_dir(a, slow, 'runs-packet', 'sim', 'ssp', seed, 20)
        # Grid a resimulated (tag wk): bsp 70 ms, async 30, ssp 20.
        for seed in (1, 2):
            for policy, ms in (('bsp', 70), ('async', 30), ('ssp', 20)):
                run_dir(a, slow, 'resim-wk-packet', 'sim', policy, seed, ms)
        # 1 Gb/s, grid a only: real async 40 and 60 ms, bsp 50 and 70 (they overlap); simulated
        # bsp 40, async 60: swapped, but the real order depends on the seed.
        for seed, (ra, rb) in ((1, (40, 50)), (2, (60, 70))):
            run_dir(a, fast, 'runs-packet', 'launch', 'async', seed, ra)
            run_dir(a, fast, 'runs-packet', 'launch', 'bsp', seed, rb)
            run_dir(a, fast, 'runs-packet', 'sim', 'async', seed, 60)
            run_dir(a, fast, 'runs-packet', 'sim', 'bsp', seed, 40)

        out = pooled_ok(script, a, b)
        # Target: 95% of the best mean final accuracy (0.95, real bsp) -> 0.90, reached at update 5.
        if 'target accuracy 0.9;' not in out:
            fail('default target: ' + out)
        # Time to target is half of ten updates' time: the same errors as time per update.
        want = {'bsp': ('4/4', ['-6.7%', '-6.7%']), 'async': ('4/4', ['+25.0%', '+25.0%']),
                'ssp': ('2/2', ['-71.4%', '-71.4%'])}
        for policy, (runs, errs) in want.items():
            got_runs, got = errors(out, slow, policy)
            if got_runs != runs or got[:2] != errs:
                fail(f'{slow} {policy}: runs {got_runs} errors {got}, expected {runs} {errs}: {out}')
        if f'{slow}: real async < ssp < bsp; sim ssp < async < bsp: 1 pair(s) swapped\n' not in out:
            fail('100 Mb/s order: ' + out)
        if f'{fast}: real async < bsp; sim bsp < async: 1 pair(s) swapped, 1 of them real ties' not in out:
            fail('1 Gb/s order: ' + out)
        if 'policy order: 0 of 2 settings the same, 1 of 2 alike but for real ties' not in out:
            fail('order counts: ' + out)
        if 'time per update: 1 of 5 within 10%, 0 within 5%' not in out:
            fail('counts: ' + out)
        # Grid a's simulated runs from its resim: bsp (70, 70, 75, 75) -3.3%, async (30, 30, 50, 50) 0.
        resimulated = pooled_ok(script, a + ':wk', b)
        for policy, errs in (('bsp', ['-3.3%', '-3.3%']), ('async', ['+0.0%', '+0.0%'])):
            _, got = errors(resimulated, slow, policy)
            if got[:2] != errs:
                fail(f'resim {policy}: {got}, expected {errs}: {resimulated}')
        # Seeds simulated only (run.sh --sim-seeds, runs-packet/sim-seeds/) join the simulated
        # runs: real bsp 60 and 60 ms, simulated 50 and 50 with the real seeds and 70 with four
        # more: (2 x 50 + 4 x 70) / 6 = 63.33, +5.6%; six simulated runs against two real.
        c = os.path.join(tmp, 'c')
        for seed in (1, 2):
            run_dir(c, slow, 'runs-packet', 'launch', 'bsp', seed, 60)
            run_dir(c, slow, 'runs-packet', 'sim', 'bsp', seed, 50)
        for seed in (3, 4, 5, 6):
            run_dir(c, slow, os.path.join('runs-packet', 'sim-seeds'), 'sim', 'bsp', seed, 70)
        got_runs, got = errors(pooled_ok(script, c), slow, 'bsp')
        if got_runs != '2/6' or got[:1] != ['+5.6%']:
            fail(f'sim seeds: runs {got_runs} errors {got}, expected 2/6 +5.6%')
        # Bad arguments and directories without a configuration are named.
        r = subprocess.run([sys.executable, script, a, '--target', '1.5'], capture_output=True, text=True)
        if r.returncode != 2 or '--target' not in r.stderr:
            fail(f'bad target: exit {r.returncode}: {r.stderr}')
        r = subprocess.run([sys.executable, script, os.path.join(tmp, 'missing')], capture_output=True, text=True)
        if r.returncode != 2 or 'no such directory' not in r.stderr:
            fail(f'missing grid: exit {r.returncode}: {r.stderr}')
        empty = os.path.join(tmp, 'empty')
        os.makedirs(empty)
        r = subprocess.run([sys.executable, script, empty], capture_output=True, text=True)
        if r.returncode != 2 or 'no configuration with real and simulated runs' not in r.stderr:
            fail(f'empty grid: exit {r.returncode}: {r.stderr}')
    print('PASS')


if __name__ == '__main__':
    main()
