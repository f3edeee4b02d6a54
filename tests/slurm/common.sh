# Shared by the Slurm tests: arguments, the private cluster around the test body, checks.
# Usage in a test: source common.sh "$@"; everything after runs with SLURM_CONF set.
bin=$(realpath "$1")
slurm_sh=$(realpath "$2")
scratch=$3
if [ "${4:-}" != --in-slurm ]; then
  rm -rf "$scratch"
  mkdir -p "$scratch"
  exec "$slurm_sh" run "$scratch/slurm" bash "$0" "$bin" "$slurm_sh" "$scratch" --in-slurm
fi
cd "$scratch"
# A strong token, as every rank must share one (a weak one is refused).
export SYNCLAB_TOKEN=5f2c8e41b07a9d36c1e4f08b52a7d9e3

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("", 0)); print(s.getsockname()[1])'; }

# Waits until none of the given jobs is queued or running (bounded).
wait_jobs() {
  local deadline=$((SECONDS + $1))
  shift
  while [ -n "$(squeue -h -o %i -j "$(IFS=,; echo "$*")" 2>/dev/null)" ]; do
    [ $SECONDS -lt $deadline ] || { squeue >&2; fail "jobs $* still queued or running after the time allowed"; }
    sleep 0.5
  done
}

# A top-level scalar of a summary.json (written one key per line).
json_field() { sed -n "s/^  \"$2\": \"\{0,1\}\([^\",]*\)\"\{0,1\},\{0,1\}\$/\1/p" "$1"; }

# Seconds since the test started, for the log.
stamp() { echo "[$SECONDS s] $*"; }
