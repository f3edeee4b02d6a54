#!/usr/bin/env bash
# Fidelity: does the simulator predict real jobs over real, shaped links?
#
# For each bandwidth: bring up a testbed (one network namespace per host, NICs shaped with
# tc to that bandwidth), calibrate this machine across it (compute on one core, the network
# between a worker host and the PS host), then, for each worker count and each set of
# slowed workers, run job.yaml under each policy: in `synclab sim` with the calibrated
# platform under each simulated network model, and once for real with `synclab launch` on
# the testbed. One report over all of it pairs every simulated run with its real twin and
# prints the prediction errors (time per update, total time, time to target accuracy) and
# whether simulation orders the policies of each setting by time to target as the real runs do.
#
#   experiments/fidelity/run.sh [--out DIR] [--bandwidths "100Mbps 1Gbps"]
#       [--policies "bsp async ssp backup local-sgd"] [--workers "3"] [--slowed "1"]
#       [--networks "auto"] [--updates 300] [--seeds "1"] [--sim-seeds ""] [--synclab BIN]
#
# --workers: worker counts; --slowed: sets of slowed workers, each "none" or a comma list
# ("1", "1,3"; a set naming a worker a count lacks is skipped for that count); a slowed
# worker waits an exponential 20 ms per step. --networks: sim.network values simulated
# (e.g. "auto packet"); every one pairs with the same real run. --seeds: the seeds every
# run is repeated with, in simulation and for real alike; the report compares their means,
# and with two or more it calls two policies tied where their real runs' times to target
# overlap (one seed's learning curve moves by a few evaluations with the order of updates).
# --sim-seeds: more seeds simulated only (into runs-<network>/sim-seeds/), as cheap as
# simulation is: where the model holds one way of sharing the link for a whole run, one
# simulated seed is a draw of it, and the mean over many is the model's prediction.
# load.csv keeps the load average before and after each sweep: real timings move with what
# else the machine does (real.timeout is 120 s: six workers loading their data on a busy
# machine took over 30 s).
# Needs root (namespaces, tc) and iproute2 + iperf3; says so and exits 2 otherwise. The
# testbed is always torn down, also after a failure or Ctrl-C.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
testbed=$root/experiments/testbed/testbed.sh
out=runs/fidelity
bandwidths="100Mbps 1Gbps"
policies="bsp async ssp backup local-sgd"
workers_list=3
slowed_list=1
networks=auto
updates=300
seeds=1
sim_seeds=
synclab=${SYNCLAB_BIN:-$root/${SYNCLAB_BUILD_DIR:-build}/app/synclab}
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --bandwidths) bandwidths=$2; shift 2 ;;
    --policies) policies=$2; shift 2 ;;
    --workers) workers_list=$2; shift 2 ;;
    --slowed) slowed_list=$2; shift 2 ;;
    --networks) networks=$2; shift 2 ;;
    --updates) updates=$2; shift 2 ;;
    --seeds) seeds=$2; shift 2 ;;
    --sim-seeds) sim_seeds=$2; shift 2 ;;
    --synclab) synclab=$2; shift 2 ;;
    -h|--help) sed -n '2,31p' "$0"; exit 0 ;;
    *) echo "fidelity: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
say() { echo "fidelity: $*" >&2; }
[ "$(id -u)" -eq 0 ] || { say "needs root (network namespaces and tc shaping); run it as root"; exit 2; }
command -v ip >/dev/null || { say "needs iproute2 (ip)"; exit 2; }
command -v iperf3 >/dev/null || { say "needs iperf3 (to check the shaped bandwidth)"; exit 2; }
[ -x "$synclab" ] || { say "no synclab binary at $synclab (build first, or pass --synclab)"; exit 2; }
mkdir -p "$out"
out=$(cd "$out" && pwd)
name=fid$$
trap '"$testbed" down --name "$name" >/dev/null 2>&1 || true' EXIT
trap 'exit 130' INT TERM

policy_yaml() {  # the sweep's policy list
  local items=()
  for p in $policies; do
    case "$p" in
      ssp) items+=("{name: ssp, staleness: 2}") ;;
      backup) items+=("{name: backup, backup: 1}") ;;
      local-sgd) items+=("{name: local-sgd, tau: 4}") ;;
      *) items+=("{name: $p}") ;;
    esac
  done
  local IFS=,
  echo "[${items[*]}]"
}

slowed_yaml() {  # the straggler settings of one slowed set ("none" or "1,3") for W workers; fails if W lacks one
  local set=$1 w=$2
  if [ "$set" = none ]; then echo "  cluster.straggler.dist: none"; return; fi
  local IFS=,
  for i in $set; do
    [ "$i" -lt "$w" ] || return 1
  done
  echo "  cluster.straggler.workers: [$set]"
}

max_workers=0
for w in $workers_list; do
  case "$w" in ''|*[!0-9]*|0) say "--workers: '$w' is not a positive count"; exit 2 ;; esac
  [ "$w" -gt "$max_workers" ] && max_workers=$w
done
for s in $seeds; do
  case "$s" in ''|*[!0-9]*) say "--seeds: '$s' is not a non-negative integer"; exit 2 ;; esac
done
[ -n "${seeds// /}" ] || { say "--seeds: give at least one seed"; exit 2; }
seeds_yaml="[$(echo $seeds | tr ' ' ',')]"
for s in $sim_seeds; do
  case "$s" in ''|*[!0-9]*) say "--sim-seeds: '$s' is not a non-negative integer"; exit 2 ;; esac
  for r in $seeds; do
    [ "$s" != "$r" ] || { say "--sim-seeds: seed $s is already in --seeds (those are simulated too)"; exit 2; }
  done
done
sim_seeds_yaml="[$(echo $sim_seeds | tr ' ' ',')]"
for set in $slowed_list; do
  [ "$set" = none ] || [[ "$set" =~ ^[0-9]+(,[0-9]+)*$ ]] || { say "--slowed: '$set' is not 'none' or a comma list of workers"; exit 2; }
done

echo "bandwidth,iperf3_mbit_s,calibrated_bytes_per_s,calibrated_latency_s" > "$out/links.csv"
echo "bandwidth,workers,slowed,network,load_before,load_after" > "$out/load.csv"
runs=()
for bw in $bandwidths; do
  dir=$out/$bw
  mkdir -p "$dir"
  say "$bw: testbed with 1 PS host + $max_workers worker hosts"
  "$testbed" up --name "$name" --hosts $((1 + max_workers)) --bandwidth "$bw" > "$dir/testbed.txt"
  mbit=$("$testbed" measure --name "$name" 1 0)
  # The shaper's bucket is a property of these links, as their rate is (docs/simulator.md).
  burst=$("$testbed" burst --name "$name")
  say "$bw: iperf3 worker -> PS: $mbit Mbit/s"
  ps_addr=$("$testbed" addr 0)
  "$testbed" exec --name "$name" 0 "$synclab" calibrate --serve 7070 --clients 1 > "$dir/calibrate-serve.log" 2>&1 &
  serve=$!
  sleep 0.5
  "$testbed" exec --name "$name" 1 "$synclab" calibrate --peer "$ps_addr:7070" --model mlp --batch 100 --threads 1 \
    --out "$dir/platform.yaml" 2> "$dir/calibrate.log"
  wait "$serve" || true
  bps=$(sed -n 's/^ *link: {bandwidth: \([^,]*\), latency: \([^}]*\)}.*/\1/p' "$dir/platform.yaml")
  lat=$(sed -n 's/^ *link: {bandwidth: \([^,]*\), latency: \([^}]*\)}.*/\2/p' "$dir/platform.yaml")
  echo "$bw,$mbit,$bps,$lat" >> "$out/links.csv"
  say "$bw: calibrated link $bps bytes/s, latency $lat s"
  for w in $workers_list; do
    for slowed in $slowed_list; do
      stragglers=$(slowed_yaml "$slowed" "$w") || { say "$bw: $w workers have no worker $slowed to slow: skipped"; continue; }
      cell=$dir/w$w-slowed-${slowed//,/_}
      mkdir -p "$cell"
      # Every network model simulates the same job; only the first sweep also runs it for real.
      backends="[sim, launch]"
      for net in $networks; do
        cat > "$cell/sweep-$net.yaml" <<EOF
name: fidelity-$bw-w$w-$net
base: $here/job.yaml
merge: [$dir/platform.yaml]
set:
  tag: "$bw"
  real.testbed: $name
  cluster.workers: $w
  train.stop.updates: $updates
  sim.network: $net
  sim.packet.burst: $burst
  real.timeout: 120s
$stragglers
grid:
  policy: $(policy_yaml)
  backend: $backends
seeds: $seeds_yaml
timeout: 900
EOF
        load_before=$(cut -d' ' -f1 /proc/loadavg)
        say "$bw: $w workers, slowed $slowed, sim.network $net (load average $load_before)"
        "$synclab" sweep "$cell/sweep-$net.yaml" --out "$cell/runs-$net" --jobs 1
        if [ -n "${sim_seeds// /}" ]; then
          # The same job, simulated only, with the other seeds; the report pools them with the
          # simulated runs above (one config up to the seed).
          sed -e "s/^name: .*/&-sim-seeds/" -e "s/^  backend: .*/  backend: [sim]/" -e "s/^seeds: .*/seeds: $sim_seeds_yaml/" \
            "$cell/sweep-$net.yaml" > "$cell/sweep-$net-sim-seeds.yaml"
          "$synclab" sweep "$cell/sweep-$net-sim-seeds.yaml" --out "$cell/runs-$net/sim-seeds" --jobs 1
        fi
        echo "$bw,$w,$slowed,$net,$load_before,$(cut -d' ' -f1 /proc/loadavg)" >> "$out/load.csv"
        runs+=("$cell/runs-$net")
        backends="[sim]"
      done
    done
  done
  "$testbed" down --name "$name"
done
"$synclab" report "${runs[@]}" --out "$out/fidelity.html" --title "Fidelity: simulated vs real on a shaped testbed"
say "report: $out/fidelity.html (summary in $out/fidelity.md)"
echo "$out/fidelity.html"
