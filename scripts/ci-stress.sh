#!/usr/bin/env bash
# Runs the test suite ROUNDS times (default 10) while every core is kept busy by other
# processes (one busy loop per core at normal priority), the way CI sees a shared machine.
# Prints PASS/FAIL per round (with the failed tests) and a final count; exits non-zero
# when any round failed.
#   scripts/ci-stress.sh [-n ROUNDS] [-b BUSY_LOOPS] [-k] [ctest arguments, e.g. -L real_jobs]
# Builds first (scripts/build.sh) unless -k (keep the build as it is). SYNCLAB_BUILD_DIR and
# SYNCLAB_JOBS mean what they mean for scripts/test.sh; BUSY_LOOPS defaults to nproc. Each
# round's output goes to <build>/ci-stress/round-<i>.log.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=10
busy=$(nproc)
build_first=1
# Our options come first; the first argument that is not one starts the ctest arguments.
while [ $# -gt 0 ]; do
  case "$1" in
    -n) rounds=${2:-}; shift 2 || { echo "ci-stress.sh: -n needs a number of rounds" >&2; exit 2; } ;;
    -b) busy=${2:-}; shift 2 || { echo "ci-stress.sh: -b needs a number of busy loops" >&2; exit 2; } ;;
    -k) build_first=0; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    *) break ;;
  esac
done
[[ "$rounds" =~ ^[1-9][0-9]*$ ]] || { echo "ci-stress.sh: -n: '$rounds' is not a positive number of rounds" >&2; exit 2; }
[[ "$busy" =~ ^[0-9]+$ ]] || { echo "ci-stress.sh: -b: '$busy' is not a number of busy loops" >&2; exit 2; }

export SYNCLAB_TEST_DEPS=1
if [ "$build_first" = 1 ]; then "$root/scripts/build.sh"; fi
build=${SYNCLAB_BUILD_DIR:-$root/build}
logs="$build/ci-stress"
mkdir -p "$logs"

# The load: plain shell loops, started here and ended here by their pids.
loads=()
stop_load() {
  for pid in "${loads[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${loads[@]}"; do wait "$pid" 2>/dev/null || true; done
  loads=()
}
trap stop_load EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
for ((i = 0; i < busy; i++)); do
  bash -c 'while :; do :; done' &
  loads+=("$!")
done
echo "ci-stress: $rounds round(s) of ctest $* with $busy busy loop(s) on $(nproc) core(s)"

passed=0
for ((r = 1; r <= rounds; r++)); do
  log="$logs/round-$r.log"
  t0=$(date +%s)
  if ctest --test-dir "$build" --output-on-failure -j "${SYNCLAB_JOBS:-$(nproc)}" --timeout 900 --no-tests=error "$@" >"$log" 2>&1; then
    passed=$((passed + 1))
    echo "round $r/$rounds: PASS ($(( $(date +%s) - t0 )) s; $(grep -Eo '[0-9]+ tests passed|[0-9]+% tests passed.*' "$log" | tail -1))"
  else
    echo "round $r/$rounds: FAIL ($(( $(date +%s) - t0 )) s; log $log)"
    sed -n '/The following tests FAILED/,$p' "$log" | grep -E '^\s+[0-9]+ - ' || tail -5 "$log"
  fi
done
echo "ci-stress: $passed/$rounds rounds passed under load"
[ "$passed" -eq "$rounds" ]
