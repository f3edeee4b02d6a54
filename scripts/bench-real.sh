#!/usr/bin/env bash
# Benchmarks of the real executor, in one run on this machine:
#   1. push+pull of the CNN's 13.1 MB parameters over loopback (bench_real_transfer) against
#      what iperf3 measures on the same loopback (target: at least 70%);
#   2. a local 2-worker synchronous (bsp) CNN job: steps per second, side by side with
#      PyTorch DistributedDataParallel (gloo, 2 processes x 1 thread, same model and batch;
#      scripts/bench_torch_ddp.py) and the ratio synclab / DDP, when torch is importable
#      (Debian package python3-torch), else skipped;
#   3. a local 2-worker async CNN job: server updates per second.
# Usage: scripts/bench-real.sh [BUILD_DIR]   (default: $SYNCLAB_BUILD_DIR or ./build)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-${SYNCLAB_BUILD_DIR:-$root/build}}
synclab=$build/app/synclab
bench=$build/tests/real/bench_real_transfer
for f in "$synclab" "$bench"; do
  [ -x "$f" ] || { echo "bench-real: $f not built (cmake --build $build --target synclab bench_real_transfer)" >&2; exit 1; }
done
command -v iperf3 >/dev/null || { echo "bench-real: iperf3 not installed (apt-get install iperf3)" >&2; exit 1; }
out=$(mktemp -d)
iperf_pid=
cleanup() { [ -n "$iperf_pid" ] && kill "$iperf_pid" 2>/dev/null; rm -rf "$out"; }
trap cleanup EXIT
json() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }

echo "== 1. loopback bandwidth: iperf3 vs synclab push+pull (13.1 MB each way)"
port=$((20000 + RANDOM % 20000))
iperf3 -s -1 -p "$port" >/dev/null 2>&1 &
iperf_pid=$!
sleep 0.5
iperf3 -c 127.0.0.1 -p "$port" -t 5 -J >"$out/iperf.json"
iperf_pid=
iperf_mbs=$(json "$out/iperf.json" "d['end']['sum_received']['bits_per_second'] / 8e6")
"$bench" --benchmark_format=json --benchmark_out="$out/transfer.json" >/dev/null
ours_mbs=$(json "$out/transfer.json" "d['benchmarks'][0]['bytes_per_second'] / 1e6")
rtt_ms=$(json "$out/transfer.json" "d['benchmarks'][0]['real_time']")
python3 - "$iperf_mbs" "$ours_mbs" "$rtt_ms" <<'PY'
import sys
iperf, ours, rtt = map(float, sys.argv[1:])
print(f"iperf3 loopback:        {iperf:9.1f} MB/s")
print(f"synclab push+pull:      {ours:9.1f} MB/s  ({rtt:.1f} ms per 26.2 MB round trip)")
print(f"ratio:                  {100 * ours / iperf:9.1f} %  (target >= 70 %)")
PY

cnn_config() {  # policy, updates
  cat <<YAML
model: cnn
data: {dataset: fashion-mnist, batch: 100, eval_samples: 1000}
train: {optimizer: {name: adam, lr: 0.0001}, stop: {updates: $2}, eval_every: 100000, seed: 1, threads: 1}
policy: {name: $1}
cluster: {workers: 2, servers: 1}
YAML
}

echo "== 2. 2-worker synchronous CNN job (bsp, batch 100 per worker, one thread each)"
cnn_config bsp 100 >"$out/bsp.yaml"
"$synclab" launch "$out/bsp.yaml" --out "$out/bsp" >"$out/bsp.log" 2>&1 || { cat "$out/bsp.log"; exit 1; }
json "$out/bsp/summary.json" "f\"synclab bsp:            {d['updates_per_s']:9.2f} steps/s  ({d['updates']} steps in {d['time_s']:.1f} s; per worker compute/wait/communicate s: \" + ', '.join(f\"{w['compute_s']:.1f}/{w['wait_s']:.1f}/{w['communicate_s']:.1f}\" for w in d['per_worker']) + ')'"
# Debian's python3 has python3-torch; a python3 earlier on PATH (a virtualenv) may not.
py=""
for candidate in /usr/bin/python3 python3; do
  if command -v "$candidate" >/dev/null && "$candidate" -c "import torch" 2>/dev/null; then py=$candidate; break; fi
done
if [ -n "$py" ]; then
  ddp=$("$py" "$root/scripts/bench_torch_ddp.py" --steps 100 2>"$out/ddp.log" | awk '/^ddp_steps_per_s/{print $2}') || true
  [ -n "$ddp" ] || { cat "$out/ddp.log" >&2; echo "bench-real: no result from scripts/bench_torch_ddp.py" >&2; exit 1; }
  bsp=$(json "$out/bsp/summary.json" "d['updates_per_s']")
  awk -v a="$bsp" -v b="$ddp" 'BEGIN{printf "PyTorch DDP (gloo):     %9.2f steps/s\nratio synclab bsp / DDP:%9.2f  (higher is better)\n", b, a / b}'
else
  echo "PyTorch DDP (gloo):      skipped (python3 cannot import torch on this machine)"
fi

echo "== 3. 2-worker async CNN job"
cnn_config async 200 >"$out/async.yaml"
"$synclab" launch "$out/async.yaml" --out "$out/async" >"$out/async.log" 2>&1 || { cat "$out/async.log"; exit 1; }
json "$out/async/summary.json" "f\"synclab async:          {d['updates_per_s']:9.2f} updates/s  ({d['updates']} updates in {d['time_s']:.1f} s; torch.distributed.rpc PS reference: ~14.5)\""
echo "machine load while measuring: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
