#!/usr/bin/env bash
# Soak of the real executor: an async and a bsp job of SECONDS each (default 300) with
# workers killed and restarted at random and the PS killed and restored from its
# checkpoint three times. Prints one SOAK line per job (updates, kills, lost runs,
# corrupt checkpoints, PS RSS at the start and end of its lives, its growth over the last
# life and whether that is flat: at most 5 % + 4 MiB), then one verdict line per job;
# exits non-zero when a check fails. Usage: scripts/soak.sh [BUILD_DIR] [SECONDS]
set -euo pipefail
build=${1:-build}
seconds=${2:-300}
bin="$build/tests/real/test_real_soak"
if [[ ! -x $bin ]]; then
  echo "soak: $bin not found (build the tests first: scripts/build.sh)" >&2
  exit 2
fi
export SYNCLAB_SOAK_SECONDS=$seconds
echo "soak: 2 jobs of ${seconds} s each (async, bsp); started $(date -u +%H:%M:%S)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
"$bin" >"$log" 2>&1 || status=$?
grep -v '^SOAK' "$log" | tail -n 40
echo "soak: finished $(date -u +%H:%M:%S), status $status"
grep '^SOAK' "$log" || echo "soak: no SOAK line (a job did not get to the end)"
# One line per job: the memory verdict in MiB.
sed -n 's/^SOAK policy=\([^ ]*\) .*ps_rss_kib_last_life=\([0-9]*\)->\([0-9]*\).*ps_rss_growth_kib=\(-*[0-9]*\) tolerance_kib=\([0-9]*\) ps_memory=\([a-z]*\).*/\1 \2 \3 \4 \5 \6/p' "$log" |
  while read -r policy from to growth tol verdict; do
    awk -v p="$policy" -v f="$from" -v t="$to" -v g="$growth" -v l="$tol" -v v="$verdict" \
      'BEGIN { printf "soak: %s PS memory %s over its last life: %.1f -> %.1f MiB (%+.1f MiB, tolerance %.1f MiB)\n", p, v, f/1024, t/1024, g/1024, l/1024 }'
  done
exit "$status"
