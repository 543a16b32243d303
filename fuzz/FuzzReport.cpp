// A report.json as `compare` reads it: parsed and checked as a time point, then compared with
// itself (every field compare reads, whatever its type).
#include <string>

#include "data/Error.h"
#include "measurement/FollowUp.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace cordscope;
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    std::string checks;
    const TimePoint point = timePointFromReport(text, "report.json", "time-point", 1, checks);
    compareTimePoints(point, point);
  } catch (const Error&) {
  }
  return 0;
}
