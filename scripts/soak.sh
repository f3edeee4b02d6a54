#!/usr/bin/env bash
# Soak of the real executor: an async and a bsp job of SECONDS each (default 300) with
# workers killed and restarted at random and the PS killed and restored from its
# checkpoint three times. Prints one SOAK line per job (updates, kills, lost runs,
# corrupt checkpoints, PS RSS at the start and end of its lives); exits non-zero when a
# check fails. Usage: scripts/soak.sh [BUILD_DIR] [SECONDS]
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
exit "$status"
