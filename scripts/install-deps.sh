#!/usr/bin/env bash
# Installs the Debian packages synclab needs to build, test and run (only those missing).
# SYNCLAB_TEST_DEPS=1 adds what some tests use (headless browser, network tools, clang for fuzzing).
set -euo pipefail
packages=(
  build-essential cmake pkg-config ninja-build
  libopenblas-dev libdnnl-dev zlib1g-dev libssl-dev libyaml-cpp-dev nlohmann-json3-dev libmnl-dev
  libfmt-dev libspdlog-dev libboost-program-options-dev libasio-dev libsimgrid-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  dataset-fashion-mnist libjs-vega
  libdeflate-dev
  # Debian's dnnl CMake package config calls find_package(OpenCL); only a Recommends of libdnnl-dev.
  ocl-icd-opencl-dev
)
if [ "${SYNCLAB_TEST_DEPS:-0}" = 1 ]; then
  # A private single-node Slurm for tests/slurm (scripts/slurm-single-node.sh); protobuf to
  # read TensorBoard event files back in a test.
  packages+=(chromium iproute2 iperf3 python3 python3-protobuf protobuf-compiler slurmctld slurmd slurm-client munge)
  # libFuzzer and the sanitizer runtimes for scripts/fuzz.sh.
  packages+=(clang libclang-rt-dev)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
echo "synclab: installing ${missing[*]}" >&2
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null; then
    echo "synclab: missing packages (${missing[*]}) and no sudo to install them; install them as root" >&2
    exit 1
  fi
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q >&2 || echo "synclab: apt-get update failed; trying the cached package lists" >&2
"${SUDO[@]}" apt-get install -y -q --no-install-recommends "${missing[@]}" >&2
