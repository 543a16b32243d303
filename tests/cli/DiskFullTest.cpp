// Out of disk (issue 23): outputs are whole or absent, the error is one line naming the file and
// the system's reason (exit 5), and a batch stops, keeps its store consistent and resumes. The
// disk is a real tmpfs in a private mount namespace (`unshare`; it vanishes with the process), full
// of bytes (size=) or of files (nr_inodes=: the k-th file cannot be created, so every output in
// turn is the one that fails).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "TestSupport.h"

namespace cordscope {
namespace {

namespace fs = std::filesystem;
using test::quote;

// Runs `script` with a fresh tmpfs mounted at `mount` (options as for mount -o).
test::CommandResult onTmpfs(const fs::path& mount, const std::string& options,
                            const std::string& script) {
  fs::create_directories(mount);
  return test::runShell("unshare -rm sh -c " + quote("mount -t tmpfs -o " + options + " tmpfs " +
                                                     quote(mount.string()) + " && " + script));
}

bool namespacesWork() {
  return test::runShell("unshare -rm true").exitCode == 0;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) out.push_back(line);
  return out;
}

// Every count of files from 2 to 14: the analysis fails at each output in turn (the 13th file
// is the last), and whatever fails leaves no report.json, no temporary and no truncated file.
TEST(DiskFull, EveryOutputFailsCleanlyAndReportJsonMeansComplete) {
  if (!namespacesWork())
    GTEST_SKIP() << "unshare -rm is not permitted here (needs root or user namespaces)";
  test::TempDir dir;
  ASSERT_EQ(test::runCordscope("phantom -o " + quote(dir / "p") + " --seed 7").exitCode, 0);
  const fs::path mount = dir / "disk";
  std::set<std::string> failedAt;
  int succeeded = 0;
  for (int files = 2; files <= 14; ++files) {
    const fs::path copy = dir.path() / ("out" + std::to_string(files));
    const auto r = onTmpfs(mount, "size=64m,nr_inodes=" + std::to_string(files),
                           quote(CORDSCOPE_BINARY) + " analyze " + quote(dir / "p/dicom") + " -o " +
                               quote(mount / "out") + " --no-render --quiet; rc=$?; cp -a " +
                               quote(mount / "out") + " " + quote(copy) + " 2>/dev/null; exit $rc");
    SCOPED_TRACE("nr_inodes=" + std::to_string(files) + ": " + r.err);
    // Nothing half-written under an output's name, and no temporary left behind.
    if (fs::exists(copy)) {
      for (const auto& f : fs::directory_iterator(copy)) {
        EXPECT_EQ(f.path().filename().string().find(".cordscope-"), std::string::npos) << f.path();
      }
    }
    if (r.exitCode == 0) {
      ++succeeded;
      std::ifstream in(copy / "report.json");
      EXPECT_NO_THROW(nlohmann::json::parse(in));
      for (const char* name :
           {"cord.nii.gz", "canal.nii.gz", "levels.nii.gz", "lesion.nii.gz", "centerline.csv",
            "discs.csv", "lesions.csv", "metrics.csv", "sagittal.png", "report.html"})
        EXPECT_TRUE(fs::exists(copy / name)) << name;
      continue;
    }
    EXPECT_EQ(r.exitCode, 5);
    EXPECT_FALSE(fs::exists(copy / "report.json"));
    const std::vector<std::string> said = lines(r.err);
    ASSERT_EQ(said.size(), 1u);
    const std::string prefix = "cordscope: error: " + (mount / "out").string() + "/";
    ASSERT_EQ(said[0].rfind(prefix, 0), 0u) << said[0];
    EXPECT_NE(said[0].find("cannot write"), std::string::npos);
    EXPECT_NE(said[0].find("No space left on device"), std::string::npos);
    failedAt.insert(
        said[0].substr(prefix.size(), said[0].find(':', prefix.size()) - prefix.size()));
  }
  EXPECT_GE(succeeded, 1);
  // Each writer was, in one run, the one that could not write: every NIfTI, a CSV, the picture,
  // the page, the report. (centerline.csv, discs.csv and lesions.csv each follow a NIfTI, whose
  // writing needs one file more for a moment, so counting files never stops at them; they are
  // written by the same code as metrics.csv.)
  for (const char* name : {"cord.nii.gz", "canal.nii.gz", "levels.nii.gz", "lesion.nii.gz",
                           "metrics.csv", "sagittal.png", "report.html", "report.json"})
    EXPECT_TRUE(failedAt.count(name)) << name << " never failed";
}

// A disk full of bytes: `convert` had written 1 MB of a 4.8 MB NIfTI and a 0-byte sidecar, said
// "wrote", and exited 0. Now neither file exists and the reason is given.
TEST(DiskFull, ConvertLeavesNoTruncatedNifti) {
  if (!namespacesWork())
    GTEST_SKIP() << "unshare -rm is not permitted here (needs root or user namespaces)";
  test::TempDir dir;
  ASSERT_EQ(test::runCordscope("phantom -o " + quote(dir / "p") + " --seed 7").exitCode, 0);
  const fs::path mount = dir / "disk";
  for (const char* name : {"x.nii", "x.nii.gz"}) {
    const auto r =
        onTmpfs(mount, "size=1m",
                quote(CORDSCOPE_BINARY) + " convert " + quote(dir / "p/dicom") + " -o " +
                    quote(mount / name) + "; rc=$?; ls -A " + quote(mount) + "; exit $rc");
    EXPECT_EQ(r.exitCode, 5) << r.err;
    EXPECT_EQ(r.out, "") << "left on the disk: " << r.out;
    const std::vector<std::string> said = lines(r.err);
    ASSERT_EQ(said.size(), 1u) << r.err;
    EXPECT_EQ(said[0].rfind("cordscope: error: " + (mount / name).string() +
                                ": cannot write the image (No space left on device",
                            0),
              0u)
        << said[0];
  }
}

// A batch whose disk fills: the study being written is left to be done again (not failed for a
// fault not its own), no other study starts, the store stays readable, exit 5 with one line; once
// there is room, the next run finishes both studies.
TEST(DiskFull, BatchStopsAndResumesWhenThereIsRoom) {
  if (!namespacesWork())
    GTEST_SKIP() << "unshare -rm is not permitted here (needs root or user namespaces)";
  test::TempDir dir;
  for (const char* seed : {"3", "4"}) {
    ASSERT_EQ(test::runCordscope("phantom -o " + quote((dir.path() / "p" / seed).string()) +
                                 " --seed " + seed)
                  .exitCode,
              0);
    fs::create_directories(dir.path() / "archive");
    fs::rename(dir.path() / "p" / seed / "dicom", dir.path() / "archive" / seed);
  }
  const fs::path mount = dir / "disk";
  const std::string batch = quote(CORDSCOPE_BINARY) + " batch " + quote(dir / "archive") + " -o " +
                            quote(mount / "out") + " --no-render --jobs 1";
  const std::string status = "sqlite3 " + quote(mount / "out/cordscope.sqlite") +
                             " 'SELECT status FROM studies ORDER BY key'";
  // 20 files: the store (3) and the first study fit, the second study does not.
  const std::string firstErr = dir / "first.err";
  const auto r = onTmpfs(mount, "size=64m,nr_inodes=20",
                         batch + " >/dev/null 2>" + quote(firstErr) + "; echo \"first exit $?\"; " +
                             status + "; mount -o remount,nr_inodes=200 " + quote(mount.string()) +
                             "; " + batch + " >/dev/null 2>&1; echo \"second exit $?\"; " + status);
  std::ifstream errIn(firstErr);
  const std::string firstText((std::istreambuf_iterator<char>(errIn)),
                              std::istreambuf_iterator<char>());
  // One line of error (after the batch's own progress note), naming the disk's reason.
  std::vector<std::string> errors;
  for (const std::string& line : lines(firstText))
    if (line.rfind("cordscope: error: ", 0) == 0) errors.push_back(line);
  ASSERT_EQ(errors.size(), 1u) << firstText;
  EXPECT_NE(errors[0].find("No space left on device"), std::string::npos) << errors[0];
  const std::vector<std::string> rest = lines(r.out);
  ASSERT_FALSE(rest.empty()) << r.err;
  EXPECT_EQ(rest[0], "first exit 5") << r.out;
  const auto at = std::find_if(rest.begin(), rest.end(),
                               [](const std::string& l) { return l.rfind("second exit", 0) == 0; });
  ASSERT_NE(at, rest.end()) << r.out;
  const std::vector<std::string> before(rest.begin() + 1, at), after(at + 1, rest.end());
  // The first run: one study done, the other left "interrupted" (to be done again).
  EXPECT_EQ(std::count(before.begin(), before.end(), "done"), 1) << r.out;
  EXPECT_EQ(std::count(before.begin(), before.end(), "interrupted"), 1) << r.out;
  EXPECT_EQ(*at, "second exit 0") << r.out;
  EXPECT_EQ(after, (std::vector<std::string>{"done", "done"})) << r.out;
}

}  // namespace
}  // namespace cordscope
