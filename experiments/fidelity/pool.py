#!/usr/bin/env python3
"""Simulation against the real testbed over the seeds of several grids pooled.

Two seeds per configuration cannot check a 10% bound on time to target: the real runs of
async, ssp and backup differ by 7-14% from seed to seed (docs/fidelity.md). Grids that
run.sh wrote for the same configurations with other seeds (`--seeds "3 4"`) are pooled
here: for each configuration (cell and policy) of any of them, every finished real run of every grid against every simulated run, as means over
the runs, failed runs left out. A simulated run comes from the grid's own runs-<network>/
sweep, or from its resim-TAG-<network>/ runs where the grid is given as DIR:TAG (a model
resimulated with resim.py). Prints one line per configuration (runs pooled, time per
update and time to target errors, the real runs' spread of time to target), then per
setting (a cell: bandwidth, workers, slowed set) the policies ordered by mean time to
target in each world (those that missed it with some run last, by final accuracy), and how
many configurations are within 10% and 5%.

  pool.py GRID[:TAG] [GRID[:TAG] ...] [--network packet] [--target ACC]

--target: default 95% of the best mean final accuracy among the pooled configurations
(both worlds), rounded down to 0.01, as `synclab report` picks it. A configuration counts
toward time to target only where every run reached it. Two policies whose real order
depends on the seed (their times to target overlap, as `synclab report` decides it) are
tied: no simulated order of them is wrong. Exit status 0; 2 when no grid has a configuration with real and
simulated runs, or an argument is bad.
"""
import argparse
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from repeat import default_target, error, time_to  # noqa: E402  (the same rules as repeat.py)
from resim import cells, failed, ms_per_update, summary, sweep_dirs  # noqa: E402


def finished(sweep, backend):
    """{policy: [run dirs]} of the finished runs of one backend in a sweep directory, and in
    its sim-seeds/ (the seeds run.sh --sim-seeds simulated only)."""
    out = {}
    for d in sweep_dirs(sweep):
        if not os.path.isdir(d):
            continue
        for name in sorted(os.listdir(d)):
            if f'_backend={backend}_seed=' not in name:
                continue
            run = os.path.join(d, name)
            if os.path.isfile(os.path.join(run, 'summary.json')) and not failed(summary(run)):
                out.setdefault(name.split('_backend=')[0].removeprefix('policy='), []).append(run)
    return out


def pooled(grids, network):
    """{(cell, policy): {'real': [runs], 'sim': [runs]}} over the grids (cell relative to its grid)."""
    out = {}
    for root, tag in grids:
        for cell in cells(root):
            rel = os.path.relpath(cell, root)
            sims = os.path.join(cell, f'resim-{tag}-{network}' if tag else f'runs-{network}')
            for world, runs in (('real', finished(os.path.join(cell, f'runs-{network}'), 'launch')),
                                ('sim', finished(sims, 'sim'))):
                for policy, dirs in runs.items():
                    out.setdefault((rel, policy), {'real': [], 'sim': []})[world].extend(dirs)
    return {k: v for k, v in out.items() if v['real'] and v['sim']}


def mean_of(runs, value):
    vals = [value(r) for r in runs]
    return statistics.mean(vals) if vals and all(v is not None for v in vals) else None


def spread(runs, value):
    """Standard deviation over mean of value(run), in % (None with fewer than 2 or a run without one)."""
    vals = [value(r) for r in runs]
    if len(vals) < 2 or any(v is None for v in vals):
        return None
    return 100.0 * statistics.stdev(vals) / statistics.mean(vals)


def final(run):
    return summary(run)['final_test_accuracy']


def order(policies, to_target):
    """Policies by mean time to target; those that missed it with some run last, by mean final accuracy."""
    def key(p):
        t = mean_of(policies[p], to_target)
        return (0, t, p) if t is not None else (1, -mean_of(policies[p], final), p)
    return sorted(policies, key=key)


def tied(a, b, to_target):
    """Whether the real order of two policies' runs (two or more each) depends on the seed, as
    `synclab report` decides it: their times to target overlap (both reached it every run),
    their final accuracies overlap (neither did), or a run of the one that missed it with
    some reached it before the other's slowest."""
    if len(a) < 2 or len(b) < 2:
        return False
    ta, tb = [to_target(r) for r in a], [to_target(r) for r in b]
    if None not in ta and None not in tb:
        return max(ta) >= min(tb) and max(tb) >= min(ta)
    if None in ta and None in tb:
        fa, fb = [final(r) for r in a], [final(r) for r in b]
        return max(fa) >= min(fb) and max(fb) >= min(fa)
    every, some = (ta, tb) if None not in ta else (tb, ta)
    return any(t is not None and t < max(every) for t in some)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('grids', nargs='+', metavar='GRID[:TAG]')
    ap.add_argument('--network', default='packet', help='simulated network model of the sweeps (default packet)')
    ap.add_argument('--target', type=float, help='test accuracy (default: as synclab report picks it)')
    a = ap.parse_args()
    if a.target is not None and not 0 < a.target <= 1:
        ap.error(f'--target {a.target}: an accuracy in (0, 1]')
    grids = []
    for g in a.grids:
        root, _, tag = g.partition(':')
        if not os.path.isdir(root):
            ap.error(f"'{root}': no such directory")
        grids.append((root, tag))
    pool = pooled(grids, a.network)
    if not pool:
        print('pool: no configuration with real and simulated runs in ' + ' '.join(a.grids), file=sys.stderr)
        return 2
    target = a.target if a.target is not None else default_target(
        {k + (w,): {r: r for r in v[w]} for k, v in pool.items() for w in ('real', 'sim')})

    def to_target(run):
        return time_to(run, target)

    def pct(x):
        return '    -  ' if x is None else f'{x:+6.1f}%'

    print(f'target accuracy {target:g}; {a.network}; errors in %, sim vs real, means over the pooled runs')
    print(f'{"config":24} {"policy":20} {"runs real/sim":>13} {"time/update":>11} {"to target":>9} {"real spread":>11}')
    tpu, ttt, settings = [], [], {}
    for (cell, policy), runs in sorted(pool.items()):
        e_tpu = error(mean_of(runs['sim'], ms_per_update), mean_of(runs['real'], ms_per_update))
        e_ttt = error(mean_of(runs['sim'], to_target), mean_of(runs['real'], to_target))
        sd = spread(runs['real'], to_target)
        print(f'{cell:24} {policy:20} {len(runs["real"]):>6}/{len(runs["sim"]):<6} {pct(e_tpu):>11} {pct(e_ttt):>9} '
              f'{"-" if sd is None else f"{sd:.1f}%":>11}')
        if e_tpu is not None:
            tpu.append(abs(e_tpu))
        if e_ttt is not None:
            ttt.append(abs(e_ttt))
        settings.setdefault(cell, {})[policy] = runs
    same = agree = 0
    for cell, policies in sorted(settings.items()):
        if len(policies) < 2:
            continue
        real = order({p: r['real'] for p, r in policies.items()}, to_target)
        sim = order({p: r['sim'] for p, r in policies.items()}, to_target)
        swapped = ties = 0
        for i, p in enumerate(real):
            for q in real[i + 1:]:
                if sim.index(p) > sim.index(q):
                    swapped += 1
                    ties += tied(policies[p]['real'], policies[q]['real'], to_target)
        same += real == sim
        agree += swapped == ties
        verdict = 'same order' if real == sim else (
            f'{swapped} pair(s) swapped' + (f', {ties} of them real ties' if ties else ''))
        print(f'{cell}: real {" < ".join(real)}; sim {" < ".join(sim)}: {verdict}')
    for name, errs in (('time per update', tpu), ('time to target', ttt)):
        if errs:
            print(f'{name}: {sum(e <= 10 for e in errs)} of {len(errs)} within 10%, {sum(e <= 5 for e in errs)} within 5% '
                  f'(mean |error| {statistics.mean(errs):.1f}%)')
        else:
            print(f'{name}: no configuration has it')
    n = sum(len(p) >= 2 for p in settings.values())
    print(f'policy order: {same} of {n} settings the same, {agree} of {n} alike but for real ties')
    return 0


if __name__ == '__main__':
    sys.exit(main())
