#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz) with clang, ASan and UBSan into
# ${SYNCLAB_FUZZ_BUILD_DIR:-build-fuzz} and runs each for a bounded time from its
# checked-in seed corpus (tests/fuzz/corpus/<target>), one target at a time.
#
#   scripts/fuzz.sh                      every target, 60 s each
#   scripts/fuzz.sh --smoke              every target, 3 s each (what scripts/test.sh runs)
#   scripts/fuzz.sh -t 600 frame hello   the named targets, 600 s each
#
# Inputs that found new coverage go to <build>/corpus/<target> (never into the source
# tree); a crashing input goes to <build>/crashes/<target>/ and the script exits 1 naming
# it. The last lines give the executions of each target and their total.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SYNCLAB_FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=60
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) seconds=3 ;;
    -t) seconds=$2; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    *) targets+=("$1") ;;
  esac
  shift
done
if ! command -v clang++ >/dev/null; then
  echo "fuzz.sh: clang++ not found; install the test dependencies (SYNCLAB_TEST_DEPS=1 scripts/install-deps.sh)" >&2
  exit 2
fi
all=$(sed -n 's/^set(SYNCLAB_FUZZ_TARGETS \(.*\))$/\1/p' "$root/tests/fuzz/CMakeLists.txt")
[ ${#targets[@]} -gt 0 ] || read -r -a targets <<<"$all"
for t in "${targets[@]}"; do
  case " $all " in *" $t "*) ;; *) echo "fuzz.sh: no target '$t' (targets: $all)" >&2; exit 2 ;; esac
done

launcher=()
if command -v ccache >/dev/null; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache); fi
gen=()
if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DSYNCLAB_FUZZ=ON -DSYNCLAB_CUDA=OFF -DSYNCLAB_BUILD_BENCH=OFF "${launcher[@]}" >&2
cmake --build "$build" -j "${SYNCLAB_JOBS:-$(nproc)}" --target "${targets[@]/#/fuzz_}" >&2

total=0
failed=()
summary=()
for t in "${targets[@]}"; do
  mkdir -p "$build/corpus/$t" "$build/crashes/$t"
  log="$build/fuzz-$t.log"
  rc=0
  # One process, bounded in time; slow inputs (over 10 s) and memory over 2 GB count as bugs.
  "$build/tests/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$build/crashes/$t/" "$build/corpus/$t" "$root/tests/fuzz/corpus/$t" >"$log" 2>&1 || rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\)$/\1/p' "$log" | tail -1)
  [ -n "$runs" ] || runs=$(grep -o '^#[0-9]*' "$log" | tail -1 | tr -d '#')
  runs=${runs:-0}
  total=$((total + runs))
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    summary+=("$(printf '%-10s %12s executions  FAILED (exit %s): %s' "$t" "$runs" "$rc" "$(find "$build/crashes/$t" -type f -printf '%f ' | head -c 300)")")
    echo "fuzz.sh: $t failed; the end of $log:" >&2
    tail -30 "$log" >&2
  else
    summary+=("$(printf '%-10s %12s executions' "$t" "$runs")")
  fi
done
printf '%s\n' "${summary[@]}"
echo "total: $total executions over ${#targets[@]} target(s), ${seconds} s each, ${#failed[@]} failing"
[ ${#failed[@]} -eq 0 ]
