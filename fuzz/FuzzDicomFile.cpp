// One file as a DICOM input: header scan (DCMTK, the nesting walk, the size checks), series
// choice and, when a series is loadable, its pixels (GDCM). Seeds: tests/fuzz/seeds.sh.
#include "data/Error.h"
#include "data/Input.h"
#include "fuzz/FuzzSupport.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cordscope;
  const auto file = fuzz::scratch() / "input.dcm";
  fuzz::writeFile(file, data, size);
  try {
    const Inventory inventory = scanInput(file.string());
    for (std::size_t i = 0; i < inventory.series.size(); ++i)
      if (inventory.series[i].loadable()) loadSeries(inventory, i);
  } catch (const Error&) {
  }
  return 0;
}
