// Output files that are whole or absent. Every file cordscope writes goes through here (or, for
// NIfTI, through the same temporary-and-rename in Nifti.cpp): the bytes go to a temporary beside
// the target, are flushed and closed with every error checked, and only then renamed over the
// target. A full disk, a quota or a vanished folder is an Error naming the file and the system's
// reason - never a truncated report left under its real name (issue 23).
#pragma once
#include <string>

namespace cordscope {

// Suffix of the temporaries; a crash (SIGKILL) can leave one behind, never a truncated target.
inline constexpr const char* kPartialSuffix = ".cordscope-partial";

// Writes `bytes` to `path` as above. `what` names the file's role in the message ("the report").
// Throws Error (ExitCode::AnalysisFailed): "PATH: cannot write the report (No space left on
// device)".
void writeFileAtomically(const std::string& path, const std::string& bytes,
                         const std::string& what);

// Renames a finished temporary over its target, or throws as above (and removes the temporary).
void commitPartial(const std::string& partial, const std::string& path, const std::string& what);

}  // namespace cordscope
