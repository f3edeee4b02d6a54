#!/usr/bin/env bash
# A multi-host testbed on one Linux machine: one network namespace per host, veth links
# into a bridge that lives in its own "switch" namespace (no address or link is added to
# the machine's own namespace), per-host NIC shaping with tc tbf in both directions, and
# optional per-host CPU quotas to make a real straggler. Needs root.
#
#   testbed.sh up   [--name N] --hosts H [--bandwidth R] [--ps-bandwidth R] [--ps-hosts P]
#                   [--latency T]                 host-to-host latency (netem; half per NIC)
#   testbed.sh exec [--name N] HOST CMD...        run CMD inside host HOST (0-based)
#   testbed.sh addr [--name N] HOST               print the IPv4 address of HOST
#   testbed.sh slow [--name N] HOST FRACTION PID  cap PID (and children it forks later) to
#                                                 FRACTION of one core (cgroup cpu quota)
#   testbed.sh measure [--name N] FROM TO         iperf3 from host FROM to host TO (Mbit/s)
#   testbed.sh burst [--name N]                   print the NICs' token bucket (tbf burst) in bytes
#   testbed.sh down [--name N]                    remove everything `up` made
#   testbed.sh status [--name N]
#
# Rates are tc rates ("100mbit", "1gbit") or config strings ("100Mbps", "1Gbps").
# The first P hosts (default 1) are the parameter servers and get --ps-bandwidth.
# Latency needs sch_netem: where the kernel lacks it, `up` without --latency notes it and
# goes on with the veth latency (tens of microseconds); `up --latency` refuses.
# `synclab launch --set real.testbed=N` runs a job's roles inside the hosts (PS shards first).
set -euo pipefail

name=sltb
# tbf's bucket: a message after an idle spell gets `burst` bytes at memory speed, so a
# large bucket makes a 300 KB message ~25% faster than rate R. 16 KB keeps that under 5%;
# the hosts' GSO packets are capped at 8 KB (gso_max_size) so that tbf never has to
# split a 64 KB segment against a small bucket (which costs 15-20% of throughput).
burst=${SYNCLAB_TESTBED_BURST:-16kb}
cmd=${1:-}
[ -n "$cmd" ] && shift || true

die() { echo "testbed: $*" >&2; exit 1; }
# The bucket in bytes (tc's size units: b, k or kb = 1024 bytes, m or mb = 1024 k).
burst_bytes() {
  case "$burst" in
    *[kK][bB]|*[kK]) echo $(( ${burst%%[kK]*} * 1024 )) ;;
    *[mM][bB]|*[mM]) echo $(( ${burst%%[mM]*} * 1048576 )) ;;
    *[bB]) echo "${burst%[bB]}" ;;
    *[!0-9]*|'') die "SYNCLAB_TESTBED_BURST: '$burst' is not a size (16kb, 20000b)" ;;
    *) echo "$burst" ;;
  esac
}
need_root() { [ "$(id -u)" -eq 0 ] || die "needs root (network namespaces and tc); run it as root or skip the testbed"; }
state_dir() { echo "/run/synclab-testbed/$name"; }

# "100Mbps" / "1Gbps" / "12.5MBps" / bare bytes per second -> tc rate in kbit.
tc_rate() {
  local v=$1
  case "$v" in
    *mbit|*gbit|*kbit) echo "$v"; return ;;
  esac
  python3 - "$v" <<'PY'
import re, sys
v = sys.argv[1].strip()
m = re.fullmatch(r'([0-9.eE+-]+)\s*([A-Za-z/]*)', v)
if not m: sys.exit(f"testbed: cannot parse bandwidth '{v}'")
x, u = float(m.group(1)), m.group(2)
bits = {'': 8, 'bps': 1, 'Kbps': 1e3, 'Mbps': 1e6, 'Gbps': 1e9,
        'Bps': 8, 'KBps': 8e3, 'MBps': 8e6, 'GBps': 8e9, 'KB/s': 8e3, 'MB/s': 8e6, 'GB/s': 8e9}
if u not in bits: sys.exit(f"testbed: unknown bandwidth unit '{u}' in '{v}'")
print(f"{max(1, round(x * bits[u] / 1e3))}kbit")
PY
}

parse_name() {
  while [ $# -gt 0 ]; do
    case "$1" in --name) name=$2; shift 2 ;; *) break ;; esac
  done
  rest=("$@")
}

host_ns() { echo "$name-h$1"; }
host_addr() { echo "10.213.$(( $1 / 250 )).$(( $1 % 250 + 1 ))"; }

shape() {  # shape NS DEV RATE [DELAY]: tbf for the rate, under a netem delay when given
  if [ -n "${4:-}" ]; then
    ip netns exec "$1" tc qdisc replace dev "$2" root handle 1: netem delay "$4"
    [ "$3" = unshaped ] || ip netns exec "$1" tc qdisc add dev "$2" parent 1: handle 2: tbf rate "$3" burst "${burst}" latency 100ms
  else
    ip netns exec "$1" tc qdisc replace dev "$2" root tbf rate "$3" burst "${burst}" latency 100ms
  fi
}

# "50us" / "1ms" / "0.001" (seconds) -> half of it in microseconds, as netem takes it.
half_delay() {
  python3 - "$1" <<'PY'
import re, sys
v = sys.argv[1].strip()
m = re.fullmatch(r'([0-9.eE+-]+)\s*(us|ms|s|)', v)
if not m: sys.exit(f"testbed: cannot parse latency '{v}' (e.g. 50us, 1ms)")
sec = float(m.group(1)) * {'us': 1e-6, 'ms': 1e-3, 's': 1, '': 1}[m.group(2)]
print(f"{max(1, round(sec / 2 * 1e6))}us")
PY
}

have_netem() {  # NS
  ip netns exec "$1" tc qdisc add dev lo root netem delay 1ms 2>/dev/null || return 1
  ip netns exec "$1" tc qdisc del dev lo root
}

do_down() {
  for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep -E "^$name-(h[0-9]+|sw)$" || true); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  for cg in /sys/fs/cgroup/cpu/"$name"-* /sys/fs/cgroup/unified/"$name"-* /sys/fs/cgroup/"$name"-*; do
    [ -d "$cg" ] && rmdir "$cg" 2>/dev/null || true
  done
  rm -rf "$(state_dir)"
}

do_up() {
  local hosts=0 bw="" psbw="" ps=1 lat="" delay=""
  while [ $# -gt 0 ]; do
    case "$1" in
      --hosts) hosts=$2; shift 2 ;;
      --bandwidth) bw=$2; shift 2 ;;
      --ps-bandwidth) psbw=$2; shift 2 ;;
      --ps-hosts) ps=$2; shift 2 ;;
      --latency) lat=$2; shift 2 ;;
      *) die "up: unknown option '$1'" ;;
    esac
  done
  [ "$hosts" -ge 2 ] 2>/dev/null || die "up: --hosts must be at least 2 (got '$hosts')"
  [ "$hosts" -le 200 ] || die "up: --hosts must be at most 200"
  [ -z "$psbw" ] && psbw=$bw
  [ -n "$lat" ] && { delay=$(half_delay "$lat") || exit 1; }
  if ip netns list | grep -qE "^$name-sw( |$)"; then die "up: a testbed named '$name' exists; run 'testbed.sh down --name $name' first"; fi
  trap 'echo "testbed: up failed; removing what was made" >&2; do_down' ERR INT TERM
  local sw="$name-sw"
  ip netns add "$sw"
  ip netns exec "$sw" ip link set lo up
  ip netns exec "$sw" ip link add br0 type bridge
  ip netns exec "$sw" ip link set br0 up
  if [ -n "$delay" ] && ! have_netem "$sw"; then
    do_down; die "up: --latency needs sch_netem, which this kernel lacks; leave latency out (veth adds tens of microseconds)"
  fi
  mkdir -p "$(state_dir)"
  : > "$(state_dir)/hosts"
  burst_bytes > "$(state_dir)/burst"
  for ((i = 0; i < hosts; i++)); do
    local ns; ns=$(host_ns "$i")
    ip netns add "$ns"
    ip netns exec "$ns" ip link set lo up
    # Create the pair inside the host namespace so nothing appears in the machine's own.
    ip netns exec "$ns" ip link add eth0 type veth peer name "p$i" netns "$sw"
    ip netns exec "$ns" ip addr add "$(host_addr "$i")/16" dev eth0
    ip netns exec "$ns" ip link set eth0 up
    ip netns exec "$sw" ip link set "p$i" master br0
    ip netns exec "$sw" ip link set "p$i" up
    local rate=$bw
    [ "$i" -lt "$ps" ] && rate=$psbw
    if [ -n "$rate" ] || [ -n "$delay" ]; then
      if [ -n "$rate" ]; then rate=$(tc_rate "$rate"); else rate=unshaped; fi
      ip netns exec "$ns" ip link set dev eth0 gso_max_size 8192 2>/dev/null \
        || echo "testbed: note: cannot cap GSO packets on host $i; shaped rates may sag 15-20%" >&2
      shape "$ns" eth0 "$rate" "$delay"      # the host's uplink
      shape "$sw" "p$i" "$rate" "$delay"     # the host's downlink (egress of its bridge port)
    fi
    echo "$i $ns $(host_addr "$i") ${rate:-unshaped}" >> "$(state_dir)/hosts"
  done
  trap - ERR INT TERM
  if [ -z "$delay" ] && ! have_netem "$(host_ns 0)"; then
    echo "testbed: note: sch_netem is not available in this kernel: latency is not shaped" >&2
  fi
  # Reachability without ping (not always installed): a TCP connect to a closed port is
  # refused at once when the path works and times out (124) when it does not.
  local rc=0
  ip netns exec "$(host_ns 0)" timeout 3 bash -c "</dev/tcp/$(host_addr 1)/9" 2>/dev/null || rc=$?
  [ "$rc" -ne 124 ] || { do_down; die "up: host 0 cannot reach host 1 across the bridge"; }
  echo "testbed '$name' up: $hosts hosts" >&2
  cat "$(state_dir)/hosts"
}

do_slow() {  # HOST FRACTION PID
  local host=$1 frac=$2 pid=$3 cg quota
  quota=$(python3 -c "import sys; f=float(sys.argv[1]); assert 0<f<=1; print(int(f*100000))" "$frac") \
    || die "slow: FRACTION must be in (0, 1], got '$frac'"
  if [ -d /sys/fs/cgroup/cpu ] && [ -f /sys/fs/cgroup/cpu/cgroup.procs ]; then
    cg=/sys/fs/cgroup/cpu/$name-h$host
    mkdir -p "$cg"
    echo 100000 > "$cg/cpu.cfs_period_us"
    echo "$quota" > "$cg/cpu.cfs_quota_us"
  elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    cg=/sys/fs/cgroup/$name-h$host
    mkdir -p "$cg"
    echo "$quota 100000" > "$cg/cpu.max"
  else
    die "slow: no cgroup cpu controller found (v1 /sys/fs/cgroup/cpu or v2 cpu.max)"
  fi
  echo "$pid" > "$cg/cgroup.procs"
}

parse_name "$@"
set -- "${rest[@]+"${rest[@]}"}"
case "$cmd" in
  up) need_root; do_up "$@" ;;
  down) need_root; do_down; echo "testbed '$name' down" >&2 ;;
  exec) need_root; [ $# -ge 2 ] || die "exec: HOST CMD..."; h=$1; shift; exec ip netns exec "$(host_ns "$h")" "$@" ;;
  addr) [ $# -eq 1 ] || die "addr: HOST"; host_addr "$1" ;;
  burst) cat "$(state_dir)/burst" 2>/dev/null || die "no testbed named '$name' is up" ;;
  slow) need_root; [ $# -eq 3 ] || die "slow: HOST FRACTION PID"; do_slow "$@" ;;
  status) cat "$(state_dir)/hosts" 2>/dev/null || die "no testbed named '$name' is up" ;;
  measure)
    need_root; [ $# -eq 2 ] || die "measure: FROM TO"
    command -v iperf3 >/dev/null || die "measure: iperf3 is not installed"
    ip netns exec "$(host_ns "$2")" iperf3 -s -1 -D -p 5299 >/dev/null
    sleep 0.3
    ip netns exec "$(host_ns "$1")" iperf3 -c "$(host_addr "$2")" -p 5299 -t 2 -J \
      | python3 -c "import json,sys; d=json.load(sys.stdin); print(round(d['end']['sum_received']['bits_per_second']/1e6,1))"
    ;;
  *) sed -n '2,26p' "$0" >&2; exit 2 ;;
esac
