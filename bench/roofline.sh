#!/bin/sh
# bench/roofline.sh PDVM RESULTS.jsonl OUT.svg [NAME]
# The roofline chart of a results file of `pdvm bench` (make bench writes
# build/bench.svg with it; make bench-charts bench/results/<device>.svg).
# Needs gnuplot (Debian: gnuplot-nox).
set -eu
[ $# -ge 3 ] || { echo "usage: $0 PDVM RESULTS.jsonl OUT.svg [NAME]" >&2; exit 2; }
pdvm=$1 results=$2 out=$3 name=${4:-}
command -v gnuplot >/dev/null || {
    echo "bench/roofline.sh: gnuplot missing; run: sudo apt-get install -y gnuplot-nox" >&2; exit 1; }
data=$(mktemp)
trap 'rm -f "$data"' EXIT
"$pdvm" bench --plot "$results" > "$data"
[ "$(grep -vc '^#' "$data")" -gt 1 ] || { echo "bench/roofline.sh: no rows in $results" >&2; exit 1; }
ncol=$(grep -v '^#' "$data" | head -n 1 | awk -F '\t' '{print NF}')
# The device of the first row names the chart unless NAME is given; a
# quote would end gnuplot's string.
[ -n "$name" ] || name=$(sed -n 's/^# device: //p' "$data" | head -n 1)
name=$(printf '%s' "$name" | tr -d "'\\\\")
gnuplot -e "data='$data'; out='$out'; ncol=$ncol; name='$name'" "$(dirname "$0")/roofline.gp"
