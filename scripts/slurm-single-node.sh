#!/usr/bin/env bash
# A private single-node Slurm (munged, slurmctld, slurmd) in a scratch folder, for trying
# `srun synclab launch` and `synclab sweep --emit-slurm` on one machine, and for the tests.
#
#   slurm-single-node.sh up DIR          start it; prints `export SLURM_CONF=DIR/slurm.conf`
#   slurm-single-node.sh down DIR        stop what DIR's pid files name
#   slurm-single-node.sh run DIR CMD...  up, run CMD with SLURM_CONF set, down (also on failure)
#
# Everything lives in DIR: config, munge key and socket, state, spool, logs. Nothing under
# /etc is used, so a Slurm already configured on the machine is left alone. Needs root (the
# daemons run as root) and Debian's slurmctld slurmd slurm-client munge. Exit code 77 with
# the reason on stderr when those are missing (the tests read it as "skipped").
set -euo pipefail

say() { echo "slurm-single-node: $*" >&2; }

usage() {
  sed -n '2,12s/^# \{0,1\}//p' "$0" >&2
  exit 2
}

check_prerequisites() {
  if [ "$(id -u)" -ne 0 ]; then
    say "needs root (slurmd and munged run as root here); skipping"
    exit 77
  fi
  local missing=()
  for tool in munged slurmctld slurmd srun sbatch sinfo scontrol squeue scancel; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    say "missing ${missing[*]} (Debian packages slurmctld slurmd slurm-client munge; SYNCLAB_TEST_DEPS=1 scripts/install-deps.sh); skipping"
    exit 77
  fi
}

# Ports for this private cluster: the defaults (6817/6818) stay free for a real one.
ctld_port=${SLURM_SINGLE_NODE_CTLD_PORT:-16817}
slurmd_port=${SLURM_SINGLE_NODE_SLURMD_PORT:-16818}

write_config() {
  local dir=$1 host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(awk '/^MemTotal:/ { print int($2 / 1024 * 0.8) }' /proc/meminfo)
  cat >"$dir/slurm.conf" <<EOF
# Written by slurm-single-node.sh: one node, every path inside $dir.
ClusterName=synclab
SlurmctldHost=$host
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
ReturnToService=2
MpiDefault=none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
# Quick turnarounds for tests: cancelled tasks get SIGKILL 5 s after SIGTERM, finished
# jobs are forgotten after 5 minutes.
KillWait=5
MinJobAge=300
SlurmdTimeout=30
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=FORCE:8
EOF
}

stop() {
  local dir=$1 pid name
  # Jobs still queued or running would leave slurmstepd and their tasks behind: cancel them
  # (every job of this private cluster is ours) and give them KillWait to end.
  if [ -s "$dir/slurmctld.pid" ] && kill -0 "$(cat "$dir/slurmctld.pid")" 2>/dev/null; then
    if [ -n "$(SLURM_CONF="$dir/slurm.conf" squeue -h -o %i 2>/dev/null)" ]; then
      SLURM_CONF="$dir/slurm.conf" scancel --full --user="$(id -un)" 2>/dev/null || true
      for _ in $(seq 1 100); do
        [ -z "$(SLURM_CONF="$dir/slurm.conf" squeue -h -o %i 2>/dev/null)" ] && break
        sleep 0.1
      done
    fi
  fi
  # slurmd first (it reports to slurmctld), munged last (both authenticate through it).
  for name in slurmd slurmctld munged; do
    local file="$dir/$name.pid"
    [ "$name" = munged ] && file="$dir/munge/munged.pid"
    [ -s "$file" ] || continue
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      if kill -0 "$pid" 2>/dev/null; then
        say "$name (pid $pid) did not stop within 5 s; killing it"
        kill -KILL "$pid" 2>/dev/null || true
      fi
    fi
    rm -f "$file"
  done
}

start() {
  local dir=$1
  check_prerequisites
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  stop "$dir"  # leftovers of an earlier run in the same folder
  rm -rf "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
  mkdir -p "$dir/state" "$dir/spool" "$dir/log" "$dir/munge"
  # A key of this cluster's own; munged insists on owner-only permissions.
  head -c 1024 /dev/urandom >"$dir/munge/munge.key"
  chmod 700 "$dir/munge"
  chmod 400 "$dir/munge/munge.key"
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" --seed-file="$dir/munge/munged.seed" \
    || { say "munged did not start (log: $dir/log/munged.log)"; tail -5 "$dir/log/munged.log" >&2 || true; return 1; }
  write_config "$dir"
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld || { say "slurmctld did not start"; tail -5 "$dir/log/slurmctld.log" >&2 || true; stop "$dir"; return 1; }
  slurmd || { say "slurmd did not start"; tail -5 "$dir/log/slurmd.log" >&2 || true; stop "$dir"; return 1; }
  local host state
  host=$(hostname -s)
  for i in $(seq 1 300); do
    state=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
    case "$state" in
      idle | mix | alloc) say "node $host is $state after $((i / 10)).$((i % 10)) s (SLURM_CONF=$SLURM_CONF)"; return 0 ;;
    esac
    sleep 0.1
  done
  say "node $host not idle within 30 s (sinfo: '${state:-no answer}'); logs in $dir/log"
  tail -5 "$dir/log/slurmctld.log" "$dir/log/slurmd.log" >&2 || true
  stop "$dir"
  return 1
}

[ $# -ge 2 ] || usage
cmd=$1
dir=$2
shift 2
case "$cmd" in
  up)
    start "$dir"
    echo "export SLURM_CONF=$(cd "$dir" && pwd)/slurm.conf"
    ;;
  down)
    [ -d "$dir" ] && stop "$(cd "$dir" && pwd)"
    ;;
  run)
    [ $# -ge 1 ] || usage
    check_prerequisites
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    trap 'stop "$dir"' EXIT
    trap 'exit 143' TERM INT
    start "$dir"
    export SLURM_CONF="$dir/slurm.conf"
    "$@"
    ;;
  *) usage ;;
esac
