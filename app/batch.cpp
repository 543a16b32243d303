// cordscope batch: every study in an archive, in parallel, resumable, into one table (issue 9).
//
// Each study is analysed by a child process running `cordscope analyze` (the binary itself), so a
// crash, a hang killed by the user or a memory blow-up inside one analysis never takes the batch
// down: the child's exit status and its last error line are recorded and the rest go on. Only
// this parent writes the results store (SQLite, WAL, one transaction per change); children die
// with it (PR_SET_PDEATHSIG), so a killed batch leaves no orphan writing into OUTDIR.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <thread>

#include "ChildProcess.h"
#include "Command.h"
#include "data/Error.h"
#include "data/ResultsStore.h"
#include "data/Studies.h"
#include "version.h"

namespace cordscope::app {
namespace {

namespace fs = std::filesystem;

struct BatchOptions {
  std::vector<std::string> inputs;
  std::string outputDir, db, shard;
  int jobs = 0;
  bool retryFailed = false, render = true, anonymize = false;
  // Seconds one study's analysis may take before it is killed and recorded as failed: a hang
  // (a library looping on a hostile file) must not hold up the archive. An analysis takes 1-30 s
  // here (bench/results.md); 600 s leaves room for a slow node and a large study. 0: no limit.
  double studyTimeoutS = 600;
  double maxMemoryMb = kDefaultMaxMemoryMb;  // per analysis, passed to each child
  // Passed to each child: the DICOM results of each DICOM study (docs/dicom-output.md).
  bool dicomOut = false;
  int seriesNumberBase = 0;  // 0: analyze's default
};

volatile sig_atomic_t stopSignal = 0;
void onStop(int signal) {
  stopSignal = signal;
}

// "K/N" (1 <= K <= N), else the Slurm job array's task, else the whole archive (1/1).
std::pair<int, int> parseShard(const std::string& text) {
  if (!text.empty()) {
    int k = 0, n = 0;
    char extra = 0;
    if (std::sscanf(text.c_str(), "%d/%d%c", &k, &n, &extra) != 2 || n < 1 || k < 1 || k > n)
      throw UsageError("--shard expects K/N with 1 <= K <= N, got '" + text + "'");
    return {k, n};
  }
  if (const char* step = std::getenv("SLURM_ARRAY_TASK_STEP"); step && std::atoi(step) > 1)
    throw UsageError("a stepped Slurm array (SLURM_ARRAY_TASK_STEP=" + std::string(step) +
                     ") would skip shards: use a contiguous --array range, or give --shard K/N");
  const char* id = std::getenv("SLURM_ARRAY_TASK_ID");
  const char* count = std::getenv("SLURM_ARRAY_TASK_COUNT");
  if (id && count) {
    const char* min = std::getenv("SLURM_ARRAY_TASK_MIN");
    const int n = std::atoi(count), k = std::atoi(id) - (min ? std::atoi(min) : 0) + 1;
    if (n < 1 || k < 1 || k > n)
      throw UsageError("the Slurm array task " + std::string(id) + " of " + count +
                       " does not map to a shard (use a contiguous --array range)");
    return {k, n};
  }
  return {1, 1};
}

// Deterministic partition: the study's key hashed, modulo N.
bool inShard(const std::string& key, std::pair<int, int> shard) {
  const unsigned long long h = std::stoull(sha256Hex(key).substr(0, 15), nullptr, 16);
  return static_cast<int>(h % static_cast<unsigned long long>(shard.second)) == shard.first - 1;
}

// The child's reason for failing: its last "error:" line, else its exit status.
std::string failureReason(const fs::path& log, int status) {
  const std::string last = lastErrorLine(log.string());
  if (WIFSIGNALED(status))
    return "the analysis crashed (signal " + std::to_string(WTERMSIG(status)) + ": " +
           strsignal(WTERMSIG(status)) + ")" + (last.empty() ? "" : "; " + last);
  if (!last.empty()) return last;
  return "the analysis exited with code " +
         std::to_string(WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

void readReportFields(const fs::path& path, StudyRecord& r);

// Demographics and summary measures from a study's report.json.
void readReport(const fs::path& path, StudyRecord& r) {
  try {
    readReportFields(path, r);
  } catch (const std::exception&) {
    // An unreadable report leaves the measures empty; the study's status says what happened.
  }
}

void readReportFields(const fs::path& path, StudyRecord& r) {
  std::ifstream in(path);
  if (!in) return;
  const nlohmann::json j = nlohmann::json::parse(in);
  const auto number = [](const nlohmann::json& v) {
    return v.is_number() ? std::optional<double>(v.get<double>()) : std::nullopt;
  };
  const nlohmann::json& input = j.value("input", nlohmann::json::object());
  r.ageYears = number(input.value("patient_age_years", nlohmann::json()));
  r.sex = input.value("sex", nlohmann::json()).is_string() ? input["sex"].get<std::string>() : "";
  r.studyDate = input.value("study_date", nlohmann::json()).is_string()
                    ? input["study_date"].get<std::string>()
                    : "";
  const nlohmann::json& summary = j.value("summary", nlohmann::json::object());
  if (summary.value("lesions_assessed", false)) {
    r.lesionCount = summary.value("lesion_count", 0);
    if (summary.contains("max_segments_spanned") && summary["max_segments_spanned"].is_number())
      r.maxSegmentsSpanned = summary["max_segments_spanned"].get<int>();
    if (summary.contains("extensive_ge7_segments") &&
        summary["extensive_ge7_segments"].is_boolean())
      r.extensive = summary["extensive_ge7_segments"].get<bool>();
  }
  const nlohmann::json& cc = j.value("craniocervical", nlohmann::json::object());
  r.adiMm = number(cc.value("adi_mm", nlohmann::json()));
  r.padiMm = number(cc.value("padi_mm", nlohmann::json()));
  r.csaMm2.clear();
  for (const auto& level : j["cord"].value("levels", nlohmann::json::array()))
    if (level["csa_mm2"].is_number())
      r.csaMm2[level["level"].get<std::string>()] = level["csa_mm2"];
  r.qualityVerdict.clear();
  r.qualityReasons.clear();
  const nlohmann::json& quality = j.value("quality", nlohmann::json::object());
  if (quality.contains("verdict") && quality["verdict"].is_string())
    r.qualityVerdict = quality["verdict"];
  for (const auto& reason : quality.value("reasons", nlohmann::json::array()))
    if (reason.contains("code") && reason["code"].is_string())
      r.qualityReasons += (r.qualityReasons.empty() ? "" : ";") + reason["code"].get<std::string>();
}

// The fail reasons' messages of a report whose quality verdict is fail (empty otherwise): the
// study was analysed to the end and its result judged wrong, as opposed to an analysis that
// could not run (unreadable input, a crash), which leaves no such report.
std::string qualityFailure(const fs::path& path) {
  try {
    std::ifstream in(path);
    if (!in) return "";
    const nlohmann::json quality =
        nlohmann::json::parse(in).value("quality", nlohmann::json::object());
    if (quality.value("verdict", std::string()) != "fail") return "";
    std::string messages;
    for (const auto& reason : quality.value("reasons", nlohmann::json::array()))
      if (reason.value("severity", std::string()) == "fail")
        messages += (messages.empty() ? "" : "; ") + reason.value("message", std::string());
    return "quality control: fail: " + messages;
  } catch (const std::exception&) {
    return "";
  }
}

// BIDS derivatives of a finished study: its masks under derivatives/cordscope/ with BIDS names.
void writeBidsDerivatives(const StudyJob& job, const fs::path& studyDir, const fs::path& outDir) {
  const fs::path root = outDir / "derivatives" / "cordscope";
  const fs::path dir = root / job.bidsRelativeDir;
  fs::create_directories(dir);
  for (const auto& [from, suffix] : std::vector<std::pair<const char*, const char*>>{
           {"cord.nii.gz", "_label-SC_seg.nii.gz"},
           {"lesion.nii.gz", "_label-lesion_seg.nii.gz"},
           {"levels.nii.gz", "_label-vertebrae_dseg.nii.gz"}})
    if (fs::exists(studyDir / from))
      fs::copy_file(studyDir / from, dir / (job.bidsStem + suffix),
                    fs::copy_options::overwrite_existing);
  const fs::path description = root / "dataset_description.json";
  if (!fs::exists(description)) {
    std::ofstream out(description);
    out << nlohmann::json{{"Name", "cordscope derivatives"},
                          {"BIDSVersion", "1.8.0"},
                          {"DatasetType", "derivative"},
                          {"GeneratedBy",
                           {{{"Name", "cordscope"}, {"Version", CORDSCOPE_VERSION}}}}}
               .dump(2)
        << "\n";
  }
}

struct Running {
  const StudyJob* job = nullptr;
  StudyRecord record;
  std::chrono::steady_clock::time_point start;
  fs::path dir;
  bool timedOut = false;  // killed at --study-timeout
};

class ProgressBar {
 public:
  ProgressBar(bool enabled, std::size_t total)
      : enabled_(enabled), total_(total), start_(std::chrono::steady_clock::now()) {}
  void show(std::size_t done, std::size_t rejected, std::size_t failed, std::size_t running,
            int jobs) {
    if (!enabled_) return;
    const std::size_t finished = done + rejected + failed;
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
    std::string eta = "--";
    if (finished > 0 && finished < total_) {
      const double left = elapsed / finished * (total_ - finished);
      char text[32];
      std::snprintf(text, sizeof text, "%dm%02ds", static_cast<int>(left) / 60,
                    static_cast<int>(left) % 60);
      eta = text;
    }
    const int width = 30, filled = total_ ? static_cast<int>(width * finished / total_) : width;
    std::fprintf(stderr,
                 "\rcordscope batch [%s%s] %zu/%zu done, %zu rejected, %zu failed, %zu running (%d "
                 "jobs), ETA %s   ",
                 std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                 finished, total_, rejected, failed, running, jobs, eta.c_str());
    std::fflush(stderr);
  }
  void end() {
    if (enabled_) std::fprintf(stderr, "\n");
  }
  bool enabled() const { return enabled_; }

 private:
  bool enabled_;
  std::size_t total_;
  std::chrono::steady_clock::time_point start_;
};

int runBatch(const BatchOptions& o) {
  if (o.inputs.empty())
    throw UsageError("batch needs at least one INPUT (DICOM folder, NIfTI file or BIDS dataset)");
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int jobs = o.jobs != 0 ? clampWorkers(o.jobs, "--jobs") : cores;
  const std::pair<int, int> shard = parseShard(o.shard);
  const fs::path outDir(o.outputDir);
  makeOutputDir(o.outputDir);
  ResultsStore store(o.db.empty() ? (outDir / "cordscope.sqlite").string() : o.db);
  if (o.anonymize && store.meta("anonymized").value_or("0") != "1") {
    // Rows keyed by patient ID and date must not end up in a table presented as anonymised.
    if (!store.all().empty())
      throw UsageError(store.path() +
                       " already holds a batch that is not anonymised: use a new OUTDIR (or --db) "
                       "for --anonymize");
    store.setMeta("anonymized", "1");
  }
  const bool anonymized = store.meta("anonymized").value_or("0") == "1";
  if (anonymized && !o.anonymize)
    throw UsageError(store.path() + " holds an anonymised batch: run it again with --anonymize");
  // Salted keys: the salt is the store's own (or CORDSCOPE_ANON_SALT, so that the shards of one
  // archive on several machines agree).
  const char* saltOverride = std::getenv("CORDSCOPE_ANON_SALT");
  const std::string salt =
      anonymized ? (saltOverride && *saltOverride ? std::string(saltOverride) : store.salt()) : "";

  // Anonymised: error texts lose the paths of the inputs (they may hold names or dates).
  std::vector<std::string> roots;
  for (const std::string& input : o.inputs) {
    roots.push_back(fs::absolute(input).lexically_normal().string());
    roots.push_back(input);
  }
  std::sort(roots.begin(), roots.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  // DICOM UIDs (study, series, instance) identify a patient's examination as well as a name.
  static const std::regex uid(R"(\b[0-9]+(\.[0-9]+){3,}\b)");
  const auto scrub = [&](std::string text) {
    if (!anonymized) return text;
    for (const std::string& root : roots) {
      if (root.size() < 2) continue;
      for (std::size_t at = text.find(root); at != std::string::npos; at = text.find(root, at + 5))
        text.replace(at, root.size(), "INPUT");
    }
    return std::regex_replace(text, uid, "UID");
  };
  // A job's log, scrubbed in place once it has ended: the analysis' own error lines name its input.
  const auto scrubLog = [&](const fs::path& log) {
    if (!anonymized) return;
    std::ifstream in(log);
    if (!in) return;
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    std::ofstream(log, std::ios::trunc) << scrub(text);
  };

  const Discovery discovery = discoverStudies(o.inputs);
  for (const std::string& w : discovery.warnings) warn(w);
  std::vector<StudyJob> studies;
  for (StudyJob job : discovery.studies) {
    if (!inShard(job.key, shard)) continue;
    if (anonymized) {
      // Nothing in the store leads back to the input: not its key, its paths, its UIDs, nor a
      // fingerprint that a path could be checked against.
      job.key = "s" + sha256Hex(salt + "|" + job.key).substr(0, 16);
      job.fingerprint = sha256Hex(salt + "|" + job.fingerprint);
    }
    studies.push_back(job);
  }

  // What to run: new or changed studies, studies not finished (running, interrupted), and failed
  // ones with --retry-failed. Studies that cannot be analysed at all are recorded here.
  std::vector<const StudyJob*> queue;
  std::size_t skipped = 0, unanalysable = 0;
  for (const StudyJob& job : studies) {
    const std::optional<StudyRecord> previous = store.find(job.key);
    const bool same = previous && previous->fingerprint == job.fingerprint;
    if (same && previous->status == "done") {
      ++skipped;
      continue;
    }
    // A rejected study (quality control: fail) is analysed again only on request, like a failed
    // one: the same input and version give the same verdict.
    if (same && (previous->status == "failed" || previous->status == "rejected") &&
        !o.retryFailed) {
      ++skipped;
      continue;
    }
    if (!job.problem.empty()) {
      StudyRecord r = previous.value_or(StudyRecord{});
      r.key = job.key;
      r.kind = job.kind;
      r.input = anonymized ? "" : job.input;
      r.fingerprint = job.fingerprint;
      r.status = "failed";
      r.error = scrub(job.problem);
      r.startedAt = r.finishedAt = utcNow();
      store.put(r);
      ++unanalysable;
      continue;
    }
    queue.push_back(&job);
  }
  note("batch: " + std::to_string(studies.size()) + " studies" +
       (shard.second > 1
            ? " in shard " + std::to_string(shard.first) + "/" + std::to_string(shard.second)
            : "") +
       ", " + std::to_string(queue.size()) + " to analyse, " + std::to_string(skipped) +
       " already in the store, " + std::to_string(jobs) + " jobs");

  struct sigaction action {};
  action.sa_handler = onStop;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);

  const std::string self = selfPath();
  // Parallel across studies, each analysis on one thread: processes scale better than the
  // threads inside one analysis (measured in bench/batch.sh), and N jobs use N cores.
  const int threadsPerJob = 1;
  std::map<pid_t, Running> running;
  std::size_t next = 0, done = 0, rejected = 0, failed = unanalysable;
  std::map<std::string, std::size_t> verdicts;  // of the studies analysed in this run
  ProgressBar bar(::isatty(STDERR_FILENO) != 0, queue.size() + unanalysable);
  const auto launch = [&](const StudyJob& job) {
    Running run;
    run.job = &job;
    run.dir = outDir / job.key;
    if (std::error_code error; !fs::create_directories(run.dir, error) && error)
      throw OutputError(run.dir.string() + ": cannot create the study's output folder (" +
                        error.message() + ")");
    // A fresh row: nothing of an earlier analysis may stay attached to this one.
    const std::optional<StudyRecord> previous = store.find(job.key);
    run.record = StudyRecord{};
    run.record.analyses = previous ? previous->analyses : 0;
    StudyRecord& r = run.record;
    r.key = job.key;
    r.kind = job.kind;
    r.input = anonymized ? "" : job.input;
    r.series = anonymized ? "" : job.series;
    r.fingerprint = job.fingerprint;
    r.outputDir = run.dir.string();
    r.status = "running";
    r.error.clear();
    r.analyses += 1;
    r.startedAt = utcNow();
    r.finishedAt.clear();
    store.put(r);
    std::vector<std::string> args = {self, "analyze"};
    if (job.inputs.empty())
      args.push_back(job.input);
    else
      args.insert(args.end(), job.inputs.begin(), job.inputs.end());
    args.insert(args.end(),
                {"-o", run.dir.string(), "--quiet", "--threads", std::to_string(threadsPerJob)});
    if (!job.series.empty()) args.insert(args.end(), {"--series", job.series});
    std::ostringstream memory;
    memory << o.maxMemoryMb;
    args.insert(args.end(), {"--max-memory", memory.str()});
    if (!o.render) args.push_back("--no-render");
    if (anonymized) args.push_back("--anonymize");
    if (o.dicomOut) args.push_back("--dicom-out");
    if (o.seriesNumberBase > 0)
      args.insert(args.end(), {"--series-number-base", std::to_string(o.seriesNumberBase)});
    const std::string log = (run.dir / "analyze.log").string();
    std::error_code ignored;
    fs::remove(run.dir / "report.json", ignored);  // a failed run must not pass off an old report
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0)
      throw Error(ExitCode::AnalysisFailed,
                  std::string("cannot start a job: ") + std::strerror(errno));
    if (pid == 0) {
      ::setpgid(0, 0);  // the terminal's Ctrl-C reaches the batch, which stops its jobs itself
      ::prctl(PR_SET_PDEATHSIG, SIGKILL);
      if (::getppid() != parent) ::_exit(126);
      ::signal(SIGINT, SIG_DFL);
      ::signal(SIGTERM, SIG_DFL);
      const int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
      if (out >= 0) {
        ::dup2(out, STDOUT_FILENO);
        ::dup2(out, STDERR_FILENO);
      }
      if (const int none = ::open("/dev/null", O_RDONLY | O_CLOEXEC); none >= 0)
        ::dup2(none, STDIN_FILENO);
      // The running binary itself, even if its file is rebuilt during the batch.
      ::execv("/proc/self/exe", argv.data());
      std::fprintf(stderr, "cordscope: error: cannot run %s: %s\n", self.c_str(),
                   std::strerror(errno));
      ::_exit(127);
    }
    ::setpgid(pid, pid);  // also here: the child may not have run yet when a stop comes
    run.start = std::chrono::steady_clock::now();
    running[pid] = run;
  };

  bool stopping = false;
  std::chrono::steady_clock::time_point stopAt;
  // Set when a job could not write its outputs (exit 5: a full disk, say): no new job starts, as
  // every one would fail the same way and be recorded as failed for a fault not its own.
  std::string outputFailure;
  while (next < queue.size() || !running.empty()) {
    if (stopSignal && !stopping) {
      stopping = true;
      stopAt = std::chrono::steady_clock::now();
      for (const auto& [pid, run] : running) ::kill(-pid, SIGTERM);
    }
    while (!stopping && outputFailure.empty() && running.size() < static_cast<std::size_t>(jobs) &&
           next < queue.size())
      launch(*queue[next++]);
    if (!outputFailure.empty() && running.empty()) break;
    if (stopping && running.empty()) break;
    int status = 0;
    rusage usage{};
    // Poll every millisecond (a finished job is replaced at once; a stop signal is seen within a
    // millisecond), refreshing the progress bar every 0.2 s. A job that ignores the stop for
    // 10 s is killed.
    pid_t pid = ::wait4(-1, &status, WNOHANG, &usage);
    if (pid == 0) {
      bar.show(done, rejected, failed, running.size(), jobs);
      for (int i = 0; i < 200 && pid == 0 && (!stopSignal || stopping); ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        pid = ::wait4(-1, &status, WNOHANG, &usage);
      }
      if (stopping && std::chrono::steady_clock::now() - stopAt > std::chrono::seconds(10))
        for (const auto& [child, run] : running) ::kill(-child, SIGKILL);
      if (o.studyTimeoutS > 0)
        for (auto& [child, run] : running)
          if (!run.timedOut &&
              std::chrono::duration<double>(std::chrono::steady_clock::now() - run.start).count() >
                  o.studyTimeoutS) {
            run.timedOut = true;
            ::kill(-child, SIGKILL);
          }
    }
    if (pid <= 0) continue;
    ::kill(-pid, SIGKILL);  // whatever the job left in its group (a private Xvfb) goes with it
    const auto it = running.find(pid);
    if (it == running.end()) continue;
    Running run = it->second;
    running.erase(it);
    StudyRecord& r = run.record;
    scrubLog(run.dir / "analyze.log");
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - run.start).count();
    r.peakMemoryMb = usage.ru_maxrss / 1024.0;
    r.finishedAt = utcNow();
    const bool succeeded = !stopping && WIFEXITED(status) && WEXITSTATUS(status) == 0;
    // Exit 1 with this run's report.json judged fail: analysed, and its result rejected. The
    // report was removed before the run, so the one there is this run's.
    const std::string qualityFail =
        !stopping && WIFEXITED(status) &&
                WEXITSTATUS(status) == static_cast<int>(ExitCode::AnalysisFailed)
            ? qualityFailure(run.dir / "report.json")
            : "";
    if (succeeded || !qualityFail.empty()) readReport(run.dir / "report.json", r);
    if (run.timedOut) {
      r.status = "failed";
      std::ostringstream why;
      why << "the analysis did not finish within --study-timeout " << o.studyTimeoutS
          << " s and was stopped";
      r.error = why.str();
      ++failed;
    } else if (!stopping && WIFEXITED(status) &&
               WEXITSTATUS(status) == static_cast<int>(ExitCode::OutputFailed)) {
      // Not the study's fault: left to be analysed again by the next run.
      r.status = "interrupted";
      r.error = scrub(failureReason(run.dir / "analyze.log", status));
      if (outputFailure.empty()) outputFailure = r.error;
    } else if (stopping) {
      r.status = "interrupted";
      r.error = std::string("interrupted (") + strsignal(stopSignal) + ")";
    } else if (succeeded) {
      r.status = "done";
      r.error.clear();
      ++done;
      ++verdicts[r.qualityVerdict];
      if (run.job->kind == "bids") writeBidsDerivatives(*run.job, run.dir, outDir);
    } else if (!qualityFail.empty()) {
      // Kept with its measures and verdict, but never counted as done: a cohort filtered on
      // status = done holds no result its own quality control rejected. No BIDS derivatives: they
      // would pass for usable masks.
      r.status = "rejected";
      r.error = scrub(qualityFail);
      ++rejected;
      ++verdicts["fail"];
    } else {
      r.status = "failed";
      r.error = scrub(failureReason(run.dir / "analyze.log", status));
      ++failed;
    }
    store.put(r);
    bar.show(done, rejected, failed, running.size(), jobs);
  }
  bar.end();

  const std::vector<StudyRecord> records = store.all();
  writeCohortCsv(records, (outDir / "cohort.csv").string(), anonymized);
  std::size_t allDone = 0, allRejected = 0, allFailed = 0;
  for (const StudyRecord& r : records) {
    allDone += r.status == "done";
    allRejected += r.status == "rejected";
    allFailed += r.status == "failed";
  }
  // Analysed = run to the end (done or rejected); failed = could not be analysed.
  std::cout << "batch: " << done + rejected << " analysed, " << failed << " failed in this run, "
            << skipped << " already in the store; quality of the analysed: " << verdicts["pass"]
            << " pass, " << verdicts["check"] << " check, " << verdicts["fail"]
            << " fail (rejected); store " << allDone << " done, " << allRejected << " rejected, "
            << allFailed << " failed of " << records.size() << "\n"
            << "outputs in " << outDir.string() << ": cohort.csv, "
            << fs::path(store.path()).filename().string() << ", one folder per study\n";
  if (stopSignal) return 128 + stopSignal;
  if (!outputFailure.empty()) {
    std::cerr << "cordscope: error: " << outDir.string()
              << ": the batch stopped, an output could not be written: " << outputFailure
              << "; the studies not done are analysed by the next run\n";
    return static_cast<int>(ExitCode::OutputFailed);
  }
  // A script or scheduler must see that the cohort is incomplete without parsing the table.
  if (allRejected + allFailed > 0) return static_cast<int>(ExitCode::StudiesNotDone);
  return 0;
}

}  // namespace

Command batchCommand() {
  Command c;
  c.name = "batch";
  c.summary = "analyse every study of an archive in parallel into one table (resumable, shardable)";
  c.usage =
      "cordscope batch INPUT... -o OUTDIR [--jobs N] [--db FILE] [--shard K/N] [--retry-failed] "
      "[--no-render] "
      "[--anonymize] [--study-timeout S] [--max-memory MB] [--dicom-out] [--series-number-base N]";
  c.declare = [](po::options_description& o, po::positional_options_description& p) {
    o.add_options()("input", po::value<std::vector<std::string>>()->multitoken(),
                    "DICOM folders, NIfTI files or BIDS datasets")(
        "output,o", po::value<std::string>()->required(),
        "output folder (one subfolder per study)")(
        "jobs,j", po::value<int>()->default_value(0),
        "studies analysed at once (default: the number of cores)")(
        "db", po::value<std::string>()->default_value(""),
        "results store (default OUTDIR/cordscope.sqlite)")(
        "shard", po::value<std::string>()->default_value(""),
        "process only the K-th of N deterministic partitions (default: $SLURM_ARRAY_TASK_ID of "
        "$SLURM_ARRAY_TASK_COUNT under a Slurm job array, else all)")(
        "retry-failed", po::bool_switch(), "analyse again the studies that failed")(
        "no-render", po::bool_switch(), "skip the 3D views")(
        "anonymize", po::bool_switch(),
        "study keys are salted hashes; no names, IDs or dates in CSV/JSON")(
        "study-timeout", po::value<double>()->default_value(600),
        "seconds one study may take before it is stopped and recorded as failed (0: no limit)")(
        "max-memory", po::value<double>()->default_value(kDefaultMaxMemoryMb),
        "MB one study's series may need; a larger one fails before it is read")(
        "dicom-out", po::bool_switch(),
        "each DICOM study's results also as DICOM objects of its study (SEG, SR, key images) in "
        "its folder's dicom/")("series-number-base", po::value<int>()->default_value(0),
                               "series numbers of the DICOM results (default: analyze's)");
    p.add("input", -1);
  };
  c.run = [](const po::variables_map& vm) {
    BatchOptions o;
    if (vm.count("input")) o.inputs = vm["input"].as<std::vector<std::string>>();
    o.outputDir = vm["output"].as<std::string>();
    o.jobs = vm["jobs"].as<int>();
    o.db = vm["db"].as<std::string>();
    o.shard = vm["shard"].as<std::string>();
    o.retryFailed = vm["retry-failed"].as<bool>();
    o.render = !vm["no-render"].as<bool>();
    o.anonymize = vm["anonymize"].as<bool>();
    o.studyTimeoutS = vm["study-timeout"].as<double>();
    o.maxMemoryMb = vm["max-memory"].as<double>();
    o.dicomOut = vm["dicom-out"].as<bool>();
    o.seriesNumberBase = vm["series-number-base"].as<int>();
    // The DICOM results carry the patient's identity back into the study: no anonymised cohort.
    if (o.dicomOut && o.anonymize)
      throw UsageError(
          "--dicom-out writes the patient's name and IDs into each study's DICOM "
          "results: it cannot be combined with --anonymize");
    if (o.seriesNumberBase < 0 || (o.seriesNumberBase > 0 && !o.dicomOut))
      throw UsageError("--series-number-base needs --dicom-out and a number of at least 1");
    if (!std::isfinite(o.maxMemoryMb) || o.maxMemoryMb <= 0)
      throw UsageError("--max-memory must be a positive number of megabytes");
    if (!std::isfinite(o.studyTimeoutS) || o.studyTimeoutS < 0)
      throw UsageError("--study-timeout must be 0 (no limit) or a number of seconds");
    return runBatch(o);
  };
  return c;
}

}  // namespace cordscope::app
