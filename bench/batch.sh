#!/usr/bin/env bash
# Batch throughput (issue 9): 16 phantom studies (lesions of 0-8 segments) analysed by
# `cordscope batch --no-render` at --jobs 1 and --jobs 2, each the median of 3 runs (this VM's
# timings vary by 10-20 % run to run); studies per minute, the speed-up, and the peak memory per
# job (from the results store, measured by the kernel for each child).
# Usage: bench/batch.sh [BUILD_DIR]   (default build/)
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${1:-build}/cordscope"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
lesions=("" C3:C4 C2:T2 C4:C6:central C5:C5:lateral C3:C7 "" C2:C4 C3:C3 C4:T1 C2:C5 "" C6:C7 C3:C6 C2:T1 C5:T2)
for i in $(seq 0 15); do
  args=(phantom -o "$work/p$i" --seed $((200 + i)))
  [ -n "${lesions[$i]}" ] && args+=(--lesion "${lesions[$i]}")
  "$bin" "${args[@]}" > /dev/null 2>&1
  mv "$work/p$i/dicom" "$work/archive-$i" && mkdir -p "$work/archive" && mv "$work/archive-$i" "$work/archive/s$i"
done
echo "| jobs | studies | seconds | studies/min | peak memory per job (MB, max) |"
echo "| --- | --- | --- | --- | --- |"
declare -A rate
for jobs in 1 2; do
  runs=()
  for run in 1 2 3; do
    rm -rf "$work/out$jobs"
    start=$(date +%s.%N)
    "$bin" batch "$work/archive" -o "$work/out$jobs" --jobs $jobs --no-render > /dev/null 2>&1
    end=$(date +%s.%N)
    runs+=("$(echo "$end - $start" | bc -l)")
  done
  seconds=$(printf "%s\n" "${runs[@]}" | sort -n | sed -n 2p)
  rate[$jobs]=$(echo "16 * 60 / $seconds" | bc -l)
  peak=$(python3 - "$work/out$jobs/cohort.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
print(max(float(r["peak_memory_mb"]) for r in rows))
PY
)
  printf "| %d | 16 | %.1f | %.1f | %.0f |\n" $jobs "$seconds" "${rate[$jobs]}" "$peak"
done
printf "\nspeed-up 1 -> 2 jobs: %.2fx on %s cores\n" "$(echo "${rate[2]} / ${rate[1]}" | bc -l)" "$(nproc)"
