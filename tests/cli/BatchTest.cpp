// Batch processing (issue 9) through the binary: an archive of phantom studies with different
// lesions plus a corrupt study and a non-MRI file; cohort.csv against truth; a second run that
// analyses nothing (read from the store); a run killed with SIGKILL and resumed; shards merged;
// anonymised keys; BIDS derivatives; the Slurm array variables.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "TestSupport.h"
#include "data/Nifti.h"
#include "data/ResultsStore.h"

namespace cordscope {
namespace {

namespace fs = std::filesystem;

using Row = std::map<std::string, std::string>;

std::vector<Row> readCsv(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  std::vector<std::string> header;
  std::vector<Row> rows;
  const auto split = [](const std::string& text) {
    std::vector<std::string> fields;
    std::string field;
    bool quoted = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
      const char c = text[i];
      if (quoted) {
        if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') {
          field += '"';
          ++i;
        } else if (c == '"') {
          quoted = false;
        } else {
          field += c;
        }
      } else if (c == '"') {
        quoted = true;
      } else if (c == ',') {
        fields.push_back(field);
        field.clear();
      } else {
        field += c;
      }
    }
    fields.push_back(field);
    return fields;
  };
  if (!std::getline(in, line)) return rows;
  header = split(line);
  while (std::getline(in, line)) {
    const std::vector<std::string> fields = split(line);
    Row row;
    for (std::size_t i = 0; i < header.size() && i < fields.size(); ++i) row[header[i]] = fields[i];
    rows.push_back(row);
  }
  return rows;
}

// The exit code a batch owes for its cohort: 0 when every study is done, else 4.
int exitFor(const fs::path& cohortCsv) {
  for (const Row& row : readCsv(cohortCsv))
    if (row.at("status") != "done") return 4;
  return 0;
}

struct PhantomCase {
  unsigned seed;
  std::string lesion;  // --lesion argument, empty for none
  double adi;
};

// The archive every test reads: 8 phantom studies, one corrupt study, one non-MRI file.
class Batch : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    archive_ = new test::TempDir();
    const fs::path root = archive_->path();
    fs::create_directories(root / "archive");
    const std::vector<PhantomCase> cases = {{101, "", 1.5},
                                            {102, "C3:C4:dorsal", 2.0},
                                            {103, "C2:T2:dorsal", 1.5},
                                            {104, "C4:C6:central", 4.5},
                                            {105, "C5:C5:lateral", 1.0},
                                            {106, "C3:C7:dorsal", 7.0},
                                            {107, "", 10.0},
                                            {108, "C2:C4:holocord", 2.5}};
    for (const PhantomCase& c : cases) {
      std::string args = "phantom -o " +
                         test::quote((root / "truths" / std::to_string(c.seed)).string()) +
                         " --seed " + std::to_string(c.seed) + " --adi " + std::to_string(c.adi);
      if (!c.lesion.empty()) args += " --lesion " + c.lesion;
      const auto r = test::runCordscope(args);
      ASSERT_EQ(r.exitCode, 0) << r.err;
      fs::rename(root / "truths" / std::to_string(c.seed) / "dicom",
                 root / "archive" / ("study" + std::to_string(c.seed)));
    }
    // A corrupt study: a phantom whose files are cut short inside the pixel data.
    ASSERT_EQ(
        test::runCordscope("phantom -o " + test::quote((root / "corrupt").string()) + " --seed 109")
            .exitCode,
        0);
    for (const auto& f : fs::directory_iterator(root / "corrupt/dicom"))
      fs::resize_file(f.path(), fs::file_size(f.path()) * 6 / 10);
    fs::rename(root / "corrupt/dicom", root / "archive/corrupt");
    // A file that is no MR image at all.
    std::ofstream(root / "notes.pdf") << "%PDF-1.4 not an image\n";
  }
  static void TearDownTestSuite() {
    delete archive_;
    archive_ = nullptr;
  }
  static fs::path archive() { return archive_->path() / "archive"; }
  static fs::path nonMri() { return archive_->path() / "notes.pdf"; }
  static nlohmann::json truth(const std::string& seed) {
    std::ifstream in(archive_->path() / "truths" / seed / "truth.json");
    return nlohmann::json::parse(in);
  }
  static std::string inputs() {
    return test::quote(archive().string()) + " " + test::quote(nonMri().string());
  }

  static test::TempDir* archive_;
};
test::TempDir* Batch::archive_ = nullptr;

// Which phantom a row is (its PatientID is PHANTOM-<seed>).
std::string seedOf(const Row& row) {
  const std::string& key = row.at("study_key");
  const auto at = key.find("PHANTOM-");
  return at == std::string::npos ? "" : key.substr(at + 8, key.find('_', at) - at - 8);
}

TEST_F(Batch, AnalysesEveryStudyRecordsFailuresAndResumes) {
  test::TempDir out;
  const auto first = test::runCordscope("batch " + inputs() + " -o " + test::quote(out / "out") +
                                        " --jobs 2 --no-render");
  // Exit 4: it ran to its end, but the corrupt study and the PDF are not done.
  ASSERT_EQ(first.exitCode, 4) << first.err;
  const std::vector<Row> rows = readCsv(out.path() / "out/cohort.csv");
  ASSERT_EQ(rows.size(), 10u);
  int done = 0;
  for (const Row& row : rows) {
    const std::string seed = seedOf(row);
    if (seed.empty()) {
      EXPECT_EQ(row.at("status"), "failed") << row.at("study_key");
      EXPECT_FALSE(row.at("error").empty()) << row.at("study_key");
      std::cout << "[ batch ] " << row.at("study_key") << " failed: " << row.at("error") << "\n";
      continue;
    }
    if (seed == "109") {  // the corrupt study
      EXPECT_EQ(row.at("status"), "failed");
      EXPECT_FALSE(row.at("error").empty());
      std::cout << "[ batch ] corrupt study failed: " << row.at("error") << "\n";
      continue;
    }
    ++done;
    ASSERT_EQ(row.at("status"), "done") << row.at("study_key") << ": " << row.at("error");
    const nlohmann::json t = truth(seed);
    EXPECT_EQ(std::stoi(row.at("lesion_count")), t["summary"]["lesion_count"].get<int>()) << seed;
    if (t["summary"]["lesion_count"].get<int>() > 0) {
      EXPECT_EQ(std::stoi(row.at("max_segments_spanned")),
                t["summary"]["max_segments_spanned"].get<int>())
          << seed;
      EXPECT_EQ(row.at("extensive_ge7_segments") == "true",
                t["summary"]["extensive_ge7_segments"].get<bool>())
          << seed;
    }
    EXPECT_NEAR(std::stod(row.at("adi_mm")), t["craniocervical"]["adi_mm"].get<double>(), 1.0)
        << seed;
    EXPECT_NEAR(std::stod(row.at("age_years")), t["patient_age_years"].get<double>(), 0.5) << seed;
    EXPECT_FALSE(row.at("csa_C3_mm2").empty()) << seed;
    // Analysed as the truth has them: quality control has nothing to say.
    EXPECT_EQ(row.at("quality_verdict"), "pass") << seed << ": " << row.at("quality_reasons");
  }
  EXPECT_EQ(done, 8);
  bool corruptSeen = false;
  for (const Row& row : rows) corruptSeen |= row.at("input").find("corrupt") != std::string::npos;
  EXPECT_TRUE(corruptSeen);

  // A second run analyses nothing: every row's analysis count and finish time are unchanged.
  const std::vector<StudyRecord> before =
      ResultsStore((out.path() / "out/cordscope.sqlite").string()).all();
  const auto second = test::runCordscope("batch " + inputs() + " -o " + test::quote(out / "out") +
                                         " --jobs 2 --no-render");
  ASSERT_EQ(second.exitCode, 4) << second.err;  // the failures stay in the store
  EXPECT_NE(second.out.find("batch: 0 analysed, 0 failed in this run, 10 already in the store"),
            std::string::npos)
      << second.out;
  const std::vector<StudyRecord> after =
      ResultsStore((out.path() / "out/cordscope.sqlite").string()).all();
  ASSERT_EQ(after.size(), before.size());
  for (std::size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].analyses, before[i].analyses) << after[i].key;
    EXPECT_EQ(after[i].finishedAt, before[i].finishedAt) << after[i].key;
  }
  // --retry-failed runs the failures again, and only them.
  const auto retry = test::runCordscope("batch " + inputs() + " -o " + test::quote(out / "out") +
                                        " --no-render --retry-failed");
  ASSERT_EQ(retry.exitCode, 4) << retry.err;
  for (const StudyRecord& r : ResultsStore((out.path() / "out/cordscope.sqlite").string()).all())
    if (r.status == "done") {
      EXPECT_EQ(r.analyses, 1) << r.key;
    }
}

// Killed with SIGKILL in the middle: the store stays readable, the resumed run completes with no
// duplicate row, and studies finished before the kill are not analysed again.
TEST_F(Batch, KilledRunResumes) {
  test::TempDir out;
  const std::string command = test::quote(CORDSCOPE_BINARY) + " batch " + inputs() + " -o " +
                              test::quote(out / "out") + " --jobs 1 --no-render";
  const auto started = test::runShell(command + " > /dev/null 2>&1 & echo $!");
  const pid_t pid = std::stoi(started.out);
  const fs::path db = out.path() / "out/cordscope.sqlite";
  std::size_t finished = 0;
  for (int i = 0; i < 600 && finished < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    if (!fs::exists(db)) continue;
    try {
      finished = 0;
      for (const StudyRecord& r : ResultsStore(db.string()).all()) finished += r.status == "done";
    } catch (const std::exception&) {
    }
  }
  ASSERT_GE(finished, 3u) << "the batch did not get going";
  ASSERT_EQ(::kill(pid, SIGKILL), 0);
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::set<std::string> doneBefore;
  for (const StudyRecord& r : ResultsStore(db.string()).all())
    if (r.status == "done") doneBefore.insert(r.key);
  const auto resumed = test::runCordscope("batch " + inputs() + " -o " + test::quote(out / "out") +
                                          " --jobs 2 --no-render");
  ASSERT_EQ(resumed.exitCode, 4) << resumed.err;
  const std::vector<StudyRecord> all = ResultsStore(db.string()).all();
  EXPECT_EQ(all.size(), 10u);
  std::set<std::string> keys;
  int done = 0;
  for (const StudyRecord& r : all) {
    keys.insert(r.key);
    done += r.status == "done";
    if (doneBefore.count(r.key)) {
      EXPECT_EQ(r.analyses, 1) << r.key << " was analysed again";
    }
  }
  EXPECT_EQ(keys.size(), all.size());
  EXPECT_EQ(done, 8);
  EXPECT_EQ(readCsv(out.path() / "out/cohort.csv").size(), 10u);
}

// Shards 1/2 and 2/2 (the second through the Slurm array variables) merged equal one whole run.
TEST_F(Batch, ShardsMergeToTheWholeRun) {
  test::TempDir out;
  ASSERT_EQ(
      test::runCordscope("batch " + inputs() + " -o " + test::quote(out / "whole") + " --no-render")
          .exitCode,
      4);
  const auto one = test::runCordscope("batch " + inputs() + " -o " + test::quote(out / "shard1") +
                                      " --no-render --shard 1/2");
  EXPECT_EQ(one.exitCode, exitFor(out.path() / "shard1/cohort.csv")) << one.err;
  const auto two =
      test::runShell("SLURM_ARRAY_TASK_ID=2 SLURM_ARRAY_TASK_COUNT=2 SLURM_ARRAY_TASK_MIN=1 " +
                     test::quote(CORDSCOPE_BINARY) + " batch " + inputs() + " -o " +
                     test::quote(out / "shard2") + " --no-render");
  EXPECT_EQ(two.exitCode, exitFor(out.path() / "shard2/cohort.csv")) << two.err;
  const std::size_t n1 = readCsv(out.path() / "shard1/cohort.csv").size(),
                    n2 = readCsv(out.path() / "shard2/cohort.csv").size();
  EXPECT_GT(n1, 0u);
  EXPECT_GT(n2, 0u);
  EXPECT_EQ(n1 + n2, 10u);
  const auto merged =
      test::runCordscope("merge " + test::quote(out / "shard1") + " " +
                         test::quote(out / "shard2") + " -o " + test::quote(out / "merged"));
  ASSERT_EQ(merged.exitCode, 0) << merged.err;
  const std::vector<Row> whole = readCsv(out.path() / "whole/cohort.csv"),
                         combined = readCsv(out.path() / "merged/cohort.csv");
  ASSERT_EQ(combined.size(), whole.size());
  for (std::size_t i = 0; i < whole.size(); ++i)
    for (const auto& [column, value] : whole[i]) {
      if (column == "seconds" || column == "peak_memory_mb") continue;  // timings differ run to run
      EXPECT_EQ(combined[i].at(column), value) << whole[i].at("study_key") << " " << column;
    }
}

// --anonymize: keys are salted hashes; no name, ID, date or path in cohort.csv or report.json.
TEST_F(Batch, AnonymizedKeysAndOutputs) {
  test::TempDir out;
  const auto r = test::runCordscope("batch " + test::quote(archive().string()) + " -o " +
                                    test::quote(out / "out") + " --no-render --anonymize");
  ASSERT_EQ(r.exitCode, 4) << r.err;  // the corrupt study
  std::ifstream in(out.path() / "out/cohort.csv");
  const std::string csv((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string archivePath = archive().string();
  for (const std::string& secret :
       {std::string("PHANTOM"), std::string("20240115"), std::string("study_date"), archivePath})
    EXPECT_EQ(csv.find(secret), std::string::npos) << secret;
  for (const Row& row : readCsv(out.path() / "out/cohort.csv")) {
    EXPECT_EQ(row.at("study_key").size(), 17u);
    EXPECT_EQ(row.at("study_key")[0], 's');
    if (row.at("status") != "done") continue;
    std::ifstream report(out.path() / "out" / row.at("study_key") / "report.json");
    const std::string text((std::istreambuf_iterator<char>(report)),
                           std::istreambuf_iterator<char>());
    for (const std::string& secret :
         {std::string("PHANTOM-"), std::string("20240115"), archivePath})
      EXPECT_EQ(text.find(secret), std::string::npos) << secret;
  }
  // The store itself: no input path, no study or series UID in any column of any row (the failed
  // study's error included), and no study folder's log that names the input.
  const auto info = test::runCordscope("info --json " + test::quote(archive() / "study101"));
  ASSERT_EQ(info.exitCode, 0) << info.err;
  const nlohmann::json series = nlohmann::json::parse(info.out)["series"][0];
  const std::string studyUid = series["metadata"]["study_instance_uid"],
                    seriesUid = series["metadata"]["series_instance_uid"];
  ASSERT_GT(studyUid.size(), 10u);
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((out.path() / "out/cordscope.sqlite").c_str(), &db,
                            SQLITE_OPEN_READONLY, nullptr),
            SQLITE_OK);
  std::string everything;
  sqlite3_exec(
      db, "SELECT * FROM studies",
      [](void* all, int n, char** values, char**) {
        for (int i = 0; i < n; ++i)
          *static_cast<std::string*>(all) += std::string(values[i] ? values[i] : "") + "|";
        return 0;
      },
      &everything, nullptr);
  sqlite3_close(db);
  EXPECT_NE(everything.find("failed"), std::string::npos) << everything;
  for (const std::string& secret :
       {std::string("PHANTOM"), std::string("20240115"), archivePath, studyUid, seriesUid})
    EXPECT_EQ(everything.find(secret), std::string::npos) << secret << " in " << everything;
  for (const auto& entry : fs::recursive_directory_iterator(out.path() / "out")) {
    if (entry.path().filename() != "analyze.log") continue;
    std::ifstream log(entry.path());
    const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    for (const std::string& secret : {archivePath, studyUid})
      EXPECT_EQ(text.find(secret), std::string::npos) << secret << " in " << entry.path();
  }
}

// A BIDS dataset: one study per sub-*/[ses-*/]anat/*_T2w.nii.gz, and a derivatives tree.
TEST_F(Batch, BidsDatasetAndDerivatives) {
  test::TempDir out;
  const fs::path bids = out.path() / "bids";
  fs::create_directories(bids / "sub-01/anat");
  fs::create_directories(bids / "sub-02/ses-01/anat");
  std::ofstream(bids / "dataset_description.json") << R"({"Name": "test", "BIDSVersion": "1.8.0"})";
  ASSERT_EQ(
      test::runCordscope("convert " + test::quote((archive() / "study103").string()) + " -o " +
                         test::quote((bids / "sub-01/anat/sub-01_T2w.nii.gz").string()))
          .exitCode,
      0);
  ASSERT_EQ(test::runCordscope(
                "convert " + test::quote((archive() / "study101").string()) + " -o " +
                test::quote((bids / "sub-02/ses-01/anat/sub-02_ses-01_T2w.nii.gz").string()))
                .exitCode,
            0);
  const auto r = test::runCordscope("batch " + test::quote(bids.string()) + " -o " +
                                    test::quote(out / "out") + " --no-render");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const fs::path derivatives = out.path() / "out/derivatives/cordscope";
  EXPECT_TRUE(fs::exists(derivatives / "dataset_description.json"));
  for (const char* file : {"sub-01/anat/sub-01_T2w_label-SC_seg.nii.gz",
                           "sub-01/anat/sub-01_T2w_label-lesion_seg.nii.gz",
                           "sub-01/anat/sub-01_T2w_label-vertebrae_dseg.nii.gz",
                           "sub-02/ses-01/anat/sub-02_ses-01_T2w_label-SC_seg.nii.gz"})
    EXPECT_TRUE(fs::exists(derivatives / file)) << file;
  const std::vector<Row> rows = readCsv(out.path() / "out/cohort.csv");
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].at("study_key"), "sub-01_T2w");
  EXPECT_EQ(rows[0].at("max_segments_spanned"), "8");
}

// Quality verdicts in the batch (docs/batch.md): a passing phantom and one framed below the
// junction (check) are done; a study without a cord is analysed to the end but rejected - kept
// with its verdict and reasons, counted apart, never "done"; re-runs skip it unless
// --retry-failed; merge carries the columns.
TEST(BatchQuality, VerdictsInTheCohortAndMerge) {
  test::TempDir dir;
  const fs::path archive = dir.path() / "archive";
  fs::create_directories(archive);
  ASSERT_EQ(test::runCordscope("phantom -o " + test::quote(dir / "pass") + " --seed 31").exitCode,
            0);
  fs::rename(dir.path() / "pass/dicom", archive / "pass");
  const test::CroppedPhantom crop = test::writePhantomWithoutJunction(dir.path() / "crop", 32);
  fs::rename(crop.nifti, archive / "cropped.nii.gz");
  fs::rename(dir.path() / "crop/cropped.json", archive / "cropped.json");
  auto image = Image::New();
  Image::SizeType size{{40, 60, 50}};
  image->SetRegions(size);
  image->Allocate();
  float* p = image->GetBufferPointer();
  for (std::size_t i = 0; i < 40 * 60 * 50; ++i)
    p[i] = 100.0f + static_cast<float>(i % 40);  // no cord
  writeNifti(image.GetPointer(), (archive / "flat.nii.gz").string());

  const std::string batch = "batch " + test::quote(archive.string()) + " -o " +
                            test::quote(dir / "out") + " --jobs 2 --no-render";
  const auto first = test::runCordscope(batch);
  ASSERT_EQ(first.exitCode, 4) << first.err;  // one rejected: not every study is done
  EXPECT_NE(first.out.find("batch: 3 analysed, 0 failed in this run, 0 already in the store; "
                           "quality of the analysed: 1 pass, "
                           "1 check, 1 fail (rejected); store 2 done, 1 rejected, 0 failed of 3"),
            std::string::npos)
      << first.out;
  const auto byInput = [](const std::vector<Row>& rows) {
    std::map<std::string, Row> out;
    for (const Row& row : rows) out[fs::path(row.at("input")).filename().string()] = row;
    return out;
  };
  std::map<std::string, Row> rows = byInput(readCsv(dir.path() / "out/cohort.csv"));
  ASSERT_EQ(rows.size(), 3u);
  EXPECT_EQ(rows["pass"].at("status"), "done");
  EXPECT_EQ(rows["pass"].at("quality_verdict"), "pass");
  EXPECT_EQ(rows["pass"].at("quality_reasons"), "");
  EXPECT_FALSE(rows["pass"].at("csa_C3_mm2").empty());
  EXPECT_EQ(rows["cropped.nii.gz"].at("status"), "done");
  EXPECT_EQ(rows["cropped.nii.gz"].at("quality_verdict"), "check");
  EXPECT_EQ(rows["cropped.nii.gz"].at("quality_reasons"), "levels_not_named");
  EXPECT_EQ(rows["cropped.nii.gz"].at("error"), "");
  const Row& rejected = rows["flat.nii.gz"];
  EXPECT_EQ(rejected.at("status"), "rejected");
  EXPECT_EQ(rejected.at("quality_verdict"), "fail");
  EXPECT_EQ(rejected.at("quality_reasons"), "cord_not_found");
  EXPECT_EQ(rejected.at("error").rfind("quality control: fail: no spinal cord found", 0), 0u)
      << rejected.at("error");
  EXPECT_EQ(rejected.at("analyses"), "1");
  // Its outputs are kept for review.
  const auto store = ResultsStore((dir.path() / "out/cordscope.sqlite").string()).all();
  for (const StudyRecord& r : store)
    if (r.status == "rejected") {
      EXPECT_TRUE(fs::exists(fs::path(r.outputDir) / "report.html")) << r.outputDir;
    }

  // A re-run analyses nothing; --retry-failed analyses the rejected study again, and only it.
  const auto second = test::runCordscope(batch);
  ASSERT_EQ(second.exitCode, 4) << second.err;
  EXPECT_NE(second.out.find("batch: 0 analysed, 0 failed in this run, 3 already in the store"),
            std::string::npos)
      << second.out;
  const auto retry = test::runCordscope(batch + " --retry-failed");
  ASSERT_EQ(retry.exitCode, 4) << retry.err;
  EXPECT_NE(retry.out.find("batch: 1 analysed, 0 failed in this run, 2 already in the store; "
                           "quality of the analysed: 0 "
                           "pass, 0 check, 1 fail (rejected)"),
            std::string::npos)
      << retry.out;
  rows = byInput(readCsv(dir.path() / "out/cohort.csv"));
  EXPECT_EQ(rows["flat.nii.gz"].at("analyses"), "2");
  EXPECT_EQ(rows["pass"].at("analyses"), "1");

  // merge carries the verdicts.
  const auto merged = test::runCordscope("merge " + test::quote(dir / "out") + " -o " +
                                         test::quote(dir / "merged"));
  ASSERT_EQ(merged.exitCode, 0) << merged.err;
  const std::map<std::string, Row> mergedRows = byInput(readCsv(dir.path() / "merged/cohort.csv"));
  ASSERT_EQ(mergedRows.size(), 3u);
  for (const auto& [input, row] : rows)
    for (const char* column : {"status", "quality_verdict", "quality_reasons", "error"})
      EXPECT_EQ(mergedRows.at(input).at(column), row.at(column)) << input << " " << column;
}

// One study's analysis crashes (SIGSEGV), one hangs, one folder holds only a file whose
// sequences nest 100,000 deep (it crashed the batch parent reading headers): each is one failed
// study with its reason, the batch itself finishes, the good study is done, and the exit code
// says that not all are (4). The crash and the hang are real - a signal, a process that never
// ends - injected through CORDSCOPE_TEST_FAULT (app/analyze.cpp).
TEST_F(Batch, CrashHangAndHostileHeadersAreIsolated) {
  test::TempDir dir;
  const fs::path a = dir.path() / "a";
  fs::create_directories(a);
  for (const auto& [from, to] :
       {std::pair{"study101", "plain"}, {"study102", "crashme"}, {"study103", "hangme"}})
    fs::copy(archive() / from, a / to, fs::copy_options::recursive);
  fs::create_directories(a / "hostile");
  fs::copy_file(*fs::directory_iterator(archive() / "study104"), a / "hostile/deep.dcm");
  test::nestSequences(a / "hostile/deep.dcm", 100000, true);

  const auto start = std::chrono::steady_clock::now();
  const auto r =
      test::runShell("CORDSCOPE_TEST_FAULT=crash:crashme,hang:hangme " +
                     test::quote(CORDSCOPE_BINARY) + " batch " + test::quote(a.string()) + " -o " +
                     test::quote(dir / "out") + " --no-render --jobs 2 --study-timeout 20");
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(r.exitCode, 4) << r.err;
  EXPECT_LT(seconds, 120) << "the hang held up the batch";
  std::map<std::string, Row> rows;
  for (const Row& row : readCsv(dir.path() / "out/cohort.csv"))
    rows[fs::path(row.at("input")).filename().string()] = row;
  ASSERT_EQ(rows.size(), 4u) << r.out << r.err;
  EXPECT_EQ(rows["plain"].at("status"), "done");
  EXPECT_EQ(rows["crashme"].at("status"), "failed");
  EXPECT_NE(rows["crashme"].at("error").find("crashed (signal 11"), std::string::npos)
      << rows["crashme"].at("error");
  EXPECT_EQ(rows["hangme"].at("status"), "failed");
  EXPECT_NE(rows["hangme"].at("error").find("did not finish within --study-timeout 20 s"),
            std::string::npos)
      << rows["hangme"].at("error");
  EXPECT_EQ(rows["hostile"].at("status"), "failed");
  EXPECT_NE(rows["hostile"].at("error").find("sequences nested more than 64 deep"),
            std::string::npos)
      << rows["hostile"].at("error");
  EXPECT_NE(r.out.find("store 1 done, 0 rejected, 3 failed of 4"), std::string::npos) << r.out;
}

// One study given as two inputs, each holding half of its slices (odd and even files): each half
// was analysed as a study of its own with gaps between its slices (ADI 6.7 mm on a normal neck).
// Now the parts are read together by their UIDs - one row, done, with the same measures as the
// study given whole - and the assembly is said. `analyze` takes the two folders the same way.
TEST_F(Batch, StudySplitAcrossInputsIsJoinedByItsUids) {
  test::TempDir dir;
  std::vector<fs::path> files;
  for (const auto& f : fs::directory_iterator(archive() / "study101")) files.push_back(f.path());
  std::sort(files.begin(), files.end());
  for (std::size_t i = 0; i < files.size(); ++i) {
    const fs::path half = dir.path() / "whole" / (i % 2 ? "odd" : "even");
    fs::create_directories(half);
    fs::copy_file(files[i], half / files[i].filename());
  }
  const auto split = test::runCordscope("batch " + test::quote(dir / "whole/odd") + " " +
                                        test::quote(dir / "whole/even") + " -o " +
                                        test::quote(dir / "out") + " --no-render");
  EXPECT_EQ(split.exitCode, 0) << split.err;
  EXPECT_NE(split.err.find("is split across 2 inputs"), std::string::npos) << split.err;
  const std::vector<Row> rows = readCsv(dir.path() / "out/cohort.csv");
  ASSERT_EQ(rows.size(), 1u);
  EXPECT_EQ(rows[0].at("status"), "done") << rows[0].at("error");
  EXPECT_NE(rows[0].at("input").find("whole/even + "), std::string::npos) << rows[0].at("input");
  EXPECT_NE(rows[0].at("input").find("whole/odd"), std::string::npos) << rows[0].at("input");

  const auto whole = test::runCordscope("batch " + test::quote(dir / "whole") + " -o " +
                                        test::quote(dir / "out2") + " --no-render");
  EXPECT_EQ(whole.exitCode, 0) << whole.err;
  const std::vector<Row> one = readCsv(dir.path() / "out2/cohort.csv");
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].at("status"), "done");
  // The same study, the same numbers: ADI within 0.05 mm and the same lesion extent, and the
  // ADI against the phantom's truth.
  for (const char* column : {"adi_mm", "lesion_count", "max_segments_spanned"})
    ASSERT_FALSE(rows[0].at(column).empty()) << column;
  EXPECT_NEAR(std::stod(rows[0].at("adi_mm")), std::stod(one[0].at("adi_mm")), 0.05);
  EXPECT_NEAR(std::stod(rows[0].at("adi_mm")),
              truth("101")["craniocervical"]["adi_mm"].get<double>(), 1.0);
  EXPECT_EQ(rows[0].at("lesion_count"), one[0].at("lesion_count"));
  EXPECT_EQ(rows[0].at("max_segments_spanned"), one[0].at("max_segments_spanned"));

  // analyze with the two folders: the report says where the series came from.
  const auto a = test::runCordscope("analyze " + test::quote(dir / "whole/odd") + " " +
                                    test::quote(dir / "whole/even") + " -o " +
                                    test::quote(dir / "a") + " --no-render --quiet");
  ASSERT_EQ(a.exitCode, 0) << a.err;
  std::ifstream in(dir.path() / "a/report.json");
  const nlohmann::json report = nlohmann::json::parse(in);
  ASSERT_EQ(report["input"]["paths"].size(), 2u);
  EXPECT_EQ(report["input"]["size"][2].get<int>(), static_cast<int>(files.size()));
  bool said = false;
  for (const auto& w : report["warnings"])
    said |= w.get<std::string>().find("assembled by its UIDs from the frames of 2 inputs") !=
            std::string::npos;
  EXPECT_TRUE(said) << report["warnings"].dump();
}

// A store written before quality control: opened read-write it gains the columns (its rows read
// empty verdicts), and opened read-only (a shard given to merge) it reads without them.
TEST(BatchQuality, OlderStoreGainsTheQualityColumns) {
  test::TempDir dir;
  const std::string path = dir / "old.sqlite";
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE studies (key TEXT PRIMARY KEY, kind TEXT, input TEXT, "
                         "series TEXT, fingerprint TEXT, "
                         "output_dir TEXT, status TEXT NOT NULL, error TEXT, analyses INTEGER NOT "
                         "NULL DEFAULT 0, started_at TEXT, "
                         "finished_at TEXT, seconds REAL, peak_memory_mb REAL, age_years REAL, sex "
                         "TEXT, study_date TEXT, "
                         "lesion_count INTEGER, max_segments_spanned INTEGER, extensive INTEGER, "
                         "adi_mm REAL, padi_mm REAL, "
                         "csa_json TEXT); CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT);"
                         "INSERT INTO studies (key, status, analyses, lesion_count) VALUES "
                         "('old-study', 'done', 1, 2);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
  {
    const ResultsStore readOnly(path, ResultsStore::Mode::ReadOnly);
    const auto rows = readOnly.all();
    ASSERT_EQ(rows.size(), 1u);
    EXPECT_EQ(rows[0].lesionCount, 2);
    EXPECT_EQ(rows[0].qualityVerdict, "");
  }
  ResultsStore store(path);
  StudyRecord r = *store.find("old-study");
  EXPECT_EQ(r.qualityVerdict, "");
  r.qualityVerdict = "check";
  r.qualityReasons = "levels_not_named";
  store.put(r);
  const StudyRecord back = *store.find("old-study");
  EXPECT_EQ(back.qualityVerdict, "check");
  EXPECT_EQ(back.qualityReasons, "levels_not_named");
  EXPECT_EQ(back.lesionCount, 2);
}

// Bad input: merge of a folder without a store, batch of a missing path, a malformed shard.
// --dicom-out is passed to every study's analysis: the DICOM study gets its SEG, SR and key
// images (series numbers from --series-number-base), the NIfTI study none; with --anonymize it is
// refused (the objects carry the patient's identity).
TEST(BatchDicomOut, EveryDicomStudyGetsItsObjects) {
  test::TempDir dir;
  const fs::path archive = dir.path() / "archive";
  fs::create_directories(archive);
  ASSERT_EQ(test::runCordscope("phantom -o " + test::quote(dir / "a") + " --seed 41").exitCode, 0);
  fs::rename(dir.path() / "a/dicom", archive / "a");
  const test::CroppedPhantom crop = test::writePhantomWithoutJunction(dir.path() / "crop", 42);
  fs::rename(crop.nifti, archive / "cropped.nii.gz");
  const auto r = test::runCordscope("batch " + test::quote(archive.string()) + " -o " +
                                    test::quote(dir / "out") +
                                    " --jobs 2 --no-render --dicom-out --series-number-base 800");
  EXPECT_TRUE(r.exitCode == 0 || r.exitCode == 4) << r.err;
  int seg = 0, sr = 0, dicomFolders = 0;
  for (const auto& entry : fs::recursive_directory_iterator(dir.path() / "out")) {
    seg += entry.path().filename() == "seg.dcm";
    sr += entry.path().filename() == "sr.dcm";
    dicomFolders += entry.is_directory() && entry.path().filename() == "dicom";
  }
  EXPECT_EQ(seg, 1);
  EXPECT_EQ(sr, 1);
  EXPECT_EQ(dicomFolders, 1) << "none for the NIfTI study";
  const auto refused = test::runCordscope("batch " + test::quote(archive.string()) + " -o " +
                                          test::quote(dir / "anon") + " --dicom-out --anonymize");
  EXPECT_EQ(refused.exitCode, 2) << refused.err;
}

TEST(BatchInput, BadInputIsAClearError) {
  test::TempDir dir;
  fs::create_directories(dir.path() / "nostore");
  const auto merge =
      test::runCordscope("merge " + test::quote(dir / "nostore") + " -o " + test::quote(dir / "m"));
  EXPECT_NE(merge.exitCode, 0);
  EXPECT_NE(merge.err.find("cordscope.sqlite"), std::string::npos) << merge.err;
  const auto missing =
      test::runCordscope("batch " + test::quote(dir / "missing") + " -o " + test::quote(dir / "b"));
  EXPECT_NE(missing.exitCode, 0);
  EXPECT_NE(missing.err.find("missing"), std::string::npos) << missing.err;
  const auto shard = test::runCordscope("batch " + test::quote(dir.path().string()) + " -o " +
                                        test::quote(dir / "b") + " --shard 3/2");
  EXPECT_EQ(shard.exitCode, 2) << shard.err;
  EXPECT_NE(shard.err.find("--shard"), std::string::npos) << shard.err;
}

}  // namespace
}  // namespace cordscope
