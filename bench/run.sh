#!/usr/bin/env bash
# End-to-end speed and memory (issue 11), written to bench/results.md:
#  - the stage micro-benchmarks (build/bench/bench_stages) on the default and a clinical-size study;
#  - median wall time of 5 runs after a warm-up, and peak memory (/usr/bin/time -v), for `info`,
#    `convert` (beside dcm2niix converting the same series), `analyze --no-render` and `analyze`
#    on a clinical-size sagittal study (15 x 512 x 512, 0.5 mm pixels, 3 mm slices) and on the
#    default phantom;
#  - `batch` over 16 studies at --jobs 1 and --jobs 2 (bench/batch.sh);
#  - what `analyze --dicom-out` adds (bench/dicom.sh).
# Usage: bench/run.sh [BUILD_DIR]   (default build/). Takes about 5 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"
bin="$build/cordscope"
out=bench/results.md
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
command -v dcm2niix > /dev/null || { echo "bench/run.sh: dcm2niix is not installed" >&2; exit 1; }

"$bin" phantom -o "$work/clinical" --matrix 512 --pixel 0.5 --slice-thickness 3 --lesion C3:C7 > /dev/null 2>&1
"$bin" phantom -o "$work/default" --lesion C3:C7 > /dev/null 2>&1

# median seconds and max peak MB of 5 runs after one warm-up: "seconds peak_mb"
measure() {
  "$@" > /dev/null 2>&1 || true
  local times=() peaks=()
  for i in 1 2 3 4 5; do
    /usr/bin/time -f "%e %M" -o "$work/time" "$@" > /dev/null 2>&1
    read -r t m < "$work/time"
    times+=("$t"); peaks+=("$m")
  done
  local median peak
  median=$(printf "%s\n" "${times[@]}" | sort -n | sed -n 3p)
  peak=$(printf "%s\n" "${peaks[@]}" | sort -n | tail -1)
  echo "$median $((peak / 1024))"
}

row() {  # name target command...
  local name=$1 target=$2; shift 2
  read -r t m < <(measure "$@")
  printf "| %s | %.2f | %d | %s |\n" "$name" "$t" "$m" "$target" >> "$work/e2e.md"
  echo "$t"
}

: > "$work/e2e.md"
row "default: phantom (model, DICOM, read-back, truth)" "< 1 s" "$bin" phantom -o "$work/p" --lesion C3:C7 > /dev/null
row "clinical: phantom" "" "$bin" phantom -o "$work/p" --lesion C3:C7 --matrix 512 --pixel 0.5 > /dev/null
for size in clinical default; do
  dicom="$work/$size/dicom"
  row "$size: info" "" "$bin" info "$dicom" > /dev/null
  convert=$(row "$size: convert" "≤ dcm2niix" "$bin" convert "$dicom" -o "$work/c.nii.gz")
  dcm=$(row "$size: dcm2niix (reference)" "" dcm2niix -z y -o "$work" -f ref "$dicom")
  printf "| %s: convert / dcm2niix | %.2f | | ≤ 1.0 |\n" "$size" "$(echo "$convert / $dcm" | bc -l)" >> "$work/e2e.md"
  row "$size: analyze --no-render" "≤ 1.5 s" env -u DISPLAY "$bin" analyze "$dicom" -o "$work/a" --no-render --quiet > /dev/null
  row "$size: analyze (with 3D, private Xvfb)" "≤ 3 s" env -u DISPLAY "$bin" analyze "$dicom" -o "$work/b" --quiet > /dev/null
done

"$build/bench/bench_stages" --benchmark_min_time=1 --benchmark_format=console --benchmark_color=false \
  > "$work/stages.txt" 2> /dev/null || true
bench/batch.sh "$build" > "$work/batch.md" 2> /dev/null
bench/dicom.sh "$build" > "$work/dicom.md" 2> /dev/null

{
  echo "# Benchmarks"
  echo
  echo "Written by \`bench/run.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(git rev-parse --short HEAD 2>/dev/null || echo '?')."
  echo "Machine: $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')), $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo), $(. /etc/os-release; echo "$PRETTY_NAME")."
  echo
  echo "## End to end (median of 5 runs after a warm-up; peak resident memory)"
  echo
  echo "Clinical-size study: \`cordscope phantom --matrix 512 --pixel 0.5 --slice-thickness 3 --lesion C3:C7\` (15 × 512 × 512); default: 15 × 400 × 400, 0.625 mm."
  echo
  echo "| command | seconds | peak MB | target |"
  echo "| --- | --- | --- | --- |"
  cat "$work/e2e.md"
  echo
  echo "## Stages (\`build/bench/bench_stages\`; /0 = default phantom, /1 = clinical size)"
  echo
  echo '```'
  grep -E "^(Benchmark|-|[A-Z][A-Za-z0-9]+/)" "$work/stages.txt" || cat "$work/stages.txt"
  echo '```'
  echo
  echo "## Batch (\`bench/batch.sh\`: 16 phantom studies, --no-render)"
  echo
  cat "$work/batch.md"
  echo
  echo "## DICOM results (\`bench/dicom.sh\`: what \`--dicom-out\` adds to \`analyze --no-render\`, 7 alternated pairs, medians)"
  echo
  cat "$work/dicom.md"
} > "$out.new"
if [ -f "$out" ] && grep -q "^## Findings" "$out"; then
  # Keep the hand-written findings (profiling notes) below the measured tables.
  sed -n '/^## Findings/,$p' "$out" >> "$out.new"
fi
mv "$out.new" "$out"
echo "wrote $out"
