#!/usr/bin/env bash
# Fuzz smoke test: builds the libFuzzer targets (tests/fuzz/*_fuzz.cpp) with clang-14 in
# build-fuzz/ and runs each for a short while from its seed corpus
# (tests/fuzz/corpus/<target without _fuzz>/). Fails if any target crashes, leaks, trips a
# sanitizer or times out; the offending input is kept in build-fuzz/fuzz-artifacts/<target>/.
#
#   scripts/fuzz.sh                     every target, FUZZ_SECONDS (default 20) each
#   scripts/fuzz.sh range_parser_fuzz   just the named targets
#   FUZZ_JOBS=2                         build parallelism (default 2)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$root/build-fuzz
seconds=${FUZZ_SECONDS:-20}
jobs=${FUZZ_JOBS:-2}

targets=("$@")
if ((${#targets[@]} == 0)); then
  for source in "$root"/tests/fuzz/*_fuzz.cpp; do
    [[ -e $source ]] && targets+=("$(basename "$source" .cpp)")
  done
fi
if ((${#targets[@]} == 0)); then
  echo "fuzz: no tests/fuzz/*_fuzz.cpp targets" >&2
  exit 1
fi

# CC/CXX only take effect on the first configure of build-fuzz; later runs reuse the cache.
CC=clang-14 CXX=clang++-14 cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Debug \
  -DIPFENCE_FUZZ=ON -DIPFENCE_TESTS=ON -DIPFENCE_BENCH=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target "${targets[@]}"

# Leaks count as failures (the default on Linux, made explicit); abort so the fuzzer saves the
# input that broke it.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for target in "${targets[@]}"; do
  seeds=$root/tests/fuzz/corpus/${target%_fuzz}
  # New inputs go to a scratch corpus in the build dir, never into the source tree.
  work=$build/fuzz-corpus/$target
  artifacts=$build/fuzz-artifacts/$target
  mkdir -p "$work" "$artifacts"
  corpora=("$work")
  [[ -d $seeds ]] && corpora+=("$seeds")
  echo "fuzz: $target for ${seconds}s"
  if ! "$build/tests/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 "${corpora[@]}" \
    >"$build/fuzz-$target.log" 2>&1; then
    failed+=("$target")
    tail -n 40 "$build/fuzz-$target.log" >&2
    echo "fuzz: $target FAILED; inputs in $artifacts, log in $build/fuzz-$target.log" >&2
  else
    grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "$build/fuzz-$target.log" || true
  fi
done

if ((${#failed[@]})); then
  echo "fuzz: failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzz: all ${#targets[@]} target(s) passed"
