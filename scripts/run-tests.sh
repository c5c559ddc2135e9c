#!/usr/bin/env bash
# Runs every test: the libFuzzer smoke runs first, then one ctest run with unit and privileged
# tests (privileged ones take a shared lock, so they never run at the same time), so that the
# last line printed is ctest's summary.
set -euo pipefail
build=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)

if [[ $(id -u) -ne 0 ]]; then
  echo "run-tests: the privileged tests (BPF, network namespaces) need root; run as root" >&2
  exit 1
fi

if [[ "${SKIP_FUZZ:-0}" != 1 ]]; then
  FUZZ_SECONDS=${FUZZ_SECONDS:-15} "$here/scripts/fuzz.sh"
fi

cd "$build"
ctest --output-on-failure -j "$(nproc)" --timeout 900 ${CTEST_ARGS:-}
