// Study discovery for batch processing: every study in a set of inputs (DICOM trees, NIfTI
// files, BIDS datasets), one job each, with a fingerprint of its files so that a re-run knows
// what changed.
//
// - DICOM: files are grouped by Study Instance UID; the job analyses the series `analyze` would
//   choose in that study (same rules), read from the study's deepest common folder with
//   `--series`. A study without an analysable MR series is a job that fails with the reason.
// - NIfTI: each file is a study.
// - BIDS (a folder with dataset_description.json or sub-* folders): each
//   sub-*/[ses-*/]anat/*_T2w.nii[.gz] is a study; its key is the file's entities
//   (sub-01_ses-02_T2w), and its derivatives go to derivatives/cordscope/ with the same path.
// - An input that is neither is a job that fails with the reason ("not a DICOM or NIfTI file").
// - A DICOM study whose files are split across inputs (one folder each half) is one job that
//   reads the parts' folders together (`analyze A B`), with a warning naming them; analysed
//   apart, each part would be a half-study with gaps between its slices.
#pragma once
#include <optional>
#include <string>
#include <vector>

namespace cordscope {

struct StudyJob {
  std::string key;    // readable and unique in the batch; folder name of its outputs
  std::string kind;   // "dicom", "nifti", "bids", or "invalid"
  std::string input;  // what `analyze` reads: a folder or a file (several joined by " + ")
  std::vector<std::string> inputs;  // the folders of a study split across inputs; empty: `input`
  std::string series;               // DICOM: the series to analyse (`--series`)
  std::string studyUid;             // DICOM: the Study Instance UID
  std::string fingerprint;  // SHA-256 of its files' paths, sizes, modification times (and SOP
                            // Instance UIDs)
  std::size_t fileCount = 0;
  std::string problem;  // non-empty: it cannot be analysed; recorded as failed without running
  std::string bidsRelativeDir;  // BIDS: e.g. sub-01/ses-02/anat
  std::string bidsStem;         // BIDS: file name without .nii[.gz], e.g. sub-01_ses-02_T2w
};

struct Discovery {
  std::vector<StudyJob> studies;      // sorted by key
  std::vector<std::string> warnings;  // skipped files and the like
};

// Throws InputError when an input path does not exist.
Discovery discoverStudies(const std::vector<std::string>& inputs);

// Lower-case hex SHA-256 (OpenSSL).
std::string sha256Hex(const std::string& bytes);

}  // namespace cordscope
