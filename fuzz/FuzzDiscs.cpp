// A `--discs FILE`: a label image (.nii/.nii.gz, by the NIfTI or gzip magic) or a CSV of named
// disc positions.
#include "data/Error.h"
#include "fuzz/FuzzSupport.h"
#include "segmentation/Vertebrae.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cordscope;
  const bool gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  const bool nifti =
      size >= 348 && data[0] == 0x5c && data[1] == 0x01 && data[2] == 0 && data[3] == 0;
  const auto file = fuzz::scratch() / (gzip ? "discs.nii.gz" : nifti ? "discs.nii" : "discs.csv");
  fuzz::writeFile(file, data, size);
  try {
    readDiscs(file.string());
  } catch (const Error&) {
  }
  return 0;
}
