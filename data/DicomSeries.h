// DICOM half of Input.h (internal to the data floor): header scan and pixel load through GDCM.
#pragma once
#include <filesystem>
#include <vector>

#include "Input.h"

namespace cordscope::dicom {

// Reads the headers of `files` (any that are not DICOM, or are damaged, are counted as skipped
// with a warning) and appends the series they form to `inventory`.
void scanFiles(const std::vector<std::filesystem::path>& files, Inventory& inventory);

// Decodes every frame of a loadable series into a float volume.
Volume loadSeries(const SeriesEntry& series);

// True when the file starts like DICOM (preamble + "DICM"); cheap pre-filter for folder scans.
bool hasDicomMagic(const std::filesystem::path& file);

}  // namespace cordscope::dicom
