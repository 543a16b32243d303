// Input discovery and loading. An input is a folder (scanned recursively), a single DICOM file, or
// a NIfTI file. scanInput() reads headers only and returns every series found with what is wrong
// with it; chooseSeries() picks the one to analyse; loadSeries() reads its pixels into a Volume.
//
// DICOM rules (see docs/dicom.md): series are grouped by Series Instance UID and split when they
// mix orientations, matrix sizes, pixel spacings, echoes or image types; slices are sorted by their
// position along the slice normal (never by file name or instance number); a stack whose slice
// spacing varies by more than 10 % (missing slices included) is refused; repeated positions make a
// 4D series, of which the first volume is loaded with a warning. Unreadable files are skipped with
// a warning naming them.
#pragma once
#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "Volume.h"

namespace cordscope {

// One 2D frame of a DICOM series: a classic single-frame file, or frame `frame` of a multi-frame
// (enhanced) file.
struct DicomFrame {
  std::string path;
  unsigned frame = 0;
  std::array<double, 3> position{};  // ImagePositionPatient, LPS mm (centre of the first pixel)
  double slope = 1.0, intercept = 0.0;
  int instanceNumber = 0;
  int temporalIndex = 0;  // TemporalPositionIndex / AcquisitionNumber, to order 4D volumes
  std::string sopInstanceUid;
};

struct SeriesEntry {
  std::string id;  // Series Instance UID, with "#n" appended when one UID was split; file for NIfTI
  std::string kind;  // "dicom" or "nifti"
  SeriesMetadata meta;
  Orientation orientation = Orientation::Oblique;
  std::array<std::size_t, 3> size{};  // columns, rows, slices
  std::array<double, 3> spacing{};    // mm, same order
  Image::DirectionType direction;
  Image::PointType origin;
  std::size_t fileCount = 0;
  unsigned volumeCount = 1;           // > 1 for 4D series (repeated slice positions)
  std::vector<std::string> problems;  // why it cannot be loaded; empty when loadable
  std::vector<std::string> notes;     // warnings that do not stop loading
  std::vector<DicomFrame> frames;  // DICOM: the frames of the first volume, sorted along the normal
  std::string splitReason;         // why a Series Instance UID was split, if it was

  bool loadable() const { return problems.empty(); }
};

struct Inventory {
  std::string inputPath;                // for messages: the input, or the inputs joined by " + "
  std::vector<std::string> inputPaths;  // as given
  std::vector<SeriesEntry> series;
  std::vector<std::string> warnings;  // skipped files and similar
  std::size_t filesSeen = 0;
  std::size_t filesSkipped = 0;
  // Files that could not be read at all (path, why): a batch records a folder of them as a
  // failed study rather than losing it.
  std::vector<std::pair<std::string, std::string>> unreadable;
};

// Throws InputError when the path does not exist or holds nothing readable.
Inventory scanInput(const std::string& path);
// Several inputs read as one: the files of all of them grouped into series together, so that a
// study whose files were exported into several folders is whole again (by its UIDs, as always).
// A file reached through two inputs is read once. Throws InputError naming the input at fault.
Inventory scanInput(const std::vector<std::string>& paths);

// Whether a path is the given input or lies inside it (by its text, as the inputs were given:
// "a/b" is inside "a" and "a/", not inside "a/bc").
bool isWithin(const std::string& path, const std::string& input);

struct SeriesChoice {
  std::size_t index = 0;
  std::string reason;
};

// The user's series (matched against id, or Series Instance UID when unique) when `requested` is
// not empty; else the only loadable MR series; else the best sagittal T2-weighted one. Throws
// InputError listing what was found when there is no such series.
SeriesChoice chooseSeries(const Inventory& inventory, const std::string& requested = "");

// An axial series of the same study as the chosen one (same Study Instance UID), for the lesions'
// pattern and cross-section: loadable MR, not a localizer; T2-like first (lesions are judged on
// T2), then the most slices. Empty when there is none.
std::optional<std::size_t> chooseAxialCompanion(const Inventory& inventory, std::size_t chosen);

// Reads the pixels (rescale slope/intercept applied) with exact geometry. Throws InputError.
Volume loadSeries(const Inventory& inventory, std::size_t index);

// scanInput + chooseSeries + loadSeries; the choice's reason is added to the volume's warnings
// only when it is noteworthy.
Volume loadInput(const std::string& path, const std::string& requestedSeries = "");
Volume loadInput(const std::vector<std::string>& paths, const std::string& requestedSeries = "");

// JSON of one series as `cordscope info --json` prints it (geometry in LPS mm, ITK's frame).
void to_json(nlohmann::json& j, const SeriesEntry& series);

// How a series looks as T2-weighted evidence, for selection and for the contrast guess.
bool looksT2Weighted(const SeriesMetadata& meta);

}  // namespace cordscope
