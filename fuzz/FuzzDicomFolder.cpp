// A small folder as a DICOM input: the bytes split at "\nCORDSCOPE-FILE\n" into up to 4 files
// (the seeds are phantom series of 3 slices, so mutations reach grouping, sorting, the spacing
// checks, interleaving and the series choice), then as `analyze` reads it.
#include <string_view>

#include "data/Error.h"
#include "data/Input.h"
#include "fuzz/FuzzSupport.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cordscope;
  const auto folder = fuzz::scratch() / "study";
  std::error_code ignored;
  std::filesystem::remove_all(folder, ignored);
  std::filesystem::create_directories(folder);
  const std::string_view bytes(reinterpret_cast<const char*>(data), size),
      separator("\nCORDSCOPE-FILE\n");
  std::size_t start = 0;
  for (int n = 0; n < 4 && start <= bytes.size(); ++n) {
    std::size_t end = bytes.find(separator, start);
    if (n == 3 || end == std::string_view::npos) end = bytes.size();
    fuzz::writeFile(folder / ("IM" + std::to_string(n) + ".dcm"), data + start, end - start);
    start = end + separator.size();
  }
  try {
    const Inventory inventory = scanInput(folder.string());
    const SeriesChoice choice = chooseSeries(inventory);
    loadSeries(inventory, choice.index);
  } catch (const Error&) {
  }
  return 0;
}
