# Sourced by the testbed tests: exits 77 (CTest: skipped) with the reason when this machine
# cannot host a testbed (not root, no iproute2 / iperf3, or namespaces not permitted).
skip() { echo "SKIP: $*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces and tc"
command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
command -v tc >/dev/null || skip "tc (iproute2) is not installed"
command -v iperf3 >/dev/null || skip "iperf3 is not installed"
command -v python3 >/dev/null || skip "python3 is not installed (the testbed script parses rates with it)"
probe_ns=synclab-probe-$$
ip netns add "$probe_ns" 2>/dev/null || skip "'ip netns add' is not permitted here"
probe_ok=1
ip netns exec "$probe_ns" ip link set lo up 2>/dev/null || probe_ok=0
ip netns exec "$probe_ns" tc qdisc add dev lo root tbf rate 100mbit burst 16kb latency 100ms 2>/dev/null || probe_ok=0
ip netns del "$probe_ns"
[ "$probe_ok" = 1 ] || skip "tc tbf shaping is not available in a network namespace here"
