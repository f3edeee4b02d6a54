#!/usr/bin/env bash
# Fidelity: does the simulator predict real jobs over real, shaped links?
#
# For each bandwidth: bring up a testbed (one network namespace per host, NICs shaped with
# tc to that bandwidth), calibrate this machine across it (compute on one core, the network
# between a worker host and the PS host), then run job.yaml under each policy twice: once
# in `synclab sim` with the calibrated platform, once for real with `synclab launch` on the
# testbed. One report over all of it pairs every simulated run with its real twin and
# prints the prediction errors (time per update, total time, time to target accuracy).
#
#   experiments/fidelity/run.sh [--out DIR] [--bandwidths "100Mbps 1Gbps"]
#       [--policies "bsp async ssp"] [--workers 3] [--updates 300] [--synclab BIN]
#
# Needs root (namespaces, tc) and iproute2 + iperf3; says so and exits 2 otherwise. The
# testbed is always torn down, also after a failure or Ctrl-C.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
testbed=$root/experiments/testbed/testbed.sh
out=runs/fidelity
bandwidths="100Mbps 1Gbps"
policies="bsp async ssp"
workers=3
updates=300
synclab=${SYNCLAB_BIN:-$root/${SYNCLAB_BUILD_DIR:-build}/app/synclab}
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out=$2; shift 2 ;;
    --bandwidths) bandwidths=$2; shift 2 ;;
    --policies) policies=$2; shift 2 ;;
    --workers) workers=$2; shift 2 ;;
    --updates) updates=$2; shift 2 ;;
    --synclab) synclab=$2; shift 2 ;;
    -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
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
      *) items+=("{name: $p}") ;;
    esac
  done
  local IFS=,
  echo "[${items[*]}]"
}

echo "bandwidth,iperf3_mbit_s,calibrated_bytes_per_s,calibrated_latency_s" > "$out/links.csv"
for bw in $bandwidths; do
  dir=$out/$bw
  mkdir -p "$dir"
  say "$bw: testbed with 1 PS host + $workers worker hosts"
  "$testbed" up --name "$name" --hosts $((1 + workers)) --bandwidth "$bw" > "$dir/testbed.txt"
  mbit=$("$testbed" measure --name "$name" 1 0)
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
  cat > "$dir/sweep.yaml" <<EOF
name: fidelity-$bw
base: $here/job.yaml
merge: [platform.yaml]
set:
  tag: "$bw"
  real.testbed: $name
  cluster.workers: $workers
  train.stop.updates: $updates
grid:
  policy: $(policy_yaml)
  backend: [sim, launch]
seeds: [1]
timeout: 900
EOF
  "$synclab" sweep "$dir/sweep.yaml" --out "$dir/runs" --jobs 1
  "$testbed" down --name "$name"
done
runs=()
for bw in $bandwidths; do runs+=("$out/$bw/runs"); done
"$synclab" report "${runs[@]}" --out "$out/fidelity.html" --title "Fidelity: simulated vs real on a shaped testbed"
say "report: $out/fidelity.html (summary in $out/fidelity.md)"
echo "$out/fidelity.html"
