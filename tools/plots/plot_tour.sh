#!/usr/bin/env bash
# Draws the tour's PNGs from a gilfree-tour --json file.
#   tools/plots/plot_tour.sh TOUR.json OUTDIR ["title suffix"]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
json=$1 out=$2 suffix=${3:-}
mkdir -p "$out"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
python3 "$here/tour2dat.py" "$json" "$tmp"
cores=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["hardware_threads"])' "$json")
for which in speedup sequential integrate; do
  grep -qv '^#' "$tmp/$which.dat" || continue  # nothing to draw
  gnuplot -e "dat='$tmp'; png='$out'; which='$which'; title_suffix='$suffix'; cores=$cores" "$here/tour.gp"
done
for key in scale_integrate scale_fib; do
  [ -s "$tmp/$key.dat" ] || continue
  case $key in
    scale_integrate) what="Integration of x²: speed-up by thread / process count" ;;
    scale_fib) what="bad_fib jobs: speed-up by pool size" ;;
  esac
  gnuplot -e "dat='$tmp'; png='$out'; key='$key'; what='$what'; title_suffix='$suffix'; cores=$cores" \
    "$here/scaling.gp"
done
ls "$out"/*.png
