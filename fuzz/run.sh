#!/usr/bin/env bash
# Builds the libFuzzer target with clang (Debian's clang + libclang-rt-14-dev), replays
# the committed corpus, then fuzzes for SECONDS (default 20; 0 = replay only).
#   bash fuzz/run.sh BUILD_DIR [SECONDS]
# Exit 77 (ctest: skipped) when clang with libFuzzer is not installed.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$src/build/fuzz}; secs=${2:-20}
mkdir -p "$out"
CXX=${FUZZ_CXX:-$(command -v clang++ || command -v clang++-14 || true)}
[ -n "$CXX" ] || { echo "fuzz: clang++ not found, skipped"; exit 77; }
bin=$out/fuzz_frame
srcs=("$src/fuzz/fuzz_frame.cpp" "$src/src/multiprocessing/reduction.cpp"
      "$src/src/multiprocessing/connection.cpp" "$src/src/futex.cpp")
if [ ! -x "$bin" ] || [ -n "$(find "${srcs[@]}" "$src/include/gilfree" -newer "$bin" 2>/dev/null | head -1)" ]; then
  if ! "$CXX" -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -I"$src/include" \
       "${srcs[@]}" -lcrypto -ldl -o "$bin.tmp" 2>"$out/fuzz_build.log"; then
    if grep -q "libclang_rt.fuzzer\|fsanitize=fuzzer" "$out/fuzz_build.log"; then
      echo "fuzz: this clang has no libFuzzer runtime (libclang-rt-14-dev), skipped"; exit 77
    fi
    cat "$out/fuzz_build.log"; exit 1
  fi
  mv "$bin.tmp" "$bin"
fi
echo "fuzz: replaying the corpus"
"$bin" -runs=0 "$src/fuzz/corpus" 2>&1 | tail -3
if [ "$secs" -gt 0 ]; then
  work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
  echo "fuzz: fuzzing for ${secs}s"
  "$bin" -max_total_time="$secs" -max_len=4096 -rss_limit_mb=512 -timeout=10 \
         -print_final_stats=1 -artifact_prefix="$out/" "$work" "$src/fuzz/corpus" 2>&1 | tail -12
fi
