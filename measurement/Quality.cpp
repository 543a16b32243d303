#include "measurement/Quality.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "core/Geometry.h"
#include "core/ImageSampler.h"
#include "core/Statistics.h"
#include "data/Levels.h"

namespace cordscope {
namespace {

// printf-style formatting for the messages (numbers with the decimals a reader needs).
template <class... Args>
std::string format(const char* pattern, Args... args) {
  char text[512];
  std::snprintf(text, sizeof text, pattern, args...);
  return text;
}

std::string percent(double fraction) {
  return format("%.0f %%", 100 * fraction);
}

class Collector {
 public:
  explicit Collector(QualityReport& report) : report_(report) {}
  void check(const std::string& code, const std::string& message) {
    add(code, Verdict::Check, message);
  }
  void fail(const std::string& code, const std::string& message) {
    add(code, Verdict::Fail, message);
  }
  // Fail beyond the fail limit, check beyond the check limit.
  void graded(bool failed, bool checked, const std::string& code, const std::string& message) {
    if (failed)
      fail(code, message);
    else if (checked)
      check(code, message);
  }
  void measure(const std::string& name, double value) {
    if (std::isfinite(value)) report_.measures[name] = value;
  }

 private:
  void add(const std::string& code, Verdict severity, const std::string& message) {
    report_.reasons.push_back({code, severity, message});
    report_.verdict = std::max(report_.verdict, severity);
  }
  QualityReport& report_;
};

double medianOf(std::vector<double> values) {
  return values.empty() ? NAN : median(values);
}

// Millimetres the image goes on from `start` in `direction` (unit), up to `limitMm`.
double roomInImage(const Image* image, const Vec3& start, const Vec3& direction, double limitMm) {
  const ImageSampler sampler(image);
  double room = 0;
  while (room < limitMm && sampler.at(start + (room + 1.0) * direction).has_value()) room += 1.0;
  return room;
}

// ---- The cord ----

void checkCord(const QualityInputs& in, const QualityOptions& o, Collector& c) {
  const CordSegmentation& cord = *in.cord;
  const auto& sections = cord.sections;
  const std::size_t n = sections.size();
  const double step = n > 1 ? (sections.back().arcMm - sections.front().arcMm) / (n - 1) : 0.5;

  // Measured, not interpolated. Outlines modelled from the canal (where a bright lesion hid the
  // cord or took part of its outline: CrossSection::modelled) were seen - their canal was, and
  // the cord's relation to it around - and are judged apart below.
  std::size_t measured = 0, run = 0, longestRun = 0, modelled = 0, modelledRun = 0,
              longestModelled = 0;
  for (const CrossSection& s : sections) {
    const bool seen = s.measured || s.modelled;
    measured += seen;
    run = seen ? 0 : run + 1;
    longestRun = std::max(longestRun, run);
    modelled += s.modelled;
    modelledRun = s.modelled ? modelledRun + 1 : 0;
    longestModelled = std::max(longestModelled, modelledRun);
  }
  const double modelledFraction = n ? static_cast<double>(modelled) / n : 0.0;
  c.measure("modelled_fraction", modelledFraction);
  c.measure("longest_modelled_mm", longestModelled * step);
  if (modelledFraction > o.modelledCheckFraction || longestModelled * step > o.modelledCheckMm)
    c.check("cord_modelled_from_canal",
            format("cord outline placed in its canal over %.0f mm (%s of the cord): a lesion hid "
                   "the cord's edge there, so its size figures there are estimates",
                   longestModelled * step, percent(modelledFraction).c_str()));
  const double fraction = static_cast<double>(measured) / n;
  const double gapMm = longestRun * step;
  c.measure("measured_fraction", fraction);
  c.measure("longest_interpolated_mm", gapMm);
  c.graded(fraction < o.measuredFailBelow, fraction < o.measuredCheckBelow,
           "cord_mostly_interpolated",
           "cord outline mostly interpolated: only " + percent(fraction) +
               " of the cord's cross-sections were measured, the rest filled in from their "
               "neighbours, so its size figures are largely estimates");
  c.graded(gapMm > o.gapFailMm, gapMm > o.gapCheckMm, "cord_outline_gap",
           format("cord outline not seen over %.0f mm: the cord's outline was interpolated over "
                  "its longest stretch of %.0f mm, so size figures and lesions there rest on a "
                  "guessed outline",
                  gapMm, gapMm));

  // Continuity: no jumps, no kinks.
  std::vector<double> steps;
  for (std::size_t i = 1; i < n; ++i)
    steps.push_back(norm(sections[i].centre - sections[i - 1].centre));
  const double typicalStep = medianOf(steps);
  double longestStep = 0, jumpArc = 0;
  for (std::size_t i = 1; i < n; ++i)
    if (steps[i - 1] > longestStep) {
      longestStep = steps[i - 1];
      jumpArc = sections[i].arcMm;
    }
  c.measure("longest_centre_step_mm", longestStep);
  if (longestStep > std::max(o.jumpMm, 2 * typicalStep))
    c.fail("cord_discontinuous",
           format("cord discontinuous: its centre jumps %.1f mm between neighbouring "
                  "cross-sections %.0f mm from the cord's top (%.1f mm apart elsewhere): part of "
                  "the \"cord\" is another structure",
                  longestStep, jumpArc, typicalStep));
  const std::size_t k =
      std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(o.kinkWindowMm / step)));
  double sharpest = 0, kinkArc = 0;
  for (std::size_t i = 0; i + 2 * k < n; ++i) {
    const Vec3 a = sections[i + k].centre - sections[i].centre,
               b = sections[i + 2 * k].centre - sections[i + k].centre;
    if (norm(a) <= 0 || norm(b) <= 0) continue;
    const double turn =
        std::acos(std::clamp(dot(normalized(a), normalized(b)), -1.0, 1.0)) * 180 / kPi;
    if (turn > sharpest) {
      sharpest = turn;
      kinkArc = sections[i + k].arcMm;
    }
  }
  c.measure("sharpest_turn_deg", sharpest);
  if (sharpest > o.kinkCheckDeg)
    c.check(
        "cord_kinked",
        format(
            "cord course kinked: it turns %.0f degrees within %.0f mm, %.0f mm from the cord's top "
            "(a cord bends gently): check that the outline follows the cord there",
            sharpest, o.kinkWindowMm, kinkArc));

  // Size of the measured cross-sections.
  std::vector<double> areas, aps, rls;
  for (const CrossSection& s : sections)
    if (s.measured) {
      areas.push_back(s.areaMm2);
      aps.push_back(s.apMm);
      rls.push_back(s.rlMm);
    }
  const double area = medianOf(areas), ap = medianOf(aps), rl = medianOf(rls);
  c.measure("median_area_mm2", area);
  c.measure("median_ap_mm", ap);
  c.measure("median_rl_mm", rl);
  if (!areas.empty()) {
    c.graded(!o.areaFail.contains(area), !o.areaCheck.contains(area), "cord_area_implausible",
             format("cord size implausible: median cross-sectional area %.0f mm\u00b2 (adults "
                    "%.0f-%.0f mm\u00b2%s)",
                    area, o.areaCheck.min, o.areaCheck.max,
                    o.areaFail.contains(area)
                        ? ""
                        : "; no cord is this size: the outline is not the cord's"));
    const bool apFails = !o.apFail.contains(ap), rlFails = !o.rlFail.contains(rl);
    c.graded(
        apFails || rlFails, !o.apCheck.contains(ap) || !o.rlCheck.contains(rl),
        "cord_diameter_implausible",
        format("cord diameters implausible: median AP %.1f mm, RL %.1f mm (adults AP %.1f-%.1f, RL "
               "%.1f-%.1f mm%s)",
               ap, rl, o.apCheck.min, o.apCheck.max, o.rlCheck.min, o.rlCheck.max,
               apFails || rlFails ? "; no cord is this shape: the outline is not the cord's" : ""));
  }
  // A stretch far too big for a cord, even when the median is fine.
  double longestOversized = 0, oversizedArc = 0, runStart = 0;
  bool inRun = false;
  for (const CrossSection& s : sections) {
    const bool oversized = s.measured && (s.areaMm2 > o.areaFail.max || s.apMm > o.apFail.max ||
                                          s.rlMm > o.rlFail.max);
    if (oversized && !inRun) runStart = s.arcMm;
    inRun = oversized;
    if (oversized && s.arcMm - runStart + step > longestOversized) {
      longestOversized = s.arcMm - runStart + step;
      oversizedArc = runStart;
    }
  }
  c.measure("longest_oversized_mm", longestOversized);
  if (longestOversized >= o.oversizedStretchMm)
    c.check("cord_locally_oversized",
            format("cord outline too large over %.0f mm from %.0f mm below the cord's top (beyond "
                   "%.0f mm\u00b2, AP %.0f mm or RL %.0f mm): the outline there holds something "
                   "other than cord",
                   longestOversized, oversizedArc, o.areaFail.max, o.apFail.max, o.rlFail.max));

  // The cord in a CSF-filled canal.
  std::size_t withoutCsf = 0;
  std::vector<double> ratios;
  for (const CrossSection& s : sections)
    if (s.measured && s.areaMm2 > 0) {
      ratios.push_back(s.canalAreaMm2 / s.areaMm2);
      withoutCsf += s.canalAreaMm2 < o.csfRingFactor * s.areaMm2;
    }
  if (!ratios.empty()) {
    const double noCsf = static_cast<double>(withoutCsf) / ratios.size();
    c.measure("no_csf_fraction", noCsf);
    c.measure("median_canal_to_cord_area", medianOf(ratios));
    c.graded(noCsf > o.noCsfFailFraction, noCsf > o.noCsfCheckFraction, "cord_outside_canal",
             "no CSF around the cord over " + percent(noCsf) +
                 " of its length: a cord lies in a CSF-filled canal (stenosis effaces the CSF only "
                 "at its levels), so the outline may not be the cord's");
  }

  // The cord's top: at the junction with the medulla when the image shows it. The bony foramen
  // magnum, when found, is the direct evidence; otherwise an image going on well above a top not
  // recognised as the junction.
  double room = NAN;
  if (n > 1 && in.volume && in.volume->image) {
    const std::size_t k10 = std::min(n - 1, static_cast<std::size_t>(std::lround(10.0 / step)));
    const Vec3 up = normalized(sections[0].centre - sections[k10].centre);
    room = roomInImage(in.volume->image.GetPointer(), sections[0].centre, up, 100.0);
    c.measure("image_above_cord_top_mm", room);
  }
  if (in.landmarks && in.landmarks->basion && in.landmarks->opisthion) {
    const Vec3 foramen = 0.5 * (*in.landmarks->basion + *in.landmarks->opisthion);
    // > 0: the cord's top lies below the foramen magnum.
    const double topBelow = -arcAlongCord(sections, foramen);
    c.measure("cord_top_below_foramen_magnum_mm", topBelow);
    if (topBelow > o.topBelowForamenMagnumMm)
      c.check("cord_not_reaching_medulla",
              format("cord's top %.0f mm below the foramen magnum (basion-opisthion line): the "
                     "cord reaches it within about 10 mm, so the upper cord is missing from the "
                     "measures",
                     topBelow));
    else if (-topBelow > o.topAboveForamenMagnumMm)
      c.check("cord_top_in_brainstem",
              format("cord's top %.0f mm above the foramen magnum (basion-opisthion line): part of "
                     "the brainstem was taken as cord, which shifts the levels anchored on its top",
                     -topBelow));
  } else if (!cord.topIsJunction && room >= o.roomAboveTopMm) {
    c.check("cord_not_reaching_medulla",
            format("cord's top not at the medulla: the image goes on %.0f mm above the cord's top "
                   "but no junction with the medulla was recognised there, so the upper cord may "
                   "be missing from the measures",
                   room));
  }
}

// ---- The slices ----

// Slices much further apart than they are thick leave anatomy unimaged between them: the
// midsagittal plane (ADI, the dens, the cord's true AP diameter) and a lesion narrower than the
// gap can fall into it. The thickness comes from the series' metadata (DICOM SliceThickness, a
// BIDS sidecar); without it there is nothing to judge.
void checkSlices(const QualityInputs& in, const QualityOptions& o, Collector& c) {
  if (!in.volume || !in.volume->image || !in.volume->meta.sliceThicknessMm) return;
  const double thickness = *in.volume->meta.sliceThicknessMm;
  const double spacing = in.volume->image->GetSpacing()[2];
  if (!(thickness > 0) || in.volume->image->GetLargestPossibleRegion().GetSize()[2] < 2) return;
  c.measure("slice_spacing_to_thickness", spacing / thickness);
  if (spacing > o.sliceSpacingCheckAbove * thickness)
    c.check("slice_gaps",
            format("slices %.1f mm apart but %.1f mm thick: %s of the anatomy between them was "
                   "not imaged, so the midline (ADI, the dens, the cord's AP size) and a small "
                   "lesion may fall in a gap",
                   spacing, thickness, percent(1 - thickness / spacing).c_str()));
}

// ---- The cord against its CSF ----

// The cord's contrast against the CSF around it (median intensities of the cord mask and of the
// canal mask outside it), in units of the image's noise: the spread of differences between
// neighbouring cord voxels along the image's two finest axes (Immerkaer's idea: the cord's own
// signal varies slowly, so a neighbour difference is mostly noise, its sigma sqrt(2) times the
// noise's; the MAD makes the few pairs across an edge or a lesion border irrelevant). A pure
// function of the image and the masks on its grid: one pass over the voxels.
struct CordContrast {
  double contrast = NAN, noise = NAN;
  double toNoise() const { return noise > 0 ? contrast / noise : NAN; }
};

CordContrast cordContrast(const Image& image, const Mask& cord, const Mask& canal) {
  CordContrast out;
  const auto size = image.GetLargestPossibleRegion().GetSize();
  if (cord.GetLargestPossibleRegion().GetSize() != size ||
      canal.GetLargestPossibleRegion().GetSize() != size)
    return out;
  const float* pixel = image.GetBufferPointer();
  const unsigned char* inCord = cord.GetBufferPointer();
  const unsigned char* inCanal = canal.GetBufferPointer();
  // The two finest axes: in-plane, where neighbours are closest.
  const auto spacing = image.GetSpacing();
  std::array<int, 3> axes{0, 1, 2};
  std::sort(axes.begin(), axes.end(), [&](int a, int b) { return spacing[a] < spacing[b]; });
  const std::array<std::size_t, 3> stride{1, size[0], size[0] * size[1]};
  std::vector<double> cordValues, csfValues, differences;
  std::size_t i = 0;
  for (std::size_t z = 0; z < size[2]; ++z)
    for (std::size_t y = 0; y < size[1]; ++y)
      for (std::size_t x = 0; x < size[0]; ++x, ++i) {
        if (!inCord[i]) {
          if (inCanal[i]) csfValues.push_back(pixel[i]);
          continue;
        }
        cordValues.push_back(pixel[i]);
        const std::array<std::size_t, 3> at{x, y, z};
        for (int k = 0; k < 2; ++k) {
          const int axis = axes[k];
          if (at[axis] + 1 < size[axis] && inCord[i + stride[axis]])
            differences.push_back(std::abs(pixel[i + stride[axis]] - pixel[i]));
        }
      }
  if (cordValues.empty() || csfValues.empty() || differences.size() < 20) return out;
  out.contrast = std::abs(median(csfValues) - median(cordValues));
  out.noise = 1.4826 * median(differences) / std::sqrt(2.0);
  return out;
}

void checkContrast(const QualityInputs& in, const QualityOptions& o, Collector& c) {
  const CordSegmentation& cord = *in.cord;
  if (!in.volume || !in.volume->image || !cord.cord || !cord.canal) return;
  const CordContrast contrast = cordContrast(*in.volume->image, *cord.cord, *cord.canal);
  const double ratio = contrast.toNoise();
  c.measure("cord_csf_contrast_to_noise", ratio);
  if (!std::isfinite(ratio)) return;
  c.graded(ratio < o.contrastFailBelow, ratio < o.contrastCheckBelow, "cord_contrast_low",
           format("cord hardly differs from its CSF: their contrast is %.1f times the image's "
                  "noise (%s)",
                  ratio,
                  ratio < o.contrastFailBelow
                      ? "noise alone makes such a difference: the outline is not a cord's"
                      : "the outline may follow noise rather than the cord's edge"));
}

// ---- Discs and level names ----

// The arc of the named disc at the top of vertebra `lower`, if named.
std::optional<double> namedDiscArc(const VertebralLabels& v, int lower) {
  for (const Disc& d : v.discs)
    if (d.lowerVertebra == lower) return d.arcMm;
  return std::nullopt;
}

void checkDiscs(const QualityInputs& in, const QualityOptions& o, Collector& c) {
  const VertebralLabels& v = *in.vertebrae;
  if (v.discs.empty()) {
    c.check("no_discs_found",
            "no intervertebral disc found: vertebral levels are unknown, and lesions are measured "
            "in millimetres only, without segments (give --discs FILE to name them)");
    return;
  }
  if (!v.named)
    c.check("levels_not_named", "levels not named: " + std::to_string(v.discs.size()) +
                                    (v.discs.size() == 1 ? " disc was" : " discs were") +
                                    " found but none could be named (neither the dens base nor the "
                                    "cord's junction with the medulla was found in the image): "
                                    "levels are unknown and lesion segments are counted between "
                                    "the discs; give --c2c3 X,Y,Z to name them");
  if (v.anchor == "foramen magnum")
    c.check("levels_named_from_fallback",
            "levels named from the cord's top: the dens base was not found, so the names rest on "
            "the cord's top standing for the foramen magnum (within about 10 mm), and may be one "
            "level off; confirm C2-C3 on the image");

  // Level heights between consecutive discs. Named: levels from C3 down (C1 and C2 end at the dens
  // base, not a disc); unnamed: every consecutive pair.
  struct Height {
    int level;  // 0 when not named
    double mm, arc;
  };
  std::vector<Height> heights;
  for (std::size_t i = 0; i + 1 < v.discs.size(); ++i) {
    const Disc& a = v.discs[i];
    const Disc& b = v.discs[i + 1];
    if (v.named && (a.lowerVertebra < 3 || b.lowerVertebra != a.lowerVertebra + 1)) continue;
    heights.push_back({v.named ? a.lowerVertebra : 0, b.arcMm - a.arcMm, a.arcMm});
  }
  const auto label = [](const Height& h) {
    return h.level ? levelName(h.level) : format("the level %.0f mm below the cord's top", h.arc);
  };
  // One reason per cause: an implausible level is also an inconsistent one.
  bool implausible = false;
  for (const Height& h : heights) {
    const Range& plausible = !h.level       ? o.unnamedHeightCheck
                             : h.level <= 7 ? o.cervicalHeightCheck
                                            : o.thoracicHeightCheck;
    if (!o.heightFail.contains(h.mm) || !plausible.contains(h.mm)) {
      const bool fails = !o.heightFail.contains(h.mm);
      implausible = true;
      c.graded(fails, true, "disc_spacing_implausible",
               format("disc spacing implausible: %s is %.0f mm from disc to disc (adults %.0f-%.0f "
                      "mm): a disc was probably missed or found twice, and the levels below it may "
                      "be misnamed",
                      label(h).c_str(), h.mm, plausible.min, plausible.max));
    }
  }
  double worstRatio = 1;
  std::size_t worst = 0;
  for (std::size_t i = 1; i < heights.size(); ++i) {
    const double a = heights[i - 1].mm, b = heights[i].mm;
    if (a <= 0 || b <= 0) continue;
    const double ratio = std::max(a, b) / std::min(a, b);
    if (ratio > worstRatio) {
      worstRatio = ratio;
      worst = i;
    }
  }
  if (!heights.empty()) c.measure("largest_level_height_ratio", worstRatio);
  if (worstRatio > o.consecutiveHeightRatio && !implausible)
    c.check("disc_spacing_inconsistent",
            format("disc spacing inconsistent: %s is %.0f mm and %s %.0f mm (neighbouring levels "
                   "rarely differ by more than %.0f %%): a disc may have been missed or two "
                   "vertebrae are fused; check the level names below",
                   label(heights[worst - 1]).c_str(), heights[worst - 1].mm,
                   label(heights[worst]).c_str(), heights[worst].mm,
                   100 * (o.consecutiveHeightRatio - 1)));

  // Independent anchors against the names.
  if (!v.named) return;
  std::vector<AnchorExpectation> expectations;
  if (in.landmarks && in.landmarks->basion && in.landmarks->opisthion && in.cord) {
    const double arc =
        arcAlongCord(in.cord->sections, 0.5 * (*in.landmarks->basion + *in.landmarks->opisthion));
    expectations.push_back({"foramen magnum (basion-opisthion line) found on the image", arc, 3,
                            o.c2c3BelowForamenMagnumMm.min, o.c2c3BelowForamenMagnumMm.max});
  }
  if (in.landmarks && in.landmarks->densBase && in.cord) {
    const double arc = arcAlongCord(in.cord->sections, *in.landmarks->densBase);
    expectations.push_back(
        {"dens base", arc, 3, o.c2c3BelowDensBaseMm.min, o.c2c3BelowDensBaseMm.max});
  }
  expectations.insert(expectations.end(), in.anchorExpectations.begin(),
                      in.anchorExpectations.end());
  // Offsets along the cord as a reader says them: "12 mm below", "5 mm above".
  const auto where = [](double offset) {
    return format("%.0f mm %s", std::abs(offset), offset >= 0 ? "below" : "above");
  };
  const auto range = [&](double from, double to) {
    if (from >= 0 || to <= 0)
      return format("%.0f-%.0f mm %s", std::min(std::abs(from), std::abs(to)),
                    std::max(std::abs(from), std::abs(to)), from >= 0 ? "below" : "above");
    return "between " + where(from) + " and " + where(to);
  };
  for (const AnchorExpectation& e : expectations) {
    if (e.anchor == v.anchor) continue;  // the anchor that named them agrees with itself
    const std::optional<double> arc = namedDiscArc(v, e.lowerVertebra);
    if (!arc) continue;
    const double offset = *arc - e.anchorArcMm;
    if (offset >= e.offsetMinMm && offset <= e.offsetMaxMm) continue;
    c.check("level_anchors_disagree",
            format("level names and the %s disagree: %s is named %s it, where that landmark puts "
                   "it %s: either the names are one level off or the landmark was found in the "
                   "wrong place; check both on the image",
                   e.anchor.c_str(), discName(e.lowerVertebra).c_str(), where(offset).c_str(),
                   range(e.offsetMinMm, e.offsetMaxMm).c_str()));
  }
}

// ---- Lesions ----

void checkLesions(const QualityInputs& in, const QualityOptions& o, Collector& c) {
  const LesionSegmentation& seg = *in.lesions;
  const CordSegmentation& cord = *in.cord;
  if (!seg.looked || !seg.mask) return;
  // Voxels of each lesion outside the cord mask (both on the input grid).
  std::map<int, std::pair<long, long>> counts;  // id -> (outside, all)
  if (cord.cord && seg.mask->GetBufferedRegion() == cord.cord->GetBufferedRegion()) {
    const unsigned char* lesion = seg.mask->GetBufferPointer();
    const unsigned char* inCord = cord.cord->GetBufferPointer();
    const std::size_t voxels = seg.mask->GetBufferedRegion().GetNumberOfPixels();
    for (std::size_t i = 0; i < voxels; ++i)
      if (lesion[i]) {
        auto& [outside, all] = counts[lesion[i]];
        outside += !inCord[i];
        ++all;
      }
  }
  double worstOutside = 0;
  for (const auto& [id, count] : counts) {
    const double outside = static_cast<double>(count.first) / count.second;
    worstOutside = std::max(worstOutside, outside);
    c.graded(outside > o.lesionOutsideFail, outside > o.lesionOutsideCheck, "lesion_outside_cord",
             format("lesion %d outside the cord: %s of its voxels lie outside the cord's outline "
                    "(T2 lesions here are intramedullary), so it is partly CSF or other tissue",
                    id, percent(outside).c_str()));
  }
  if (!counts.empty()) c.measure("lesion_outside_cord_fraction", worstOutside);
  // Faint signal away from the lesions found: a subtle lesion below the segmentation's
  // threshold, or normal structure - a reader decides (an early B12 lesion is exactly this).
  if (!seg.faint.empty()) {
    const FaintSignal& f = seg.faint.front();
    c.measure("faint_signal_standard_errors", f.standardErrors);
    std::string where = format("%.0f-%.0f mm below the cord's top", f.topArcMm, f.bottomArcMm);
    if (in.vertebrae && in.vertebrae->named) {
      const int top = levelAtArc(in.vertebrae->discs, f.topArcMm);
      const int bottom = levelAtArc(in.vertebrae->discs, f.bottomArcMm);
      if (top > 0 && bottom > 0)
        where = top == bottom ? "at " + levelName(top)
                              : "at " + levelName(top) + "-" + levelName(bottom);
    }
    c.check("faint_cord_signal",
            format("faint cord signal: the %s cord %s (over %.0f mm) is brighter than the cord "
                   "elsewhere, by %.2f of the way to CSF (%.0f standard errors) - below what is "
                   "segmented as a lesion; look for a subtle lesion there",
                   f.sector.c_str(), where.c_str(), f.bottomArcMm - f.topArcMm, f.meanExcess,
                   f.standardErrors));
  }
  if (!in.lesionMetrics) return;
  const auto& sections = cord.sections;
  const double tolerance = o.lesionBeyondCordMm + 0.5 * seg.voxelExtentAlongCordMm;
  for (const Lesion& l : *in.lesionMetrics) {
    if (l.lengthMm > cord.lengthMm + tolerance)
      c.fail("lesion_longer_than_cord",
             format("lesion %d longer than the cord: %.0f mm along a cord of %.0f mm in view", l.id,
                    l.lengthMm, cord.lengthMm));
    else if (!sections.empty() && (l.topArcMm < sections.front().arcMm - tolerance ||
                                   l.bottomArcMm > sections.back().arcMm + tolerance))
      c.check(
          "lesion_outside_cord",
          format("lesion %d reaches beyond the cord: it runs from %.0f "
                 "to %.0f mm along a cord segmented from %.0f to %.0f mm",
                 l.id, l.topArcMm, l.bottomArcMm, sections.front().arcMm, sections.back().arcMm));
    // The cord ends at the conus medullaris, at L1-L2 in adults; below it the canal holds the
    // cauda equina, whose roots the outline can follow as a brighter "cord" (the whole PAM50
    // template: a 74 mm ventral "lesion" T12-L2 on a lesion-free spine).
    if (l.bottomLevel && *l.bottomLevel >= o.conusLevel)
      c.check(
          "lesion_below_conus",
          format("lesion %d reaches %s: the cord ends at the conus medullaris about L1-L2, and "
                 "below it the outline may have followed the cauda equina; read it on the image",
                 l.id, levelName(*l.bottomLevel).c_str()));
    std::size_t over = 0, interpolated = 0;
    for (const CrossSection& s : sections)
      if (s.arcMm >= l.topArcMm && s.arcMm <= l.bottomArcMm) {
        ++over;
        interpolated += !s.measured && !s.modelled;
      }
    if (over == 0) continue;
    const double fraction = static_cast<double>(interpolated) / over;
    if (fraction > o.lesionInterpolatedCheck)
      c.check("lesion_on_interpolated_cord",
              format("lesion %d lies where the cord's outline was interpolated (%s of its %.0f "
                     "mm): its extent and pattern are less certain",
                     l.id, percent(fraction).c_str(), l.lengthMm));
  }
}

// ---- Self-assessments ----

void checkSelf(const SelfAssessment& self, const std::string& what, const std::string& code,
               const QualityOptions& o, Collector& c) {
  if (self.confidence) {
    c.measure(code + "_confidence", *self.confidence);
    c.graded(*self.confidence < o.confidenceFailBelow, *self.confidence < o.confidenceCheckBelow,
             code + "_low_confidence",
             format("%s uncertain: its own confidence is %.2f", what.c_str(), *self.confidence));
  }
  for (const std::string& doubt : self.doubts)
    c.check(code + "_doubt", what + " doubted: " + doubt);
}

}  // namespace

std::string toString(Verdict verdict) {
  switch (verdict) {
    case Verdict::Pass:
      return "pass";
    case Verdict::Check:
      return "check";
    case Verdict::Fail:
      return "fail";
  }
  return "fail";
}

std::string QualityReport::headline() const {
  if (reasons.empty()) return toString(verdict);
  std::string text = toString(verdict) + " - " + reasons.front().message;
  if (reasons.size() > 1)
    text += " (+" + std::to_string(reasons.size() - 1) + " more in report.json)";
  return text;
}

std::string QualityReport::codes() const {
  std::string text;
  for (const QualityReason& r : reasons) text += (text.empty() ? "" : ";") + r.code;
  return text;
}

QualityReport assessQuality(const QualityInputs& in, const QualityOptions& o) {
  QualityReport report;
  Collector c(report);
  if (!in.cord || !in.cord->found || in.cord->sections.empty()) {
    const std::string why =
        in.cord && !in.cord->failure.empty() ? in.cord->failure : "no spinal cord found";
    c.fail("cord_not_found", why);
    return report;
  }
  checkCord(in, o, c);
  checkContrast(in, o, c);
  checkSlices(in, o, c);
  checkSelf(in.cordSelf, "cord segmentation", "cord", o, c);
  if (in.vertebrae) checkDiscs(in, o, c);
  checkSelf(in.namingSelf, "level names", "naming", o, c);
  if (in.lesions) checkLesions(in, o, c);
  // Fails first (the reason for the verdict), each group in the order checked.
  std::stable_sort(
      report.reasons.begin(), report.reasons.end(),
      [](const QualityReason& a, const QualityReason& b) { return a.severity > b.severity; });
  return report;
}

void to_json(nlohmann::json& j, const QualityReport& report) {
  nlohmann::json reasons = nlohmann::json::array();
  for (const QualityReason& r : report.reasons)
    reasons.push_back(
        {{"code", r.code}, {"severity", toString(r.severity)}, {"message", r.message}});
  j = nlohmann::json{
      {"verdict", toString(report.verdict)}, {"reasons", reasons}, {"measures", report.measures}};
}

}  // namespace cordscope
