#!/usr/bin/env bash
# The README's test command: installs what is missing, builds, runs every test with CTest.
# Extra arguments go to ctest (e.g. scripts/test.sh -R config).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
export SYNCLAB_TEST_DEPS=1
"$root/scripts/build.sh"
build=${SYNCLAB_BUILD_DIR:-$root/build}
ctest --test-dir "$build" --output-on-failure -j "${SYNCLAB_JOBS:-$(nproc)}" --timeout 900 "$@"
# A whole run also fuzzes every decoder for a few seconds (a separate clang build with
# ASan and UBSan; SYNCLAB_FUZZ_SMOKE=0 skips it). The corpora alone are replayed above.
if [ $# -eq 0 ] && [ "${SYNCLAB_FUZZ_SMOKE:-1}" = 1 ] && command -v clang++ >/dev/null; then
  "$root/scripts/fuzz.sh" --smoke
fi
