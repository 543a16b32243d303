#!/usr/bin/env bash
# The input readers under AddressSanitizer + UndefinedBehaviorSanitizer, and fuzzed (issue 23).
# Configures build-asan/ with clang and CORDSCOPE_SANITIZE=ON (docs/errors.md, "Sanitizers and
# fuzzers"), builds the input readers' tests, the fuzz harnesses and cordscope itself, and
#   1. runs the input readers' tests (test_inputs: malformed DICOM and NIfTI, lying headers,
#      nesting, character sets) and the malformed-input corpus through the command line
#      (test_cli's Malformed.*, every run of it by the sanitized cordscope) under the sanitizers;
#   2. runs the whole pipeline under them - segmentation, levels, lesions, measurement, pictures,
#      report, batch and its store, compare - on a phantom, real scans of ../shared/data (sagittal
#      NIfTI and DICOM, an axial slab) and real-anatomy studies (a whole spine with a C2-T2
#      lesion, an axial series);
#   3. runs each libFuzzer harness for FUZZ_SECONDS (default 60) from seeds made here (a phantom
#      series, ../shared/data's DICOM and NIfTI files, an analyze report) and fuzz/corpus/<name>/
#      (every input that ever crashed a reader is kept there and replayed first).
# Any sanitizer report, crash, leak, timeout (10 s per input) or allocation over 2 GB fails the
# script and leaves the input in build-asan/fuzz-findings/. Longer runs: FUZZ_SECONDS=3600.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
shared=${CORDSCOPE_SHARED_DATA:-../shared/data}
harnesses=(fuzz_dicom_file fuzz_dicom_folder fuzz_nifti fuzz_discs fuzz_report)

# ccache keyed on paths relative to the checkout, and not on the build folder (the objects carry
# debug info for the sanitizers' stack traces): a fresh clone elsewhere (CI) reuses them.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
if [ ! -f build-asan/CMakeCache.txt ]; then
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER=clang \
    -DCMAKE_CXX_COMPILER=clang++ -DCORDSCOPE_SANITIZE=ON >&2
fi
cmake --build build-asan -j"$(nproc)" --target test_inputs test_cli cordscope "${harnesses[@]}" >&2

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export CORDSCOPE_SHARED_DATA=$shared
echo "sanitize: input readers' tests under ASan + UBSan" >&2
build-asan/tests/test_inputs --gtest_brief=1
echo "sanitize: the malformed-input corpus through the sanitized command line" >&2
build-asan/tests/test_cli --gtest_brief=1 --gtest_filter='Malformed.*'

# The pipeline, end to end. --no-render: the 3D view's OpenGL driver (Mesa, loaded and unloaded
# by VTK) leaves two 56-byte blocks that LeakSanitizer cannot even name; it is run once more with
# the picture and leak detection off (every other check stays on).
pipeline=build-asan/pipeline
rm -rf "$pipeline" && mkdir -p "$pipeline"
asan=build-asan/cordscope
tool=build/cordscope
[ -x "$tool" ] || { echo "sanitize: build/cordscope is needed for the seeds (scripts/bootstrap.sh)" >&2; exit 1; }
"$tool" phantom -o "$pipeline/phantom" --seed 5 --lesion C2:C6:dorsal >/dev/null
for name in pam50-dorsal-C2-T2 pam50-axial4-dorsal-C3-C6; do
  "$tool" phantom --real-anatomy "$name" --shared-data "$shared" -o "$pipeline/$name" >/dev/null
done
run_pipeline() {  # label, then the cordscope arguments; exit 0 or 1 (quality fail) are results
  local label=$1 code=0
  shift
  "$asan" "$@" > "$pipeline/$label.log" 2>&1 || code=$?
  if [ "$code" -gt 1 ] || grep -qE "Sanitizer|runtime error" "$pipeline/$label.log"; then
    tail -40 "$pipeline/$label.log" >&2
    echo "sanitize: the pipeline failed under the sanitizers on $label (exit $code)" >&2
    exit 1
  fi
}
echo "sanitize: the pipeline under ASan + UBSan" >&2
run_pipeline phantom analyze "$pipeline/phantom/dicom" -o "$pipeline/out-phantom" --no-render --quiet
run_pipeline phantom-again analyze "$pipeline/phantom/dicom" -o "$pipeline/out-phantom2" --no-render --quiet
run_pipeline compare compare "$pipeline/out-phantom" "$pipeline/out-phantom2" -o "$pipeline/out-compare"
run_pipeline sct-t2 analyze "$shared/real/sct-t2/t2.nii.gz" -o "$pipeline/out-sct-t2" --no-render --quiet
run_pipeline sct-t2-lesion-dicom analyze "$shared/real/sct-t2-lesion/dicom" -o "$pipeline/out-sct-lesion" --no-render --quiet
run_pipeline sct-mt-axial analyze "$shared/real/sct-mt-axial/mt0.nii.gz" -o "$pipeline/out-mt0" --no-render --quiet
for name in pam50-dorsal-C2-T2 pam50-axial4-dorsal-C3-C6; do
  run_pipeline "$name" analyze "$pipeline/$name/dicom" -o "$pipeline/out-$name" --no-render --quiet
done
run_pipeline batch batch "$pipeline/phantom/dicom" "$shared/real/sct-t2/t2.nii.gz" -o "$pipeline/out-batch" --no-render --jobs 2
ASAN_OPTIONS="$ASAN_OPTIONS:detect_leaks=0" run_pipeline rendered analyze "$pipeline/phantom/dicom" -o "$pipeline/out-rendered" --quiet
echo "sanitize: pipeline clean (11 runs)" >&2

# Seeds, made fresh: they follow the writer and the analysis as they change.
seeds=build-asan/fuzz-seeds
rm -rf "$seeds" && mkdir -p "$seeds"/{fuzz_dicom_file,fuzz_dicom_folder,fuzz_nifti,fuzz_discs,fuzz_report}
"$tool" phantom -o "$seeds/phantom" --seed 5 >/dev/null
mapfile -t slices < <(ls "$seeds"/phantom/dicom/* | sort)
cp "${slices[0]}" "$seeds/fuzz_dicom_file/phantom.dcm"
for d in "$shared"/dicom/*/; do cp "$(ls "$d"* | head -1)" "$seeds/fuzz_dicom_file/$(basename "$d").dcm"; done
{ cat "${slices[0]}"; printf '\nCORDSCOPE-FILE\n'; cat "${slices[1]}"; printf '\nCORDSCOPE-FILE\n'; cat "${slices[2]}"; } \
  > "$seeds/fuzz_dicom_folder/phantom3"
"$tool" convert "$seeds/phantom/dicom" -o "$seeds/fuzz_nifti/phantom.nii" >/dev/null
cp "$shared"/real/sct-mt-axial/mt0.nii.gz "$shared"/real/pam50-small/PAM50_small_t2.nii.gz "$seeds/fuzz_nifti/"
cp "$shared"/real/pam50-small/PAM50_small_label_disc.nii.gz "$seeds/fuzz_discs/"
"$tool" analyze "$seeds/phantom/dicom" -o "$seeds/analysis" --no-render --quiet >/dev/null 2>&1 || true
cp "$seeds/analysis/report.json" "$seeds/fuzz_report/"
cp "$seeds/analysis/discs.csv" "$seeds/fuzz_discs/analysis-discs.csv"

findings=build-asan/fuzz-findings
mkdir -p "$findings"
for h in "${harnesses[@]}"; do
  work=build-asan/fuzz-work/$h
  mkdir -p "$work"
  corpus=fuzz/corpus/${h#fuzz_}
  extra=()
  [ -d "$corpus" ] && extra+=("$corpus")
  echo "sanitize: $h for ${seconds} s" >&2
  build-asan/fuzz/"$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=2048 \
    -seed=1 -print_final_stats=1 -artifact_prefix="$findings/$h-" "$work" "$seeds/$h" "${extra[@]}" \
    2> "build-asan/$h.log" || { tail -40 "build-asan/$h.log" >&2; echo "sanitize: $h found a problem (input in $findings)" >&2; exit 1; }
  grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "build-asan/$h.log" | tr '\n' ' ' >&2; echo >&2
done
echo "sanitize: clean" >&2
