#!/usr/bin/env bash
# What `analyze --dicom-out` (SEG, SR, key images; issue 19) adds to `analyze --no-render`: runs
# alternated without and with it, A, B, A, B ... (so that load on the machine falls on both),
# medians of N pairs after a warm-up, on the default and the clinical-size phantom with a lesion.
# Also the median of the stage's own time (report.json timings_s.dicom_s), free of start-up noise.
# Usage: bench/dicom.sh [BUILD_DIR] [PAIRS]   (default build/, 7). Prints a markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}" pairs=${2:-7}
bin="$build/cordscope"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source bench/common.sh
bench_studies "$bin" "$work"
stage() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["timings_s"]["dicom_s"])' "$1"; }
echo "| study | analyze --no-render (s) | + --dicom-out (s) | difference of medians (s) | median of pair differences (s) | dicom_s stage, median (s) | target |"
echo "| --- | --- | --- | --- | --- | --- | --- |"
for study in default clinical; do
  dicom="$work/$study/dicom"
  seconds "$bin" analyze "$dicom" -o "$work/a" --no-render --quiet > /dev/null
  seconds "$bin" analyze "$dicom" -o "$work/b" --no-render --quiet --dicom-out > /dev/null
  : > "$work/ta"; : > "$work/tb"; : > "$work/ts"
  for i in $(seq "$pairs"); do
    seconds "$bin" analyze "$dicom" -o "$work/a" --no-render --quiet >> "$work/ta"
    seconds "$bin" analyze "$dicom" -o "$work/b" --no-render --quiet --dicom-out >> "$work/tb"
    stage "$work/b/report.json" >> "$work/ts"
  done
  a=$(median < "$work/ta") b=$(median < "$work/tb") s=$(median < "$work/ts")
  d=$(paste "$work/ta" "$work/tb" | awk '{print $2 - $1}' | median)
  printf "| %s | %.2f | %.2f | %.2f | %.2f | %.3f | ≤ 0.3 s |\n" "$study" "$a" "$b" "$(echo "$b - $a" | bc -l)" "$d" "$s"
done
