// Helpers shared by the tests: where ../shared/data is, running the cordscope binary, scratch
// folders, and voxel-by-voxel comparison of two images in patient space.
#pragma once
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "data/DicomWriter.h"
#include "data/Volume.h"

namespace cordscope::test {

// ../shared/data beside the repository (or $CORDSCOPE_SHARED_DATA), when it exists.
std::optional<std::filesystem::path> sharedData();
// CI runs (CORDSCOPE_CI set by .ci/run): what may be skipped on a developer's machine must run.
bool runningInCi();

// Skipped without the real data on a developer's machine; a failure in CI (.ci/run sets
// CORDSCOPE_CI), where ../shared/data is always present and a skipped real-data test would hide
// a regression behind a green run.
#define CORDSCOPE_REQUIRE_SHARED_DATA(var)                                                         \
  const auto var##_optional = ::cordscope::test::sharedData();                                     \
  if (!var##_optional) {                                                                           \
    if (::cordscope::test::runningInCi())                                                          \
      GTEST_FAIL()                                                                                 \
          << "../shared/data not found (or $CORDSCOPE_SHARED_DATA) and this is CI: real-data "     \
             "tests must run here";                                                                \
    GTEST_SKIP() << "../shared/data not found beside the repository (or $CORDSCOPE_SHARED_DATA); " \
                    "this test needs the real data";                                               \
  }                                                                                                \
  const std::filesystem::path var = *var##_optional

struct CommandResult {
  int exitCode = -1;
  std::string out;
  std::string err;
};

// Runs `cordscope ARGS` (a shell-quoted argument string) and captures stdout, stderr, exit code.
CommandResult runCordscope(const std::string& args);
CommandResult runShell(const std::string& command);
std::string quote(const std::string& text);

// A JSON file (report.json, truth.json, ...) parsed.
nlohmann::json readJson(const std::filesystem::path& path);

// A fresh folder under the system temp dir, removed when the object goes.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// For every voxel of `a`: the voxel of `b` at the same world position exists (to within `tolMm`)
// and holds the same value. Returns a failure description or an empty string. This is "the same
// image up to axis order and flips".
std::string compareInWorld(const Image* a, const Image* b, double tolMm = 1e-3,
                           double valueTol = 0.0);

// Runs dcm2niix on a DICOM folder and returns the NIfTI it wrote (gzip), or fails the test.
std::filesystem::path runDcm2niix(const std::filesystem::path& dicomFolder, const TempDir& scratch);

// DICOM writing options with the UIDs derived from `seed` (the rest at their defaults).
inline DicomWriteOptions uidSeeded(const std::string& seed) {
  DicomWriteOptions o;
  o.uidSeed = seed;
  return o;
}

// Inserts into a DICOM file (explicit VR little endian, as our writer makes them) `depth`
// ContentSequences (0040,A730) nested inside each other before its pixel data, as bytes (DCMTK's
// writer recurses too): undefined lengths when `undefined`, else every sequence and item with its
// defined length. 100,000 deep overflowed the parsers' stacks (issue 23).
void nestSequences(const std::filesystem::path& file, std::size_t depth, bool undefined);

// Dice coefficient of two masks on one grid (non-zero = in).
double dice(const Mask* a, const Mask* b);

// A phantom study whose field of view does not reach the craniocervical junction: `cordscope
// phantom --seed SEED` converted to NIfTI (with its sidecar) and cut `marginMm` above its C2-C3
// disc (truth), so the foramen magnum, C1 and the dens are out of view, as in a study framed on
// the mid-cervical spine. `discsInView` counts the truth's discs below the cut.
struct CroppedPhantom {
  std::filesystem::path nifti;
  nlohmann::json truth;
  int discsInView = 0;
};
CroppedPhantom writePhantomWithoutJunction(const std::filesystem::path& dir, unsigned seed,
                                           double marginMm = 5);

}  // namespace cordscope::test
