// One file as a NIfTI input (.nii.gz when it starts with the gzip magic, else .nii): the header
// check before ITK, then the read as `analyze` does it.
#include "data/Error.h"
#include "data/Input.h"
#include "fuzz/FuzzSupport.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cordscope;
  const bool gzip = size >= 2 && data[0] == 0x1f && data[1] == 0x8b;
  const auto file = fuzz::scratch() / (gzip ? "input.nii.gz" : "input.nii");
  fuzz::writeFile(file, data, size);
  try {
    loadInput(file.string());
  } catch (const Error&) {
  }
  return 0;
}
