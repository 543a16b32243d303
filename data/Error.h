// The one error type of cordscope. Library code throws; only app/ turns an Error into a message
// line and an exit code (docs/errors.md). Messages name the file and what is wrong with it.
#pragma once
#include <stdexcept>
#include <string>

namespace cordscope {

enum class ExitCode : int {
  Success = 0,
  AnalysisFailed = 1,   // the input was read but an analysis step failed; partial outputs written
  Usage = 2,            // bad command line
  InputUnreadable = 3,  // input missing, unreadable, or holds no usable series
  // batch finished, but not every study is done: some failed or were rejected by quality control
  // (each with its reason in cohort.csv and the store); the rest were analysed.
  StudiesNotDone = 4,
  // an output could not be written (disk full, no permission, the folder gone): the input is not
  // at fault; nothing is left half-written under an output's name, and a batch stops there and
  // resumes on its next run
  OutputFailed = 5,
};

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& message) : std::runtime_error(message), code_(code) {}
  ExitCode code() const { return code_; }

 private:
  ExitCode code_;
};

struct UsageError : Error {
  explicit UsageError(const std::string& m) : Error(ExitCode::Usage, m) {}
};
struct InputError : Error {
  explicit InputError(const std::string& m) : Error(ExitCode::InputUnreadable, m) {}
};
struct OutputError : Error {
  explicit OutputError(const std::string& m) : Error(ExitCode::OutputFailed, m) {}
};
struct AnalysisError : Error {
  explicit AnalysisError(const std::string& m) : Error(ExitCode::AnalysisFailed, m) {}
};

}  // namespace cordscope
