#!/usr/bin/env bash
# Side-by-side speed of two cordscope builds on the same studies: `analyze --no-render` alternated
# A, B, A, B ... (so that load on the machine falls on both), median of N pairs after a warm-up.
# Usage: bench/ab.sh OLD_BINARY NEW_BINARY [PAIRS]   (default 7). Prints a markdown table.
set -euo pipefail
old=$1 new=$2 pairs=${3:-7}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
source "$(dirname "$0")/common.sh"
bench_studies "$new" "$work"
echo "| study | A: $old (s) | B: $new (s) | B / A |"
echo "| --- | --- | --- | --- |"
for study in default clinical; do
  dicom="$work/$study/dicom"
  for bin in "$old" "$new"; do seconds "$bin" analyze "$dicom" -o "$work/out" --no-render --quiet > /dev/null; done
  : > "$work/a"; : > "$work/b"
  for i in $(seq "$pairs"); do
    seconds "$old" analyze "$dicom" -o "$work/out" --no-render --quiet >> "$work/a"
    seconds "$new" analyze "$dicom" -o "$work/out" --no-render --quiet >> "$work/b"
  done
  a=$(median < "$work/a") b=$(median < "$work/b")
  printf "| %s: analyze --no-render | %.2f | %.2f | %.2f |\n" "$study" "$a" "$b" "$(echo "$b / $a" | bc -l)"
done
