// MR contrast of a series as far as the cord is concerned: on T2 and T2* the CSF around the cord
// is brighter than the cord, on T1 darker. Segmentation needs the sign; the report names the
// weighting.
#pragma once
#include <string>

#include "data/Volume.h"

namespace cordscope {

enum class Contrast { Auto, T1, T2, T2star };

std::string toString(Contrast contrast);          // "auto", "t1", "t2", "t2s"
Contrast parseContrast(const std::string& text);  // throws UsageError on anything else

// +1 when CSF is brighter than cord (T2, T2*), -1 when darker (T1). Auto is not a sign.
int csfSign(Contrast contrast);

// Weighting suggested by the DICOM/BIDS metadata alone (TE, TR, description), Auto when unsure.
// The image decides the sign in the end (see findCenterline); this names T2 versus T2*.
Contrast contrastFromMetadata(const SeriesMetadata& meta);

// The weighting to report once the image has shown the sign of the CSF-cord contrast.
Contrast nameContrast(int sign, const SeriesMetadata& meta);

}  // namespace cordscope
