#include "data/ResultsStore.h"

#include <openssl/rand.h>
#include <sqlite3.h>

#include <cmath>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/Csv.h"
#include "data/Error.h"
#include "data/Levels.h"
#include "data/OutputFile.h"

namespace cordscope {
namespace {

constexpr const char* kColumns =
    "key, kind, input, series, fingerprint, output_dir, status, error, analyses, started_at, "
    "finished_at, "
    "seconds, peak_memory_mb, age_years, sex, study_date, lesion_count, max_segments_spanned, "
    "extensive, "
    "adi_mm, padi_mm, csa_json, quality_verdict, quality_reasons";
// Columns added after the first stores were written: a store without them gains them when opened
// read-write, and reads as NULL for them when opened read-only (a shard of an older batch).
constexpr const char* kAddedColumns[] = {"quality_verdict", "quality_reasons"};

// The store's failure as an Error: a full disk, a read-only or vanished file is an output
// failure (exit 5: the batch stops, and resumes once there is room); anything else a failure of
// the analysis run. The operating system's reason is added when SQLite has one.
Error storeError(sqlite3* db, const std::string& path, const std::string& doing = "results store") {
  const int code = db ? sqlite3_errcode(db) & 0xff : SQLITE_NOMEM;
  const int system = db ? sqlite3_system_errno(db) : 0;
  std::string why = db ? sqlite3_errmsg(db) : "out of memory";
  if (system != 0 && why.find(std::strerror(system)) == std::string::npos)
    why += " (" + std::string(std::strerror(system)) + ")";
  const bool output = code == SQLITE_FULL || code == SQLITE_IOERR || code == SQLITE_CANTOPEN ||
                      code == SQLITE_READONLY;
  return Error(output ? ExitCode::OutputFailed : ExitCode::AnalysisFailed,
               path + ": " + doing + ": " + why);
}

// A prepared statement that finalises itself.
class Statement {
 public:
  Statement(sqlite3* db, const std::string& sql, const std::string& path) {
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr) != SQLITE_OK)
      throw storeError(db, path);
  }
  ~Statement() { sqlite3_finalize(stmt_); }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

void bindText(sqlite3_stmt* s, int i, const std::string& v) {
  sqlite3_bind_text(s, i, v.c_str(), -1, SQLITE_TRANSIENT);
}
template <class T>
void bindOptional(sqlite3_stmt* s, int i, const std::optional<T>& v) {
  if (!v)
    sqlite3_bind_null(s, i);
  else if constexpr (std::is_floating_point_v<T>)
    sqlite3_bind_double(s, i, *v);
  else
    sqlite3_bind_int(s, i, static_cast<int>(*v));
}

std::string columnText(sqlite3_stmt* s, int i) {
  const unsigned char* t = sqlite3_column_text(s, i);
  return t ? reinterpret_cast<const char*>(t) : "";
}
std::optional<double> columnDouble(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_double(s, i);
}
std::optional<int> columnInt(sqlite3_stmt* s, int i) {
  if (sqlite3_column_type(s, i) == SQLITE_NULL) return std::nullopt;
  return sqlite3_column_int(s, i);
}

StudyRecord readRow(sqlite3_stmt* s) {
  StudyRecord r;
  int i = 0;
  r.key = columnText(s, i++);
  r.kind = columnText(s, i++);
  r.input = columnText(s, i++);
  r.series = columnText(s, i++);
  r.fingerprint = columnText(s, i++);
  r.outputDir = columnText(s, i++);
  r.status = columnText(s, i++);
  r.error = columnText(s, i++);
  r.analyses = sqlite3_column_int(s, i++);
  r.startedAt = columnText(s, i++);
  r.finishedAt = columnText(s, i++);
  r.seconds = sqlite3_column_double(s, i++);
  r.peakMemoryMb = sqlite3_column_double(s, i++);
  r.ageYears = columnDouble(s, i++);
  r.sex = columnText(s, i++);
  r.studyDate = columnText(s, i++);
  r.lesionCount = columnInt(s, i++);
  r.maxSegmentsSpanned = columnInt(s, i++);
  if (const auto e = columnInt(s, i++)) r.extensive = *e != 0;
  r.adiMm = columnDouble(s, i++);
  r.padiMm = columnDouble(s, i++);
  const std::string csa = columnText(s, i++);
  if (!csa.empty()) r.csaMm2 = nlohmann::json::parse(csa).get<std::map<std::string, double>>();
  r.qualityVerdict = columnText(s, i++);
  r.qualityReasons = columnText(s, i++);
  return r;
}

std::string numberText(const std::optional<double>& v, int decimals) {
  if (!v) return "";
  char text[32];
  std::snprintf(text, sizeof text, "%.*f", decimals, *v);
  return text;
}

}  // namespace

ResultsStore::ResultsStore(const std::string& path, Mode mode) : path_(path) {
  const int flags =
      mode == Mode::ReadOnly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  if (sqlite3_open_v2(path.c_str(), &db_, flags | SQLITE_OPEN_FULLMUTEX, nullptr) != SQLITE_OK) {
    const Error error = storeError(db_, path, "cannot open the results store");
    sqlite3_close(db_);
    db_ = nullptr;
    throw error;
  }
  sqlite3_busy_timeout(db_, 30000);
  if (mode == Mode::ReadOnly) {
    select_ = selectColumns();
    return;
  }
  try {
    exec("PRAGMA journal_mode=WAL");
    exec("PRAGMA synchronous=NORMAL");
    exec(
        "CREATE TABLE IF NOT EXISTS studies (key TEXT PRIMARY KEY, kind TEXT, input TEXT, series "
        "TEXT, "
        "fingerprint TEXT, output_dir TEXT, status TEXT NOT NULL, error TEXT, analyses INTEGER NOT "
        "NULL DEFAULT 0, "
        "started_at TEXT, finished_at TEXT, seconds REAL, peak_memory_mb REAL, age_years REAL, sex "
        "TEXT, "
        "study_date TEXT, lesion_count INTEGER, max_segments_spanned INTEGER, extensive INTEGER, "
        "adi_mm REAL, "
        "padi_mm REAL, csa_json TEXT, quality_verdict TEXT, quality_reasons TEXT)");
    exec("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT)");
    for (const char* column : kAddedColumns)
      if (!hasColumn(column))
        exec(std::string("ALTER TABLE studies ADD COLUMN ") + column + " TEXT");
    select_ = selectColumns();
  } catch (...) {
    sqlite3_close(db_);
    db_ = nullptr;
    throw;
  }
}

ResultsStore::~ResultsStore() {
  sqlite3_close(db_);
}

bool ResultsStore::hasColumn(const std::string& column) const {
  Statement s(db_, "SELECT name FROM pragma_table_info('studies')", path_);
  int step;
  while ((step = sqlite3_step(s.get())) == SQLITE_ROW)
    if (columnText(s.get(), 0) == column) return true;
  if (step != SQLITE_DONE) throw storeError(db_, path_);
  return false;
}

std::string ResultsStore::selectColumns() const {
  std::string columns = kColumns;
  for (const char* column : kAddedColumns)
    if (!hasColumn(column)) {
      const std::size_t at = columns.find(column);
      columns.replace(at, std::strlen(column), std::string("NULL AS ") + column);
    }
  return columns;
}

void ResultsStore::exec(const std::string& sql) const {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    sqlite3_free(message);
    throw storeError(db_, path_);
  }
}

std::optional<StudyRecord> ResultsStore::find(const std::string& key) const {
  Statement s(db_, "SELECT " + select_ + " FROM studies WHERE key = ?", path_);
  bindText(s.get(), 1, key);
  const int step = sqlite3_step(s.get());
  if (step == SQLITE_DONE) return std::nullopt;
  if (step != SQLITE_ROW) throw storeError(db_, path_);
  return readRow(s.get());
}

std::vector<StudyRecord> ResultsStore::all() const {
  Statement s(db_, "SELECT " + select_ + " FROM studies ORDER BY key", path_);
  std::vector<StudyRecord> out;
  int step;
  while ((step = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(readRow(s.get()));
  if (step != SQLITE_DONE) throw storeError(db_, path_);
  return out;
}

void ResultsStore::put(const StudyRecord& r) {
  Statement s(db_,
              std::string("INSERT OR REPLACE INTO studies (") + kColumns +
                  ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
              path_);
  int i = 1;
  bindText(s.get(), i++, r.key);
  bindText(s.get(), i++, r.kind);
  bindText(s.get(), i++, r.input);
  bindText(s.get(), i++, r.series);
  bindText(s.get(), i++, r.fingerprint);
  bindText(s.get(), i++, r.outputDir);
  bindText(s.get(), i++, r.status);
  bindText(s.get(), i++, r.error);
  sqlite3_bind_int(s.get(), i++, r.analyses);
  bindText(s.get(), i++, r.startedAt);
  bindText(s.get(), i++, r.finishedAt);
  sqlite3_bind_double(s.get(), i++, r.seconds);
  sqlite3_bind_double(s.get(), i++, r.peakMemoryMb);
  bindOptional(s.get(), i++, r.ageYears);
  bindText(s.get(), i++, r.sex);
  bindText(s.get(), i++, r.studyDate);
  bindOptional(s.get(), i++, r.lesionCount);
  bindOptional(s.get(), i++, r.maxSegmentsSpanned);
  bindOptional(s.get(), i++, r.extensive);
  bindOptional(s.get(), i++, r.adiMm);
  bindOptional(s.get(), i++, r.padiMm);
  bindText(s.get(), i++, r.csaMm2.empty() ? std::string() : nlohmann::json(r.csaMm2).dump());
  bindText(s.get(), i++, r.qualityVerdict);
  bindText(s.get(), i++, r.qualityReasons);
  if (sqlite3_step(s.get()) != SQLITE_DONE) throw storeError(db_, path_);
}

std::optional<std::string> ResultsStore::meta(const std::string& name) const {
  Statement s(db_, "SELECT value FROM meta WHERE name = ?", path_);
  bindText(s.get(), 1, name);
  if (sqlite3_step(s.get()) != SQLITE_ROW) return std::nullopt;
  return columnText(s.get(), 0);
}

void ResultsStore::setMeta(const std::string& name, const std::string& value) {
  Statement s(db_, "INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", path_);
  bindText(s.get(), 1, name);
  bindText(s.get(), 2, value);
  if (sqlite3_step(s.get()) != SQLITE_DONE) throw storeError(db_, path_);
}

std::string ResultsStore::salt() {
  if (const auto existing = meta("salt")) return *existing;
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1)
    throw Error(ExitCode::AnalysisFailed, "cannot draw a random salt");
  std::string hex;
  for (const unsigned char b : bytes) {
    static const char* digits = "0123456789abcdef";
    hex += digits[b >> 4];
    hex += digits[b & 15];
  }
  setMeta("salt", hex);
  return hex;
}

void writeCohortCsv(const std::vector<StudyRecord>& records, const std::string& path,
                    bool anonymized) {
  std::ostringstream out;
  out << "study_key,status,quality_verdict,quality_reasons,kind,age_years,sex"
      << (anonymized ? "" : ",study_date,input")
      << ",lesion_count,max_segments_spanned,extensive_ge7_segments,adi_mm,padi_mm";
  for (int level = 1; level <= 9; ++level) out << ",csa_" << levelName(level) << "_mm2";
  out << ",seconds,peak_memory_mb,analyses,error\n";
  for (const StudyRecord& r : records) {
    out << csvField(r.key) << "," << r.status << "," << csvField(r.qualityVerdict) << ","
        << csvField(r.qualityReasons) << "," << r.kind << "," << numberText(r.ageYears, 1) << ","
        << csvField(r.sex);
    if (!anonymized) out << "," << csvField(r.studyDate) << "," << csvField(r.input);
    out << "," << (r.lesionCount ? std::to_string(*r.lesionCount) : "") << ","
        << (r.maxSegmentsSpanned ? std::to_string(*r.maxSegmentsSpanned) : "") << ","
        << (r.extensive ? (*r.extensive ? "true" : "false") : "") << "," << numberText(r.adiMm, 2)
        << "," << numberText(r.padiMm, 2);
    for (int level = 1; level <= 9; ++level) {
      const auto it = r.csaMm2.find(levelName(level));
      out << "," << (it == r.csaMm2.end() ? "" : numberText(it->second, 2));
    }
    out << "," << numberText(r.seconds, 2) << "," << numberText(r.peakMemoryMb, 1) << ","
        << r.analyses << "," << csvField(r.error) << "\n";
  }
  writeFileAtomically(path, out.str(), "the cohort table");
}

std::string utcNow() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return text;
}

}  // namespace cordscope
