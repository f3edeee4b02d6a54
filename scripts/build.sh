#!/usr/bin/env bash
# Configures and builds synclab into ${SYNCLAB_BUILD_DIR:-build} (Release, warnings as errors in CI).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SYNCLAB_BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh"
gen=()
command -v ninja >/dev/null && gen=(-G Ninja)
if [ ! -f "$build/CMakeCache.txt" ]; then
  cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release ${SYNCLAB_CMAKE_ARGS:-} >&2
fi
cmake --build "$build" -j "$(nproc)" >&2
