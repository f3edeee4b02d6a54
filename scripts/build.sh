#!/usr/bin/env bash
# Installs missing Debian packages, then configures and builds synclab into
# ${SYNCLAB_BUILD_DIR:-build} (Release). SYNCLAB_CMAKE_ARGS adds CMake options
# (CI passes -DSYNCLAB_WERROR=ON). Build output goes to stderr.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=${SYNCLAB_BUILD_DIR:-$root/build}
"$root/scripts/install-deps.sh"
gen=()
# The generator of an existing build directory cannot change; only pick one for a new one.
if [ ! -f "$build/CMakeCache.txt" ] && command -v ninja >/dev/null; then gen=(-G Ninja); fi
# Configure every time: cheap, and it picks up new source files and changed options.
# shellcheck disable=SC2086
cmake -S "$root" -B "$build" "${gen[@]}" -DCMAKE_BUILD_TYPE=Release ${SYNCLAB_CMAKE_ARGS:-} >&2
cmake --build "$build" -j "${SYNCLAB_JOBS:-$(nproc)}" >&2
