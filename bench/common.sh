# Shared by the side-by-side benchmarks (bench/ab.sh, bench/dicom.sh): sourced, not run.
# bench_studies BINARY DIR: the default and the clinical-size phantom (512 x 0.5 mm, 3 mm slices),
# each with a C3-C7 lesion, into DIR/default and DIR/clinical. seconds CMD...: its wall time
# (without a display, so rendering uses the private Xvfb as in batch). median: of stdin's numbers.
bench_studies() {
  "$1" phantom -o "$2/default" --lesion C3:C7 > /dev/null 2>&1
  "$1" phantom -o "$2/clinical" --matrix 512 --pixel 0.5 --slice-thickness 3 --lesion C3:C7 > /dev/null 2>&1
}
seconds() { /usr/bin/time -f "%e" -o "$work/t" env -u DISPLAY "$@" > /dev/null 2>&1 || true; cat "$work/t"; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
