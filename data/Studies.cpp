#include "data/Studies.h"

#include <openssl/evp.h>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "data/Error.h"
#include "data/Input.h"
#include "data/Nifti.h"

namespace cordscope {
namespace {

namespace fs = std::filesystem;

// path|size|mtime of one file, for the fingerprint.
std::string fileStamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return path + "|missing";
  return path + "|" + std::to_string(st.st_size) + "|" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

std::string sanitize(const std::string& text) {
  std::string out;
  for (const char c : text)
    out += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' ? c : '_';
  while (!out.empty() && (out.front() == '.' || out.front() == '_')) out.erase(out.begin());
  return out.empty() ? "study" : out.substr(0, 80);
}

std::string niftiStem(const fs::path& path) {
  std::string name = path.filename().string();
  for (const char* ext : {".nii.gz", ".nii"})
    if (name.size() > std::strlen(ext) &&
        name.compare(name.size() - std::strlen(ext), std::string::npos, ext) == 0)
      return name.substr(0, name.size() - std::strlen(ext));
  return name;
}

StudyJob niftiJob(const fs::path& path) {
  StudyJob job;
  job.kind = "nifti";
  job.input = fs::absolute(path).lexically_normal().string();
  job.key = sanitize(niftiStem(path));
  job.fileCount = 1;
  job.fingerprint = sha256Hex(fileStamp(job.input));
  return job;
}

// A mask or a label map beside the images, not a study.
bool isLabelFile(const std::string& path) {
  try {
    return isLabelImage(*readNifti(path).image);
  } catch (const Error&) {
    return false;  // unreadable: a study that will fail with the reason
  }
}

bool isBidsDataset(const fs::path& dir) {
  if (fs::exists(dir / "dataset_description.json")) return true;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_directory() && entry.path().filename().string().rfind("sub-", 0) == 0) return true;
  return false;
}

void discoverBids(const fs::path& root, Discovery& out) {
  std::vector<fs::path> anatDirs;
  for (const auto& subject : fs::directory_iterator(root)) {
    if (!subject.is_directory() || subject.path().filename().string().rfind("sub-", 0) != 0)
      continue;
    if (fs::is_directory(subject.path() / "anat")) anatDirs.push_back(subject.path() / "anat");
    for (const auto& session : fs::directory_iterator(subject.path()))
      if (session.is_directory() && session.path().filename().string().rfind("ses-", 0) == 0 &&
          fs::is_directory(session.path() / "anat"))
        anatDirs.push_back(session.path() / "anat");
  }
  for (const fs::path& anat : anatDirs)
    for (const auto& file : fs::directory_iterator(anat)) {
      const std::string name = file.path().filename().string();
      if (!isNiftiPath(name) || niftiStem(file.path()).size() < 4 ||
          niftiStem(file.path()).compare(niftiStem(file.path()).size() - 4, 4, "_T2w") != 0)
        continue;
      StudyJob job = niftiJob(file.path());
      job.kind = "bids";
      job.bidsStem = niftiStem(file.path());
      job.bidsRelativeDir = fs::relative(anat, root).string();
      job.key = sanitize(job.bidsStem);
      out.studies.push_back(job);
    }
  if (anatDirs.empty())
    out.warnings.push_back(root.string() + ": a BIDS dataset without sub-*/[ses-*/]anat folders");
}

// The job of one DICOM study from its series: read from the deepest folder common to its files
// (or `fallback`), the series `analyze` would choose, a fingerprint of its files.
StudyJob dicomStudyJob(const std::string& studyUid, const std::vector<const SeriesEntry*>& series,
                       const fs::path& fallback) {
  Inventory one;
  std::vector<std::string> stamps;
  fs::path common;
  for (const SeriesEntry* s : series) {
    one.series.push_back(*s);
    for (const DicomFrame& f : s->frames) {
      stamps.push_back(fileStamp(f.path) + "|" + f.sopInstanceUid);
      const fs::path folder = fs::path(f.path).parent_path();
      if (common.empty()) {
        common = folder;
      } else {
        fs::path shared;
        for (auto a = common.begin(), b = folder.begin();
             a != common.end() && b != folder.end() && *a == *b; ++a, ++b)
          shared /= *a;
        common = shared;
      }
    }
  }
  std::sort(stamps.begin(), stamps.end());
  std::string joined;
  for (const std::string& s : stamps) joined += s + "\n";
  StudyJob job;
  job.kind = "dicom";
  job.studyUid = studyUid;
  job.fileCount = stamps.size();
  job.fingerprint = sha256Hex(joined);
  job.input = common.empty() ? fs::absolute(fallback).string() : common.string();
  const SeriesMetadata& meta = series.front()->meta;
  job.key = sanitize((meta.patientId.empty() ? std::string("anon") : meta.patientId) + "_" +
                     (meta.studyDate.empty() ? std::string("nodate") : meta.studyDate)) +
            "_" + sha256Hex(studyUid).substr(0, 8);
  try {
    job.series = one.series[chooseSeries(one).index].id;
  } catch (const Error& e) {
    job.problem = e.what();
  }
  return job;
}

// DICOM (and NIfTI) found in a folder or file by the same scan `info` and `analyze` use.
void discoverScanned(const fs::path& input, Discovery& out) {
  Inventory inventory;
  try {
    inventory = scanInput(input.string());
  } catch (const InputError& e) {
    StudyJob job;
    job.kind = "invalid";
    job.input = fs::absolute(input).lexically_normal().string();
    job.key = sanitize(input.filename().string());
    job.problem = e.what();
    job.fingerprint = sha256Hex(fileStamp(job.input));
    out.studies.push_back(job);
    return;
  }
  out.warnings.insert(out.warnings.end(), inventory.warnings.begin(), inventory.warnings.end());
  std::map<std::string, std::vector<const SeriesEntry*>> byStudy;
  for (const SeriesEntry& s : inventory.series) {
    if (s.kind == "nifti") {
      // Masks and label maps beside the images (segmentations, truth) are not studies.
      if (isLabelFile(s.id))
        out.warnings.push_back(s.id +
                               ": a label image (few distinct values), not a study; skipped");
      else
        out.studies.push_back(niftiJob(s.id));
      continue;
    }
    byStudy[s.meta.studyInstanceUid].push_back(&s);
  }
  // Folders of files that could not be read, holding no readable series: a corrupt study, to be
  // recorded as failed (never silently lost).
  {
    std::set<std::string> readable;
    for (const SeriesEntry& s : inventory.series)
      for (const DicomFrame& f : s.frames) readable.insert(fs::path(f.path).parent_path().string());
    std::map<std::string, std::vector<std::pair<std::string, std::string>>> byFolder;
    for (const auto& [file, why] : inventory.unreadable)
      byFolder[fs::path(file).parent_path().string()].push_back({file, why});
    for (const auto& [folder, files] : byFolder) {
      if (readable.count(folder)) continue;
      StudyJob job;
      job.kind = "invalid";
      job.input = folder;
      job.key =
          sanitize(fs::path(folder).filename().string()) + "_" + sha256Hex(folder).substr(0, 8);
      job.fileCount = files.size();
      job.problem = std::to_string(files.size()) + " unreadable file(s) in " + folder + ", e.g. " +
                    files.front().first + ": " + files.front().second;
      std::string stamps;
      for (const auto& f : files) stamps += fileStamp(f.first) + "\n";
      job.fingerprint = sha256Hex(stamps);
      out.studies.push_back(job);
    }
  }
  for (const auto& [studyUid, series] : byStudy)
    out.studies.push_back(dicomStudyJob(studyUid, series, input));
}

}  // namespace

std::string sha256Hex(const std::string& bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < length; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

Discovery discoverStudies(const std::vector<std::string>& inputs) {
  Discovery out;
  for (const std::string& text : inputs) {
    const fs::path input(text);
    if (!fs::exists(input)) throw InputError(text + ": no such file or folder");
    if (fs::is_directory(input) && isBidsDataset(input)) {
      discoverBids(input, out);
    } else if (fs::is_regular_file(input) && isNiftiPath(text)) {
      out.studies.push_back(niftiJob(input));
    } else {
      discoverScanned(input, out);
    }
  }
  // A study whose files came through different inputs, each holding a part (one folder per half
  // of the series, say): each part alone would be a half-study that analyses "fine" with gaps
  // between its slices (issue 23: ADI 6.7 mm on a normal neck). Its parts' folders are read
  // together, as `analyze` reads several inputs, and the study is one job; a folder inside
  // another part's folder adds nothing.
  std::map<std::string, std::set<std::string>> inputsOfStudy;
  for (const StudyJob& j : out.studies)
    if (j.kind == "dicom" && !j.studyUid.empty()) inputsOfStudy[j.studyUid].insert(j.input);
  for (auto& entry : inputsOfStudy) {
    const std::string studyUid = entry.first;  // a plain variable: lambdas below capture it
    std::set<std::string>& folders = entry.second;
    for (auto it = folders.begin(); it != folders.end();) {
      const bool inside = std::any_of(
          folders.begin(), folders.end(),
          [&](const std::string& other) { return other != *it && isWithin(*it, other); });
      it = inside ? folders.erase(it) : std::next(it);
    }
    if (folders.size() < 2) continue;
    const std::vector<std::string> parts(folders.begin(), folders.end());
    std::string where;
    for (const std::string& folder : parts) where += (where.empty() ? "" : ", ") + folder;
    StudyJob joined;
    try {
      const Inventory together = scanInput(parts);
      std::vector<const SeriesEntry*> series;
      for (const SeriesEntry& s : together.series)
        if (s.kind == "dicom" && s.meta.studyInstanceUid == studyUid) series.push_back(&s);
      if (series.empty()) throw InputError("its series were not found again");
      joined = dicomStudyJob(studyUid, series, parts.front());
    } catch (const Error& e) {
      joined.kind = "dicom";
      joined.studyUid = studyUid;
      joined.problem = std::string("study ") + studyUid + " split across inputs (" + where +
                       ") could not be read together: " + e.what();
    }
    joined.inputs = parts;
    joined.input = "";
    for (const std::string& folder : parts)
      joined.input += (joined.input.empty() ? "" : " + ") + folder;
    out.warnings.push_back("study " + studyUid + " is split across " +
                           std::to_string(parts.size()) + " inputs (" + where +
                           "): its parts are read together as one study of " +
                           std::to_string(joined.fileCount) + " files");
    // The parts' jobs give way to the whole (its key is theirs: patient, date, study UID).
    std::string key;
    out.studies.erase(std::remove_if(out.studies.begin(), out.studies.end(),
                                     [&](const StudyJob& j) {
                                       if (j.kind != "dicom" || j.studyUid != studyUid)
                                         return false;
                                       key = j.key;
                                       return true;
                                     }),
                      out.studies.end());
    joined.key = key;
    out.studies.push_back(joined);
  }
  // Keys are folder names: unique, stable (a duplicate gets a hash of its input).
  std::map<std::string, int> count;
  for (const StudyJob& j : out.studies) ++count[j.key];
  for (StudyJob& j : out.studies)
    if (count[j.key] > 1) j.key += "_" + sha256Hex(j.input + "|" + j.series).substr(0, 8);
  std::sort(out.studies.begin(), out.studies.end(),
            [](const StudyJob& a, const StudyJob& b) { return a.key < b.key; });
  // The same study reached through two inputs is one job.
  out.studies.erase(std::unique(out.studies.begin(), out.studies.end(),
                                [](const StudyJob& a, const StudyJob& b) {
                                  return a.key == b.key && a.input == b.input;
                                }),
                    out.studies.end());
  return out;
}

}  // namespace cordscope
