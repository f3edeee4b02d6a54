#!/usr/bin/env bash
# `srun -n 4 synclab launch` on a real Slurm: rank 0 is the PS, ranks 1-3 the workers. A bsp
# job ends with the parameters of the simulated run bit for bit; an async job, as a step of
# a batch allocation larger than the step (SLURM_STEP_* over SLURM_JOB_*), completes.
set -euo pipefail
source "$(dirname "$0")/common.sh" "$@"

port=$(free_port)
cat >job.yaml <<YAML
model: softmax
data: {dataset: synthetic, synthetic_train: 2000, synthetic_test: 500, batch: 20}
train: {optimizer: {name: sgd, lr: 0.1}, stop: {updates: 60}, eval_every: 20, seed: 7}
policy: {name: bsp}
cluster: {workers: 3, servers: 1, gpu: {flops: 1.0e9, efficiency: 1.0}, link: {bandwidth: 1Gbps, latency: 100us}}
real: {port: $port, timeout: 20s, heartbeat: 200ms, frame_timeout: 5s}
YAML

stamp "== srun -n 4 --overcommit synclab launch job.yaml (bsp)"
timeout 150 srun -n 4 --overcommit --kill-on-bad-exit=1 --time=3 --output=bsp-rank%t.log "$bin" launch job.yaml --out run-bsp \
  || { tail -n 5 bsp-rank*.log >&2; fail "srun bsp job"; }
grep -q "Slurm rank is ps 0" bsp-rank0.log || fail "rank 0 did not take the PS role: $(cat bsp-rank0.log)"
grep -q "Slurm rank is worker 2" bsp-rank3.log || fail "rank 3 is not worker 2: $(cat bsp-rank3.log)"
[ "$(json_field run-bsp/summary.json workers)" = 3 ] || fail "bsp: not 3 workers"
[ "$(json_field run-bsp/summary.json updates)" = 60 ] || fail "bsp: not 60 updates"
"$bin" sim job.yaml --set sim.mode=full --out run-sim >/dev/null 2>sim.log || fail "sim: $(cat sim.log)"
real_sha=$(json_field run-bsp/summary.json final_params_sha256)
sim_sha=$(json_field run-sim/summary.json final_params_sha256)
[ "$real_sha" = "$sim_sha" ] || fail "bsp under srun ended with $real_sha, the simulated run with $sim_sha"
echo "bsp under srun = simulated run: $real_sha"

stamp "== sbatch (5 tasks): srun -n 4 synclab launch (async) as a step of a larger allocation"
cat >async.sbatch <<SH
#!/bin/bash
#SBATCH --ntasks=5 --overcommit --time=3 --output=$scratch/async-job.log
set -euo pipefail
srun -n 4 --overcommit --kill-on-bad-exit=1 --output=$scratch/async-rank%t.log '$bin' launch '$scratch/job.yaml' --set policy.name=async --out '$scratch/run-async'
SH
job=$(sbatch --parsable async.sbatch)
wait_jobs 150 "$job"
state=$(scontrol show job "$job" -o | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
[ "$state" = COMPLETED ] || { cat async-job.log >&2; tail -n 5 async-rank*.log >&2; fail "sbatch async job: $state"; }
grep -q "Slurm rank is worker 0 (PS shards at $(hostname -s):$port)" async-rank1.log || fail "async rank 1: $(cat async-rank1.log)"
[ "$(json_field run-async/summary.json workers)" = 3 ] || fail "async: not 3 workers (the step's 4 tasks, not the job's 5)"
[ "$(json_field run-async/summary.json policy)" = async ] || fail "async: wrong policy"
updates=$(json_field run-async/summary.json updates)
[ "$updates" -ge 60 ] || fail "async: $updates updates"
echo "async step of a 5-task allocation: 3 workers, $updates updates"
echo PASS
