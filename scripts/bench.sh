#!/usr/bin/env bash
# Runs every benchmark built in <build>/bench/*/ (bench_allocator, bench_guard, bench_cni, ...)
# one after another, each under a header line. Each bench measures against its own baseline in
# the same run. bench_guard and bench_cni need root (BPF, network namespaces); bench_cluster
# needs etcd (Debian's etcd-server, or $IPFENCE_ETCD).
# Usage: scripts/bench.sh [build-dir] [name...]   (default: build; names pick benches, e.g.
#        scripts/bench.sh build cluster   runs bench_cluster only)
set -euo pipefail
build=${1:-build}
shift $(( $# > 0 ? 1 : 0 ))
only=("$@")

if [[ ! -d "$build/bench" ]]; then
  echo "bench: no $build/bench; build first (make build, or cmake --build $build)" >&2
  exit 1
fi

shopt -s nullglob
status=0
ran=0
for bin in "$build"/bench/*/bench_*; do
  [[ -f "$bin" && -x "$bin" ]] || continue
  if [[ ${#only[@]} -gt 0 ]]; then
    wanted=0
    for name in "${only[@]}"; do [[ "$(basename "$bin")" == "bench_$name" ]] && wanted=1; done
    [[ $wanted -eq 1 ]] || continue
  fi
  echo "=== $(basename "$bin") ==="
  if ! "$bin"; then
    echo "bench: $(basename "$bin") failed" >&2
    status=1
  fi
  echo
  ran=$((ran + 1))
done
if [[ $ran -eq 0 ]]; then
  echo "bench: no bench_* binaries in $build/bench/*/" >&2
  exit 1
fi
exit $status
