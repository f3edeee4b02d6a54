#!/usr/bin/env python3
"""experiments/fidelity/resim.py on a fidelity directory written here: one cell, bsp and
async simulated (timing mode, 40 updates) beside made-up real runs of two seeds whose time
per update is known (and a failed one, left out). Checks the printed errors against the new simulated runs' own
summaries, the share of bunched updates against updates.csv files made up here and the
simulated runs' own, that --set reaches every run, that a second call reuses the runs, that a
seed simulated only (runs-packet/sim-seeds/) joins the mean, and that bad arguments and a
failing simulation are named.
Usage: resim_test.py PATH/TO/resim.py PATH/TO/synclab
"""
import json
import os
import re
import subprocess
import sys
import tempfile

SIM = ('model: mlp\ntrain: {{stop: {{updates: 40}}, seed: {seed}}}\npolicy: {{name: {policy}}}\n'
       'cluster: {{workers: 2, gpu: {{flops: 1.0e11, efficiency: 1.0}}, link: {{bandwidth: 100Mbps, latency: 100us}}}}\n'
       'sim: {{mode: timing}}\n')
REAL_MS = {'bsp': (60.0, 70.0), 'async': (20.0, 30.0)}  # two real seeds each: means 65 and 25 ms
# bsp's real updates.csv: seed 1 has intervals 1, 0.1, 0.9, 0.4, 0.9, 0.25, 1 (median 0.9:
# two of seven under a third of it, 0.4 just over), seed 2 an even pace (none); their mean
# 0.14. async's real runs keep none ('-').
REAL_UPDATES = {1: (0, 1, 1.1, 2.0, 2.4, 3.3, 3.55, 4.55), 2: (0, 1, 2, 3, 4)}


def fail(msg):
    print('FAIL: ' + msg)
    sys.exit(1)


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, 'w') as f:
        f.write(text)


def ms(run):
    with open(os.path.join(run, 'summary.json')) as f:
        s = json.load(f)
    return 1000.0 * s['time_s'] / s['updates']


def updates_csv(times):
    return 'time_s,update,worker,staleness,loss\n' + ''.join(f'{t},{i + 1},0,0,0\n' for i, t in enumerate(times))


def bunched(run):
    """The share the test expects, computed here from the run's updates.csv."""
    with open(os.path.join(run, 'updates.csv')) as f:
        times = [float(line.split(',')[0]) for line in f.read().splitlines()[1:]]
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    n = len(gaps)
    median = gaps[n // 2] if n % 2 else (gaps[n // 2 - 1] + gaps[n // 2]) / 2
    return sum(g < median / 3 for g in gaps) / n


def main():
    resim, synclab = sys.argv[1], sys.argv[2]
    with tempfile.TemporaryDirectory() as root:
        cell = os.path.join(root, '100Mbps', 'w2-slowed-none')
        for policy, reals in REAL_MS.items():
            for seed in (1, 2):
                write(f'{cell}/runs-packet/inputs/policy={policy}_backend=sim_seed={seed}.yaml', SIM.format(seed=seed, policy=policy))
                write(f'{cell}/runs-packet/policy={policy}_backend=launch_seed={seed}/summary.json',
                      json.dumps({'time_s': reals[seed - 1] * 100 / 1000.0, 'updates': 100}))
                if policy == 'bsp':
                    write(f'{cell}/runs-packet/policy=bsp_backend=launch_seed={seed}/updates.csv', updates_csv(REAL_UPDATES[seed]))
        # A failed real run is left out, as reports leave it out: bsp's mean stays 65 ms.
        write(f'{cell}/runs-packet/policy=bsp_backend=launch_seed=3/summary.json',
              json.dumps({'time_s': 90.0, 'updates': 100, 'stop_reason': 'error', 'error': 'worker 1 lost'}))
        write(f'{cell}/runs-packet/policy=bsp_backend=launch_seed=3/updates.csv', updates_csv((0, 1, 1, 1, 1, 2)))
        run = lambda *args: subprocess.run([sys.executable, resim, root, '--synclab', synclab] + list(args), capture_output=True, text=True)

        r = run('--tag', 'base')
        if r.returncode != 0:
            fail(f'exit {r.returncode}: {r.stdout}{r.stderr}')
        for policy, reals in REAL_MS.items():
            sims = [ms(f'{cell}/resim-base-packet/policy={policy}_backend=sim_seed={s}') for s in (1, 2)]
            want = 100.0 * (sum(sims) / 2 - sum(reals) / 2) / (sum(reals) / 2)
            line = re.search(rf'^100Mbps/w2-slowed-none +packet +{policy} +real +([0-9.]+) ms +sim +([0-9.]+) ms +([-+][0-9.]+)%', r.stdout, re.M)
            if not line:
                fail(f'no line for {policy}:\n{r.stdout}')
            if abs(float(line.group(1)) - sum(reals) / 2) > 1e-3 or abs(float(line.group(3)) - want) > 0.051:
                fail(f'{policy}: printed {line.group(0)!r}, want real {sum(reals) / 2} ms and {want:+.1f}%')
            real_b = '0.14' if policy == 'bsp' else '-'
            sim_b = f"{sum(bunched(f'{cell}/resim-base-packet/policy={policy}_backend=sim_seed={s}') for s in (1, 2)) / 2:.2f}"
            if not re.search(rf'^100Mbps/w2-slowed-none +packet +{policy} .*%  bunched real +{re.escape(real_b)} sim +{sim_b}\b', r.stdout, re.M):
                fail(f'{policy}: want bunched real {real_b} sim {sim_b}:\n{r.stdout}')
        within = sum(abs(100.0 * (sum(ms(f'{cell}/resim-base-packet/policy={p}_backend=sim_seed={s}') for s in (1, 2)) / 2 - sum(v) / 2)
                         / (sum(v) / 2)) <= 10 for p, v in REAL_MS.items())
        if f'packet: {within} of 2 within 10%' not in r.stdout:
            fail(f'count line (want {within} of 2):\n{r.stdout}')

        # Every run of a variant takes the setting; a second call reuses them.
        r = run('--tag', 'slow', '--set', 'cluster.link.bandwidth=50Mbps')
        if r.returncode != 0:
            fail(f'--set run: exit {r.returncode}: {r.stderr}')
        runs = [os.path.join(cell, 'resim-slow-packet', d) for d in sorted(os.listdir(os.path.join(cell, 'resim-slow-packet')))]
        if len(runs) != 4:
            fail(f'{len(runs)} runs under resim-slow-packet, want 4')
        for d in runs:
            with open(os.path.join(d, 'config.yaml')) as f:
                if not re.search(r'bandwidth: 6250000\b', f.read()):
                    fail(f'{d}: --set did not reach its config')
            base = d.replace('resim-slow-', 'resim-base-')
            if not ms(d) > ms(base):
                fail(f'{d}: half the bandwidth is not slower ({ms(d)} vs {ms(base)} ms)')
        stamp = os.path.getmtime(os.path.join(runs[0], 'summary.json'))
        again = run('--tag', 'slow', '--set', 'cluster.link.bandwidth=50Mbps')
        if again.returncode != 0 or again.stdout != r.stdout or os.path.getmtime(os.path.join(runs[0], 'summary.json')) != stamp:
            fail('a second call did not reuse the runs')

        # A seed simulated only (run.sh --sim-seeds: runs-packet/sim-seeds/) is resimulated
        # too and joins its configuration's mean.
        write(f'{cell}/runs-packet/sim-seeds/inputs/policy=bsp_backend=sim_seed=3.yaml', SIM.format(seed=3, policy='bsp'))
        r = run('--tag', 'more')
        if r.returncode != 0:
            fail(f'sim seeds: exit {r.returncode}: {r.stdout}{r.stderr}')
        sims = [ms(f'{cell}/resim-more-packet/policy=bsp_backend=sim_seed={s}') for s in (1, 2, 3)]
        line = re.search(r'^100Mbps/w2-slowed-none +packet +bsp +real +[0-9.]+ ms +sim +([0-9.]+) ms', r.stdout, re.M)
        if not line or abs(float(line.group(1)) - sum(sims) / 3) > 1e-3:
            fail(f'sim seeds: want the mean of three simulated seeds, {sum(sims) / 3:.3f} ms:\n{r.stdout}')
        os.remove(f'{cell}/runs-packet/sim-seeds/inputs/policy=bsp_backend=sim_seed=3.yaml')

        # Bad arguments and a failing simulation are named.
        for args, what in ((['--tag', 'x', '--set', 'nokey'], "--set 'nokey'"), (['--tag', 'a/b'], "--tag 'a/b'"), ([], '--tag')):
            b = run(*args)
            if b.returncode != 2 or what not in b.stderr:
                fail(f'{args}: exit {b.returncode}, want 2 naming {what}: {b.stderr}')
        b = subprocess.run([sys.executable, resim, root, '--tag', 'x', '--synclab', os.path.join(root, 'nothing')], capture_output=True, text=True)
        if b.returncode != 2 or '--synclab' not in b.stderr:
            fail(f'missing binary: exit {b.returncode}: {b.stderr}')
        b = subprocess.run([sys.executable, resim, os.path.join(root, '100Mbps', 'w2-slowed-none', 'runs-packet', 'inputs'), '--tag', 'x',
                            '--synclab', synclab], capture_output=True, text=True)
        if b.returncode != 2 or 'no simulated run with a real twin' not in b.stderr:
            fail(f'empty directory: exit {b.returncode}: {b.stderr}')
        b = run('--tag', 'bad', '--set', 'cluster.workers=0')
        if b.returncode != 1 or 'policy=bsp_backend=sim_seed=1.yaml' not in b.stderr or 'cluster.workers' not in b.stderr:
            fail(f'failing simulation: exit {b.returncode}: {b.stderr[-500:]}')
    print('ok')


if __name__ == '__main__':
    main()
