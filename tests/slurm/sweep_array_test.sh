#!/usr/bin/env bash
# `synclab sweep --emit-slurm` on a real Slurm: the job array runs the sweep (sbatch options
# passed through), the merge job builds index.csv after it and `synclab report` reads it.
# Cancelling one array task mid-run leaves a failure naming the cancellation in the index
# and the other runs intact; submitting again reruns only that run.
set -euo pipefail
source "$(dirname "$0")/common.sh" "$@"

# Three runs, one per array task; the third lasts a few seconds, to be caught while it runs.
cat >sweep.yaml <<'YAML'
name: arr
config:
  model: softmax
  data: {dataset: synthetic, synthetic_train: 2000, synthetic_test: 500, batch: 20}
  train: {optimizer: {name: sgd, lr: 0.1}, eval_every: 20}
  cluster: {workers: 2, gpu: {flops: 1.0e9, efficiency: 1.0}, link: {bandwidth: 1Gbps, latency: 100us}}
  sim: {mode: full}
zip:
  policy.name: [bsp, async, ssp]
  train.stop.updates: [60, 60, 30000]
slurm: {partition: debug, time: "10"}
YAML
long=policy=ssp_updates=30000
"$bin" sweep sweep.yaml --list | grep -q "$long" || fail "run names changed: $("$bin" sweep sweep.yaml --list)"

"$bin" sweep sweep.yaml --out out --emit-slurm --shards 3 --cpus-per-task 1 --sbatch-arg=--comment=synclab-array
grep -q '^#SBATCH --partition=debug$' out/sweep.sbatch || fail "no partition in $(cat out/sweep.sbatch)"

submit() {
  local line
  line=$(bash out/submit.sh)
  echo "$line"
  array=$(sed -n 's/.*array job \([0-9]*\),.*/\1/p' <<<"$line")
  merge=$(sed -n 's/.*merge job \([0-9]*\);.*/\1/p' <<<"$line")
  [ -n "$array" ] && [ -n "$merge" ] || fail "submit.sh said: $line"
}

stamp "== first submission; task 2 is cancelled while its run is in progress"
submit
# The pass-through reached Slurm.
job=$(scontrol show job "$array" -o | head -n 1)
grep -q "Partition=debug" <<<"$job" || fail "partition: $job"
grep -q "TimeLimit=00:10:00" <<<"$job" || fail "time limit: $job"
grep -q "Comment=synclab-array" <<<"$job" || fail "--sbatch-arg: $job"
deadline=$((SECONDS + 90))
until [ -e "out/logs/$long.err" ]; do
  [ $SECONDS -lt $deadline ] || { squeue >&2; fail "the long run never started"; }
  sleep 0.05
done
# The run takes seconds of CPU; the cancellation (SIGTERM to the task's processes) reaches it
# within milliseconds of its start.
scancel "${array}_2"
wait_jobs 120 "$array" "$merge"

index_field() {  # run column -> value
  python3 - "$1" "$2" <<'PY'
import csv, sys
rows = {r["run"]: r for r in csv.DictReader(open("out/index.csv"))}
print(rows[sys.argv[1]][sys.argv[2]])
PY
}
[ "$(index_field "$long" status)" = failed ] || fail "cancelled run: $(cat out/index.csv)"
error=$(index_field "$long" error)
grep -Eq "interrupted by SIGTERM|killed by signal 15" <<<"$error" || fail "unclear failure for the cancelled run: $error"
echo "cancelled run in the index: failed: $error"
ok_runs=(policy=bsp_updates=60 policy=async_updates=60)
for r in "${ok_runs[@]}"; do
  [ "$(index_field "$r" status)" = ok ] || fail "$r: $(cat out/index.csv)"
  [ "$(index_field "$r" updates)" = 60 ] || fail "$r updates"
done
sums_before=$(cd out && sha256sum policy=bsp_updates=60/summary.json policy=async_updates=60/summary.json)
stamps_before=$(cd out && stat -c %Y policy=bsp_updates=60/summary.json policy=async_updates=60/summary.json)

"$bin" report out --out out/report.html >/dev/null 2>report.log || fail "report: $(cat report.log)"
grep -q "| bsp | sim |" out/report.md || fail "report lacks bsp: $(cat out/report.md)"
grep -q "| async | sim |" out/report.md || fail "report lacks async"

stamp "== second submission: only the cancelled run runs again"
submit
wait_jobs 180 "$array" "$merge"
for t in 0 1; do
  grep -q "0 ran, 1 cached, 0 failed" "out/logs/slurm-${array}_$t.out" || fail "task $t reran something: $(cat "out/logs/slurm-${array}_$t.out")"
done
grep -q "1 ran, 0 cached, 0 failed" "out/logs/slurm-${array}_2.out" || fail "task 2: $(cat "out/logs/slurm-${array}_2.out")"
[ "$(cd out && sha256sum policy=bsp_updates=60/summary.json policy=async_updates=60/summary.json)" = "$sums_before" ] || fail "finished runs changed"
[ "$(cd out && stat -c %Y policy=bsp_updates=60/summary.json policy=async_updates=60/summary.json)" = "$stamps_before" ] || fail "finished runs rewritten"
for r in "${ok_runs[@]}" "$long"; do
  [ "$(index_field "$r" status)" = ok ] || fail "after resubmission $r: $(cat out/index.csv)"
done
echo PASS
