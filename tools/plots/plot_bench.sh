#!/usr/bin/env bash
# Runs the queue and pool benchmarks once (the C++ peers side by side, then CPython) and
# draws their throughput as bar charts: OUTDIR/queue_throughput.png, pool_throughput.png.
#   tools/plots/plot_bench.sh BUILD_DIR OUTDIR ["title suffix"]   (BUILD_DIR from `make bench`)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=$1 out=$2 suffix=${3:-}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$build/bench/bench_queue" --benchmark_filter='/P:' --benchmark_out="$tmp/queue.json" \
  --benchmark_out_format=json >/dev/null
"$build/bench/bench_futures" --benchmark_filter='EmptyTasks' --benchmark_out="$tmp/pool.json" \
  --benchmark_out_format=json >/dev/null
python3 "$root/bench/cpython_queue.py" >"$tmp/cpython_queue.txt" || true
python3 "$root/bench/cpython_futures.py" >"$tmp/cpython_futures.txt" || true
python3 "$here/bench2dat.py" "$tmp"
gnuplot -e "dat='$tmp'; png='$out'; title_suffix='$suffix'" "$here/bench.gp"
cp "$tmp/queue.dat" "$tmp/pool.dat" "$out/"
ls "$out"/queue_throughput.png "$out"/pool_throughput.png
