#!/usr/bin/env python3
"""How far the real testbed repeats itself, beside how far simulation is off.

Two directories written by run.sh with the same grid (on two days, or one after the
other): for each configuration (cell and policy) the real runs of the second against those
of the first, seed by seed on the seeds both have, and each directory's simulated runs
against its own real runs. Compared: time per update and time to the target accuracy
(the first evaluation at or above it; a configuration counts only where every seed
reached it), as means over seeds, failed runs left out, as the report does. Prints one
line per configuration and simulated network model, then how many of each comparison are
within 10% and 5%. A simulator whose errors are no larger than the real repeat's is as
close as the testbed lets anyone check.

  repeat.py FIRST SECOND [--target ACC] [--per-seed]

--target: default 95% of the best mean final accuracy among FIRST's configurations (both
worlds), rounded down to 0.01, as `synclab report` picks it. Exit status 0; 2 when the
directories share no configuration or an argument is bad. --per-seed: one line per seed
that both directories ran, each run against its twin, instead of seed means.
"""
import argparse
import csv
import math
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from resim import cells, failed, ms_per_update, summary  # noqa: E402  (the same layout, read the same way)


def runs_of(root):
    """{(cell, network, policy, backend): {seed: run_dir}} of the finished runs under root."""
    out = {}
    for cell in cells(root):
        rel = os.path.relpath(cell, root)
        for sweep in sorted(os.listdir(cell)):
            if not sweep.startswith('runs-'):
                continue
            net = sweep[len('runs-'):]
            for name in sorted(os.listdir(os.path.join(cell, sweep))):
                if '_backend=' not in name or '_seed=' not in name:
                    continue
                run = os.path.join(cell, sweep, name)
                if not os.path.isfile(os.path.join(run, 'summary.json')) or failed(summary(run)):
                    continue
                policy = name.split('_backend=')[0].removeprefix('policy=')
                backend, seed = name.split('_backend=')[1].split('_seed=')
                # A real run pairs with every network its cell simulated: key it without one.
                key = (rel, '' if backend == 'launch' else net, policy, 'real' if backend == 'launch' else 'sim')
                out.setdefault(key, {})[seed] = run
    return out


def time_to(run, target):
    """Seconds to the first evaluation at or above target (None if none reached it)."""
    with open(os.path.join(run, 'evals.csv'), newline='') as f:
        for row in csv.DictReader(f):
            if float(row['test_accuracy']) >= target:
                return float(row['time_s'])
    return None


def seed_mean(runs, value):
    """Mean of value(run) over the runs; None when any run has none."""
    vals = [value(r) for r in runs]
    return statistics.mean(vals) if vals and all(v is not None for v in vals) else None


def error(a, b):
    return None if a is None or b is None else 100.0 * (a - b) / b


def default_target(runs):
    means = [statistics.mean(summary(r)['final_test_accuracy'] for r in seeds.values()) for seeds in runs.values()]
    return math.floor(max(means) * 0.95 * 100.0 + 1e-9) / 100.0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('first')
    ap.add_argument('second')
    ap.add_argument('--target', type=float, help='test accuracy (default: as synclab report picks it from FIRST)')
    ap.add_argument('--per-seed', action='store_true', help='compare run by run (same seed) instead of seed means')
    a = ap.parse_args()
    if a.target is not None and not 0 < a.target <= 1:
        ap.error(f'--target {a.target}: an accuracy in (0, 1]')
    one, two = runs_of(a.first), runs_of(a.second)
    if not one:
        ap.error(f"'{a.first}': no finished run (a directory written by run.sh?)")
    target = a.target if a.target is not None else default_target(one)
    rows = []
    for key in sorted(k for k in one if k[3] == 'sim' and k in two):
        cell, net, policy, _ = key
        real = (cell, '', policy, 'real')
        if real not in one or real not in two:
            continue
        both = sorted(set(one[real]) & set(two[real]))
        if not both:
            continue
        # Seed means (every seed a grid ran; real against real on the shared ones), or one
        # row per seed that both grids ran in both worlds, each run against its twin.
        rows_seeds = [(policy, both, None)]
        if a.per_seed:
            rows_seeds = [(f'{policy} seed {s}', [s], [s]) for s in both if s in one[key] and s in two[key]]
        for name, shared, only in rows_seeds:
            def mean(runs, value):
                return seed_mean([r for s, r in runs.items() if only is None or s in only], value)
            line = []
            for value in (ms_per_update, lambda r: time_to(r, target)):
                real1 = seed_mean([one[real][s] for s in shared], value)
                real2 = seed_mean([two[real][s] for s in shared], value)
                line.append((error(real2, real1),
                             error(mean(one[key], value), mean(one[real], value)),
                             error(mean(two[key], value), mean(two[real], value))))
            rows.append((cell, net, name, line))
    if not rows:
        print(f'repeat: {a.first} and {a.second} share no configuration with real and simulated runs', file=sys.stderr)
        return 2

    def pct(x):
        return '    -  ' if x is None else f'{x:+6.1f}%'

    unit = 'run by run (same seed)' if a.per_seed else 'seed means'
    print(f'target accuracy {target:g}; errors in %, {unit}: real second vs first, sim vs real in each')
    print(f'{"config":24} {"network":7} {"policy":25} {"time/update: real sim1 sim2":>29} | {"to target: real sim1 sim2":>27}')
    for cell, net, policy, (tpu, ttt) in rows:
        print(f'{cell:24} {net:7} {policy:25} {pct(tpu[0])} {pct(tpu[1])} {pct(tpu[2])} | {pct(ttt[0])} {pct(ttt[1])} {pct(ttt[2])}')
    for m, metric in enumerate(('time per update', 'time to target')):
        for c, name in enumerate(('real, second vs first', 'sim vs real, first', 'sim vs real, second')):
            errs = [abs(r[3][m][c]) for r in rows if r[3][m][c] is not None]
            if errs:
                print(f'{metric}, {name}: {sum(e <= 10 for e in errs)} of {len(errs)} within 10%, '
                      f'{sum(e <= 5 for e in errs)} within 5% (mean |error| {statistics.mean(errs):.1f}%)')
            else:
                print(f'{metric}, {name}: no configuration has it')
    return 0


if __name__ == '__main__':
    sys.exit(main())
