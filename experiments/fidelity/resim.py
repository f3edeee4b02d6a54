#!/usr/bin/env python3
"""Re-simulates a finished fidelity experiment with changed settings, against its real runs.

A model change is checked on the real runs already made: every simulated run of a
fidelity directory (written by run.sh) is run again from its stored input with the given
--set values, and its time per update compared with the kept real runs of the same
configuration (means over seeds, failed runs left out, as the report does). Prints one
line per configuration and simulated network model, then how many are within 10% and 5%.
Each line also says how often updates came in bunches, real and simulated: the share of
the intervals between consecutive updates shorter than a third of their median (seed
means; "-" where a run kept no updates.csv). Workers whose pushes shared the PS's link
and ended together make it high; a stagger, one push after another, makes it low.
The real runs are only read; the new simulated runs go to <cell>/resim-TAG-<network>/.

  resim.py DIR --tag TAG [--set KEY=VALUE ...] [--synclab BIN] [--jobs 2]

DIR: run.sh's --out (or one bandwidth's directory of it). TAG names the variant; runs
already there are reused, so a second call only prints. Exit status 0, 1 when a simulation
failed (its input and the end of its output are printed), 2 on bad arguments.
"""
import argparse
import concurrent.futures
import csv
import glob
import json
import os
import statistics
import subprocess
import sys


def summary(run_dir):
    with open(os.path.join(run_dir, 'summary.json')) as f:
        return json.load(f)


def failed(s):
    """A failed run's summary (docs/run-directory.md): reports leave it out, so does this."""
    r = s.get('stop_reason', '')
    return r in ('failed', 'deadlock', 'diverged', 'error') or r.startswith('error:') or not s.get('updates')


def ms_per_update(run_dir):
    s = summary(run_dir)
    return 1000.0 * s['time_s'] / s['updates']


def bunched(run_dir):
    """Share of the intervals between consecutive updates that are under a third of their
    median (None without a readable updates.csv or with fewer than two intervals)."""
    try:
        with open(os.path.join(run_dir, 'updates.csv'), newline='') as f:
            times = [float(row['time_s']) for row in csv.DictReader(f)]
    except (OSError, KeyError, ValueError, TypeError):
        return None
    gaps = [b - a for a, b in zip(times, times[1:])]
    if len(gaps) < 2:
        return None
    third = statistics.median(gaps) / 3
    return sum(g < third for g in gaps) / len(gaps)


def mean_bunched(run_dirs):
    """bunched() over runs, as '0.17' (mean of those that have it), '-' where none has."""
    shares = [b for b in map(bunched, run_dirs) if b is not None]
    return f'{statistics.mean(shares):.2f}' if shares else '-'


def cells(root):
    """Directories holding runs-<network>/ sweeps (a cell of run.sh: one worker count, one slowed set)."""
    found = set()
    for sweep in glob.glob(os.path.join(root, '**', 'runs-*'), recursive=True):
        if os.path.isdir(os.path.join(sweep, 'inputs')):
            found.add(os.path.dirname(sweep))
    return sorted(found)


def sweep_dirs(sweep):
    """A run.sh sweep directory and the one inside it holding the seeds simulated only
    (run.sh --sim-seeds: runs-<network>/sim-seeds/)."""
    return (sweep, os.path.join(sweep, 'sim-seeds'))


def jobs_of(cell):
    """(network, policy, seed input) for every simulated run of a cell, those of the seeds
    simulated only included."""
    out = []
    for sweep in sorted(glob.glob(os.path.join(cell, 'runs-*'))):
        net = os.path.basename(sweep)[len('runs-'):]
        for sub in sweep_dirs(sweep):
            for inp in sorted(glob.glob(os.path.join(sub, 'inputs', '*backend=sim*.yaml'))):
                out.append((net, os.path.basename(inp).split('_backend=')[0], inp))
    return out


def real_runs(cell, policy):
    """The finished real runs of a policy in a cell (failed ones left out)."""
    dirs = [os.path.dirname(s) for s in sorted(glob.glob(os.path.join(cell, 'runs-*', f'{policy}_backend=launch*', 'summary.json')))]
    return [d for d in dirs if not failed(summary(d))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('dir')
    ap.add_argument('--tag', required=True, help='names the variant (its runs go to resim-TAG-<network>/)')
    ap.add_argument('--set', action='append', default=[], metavar='KEY=VALUE', help='a setting for every simulated run (repeatable)')
    ap.add_argument('--synclab', default=os.environ.get('SYNCLAB_BIN', 'build/app/synclab'))
    ap.add_argument('--jobs', type=int, default=2)
    a = ap.parse_args()
    for s in a.set:
        if '=' not in s:
            ap.error(f"--set '{s}': expected KEY=VALUE")
    if not a.tag.replace('-', '').replace('_', '').replace('.', '').isalnum():
        ap.error(f"--tag '{a.tag}': letters, digits, '-', '_' and '.' only")
    if not (os.path.isfile(a.synclab) and os.access(a.synclab, os.X_OK)):
        ap.error(f"--synclab '{a.synclab}': not an executable (build first, or give its path)")
    if a.jobs < 1:
        ap.error('--jobs: must be at least 1')
    work = []
    for cell in cells(a.dir):
        for net, policy, inp in jobs_of(cell):
            if real_runs(cell, policy):
                work.append((cell, net, policy, inp))
    if not work:
        print(f'resim: no simulated run with a real twin under {a.dir} (a directory written by run.sh?)', file=sys.stderr)
        return 2

    def simulate(job):
        cell, net, policy, inp = job
        out = os.path.join(cell, f'resim-{a.tag}-{net}', os.path.basename(inp)[:-len('.yaml')])
        if not os.path.exists(os.path.join(out, 'summary.json')):
            cmd = [a.synclab, 'sim', inp, '--out', out] + [x for s in a.set for x in ('--set', s)]
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode != 0:
                return job, None, f'{inp}: synclab sim exited {r.returncode}:\n' + (r.stdout + r.stderr)[-2000:]
        s = summary(out)
        if failed(s):
            return job, None, f'{inp}: the simulated run failed ({s.get("stop_reason")}: {s.get("error", "")}); see {out}'
        return job, (ms_per_update(out), out), None

    sims, errors = {}, []
    with concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        for (cell, net, policy, _), done, err in pool.map(simulate, work):
            if err:
                errors.append(err)
            else:
                sims.setdefault((cell, net, policy), []).append(done)
    for err in errors:
        print(err, file=sys.stderr)

    counts = {}
    for (cell, net, policy), done in sorted(sims.items()):
        reals = real_runs(cell, policy)
        real = statistics.mean(ms_per_update(d) for d in reals)
        sim = statistics.mean(ms for ms, _ in done)
        bunches = f'bunched real {mean_bunched(reals):>4} sim {mean_bunched([d for _, d in done]):>4}'
        err = 100.0 * (sim - real) / real
        n, in10, in5 = counts.get(net, (0, 0, 0))
        counts[net] = (n + 1, in10 + (abs(err) <= 10), in5 + (abs(err) <= 5))
        name = os.path.relpath(cell, a.dir)
        print(f'{name:24} {net:7} {policy.removeprefix("policy="):20} real {real:8.3f} ms  sim {sim:8.3f} ms  {err:+6.1f}%  {bunches}' + ('  > 10%' if abs(err) > 10 else ''))
    for net, (n, in10, in5) in sorted(counts.items()):
        print(f'{net}: {in10} of {n} within 10%, {in5} within 5% (time per update, seed means)')
    return 1 if errors else 0


if __name__ == '__main__':
    sys.exit(main())
