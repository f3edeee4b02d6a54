#!/usr/bin/env bash
# The testbed comes up and goes down cleanly, shaped bandwidth measured across it matches
# the configured rate within 10%, and a small real job runs across it with `synclab launch`.
# Usage: testbed_test.sh SYNCLAB_BINARY
set -euo pipefail
bin=$1
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
tb=$root/experiments/testbed/testbed.sh
source "$here/skip_unless_root.sh"
name=tbt$$
work=$(mktemp -d)
trap '"$tb" down --name "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
leftovers() { ip netns list | awk '{print $1}' | grep -E "^$name-" || true; }

# Not root-only checks of the script's own input handling.
if "$tb" up --name "$name" --hosts 1 2>"$work/err"; then fail "up with one host succeeded"; fi
grep -q -- "--hosts must be at least 2" "$work/err" || fail "up --hosts 1: $(cat "$work/err")"
[ -z "$(leftovers)" ] || fail "a refused up left namespaces: $(leftovers)"

"$tb" up --name "$name" --hosts 3 --bandwidth 200Mbps > "$work/up.txt"
[ "$(wc -l < "$work/up.txt")" -eq 3 ] || fail "up listed $(wc -l < "$work/up.txt") hosts, expected 3"
grep -q "200000kbit" "$work/up.txt" || fail "200Mbps was not turned into a 200000kbit tc rate: $(cat "$work/up.txt")"
[ "$(leftovers | wc -l)" -eq 4 ] || fail "expected 3 host namespaces and a switch, found: $(leftovers | tr '\n' ' ')"
if "$tb" up --name "$name" --hosts 2 2>"$work/err"; then fail "a second up of the same testbed succeeded"; fi
# The shaper's bucket, in bytes, as the tbf of every NIC has it (the simulator's sim.packet.burst).
[ "$("$tb" burst --name "$name")" = 16384 ] || fail "burst printed '$("$tb" burst --name "$name")', expected 16384 (16kb)"
ip netns exec "$name-h0" tc qdisc show dev eth0 | grep -q "burst 16Kb" || fail "host 0's tbf has no 16 KB bucket: $(ip netns exec "$name-h0" tc qdisc show dev eth0)"
# Nothing of the testbed is visible in the machine's own namespace.
! ip link show | grep -qE "p[0-9]+@|br0" || fail "testbed links leaked into the root namespace"

mbit=$("$tb" measure --name "$name" 1 0)
echo "iperf3 host 1 -> host 0 through 200 Mbit/s NICs: $mbit Mbit/s"
python3 -c "import sys; m=float(sys.argv[1]); sys.exit(0 if abs(m-200)/200 <= 0.10 else 1)" "$mbit" \
  || fail "measured $mbit Mbit/s, more than 10% from 200"

# A small real job across the testbed: PS in host 0, workers in hosts 1 and 2.
cat > "$work/job.yaml" <<YAML
model: softmax
data: {dataset: synthetic, batch: 50}
train: {optimizer: {name: sgd, lr: 0.1}, stop: {updates: 40}, eval_every: 20}
policy: {name: bsp}
cluster: {workers: 2}
real: {testbed: $name}
YAML
"$bin" launch "$work/job.yaml" --out "$work/run" > "$work/launch.out" 2> "$work/launch.err" \
  || { tail -20 "$work/launch.err" >&2; fail "launch on the testbed failed"; }
python3 - "$work/run/summary.json" <<'PY' || fail "summary of the testbed job is wrong"
import json, sys
s = json.load(open(sys.argv[1]))
assert s["backend"] == "real", s["backend"]
assert s["updates"] == 40, s["updates"]
assert s["workers"] == 2, s["workers"]
PY
grep -q "launch: on testbed '$name' (3 hosts)" "$work/launch.err" || fail "launch did not say it runs on the testbed"
grep -q "serving .* on 10.213.0.1:" "$work/run/logs/ps0.log" || fail "the PS did not serve on the testbed address (10.213.0.1)"
grep -q "worker 1 joined from .*(10.213.0.3:" "$work/run/logs/ps0.log" || fail "worker 1 did not connect from its testbed host"

# A missing testbed is a config error naming the key.
if "$bin" launch "$work/job.yaml" --set real.testbed=absent$$ --out "$work/run2" 2>"$work/err"; then fail "launch on a missing testbed succeeded"; fi
grep -q "real.testbed" "$work/err" || fail "missing testbed error does not name real.testbed: $(cat "$work/err")"

"$tb" down --name "$name"
[ -z "$(leftovers)" ] || fail "down left namespaces: $(leftovers)"
[ ! -e "/run/synclab-testbed/$name" ] || fail "down left its state folder"
echo "testbed: up, shaped, job, down: ok"
