// The batch results store: one SQLite file (WAL mode), one row per study, written only by the
// batch's parent process (jobs run as child processes and never touch it). Every change is one
// transaction, so a run killed at any moment (SIGKILL included) leaves a consistent store: rows of
// finished studies, and at worst rows still marked `running` for the studies in flight, which the
// next run treats as not done.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

struct sqlite3;

namespace cordscope {

struct StudyRecord {
  std::string key;
  std::string kind, input, series, fingerprint, outputDir;
  // "running", "done", "failed" (not analysed to the end: unreadable input, a crash),
  // "rejected" (analysed, but its quality control verdict is fail), "interrupted"
  std::string status;
  std::string error;  // why it failed; for a rejected study, the quality control's fail reasons
  // The analysis' quality control (report.json "quality"): "pass", "check", "fail", or empty when
  // there is no verdict (not analysed to the end, or analysed by a version without one); the
  // reasons' codes, ";"-separated.
  std::string qualityVerdict, qualityReasons;
  int analyses =
      0;  // times an analysis of this study was started (a skipped study keeps its count)
  std::string startedAt, finishedAt;  // UTC ISO 8601
  double seconds = 0, peakMemoryMb = 0;
  // Demographics and summary measures (from the study's report.json); absent when unknown.
  std::optional<double> ageYears;
  std::string sex, studyDate;
  std::optional<int> lesionCount, maxSegmentsSpanned;
  std::optional<bool> extensive;
  std::optional<double> adiMm, padiMm;
  std::map<std::string, double> csaMm2;  // per level name
};

class ResultsStore {
 public:
  enum class Mode { ReadWrite, ReadOnly };
  // Opens (creating when needed, read-write) the store; throws Error naming the file when it
  // cannot.
  explicit ResultsStore(const std::string& path, Mode mode = Mode::ReadWrite);
  ~ResultsStore();
  ResultsStore(const ResultsStore&) = delete;
  ResultsStore& operator=(const ResultsStore&) = delete;

  std::optional<StudyRecord> find(const std::string& key) const;
  std::vector<StudyRecord> all() const;  // sorted by key
  // Inserts or replaces the row of `record.key`.
  void put(const StudyRecord& record);
  // A per-archive random salt for anonymised keys, created on first use and kept in the store.
  std::string salt();
  std::optional<std::string> meta(const std::string& name) const;
  void setMeta(const std::string& name, const std::string& value);
  const std::string& path() const { return path_; }

 private:
  void exec(const std::string& sql) const;
  bool hasColumn(const std::string& column) const;
  std::string selectColumns() const;  // kColumns, with NULL for columns an older store lacks
  sqlite3* db_ = nullptr;
  std::string path_;
  std::string select_;  // the columns to read, fixed when opened
};

// cohort.csv: one row per study (key, status, quality verdict and reason codes, demographics,
// summary measures, CSA per level C1-T2, error). With `anonymized`, no input path, study date or
// other identifier is written.
void writeCohortCsv(const std::vector<StudyRecord>& records, const std::string& path,
                    bool anonymized);

// UTC now, ISO 8601.
std::string utcNow();

}  // namespace cordscope
