#!/usr/bin/env bash
# Runs every benchmark side by side: each bench/bench_* program built in BUILD_DIR/bench,
# then each bench/cpython_*.py with the python3 on PATH (CPython's reference rows).
# Usage: bash bench/run_all.sh BUILD_DIR [extra Google Benchmark flags...]
#   e.g. bash bench/run_all.sh build/release --benchmark_repetitions=3
# Exits non-zero if any program fails or none was found; runs the rest either way.
set -u

if [[ $# -lt 1 ]]; then
  echo "usage: $0 BUILD_DIR [benchmark flags...]" >&2
  exit 2
fi
build_dir=$(cd "$1" && pwd) || exit 2
shift
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# bench_mp_objects and bench_mp_pools run CPython's side from bench/py_mp_peers.py, found
# here even when the build dir was configured elsewhere.
export GILFREE_BENCH_DIR="$here"

status=0
ran=0
echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(nproc) CPUs, load: $(cut -d' ' -f1-3 /proc/loadavg)"

shopt -s nullglob
for prog in "$build_dir"/bench/bench_*; do
  [[ -f $prog && -x $prog ]] || continue
  echo
  echo "== $prog $*"
  "$prog" "$@" || { echo "!! $prog failed (exit $?)" >&2; status=1; }
  ran=$((ran + 1))
done

# Scripts that compare against gilfree's Python module find it in the same build.
export PYTHONPATH="$build_dir/python${PYTHONPATH:+:$PYTHONPATH}"
for script in "$here"/cpython_*.py; do
  echo
  echo "== python3 $script"
  python3 "$script" || { echo "!! $script failed (exit $?)" >&2; status=1; }
  ran=$((ran + 1))
done

if [[ $ran -eq 0 ]]; then
  echo "!! no benchmark found in $build_dir/bench (configure with -DGILFREE_BUILD_BENCH=ON)" >&2
  exit 1
fi
exit $status
