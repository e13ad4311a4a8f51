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
gnuplot -e "dat='$tmp'; png='$out'; title_suffix='$suffix'; cores=$cores" "$here/tour.gp"
ls "$out"/tour_*.png
