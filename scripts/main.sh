#!/usr/bin/env bash
# The README's main job: build, run the default simulated sweep (bsp, async, ssp with two
# staleness bounds, backup and local-sgd on the CNN, four workers, one of them 4x slower),
# then write the comparison report and print its path. Resumable: rerunning it keeps
# finished runs. Usage: scripts/main.sh [OUT_DIR] (default runs/main).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh"
build=${SYNCLAB_BUILD_DIR:-$root/build}
out=${1:-$root/runs/main}
status=0
"$build/app/synclab" sweep "$root/experiments/main/sweep.yaml" --out "$out/sweep" || status=$?
# A failed run is listed in the report with its error; a sweep that could not start at all
# (exit code other than 3) leaves nothing to report.
if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then exit "$status"; fi
"$build/app/synclab" report "$out/sweep" --title "synclab main job: policies with one slow worker" \
  --out "$out/report.html" >/dev/null
echo "report: $out/report.html (summary: $out/report.md)"
exit "$status"
