#!/usr/bin/env bash
# The README's main job: build, then train the CNN on Fashion-MNIST into a run directory.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/scripts/build.sh"
build=${SYNCLAB_BUILD_DIR:-$root/build}
out=${1:-$root/runs/main}
"$build/app/synclab" train "$root/experiments/examples/cnn-train.yaml" --out "$out"
echo "run directory: $out"
