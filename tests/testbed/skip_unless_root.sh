# Sourced by the testbed tests: exits 77 (CTest: skipped) with the reason when this machine
# cannot host a testbed (not root, no iproute2 / iperf3, or namespaces not permitted).
skip() { echo "SKIP: $*" >&2; exit 77; }
[ "$(id -u)" -eq 0 ] || skip "needs root for network namespaces and tc"
command -v ip >/dev/null || skip "iproute2 (ip) is not installed"
command -v tc >/dev/null || skip "tc (iproute2) is not installed"
command -v iperf3 >/dev/null || skip "iperf3 is not installed"
probe_ns=synclab-probe-$$
ip netns add "$probe_ns" 2>/dev/null || skip "'ip netns add' is not permitted here"
ip netns del "$probe_ns"
