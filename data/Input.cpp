#include "Input.h"

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "DicomSeries.h"
#include "Error.h"
#include "Nifti.h"

namespace cordscope {
namespace {

namespace fs = std::filesystem;

std::string upper(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), ::toupper);
  return s;
}

// Files that sit beside images in DICOM exports and BIDS datasets and are not images: ignored
// without a warning. Anything else that is not an image is skipped with a warning.
bool isKnownNonImage(const fs::path& file) {
  static const std::set<std::string> extensions = {".json", ".tsv", ".bval", ".bvec", ".md"};
  static const std::set<std::string> names = {"README", "CHANGES", "LICENSE", "DICOMDIR"};
  const std::string name = file.filename().string();
  if (!name.empty() && name[0] == '.') return true;
  return extensions.count(file.extension().string()) || names.count(upper(name));
}

bool isLocalizer(const SeriesMetadata& m) {
  const std::string text = upper(m.seriesDescription + " " + m.protocolName + " " + m.imageType);
  for (const char* word :
       {"LOCALIZER", "LOCALISER", "SCOUT", "SURVEY", "AAHSCOUT", "3-PLANE", "TRI-PILOT"})
    if (text.find(word) != std::string::npos) return true;
  return false;
}

std::string describe(const SeriesEntry& s) {
  std::ostringstream out;
  out << s.id << " ('" << s.meta.seriesDescription << "', "
      << (s.meta.modality.empty() ? "?" : s.meta.modality) << ", " << toString(s.orientation)
      << ", " << s.size[0] << "x" << s.size[1] << "x" << s.size[2];
  if (!s.loadable()) out << ", not loadable: " << s.problems.front();
  out << ")";
  return out.str();
}

std::string listing(const Inventory& inventory) {
  std::string text;
  for (const SeriesEntry& s : inventory.series) text += (text.empty() ? "" : "; ") + describe(s);
  return text;
}

}  // namespace

bool looksT2Weighted(const SeriesMetadata& meta) {
  const std::string text = upper(meta.seriesDescription + " " + meta.protocolName);
  const bool t2Word =
      text.find("T2") != std::string::npos && text.find("T2*") == std::string::npos &&
      text.find("T2STAR") == std::string::npos && text.find("T2_STAR") == std::string::npos;
  const bool otherWord =
      text.find("T1") != std::string::npos || text.find("FLAIR") != std::string::npos;
  if (t2Word && !otherWord) return true;
  // Long TE and long TR is T2 weighting whatever the series is called.
  return meta.echoTimeMs && meta.repetitionTimeMs && *meta.echoTimeMs >= 60 &&
         *meta.repetitionTimeMs >= 1500;
}

void to_json(nlohmann::json& j, const SeriesEntry& s) {
  nlohmann::json direction = nlohmann::json::array();
  for (int r = 0; r < 3; ++r)
    direction.push_back({s.direction[r][0], s.direction[r][1], s.direction[r][2]});
  j = nlohmann::json{{"id", s.id},
                     {"kind", s.kind},
                     {"metadata", s.meta},
                     {"orientation", toString(s.orientation)},
                     {"axis_code", axisCode(s.direction)},
                     {"size", s.size},
                     {"spacing_mm", s.spacing},
                     {"origin_lps_mm", {s.origin[0], s.origin[1], s.origin[2]}},
                     {"direction_lps", direction},
                     {"files", s.fileCount},
                     {"volumes", s.volumeCount},
                     {"loadable", s.loadable()},
                     {"problems", s.problems},
                     {"notes", s.notes}};
  if (!s.splitReason.empty()) j["split_reason"] = s.splitReason;
}

Inventory scanInput(const std::string& path) {
  return scanInput(std::vector<std::string>{path});
}

bool isWithin(const std::string& path, const std::string& input) {
  if (input.empty() || path.compare(0, input.size(), input) != 0) return false;
  return path.size() == input.size() || input.back() == '/' || path[input.size()] == '/';
}

Inventory scanInput(const std::vector<std::string>& paths) {
  if (paths.empty()) throw InputError("no input given");
  Inventory inventory;
  inventory.inputPaths = paths;
  for (const std::string& path : paths)
    inventory.inputPath += (inventory.inputPath.empty() ? "" : " + ") + path;

  std::vector<fs::path> dicomCandidates;
  std::vector<std::string> niftiFiles;
  // One file reached through two inputs (a folder and its subfolder) is read once.
  std::set<std::string> seen;
  const auto firstTime = [&](const fs::path& file) {
    std::error_code ignored;
    const fs::path canonical = fs::weakly_canonical(file, ignored);
    return seen.insert(canonical.empty() ? file.string() : canonical.string()).second;
  };
  for (const std::string& path : paths) {
    std::error_code ec;
    const fs::file_status status = fs::status(path, ec);
    if (ec || !fs::exists(status)) throw InputError(path + ": no such file or directory");
    if (fs::is_directory(status)) {
      fs::recursive_directory_iterator it(path, fs::directory_options::skip_permission_denied, ec);
      if (ec) throw InputError(path + ": cannot read the folder (" + ec.message() + ")");
      std::size_t found = 0;
      for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
        if (ec) break;
        if (!it->is_regular_file(ec)) continue;
        const fs::path& file = it->path();
        const bool nifti = isNiftiPath(file.string());
        if (!nifti && isKnownNonImage(file)) continue;
        ++found;
        if (!firstTime(file)) continue;
        if (nifti)
          niftiFiles.push_back(file.string());
        else
          dicomCandidates.push_back(file);
      }
      if (found == 0) throw InputError(path + ": no DICOM or NIfTI files in this folder");
    } else if (!firstTime(path)) {
      continue;
    } else if (isNiftiPath(path)) {
      niftiFiles.push_back(path);
    } else {
      dicomCandidates.push_back(path);
    }
  }
  std::sort(dicomCandidates.begin(), dicomCandidates.end());
  std::sort(niftiFiles.begin(), niftiFiles.end());

  dicom::scanFiles(dicomCandidates, inventory);
  if (paths.size() > 1)
    for (SeriesEntry& s : inventory.series) {
      // Said, so that a reader knows the series was assembled (and from what).
      std::vector<std::size_t> counts(paths.size(), 0);
      for (const DicomFrame& f : s.frames)
        for (std::size_t i = 0; i < paths.size(); ++i)
          if (isWithin(f.path, paths[i])) {
            ++counts[i];
            break;
          }
      std::string parts;
      std::size_t inputsUsed = 0;
      for (std::size_t i = 0; i < paths.size(); ++i)
        if (counts[i]) {
          ++inputsUsed;
          parts += (parts.empty() ? "" : ", ") + paths[i] + " (" + std::to_string(counts[i]) + ")";
        }
      if (inputsUsed > 1)
        s.notes.push_back("series " + s.id + " assembled by its UIDs from the frames of " +
                          std::to_string(inputsUsed) + " inputs: " + parts);
    }
  for (const std::string& file : niftiFiles) {
    ++inventory.filesSeen;
    try {
      inventory.series.push_back(scanNifti(file));
    } catch (const InputError& e) {
      ++inventory.filesSkipped;
      inventory.warnings.push_back(std::string("skipped ") + e.what());
      inventory.unreadable.push_back({file, e.what()});
    }
  }
  if (inventory.series.empty()) {
    if (inventory.filesSeen == 1 && !inventory.warnings.empty()) {
      // One file given: its own problem is the message ("skipped X: why" -> "X: why").
      std::string why = inventory.warnings.front();
      if (why.rfind("skipped ", 0) == 0) why = why.substr(8);
      throw InputError(why);
    }
    throw InputError(inventory.inputPath + ": no DICOM or NIfTI image among " +
                     std::to_string(inventory.filesSeen) + " files" +
                     (inventory.warnings.empty() ? "" : " (" + inventory.warnings.front() + ")"));
  }
  return inventory;
}

SeriesChoice chooseSeries(const Inventory& inventory, const std::string& requested) {
  const auto& all = inventory.series;
  if (!requested.empty()) {
    std::vector<std::size_t> matches;
    for (std::size_t i = 0; i < all.size(); ++i)
      if (all[i].id == requested) matches = {i};
    if (matches.empty())
      for (std::size_t i = 0; i < all.size(); ++i)
        if (all[i].meta.seriesInstanceUid == requested) matches.push_back(i);
    if (matches.empty())
      throw InputError(inventory.inputPath + ": no series " + requested +
                       "; found: " + listing(inventory));
    if (matches.size() > 1)
      throw InputError(inventory.inputPath + ": series " + requested + " was split into " +
                       std::to_string(matches.size()) + " stacks (" +
                       all[matches.front()].splitReason +
                       "); choose one of: " + listing(inventory));
    const SeriesEntry& s = all[matches.front()];
    if (!s.loadable())
      throw InputError(inventory.inputPath + ": series " + s.id +
                       " cannot be loaded: " + s.problems.front());
    return {matches.front(), "requested with --series"};
  }

  std::vector<std::size_t> usable;
  for (std::size_t i = 0; i < all.size(); ++i)
    if (all[i].loadable() && all[i].meta.modality == "MR" && !isLocalizer(all[i].meta))
      usable.push_back(i);
  if (usable.empty()) {
    bool anyMr = false;
    for (const auto& s : all) anyMr = anyMr || s.meta.modality == "MR";
    throw InputError(
        inventory.inputPath + ": no usable MR volume" +
        (anyMr ? ""
               : " (cordscope analyses MR; found modality " + all.front().meta.modality + ")") +
        "; found: " + listing(inventory));
  }
  if (usable.size() == 1) return {usable.front(), "the only loadable MR series"};

  std::vector<std::size_t> sagittalT2;
  for (std::size_t i : usable)
    if (all[i].orientation == Orientation::Sagittal && looksT2Weighted(all[i].meta))
      sagittalT2.push_back(i);
  if (sagittalT2.empty())
    throw InputError(
        inventory.inputPath + ": " + std::to_string(usable.size()) +
        " MR series and none is a sagittal T2; choose one with --series: " + listing(inventory));
  // Among several sagittal T2 series: original over derived, then the finest in-plane pixels and
  // the most slices, then the earliest series number.
  const auto rank = [&](std::size_t i) {
    const SeriesEntry& s = all[i];
    const bool derived = upper(s.meta.imageType).find("DERIVED") != std::string::npos;
    return std::make_tuple(derived, s.spacing[0] * s.spacing[1], -static_cast<double>(s.size[2]),
                           s.meta.seriesNumber);
  };
  const std::size_t best =
      *std::min_element(sagittalT2.begin(), sagittalT2.end(),
                        [&](std::size_t a, std::size_t b) { return rank(a) < rank(b); });
  std::ostringstream reason;
  reason << "sagittal T2-weighted ('" << all[best].meta.seriesDescription << "'";
  if (all[best].meta.echoTimeMs) reason << ", TE " << *all[best].meta.echoTimeMs << " ms";
  if (all[best].meta.repetitionTimeMs)
    reason << ", TR " << *all[best].meta.repetitionTimeMs << " ms";
  reason << ") among " << usable.size() << " MR series";
  return {best, reason.str()};
}

std::optional<std::size_t> chooseAxialCompanion(const Inventory& inventory, std::size_t chosen) {
  const auto& all = inventory.series;
  const std::string& study = all.at(chosen).meta.studyInstanceUid;
  if (study.empty() || all[chosen].orientation == Orientation::Axial) return std::nullopt;
  std::optional<std::size_t> best;
  const auto better = [&](std::size_t a, std::size_t b) {  // a better than b
    const bool t2a = looksT2Weighted(all[a].meta), t2b = looksT2Weighted(all[b].meta);
    if (t2a != t2b) return t2a;
    return all[a].size[2] > all[b].size[2];
  };
  for (std::size_t i = 0; i < all.size(); ++i) {
    const SeriesEntry& s = all[i];
    if (i == chosen || !s.loadable() || s.meta.modality != "MR" || isLocalizer(s.meta) ||
        s.orientation != Orientation::Axial || s.meta.studyInstanceUid != study || s.size[2] < 2)
      continue;
    if (!best || better(i, *best)) best = i;
  }
  return best;
}

Volume loadSeries(const Inventory& inventory, std::size_t index) {
  const SeriesEntry& entry = inventory.series.at(index);
  Volume volume = entry.kind == "nifti" ? readNifti(entry.id) : dicom::loadSeries(entry);
  volume.sourcePath = entry.kind == "nifti" ? entry.id : inventory.inputPath;
  for (const std::string& w : inventory.warnings) volume.warnings.push_back(w);
  return volume;
}

Volume loadInput(const std::string& path, const std::string& requestedSeries) {
  return loadInput(std::vector<std::string>{path}, requestedSeries);
}

Volume loadInput(const std::vector<std::string>& paths, const std::string& requestedSeries) {
  const Inventory inventory = scanInput(paths);
  const SeriesChoice choice = chooseSeries(inventory, requestedSeries);
  return loadSeries(inventory, choice.index);
}

}  // namespace cordscope
