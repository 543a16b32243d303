// Quality control (issue 18, item 5). Constructed analyses - a healthy one built by hand, then one
// fault at a time - where each check must fire, with its severity, and nothing else; phantoms
// analysed by the real pipeline, where no check may fire; and real scans, where the verdict must
// agree with the reference masks (a cord segmentation that misses its reference is never a pass).
#include <gtest/gtest.h>
#include <itkImageRegionIteratorWithIndex.h>

#include <cmath>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>

#include "TestSupport.h"
#include "core/Geometry.h"
#include "core/ImageSampler.h"
#include "data/Levels.h"
#include "data/Nifti.h"
#include "data/Phantom.h"
#include "measurement/Quality.h"

namespace cordscope {
namespace {

constexpr double kStep = 0.5;        // mm between cross-sections, as segmentCord makes them
constexpr double kCordLength = 200;  // mm: C1 to T3

std::vector<std::string> codesOf(const QualityReport& r) {
  std::vector<std::string> codes;
  for (const QualityReason& reason : r.reasons) codes.push_back(reason.code);
  return codes;
}
bool has(const QualityReport& r, const std::string& code, Verdict severity) {
  for (const QualityReason& reason : r.reasons)
    if (reason.code == code && reason.severity == severity) return true;
  return false;
}
std::string describe(const QualityReport& r) {
  std::string text = toString(r.verdict);
  for (const QualityReason& reason : r.reasons)
    text += "\n  " + reason.code + " (" + toString(reason.severity) + "): " + reason.message;
  return text;
}
#define EXPECT_ONLY(report, expected, ...)                                           \
  do {                                                                               \
    const QualityReport& r_ = (report);                                              \
    EXPECT_EQ(r_.verdict, expected) << describe(r_);                                 \
    EXPECT_EQ(codesOf(r_), (std::vector<std::string>{__VA_ARGS__})) << describe(r_); \
  } while (0)

// A healthy analysis by hand, in LPS millimetres: a straight cord running caudally (-z) from its
// junction with the medulla at z = 0 for 200 mm, elliptical sections of 70 mm2 (AP 7, RL 12.5) in
// a canal of 200 mm2; the image (1 mm voxels) goes on 40 mm above the cord's top. The foramen
// magnum 7 mm above the top, the dens base 20 mm below it; discs named from the dens base every
// 17 mm (thoracic levels 19-21 mm), as in an adult; one 10 mm lesion inside the cord at 60-70 mm.
struct Synthetic {
  Volume volume;
  CordSegmentation cord;
  CraniocervicalLandmarks landmarks;
  VertebralLabels vertebrae;
  LesionSegmentation lesions;
  std::vector<Lesion> lesionMetrics;

  explicit Synthetic(double imageAboveTopMm = 40) {
    const double bottom = -kCordLength - 20;
    volume.image = Image::New();
    Image::SizeType size{{41, 41, static_cast<Image::SizeValueType>(imageAboveTopMm - bottom + 1)}};
    volume.image->SetRegions(size);
    Image::SpacingType spacing;
    spacing.Fill(1.0);
    volume.image->SetSpacing(spacing);
    Image::PointType origin;
    origin[0] = -20;
    origin[1] = -20;
    origin[2] = bottom;
    volume.image->SetOrigin(origin);
    volume.image->Allocate();
    volume.image->FillBuffer(100.0f);

    cord.found = true;
    cord.topIsJunction = true;
    cord.lengthMm = kCordLength;
    for (int i = 0; i * kStep <= kCordLength; ++i) {
      CrossSection s;
      s.arcMm = i * kStep;
      s.centre = {0, 0, -s.arcMm};
      s.tangent = {0, 0, -1};
      s.anterior = {0, -1, 0};
      s.areaMm2 = 70;
      s.apMm = 7;
      s.rlMm = 12.5;
      s.canalAreaMm2 = 200;
      s.canalApMm = 14;
      s.canalRlMm = 20;
      s.canalAnteriorMm = 7;
      s.measured = true;
      cord.sections.push_back(s);
    }
    cord.cord = maskLike();
    for (int z = -static_cast<int>(kCordLength); z <= 0; ++z)
      for (int y = -4; y <= 4; ++y)
        for (int x = -4; x <= 4; ++x)
          if (x * x + y * y <= 16) set(cord.cord, x, y, z, 1);
    cord.canal = cord.cord;

    landmarks.basion = Vec3{0, -10, 8};
    landmarks.opisthion = Vec3{0, 25, 6};
    landmarks.densBase = Vec3{0, -5, -20};

    vertebrae.named = true;
    vertebrae.anchor = "dens base";
    const std::vector<std::pair<int, double>> discs = {{2, 20},   {3, 38},  {4, 55},  {5, 72},
                                                       {6, 89},   {7, 106}, {8, 123}, {9, 142},
                                                       {10, 162}, {11, 183}};
    for (const auto& [lower, arc] : discs) {
      Disc d;
      d.lowerVertebra = lower;
      d.name = discName(lower);
      d.arcMm = arc;
      d.position = {0, -10, -arc};
      d.confidence = 0.9;
      vertebrae.discs.push_back(d);
    }
    for (int level = 1; level <= 11; ++level) vertebrae.levels.push_back(level);

    lesions.looked = true;
    lesions.mask = maskLike();
    lesions.voxelVolumeMm3 = 1;
    lesions.voxelExtentAlongCordMm = 1;
    for (int z = -70; z <= -61; ++z)
      for (int y = -1; y <= 1; ++y)
        for (int x = -1; x <= 1; ++x) set(lesions.mask, x, y, z, 1);
    Lesion l;
    l.id = 1;
    l.topArcMm = 60.5;
    l.bottomArcMm = 70.5;
    l.lengthMm = 10;
    lesionMetrics.push_back(l);
  }

  Mask::Pointer maskLike() const {
    auto m = Mask::New();
    m->CopyInformation(volume.image);
    m->SetRegions(volume.image->GetLargestPossibleRegion());
    m->Allocate();
    m->FillBuffer(0);
    return m;
  }
  void set(Mask* mask, int x, int y, int z, unsigned char value) const {
    Mask::PointType p;
    p[0] = x;
    p[1] = y;
    p[2] = z;
    Mask::IndexType index;
    ASSERT_TRUE(mask->TransformPhysicalPointToIndex(p, index));
    mask->SetPixel(index, value);
  }
  // Sections whose arc lies in [from, to).
  template <class F>
  void forArcs(double from, double to, F change) {
    for (CrossSection& s : cord.sections)
      if (s.arcMm >= from && s.arcMm < to) change(s);
  }

  QualityInputs inputs() const {
    QualityInputs in;
    in.volume = &volume;
    in.cord = &cord;
    in.landmarks = &landmarks;
    in.vertebrae = &vertebrae;
    in.lesions = &lesions;
    in.lesionMetrics = &lesionMetrics;
    return in;
  }
  QualityReport assess(const QualityOptions& o = {}) const { return assessQuality(inputs(), o); }
};

TEST(Quality, HealthyAnalysisPasses) {
  const Synthetic s;
  const QualityReport r = s.assess();
  EXPECT_ONLY(r, Verdict::Pass);
  // The measures judged, against the construction.
  EXPECT_DOUBLE_EQ(r.measures.at("measured_fraction"), 1.0);
  EXPECT_DOUBLE_EQ(r.measures.at("longest_interpolated_mm"), 0.0);
  EXPECT_DOUBLE_EQ(r.measures.at("median_area_mm2"), 70.0);
  EXPECT_DOUBLE_EQ(r.measures.at("median_ap_mm"), 7.0);
  EXPECT_DOUBLE_EQ(r.measures.at("median_rl_mm"), 12.5);
  EXPECT_NEAR(r.measures.at("median_canal_to_cord_area"), 200.0 / 70, 1e-9);
  EXPECT_DOUBLE_EQ(r.measures.at("no_csf_fraction"), 0.0);
  EXPECT_NEAR(r.measures.at("longest_centre_step_mm"), kStep, 1e-9);
  EXPECT_NEAR(r.measures.at("sharpest_turn_deg"), 0.0, 1e-6);
  EXPECT_DOUBLE_EQ(r.measures.at("image_above_cord_top_mm"), 40.0);
  EXPECT_NEAR(r.measures.at("cord_top_below_foramen_magnum_mm"), 7.0, 1e-9);
  EXPECT_NEAR(r.measures.at("largest_level_height_ratio"), 19.0 / 17.0,
              1e-9);  // C7 17 mm, T1 19 mm
  EXPECT_DOUBLE_EQ(r.measures.at("lesion_outside_cord_fraction"), 0.0);
  EXPECT_EQ(r.headline(), "pass");
  EXPECT_EQ(r.codes(), "");
}

TEST(Quality, NoCordFails) {
  Synthetic s;
  s.cord.found = false;
  s.cord.sections.clear();
  s.cord.failure = "no spinal cord found: no CSF-lined tube of cord size runs through the image";
  const QualityReport r = s.assess();
  EXPECT_ONLY(r, Verdict::Fail, "cord_not_found");
  EXPECT_EQ(r.reasons[0].message, s.cord.failure);
  QualityInputs nothing;
  EXPECT_ONLY(assessQuality(nothing), Verdict::Fail, "cord_not_found");
}

TEST(Quality, InterpolatedOutlines) {
  Synthetic s;
  // Every third outline interpolated: 67 % measured, no long gap.
  for (std::size_t i = 0; i < s.cord.sections.size(); i += 3) s.cord.sections[i].measured = false;
  QualityInputs in = s.inputs();
  in.lesions = nullptr;  // the lesion would sit on interpolated outlines too
  EXPECT_ONLY(assessQuality(in), Verdict::Check, "cord_mostly_interpolated");
  // Two of three: 33 %.
  for (std::size_t i = 0; i < s.cord.sections.size(); ++i) s.cord.sections[i].measured = i % 3 == 1;
  EXPECT_ONLY(assessQuality(in), Verdict::Fail, "cord_mostly_interpolated");
}

TEST(Quality, LongRunOfInterpolatedOutlines) {
  Synthetic s;
  s.forArcs(100, 115, [](CrossSection& c) { c.measured = false; });  // 15 mm
  EXPECT_ONLY(s.assess(), Verdict::Check, "cord_outline_gap");
  EXPECT_DOUBLE_EQ(s.assess().measures.at("longest_interpolated_mm"), 15.0);
  s.forArcs(100, 142, [](CrossSection& c) { c.measured = false; });  // 42 mm, still 79 % measured
  EXPECT_ONLY(s.assess(), Verdict::Fail, "cord_outline_gap");
  s = Synthetic();
  s.forArcs(100, 110,
            [](CrossSection& c) { c.measured = false; });  // 10 mm: an ordinary interpolation
  EXPECT_ONLY(s.assess(), Verdict::Pass);
}

TEST(Quality, CentreJumpFails) {
  Synthetic s;
  s.forArcs(100, 1e9, [](CrossSection& c) { c.centre[0] += 6; });  // the lower half 6 mm aside
  const QualityReport r = s.assess();
  EXPECT_EQ(r.verdict, Verdict::Fail) << describe(r);
  EXPECT_TRUE(has(r, "cord_discontinuous", Verdict::Fail)) << describe(r);
  EXPECT_NEAR(r.measures.at("longest_centre_step_mm"), std::hypot(6.0, kStep), 1e-9);
}

TEST(Quality, KinkedCourse) {
  // Below 100 mm the cord runs on at `degrees` from its course above.
  const auto bent = [](double degrees) {
    Synthetic s;
    const double a = degrees * kPi / 180;
    s.forArcs(100, 1e9, [&](CrossSection& c) {
      c.centre = Vec3{0, 0, -100} + (c.arcMm - 100) * Vec3{std::sin(a), 0, -std::cos(a)};
      c.tangent = {std::sin(a), 0, -std::cos(a)};
    });
    return s.assess();
  };
  const QualityReport sharp = bent(40);
  EXPECT_ONLY(sharp, Verdict::Check, "cord_kinked");
  EXPECT_NEAR(sharp.measures.at("sharpest_turn_deg"), 40.0, 1e-6);
  EXPECT_ONLY(bent(20),
              Verdict::Pass);  // a bend a cord can make (severe kyphosis spreads over more)
}

TEST(Quality, ImplausibleCrossSections) {
  const auto with = [](double area, double ap, double rl) {
    Synthetic s;
    for (CrossSection& c : s.cord.sections) {
      c.areaMm2 = area;
      c.apMm = ap;
      c.rlMm = rl;
      c.canalAreaMm2 =
          std::max(c.canalAreaMm2, 2 * area);  // keep a CSF ring: only the size is at fault
    }
    return s.assess();
  };
  EXPECT_ONLY(with(25, 5, 8), Verdict::Check,
              "cord_area_implausible");  // smaller than any adult cord
  EXPECT_ONLY(with(10, 3, 5), Verdict::Fail, "cord_area_implausible", "cord_diameter_implausible");
  EXPECT_ONLY(with(70, 11, 12), Verdict::Check, "cord_diameter_implausible");  // AP beyond adults
  EXPECT_ONLY(with(70, 7, 5), Verdict::Check, "cord_diameter_implausible");    // RL below adults
  // A "cord" the size of the dural sac: everything fails, and every station is oversized.
  const QualityReport sac = with(300, 15, 21);
  EXPECT_EQ(sac.verdict, Verdict::Fail) << describe(sac);
  EXPECT_TRUE(has(sac, "cord_area_implausible", Verdict::Fail)) << describe(sac);
  EXPECT_TRUE(has(sac, "cord_diameter_implausible", Verdict::Fail)) << describe(sac);
  EXPECT_TRUE(has(sac, "cord_locally_oversized", Verdict::Check)) << describe(sac);
  // A compressed cord (AP 4.5, area 45 over half its length) is a finding, not a fault.
  Synthetic compressed;
  compressed.forArcs(60, 160, [](CrossSection& c) {
    c.areaMm2 = 45;
    c.apMm = 4.5;
  });
  EXPECT_ONLY(compressed.assess(), Verdict::Pass);
}

TEST(Quality, OversizedStretch) {
  Synthetic s;
  s.forArcs(100, 110, [](CrossSection& c) {
    c.areaMm2 = 300;
    c.canalAreaMm2 = 400;
  });
  const QualityReport r = s.assess();
  EXPECT_ONLY(r, Verdict::Check, "cord_locally_oversized");
  EXPECT_DOUBLE_EQ(r.measures.at("longest_oversized_mm"), 10.0);
  s = Synthetic();
  s.forArcs(100, 104, [](CrossSection& c) { c.apMm = 14; });  // 4 mm: below the stretch length
  EXPECT_ONLY(s.assess(), Verdict::Pass);
}

TEST(Quality, NoCsfAroundTheCord) {
  const auto without = [](int tenths) {
    Synthetic s;
    for (std::size_t i = 0; i < s.cord.sections.size(); ++i)
      if (static_cast<int>(i % 10) < tenths)
        s.cord.sections[i].canalAreaMm2 = s.cord.sections[i].areaMm2;
    return s.assess();
  };
  EXPECT_ONLY(without(2), Verdict::Pass);  // stenosis at its levels
  EXPECT_ONLY(without(3), Verdict::Check, "cord_outside_canal");
  EXPECT_ONLY(without(6), Verdict::Fail, "cord_outside_canal");
}

TEST(Quality, CordTopNotAtTheMedulla) {
  Synthetic s;
  s.cord.topIsJunction = false;
  s.landmarks = {};  // no bony foramen magnum either
  EXPECT_ONLY(s.assess(), Verdict::Check, "cord_not_reaching_medulla");
  // The bony foramen magnum 7 mm above the top says the top is the junction, recognised or not.
  Synthetic unrecognised;
  unrecognised.cord.topIsJunction = false;
  EXPECT_ONLY(unrecognised.assess(), Verdict::Pass);
  // An image that ends 10 mm above the cord's top: the top is the field of view's, not a fault.
  Synthetic cropped(10);
  cropped.cord.topIsJunction = false;
  cropped.landmarks = {};
  EXPECT_ONLY(cropped.assess(), Verdict::Pass);
  EXPECT_DOUBLE_EQ(cropped.assess().measures.at("image_above_cord_top_mm"), 10.0);

  // The bony foramen magnum 30 mm above the cord's top (the top recognised as a junction or not):
  // the upper cord is missing, and the names anchored below disagree with it.
  Synthetic low;
  low.landmarks.basion = Vec3{0, -10, 31};
  low.landmarks.opisthion = Vec3{0, 25, 29};
  const QualityReport r = low.assess();
  EXPECT_EQ(r.verdict, Verdict::Check) << describe(r);
  EXPECT_TRUE(has(r, "cord_not_reaching_medulla", Verdict::Check)) << describe(r);
  EXPECT_NEAR(r.measures.at("cord_top_below_foramen_magnum_mm"), 30.0, 1e-9);
  // ... and 30 mm below it: the medulla was kept as cord.
  Synthetic high;
  high.landmarks.basion = Vec3{0, -10, -29};
  high.landmarks.opisthion = Vec3{0, 25, -31};
  const QualityReport h = high.assess();
  EXPECT_TRUE(has(h, "cord_top_in_brainstem", Verdict::Check)) << describe(h);
}

TEST(Quality, DiscsMissingOrNotNamed) {
  Synthetic none;
  none.vertebrae.discs.clear();
  none.vertebrae.levels.clear();
  none.vertebrae.named = false;
  none.vertebrae.anchor.clear();
  EXPECT_ONLY(none.assess(), Verdict::Check, "no_discs_found");

  Synthetic unnamed;
  unnamed.vertebrae.named = false;
  unnamed.vertebrae.anchor.clear();
  unnamed.vertebrae.levels.clear();
  for (Disc& d : unnamed.vertebrae.discs) {
    d.lowerVertebra = 0;
    d.name.clear();
  }
  const QualityReport r = unnamed.assess();
  EXPECT_ONLY(r, Verdict::Check, "levels_not_named");
  EXPECT_NE(r.reasons[0].message.find("10 discs were found"), std::string::npos)
      << r.reasons[0].message;
  EXPECT_EQ(r.headline().rfind("check - levels not named: 10 discs", 0), 0u) << r.headline();

  Synthetic fallback;
  fallback.vertebrae.anchor = "foramen magnum";
  fallback.vertebrae.discs.erase(fallback.vertebrae.discs.begin());  // no dens base without it
  EXPECT_ONLY(fallback.assess(), Verdict::Check, "levels_named_from_fallback");
}

TEST(Quality, DiscSpacing) {
  // Everything from C4-C5 down `by` mm lower: the C4 level (C4-C5 to C5-C6 stays) is C3-C4 to
  // C4-C5.
  const auto shifted = [](double by) {
    Synthetic s;
    for (Disc& d : s.vertebrae.discs)
      if (d.lowerVertebra >= 5) d.arcMm += by;
    return s;
  };
  // C4 level 33 mm: a missed disc, or fused vertebrae.
  EXPECT_ONLY(shifted(16).assess(), Verdict::Check, "disc_spacing_implausible");
  EXPECT_ONLY(shifted(26).assess(), Verdict::Fail, "disc_spacing_implausible");  // 43 mm
  // C3-C4 6 mm below C2-C3: two lines found in one vertebra.
  Synthetic doubled;
  doubled.vertebrae.discs[2].arcMm = doubled.vertebrae.discs[1].arcMm + 6;
  const QualityReport r = doubled.assess();
  EXPECT_EQ(r.verdict, Verdict::Fail) << describe(r);
  EXPECT_TRUE(has(r, "disc_spacing_implausible", Verdict::Fail)) << describe(r);
  // C3 14 mm, C4 20 mm: each plausible, together not (ratio 1.43).
  Synthetic uneven;
  uneven.vertebrae.discs[2].arcMm = 52;
  EXPECT_ONLY(uneven.assess(), Verdict::Check, "disc_spacing_inconsistent");
  EXPECT_NEAR(uneven.assess().measures.at("largest_level_height_ratio"), 20.0 / 14.0, 1e-9);
  // 15 and 19 mm (ratio 1.27) is ordinary.
  Synthetic ordinary;
  ordinary.vertebrae.discs[2].arcMm = 53;
  EXPECT_ONLY(ordinary.assess(), Verdict::Pass);
  // Unnamed discs are judged by consecutive spacing too.
  Synthetic unnamed = shifted(26);
  unnamed.vertebrae.named = false;
  unnamed.vertebrae.anchor.clear();
  for (Disc& d : unnamed.vertebrae.discs) d.lowerVertebra = 0;
  const QualityReport u = unnamed.assess();
  EXPECT_TRUE(has(u, "disc_spacing_implausible", Verdict::Fail)) << describe(u);
  EXPECT_TRUE(has(u, "levels_not_named", Verdict::Check)) << describe(u);
}

TEST(Quality, IndependentAnchorsDisagree) {
  // The names rest on a given C2-C3; the dens base found on the image says C2-C3 lies 8-35 mm
  // below it: 38 mm below a dens base at the cord's top, either is wrong.
  Synthetic given;
  given.vertebrae.anchor = "c2c3 given";
  given.landmarks.densBase = Vec3{0, -5, 0};
  const QualityReport r = given.assess();
  EXPECT_ONLY(r, Verdict::Check, "level_anchors_disagree");
  EXPECT_EQ(r.reasons[0].message,
            "level names and the dens base disagree: C2-C3 is named 38 mm below it, where that "
            "landmark puts it 8-35 mm below: either the names are one level off or the landmark "
            "was found in the wrong place; check both on the image");
  // The anchor that named them is not checked against itself.
  Synthetic self = given;
  self.vertebrae.anchor = "dens base";
  EXPECT_ONLY(self.assess(), Verdict::Pass);
  // The bony foramen magnum is independent of the cord's top that stands for it in the fallback:
  // 30 mm below a foramen magnum 7 mm above the top, C2-C3 is 15 mm below it (adults 30-58).
  Synthetic fallback;
  fallback.vertebrae.anchor = "foramen magnum";
  fallback.vertebrae.discs.erase(fallback.vertebrae.discs.begin());
  fallback.landmarks.densBase.reset();
  for (Disc& d : fallback.vertebrae.discs) d.arcMm -= 30;  // every name one level up
  const QualityReport up = fallback.assess();
  EXPECT_TRUE(has(up, "level_anchors_disagree", Verdict::Check)) << describe(up);
  EXPECT_NE(
      up.reasons.back().message.find("C2-C3 is named 15 mm below it, where that landmark puts it "
                                     "30-58 mm below"),
      std::string::npos)
      << describe(up);
  // An anchor from elsewhere (the lead's T1 from the first rib, say) through QualityInputs: the
  // first rib at 130 mm puts C7-T1 10-20 mm above it; it is named 7 mm above it.
  Synthetic s;
  QualityInputs in = s.inputs();
  in.anchorExpectations.push_back({"first rib", 130, 8, -20, -10});
  const QualityReport rib = assessQuality(in);
  EXPECT_ONLY(rib, Verdict::Check, "level_anchors_disagree");
  EXPECT_NE(rib.reasons[0].message.find("C7-T1 is named 7 mm above it, where that landmark puts it "
                                        "10-20 mm above"),
            std::string::npos)
      << rib.reasons[0].message;
  in.anchorExpectations[0] = {"first rib", 130, 8, -10, 0};
  EXPECT_ONLY(assessQuality(in), Verdict::Pass);
}

TEST(Quality, LesionOutsideTheCord) {
  const auto outside = [](int slices) {  // the cord mask removed from the lesion's top `slices` mm
    Synthetic s;
    for (int z = -61 - slices + 1; z <= -61; ++z)
      for (int y = -1; y <= 1; ++y)
        for (int x = -1; x <= 1; ++x) s.set(s.cord.cord, x, y, z, 0);
    return s.assess();
  };
  EXPECT_ONLY(outside(1), Verdict::Check, "lesion_outside_cord");  // 10 % of its voxels
  const QualityReport r = outside(3);                              // 30 %
  EXPECT_ONLY(r, Verdict::Fail, "lesion_outside_cord");
  EXPECT_NEAR(r.measures.at("lesion_outside_cord_fraction"), 0.3, 1e-9);

  Synthetic beyond;
  beyond.lesionMetrics[0].topArcMm = -10;
  beyond.lesionMetrics[0].bottomArcMm = 5;
  beyond.lesionMetrics[0].lengthMm = 15;
  EXPECT_ONLY(beyond.assess(), Verdict::Check, "lesion_outside_cord");
  Synthetic longer;
  longer.lesionMetrics[0].topArcMm = 0;
  longer.lesionMetrics[0].bottomArcMm = 230;
  longer.lesionMetrics[0].lengthMm = 230;
  EXPECT_ONLY(longer.assess(), Verdict::Fail, "lesion_longer_than_cord");
}

TEST(Quality, LesionOnInterpolatedOutline) {
  Synthetic s;
  s.forArcs(60, 71,
            [](CrossSection& c) { c.measured = false; });  // 11 mm: no gap reason of its own
  EXPECT_ONLY(s.assess(), Verdict::Check, "lesion_on_interpolated_cord");
  Synthetic partly;
  partly.forArcs(60, 62, [](CrossSection& c) { c.measured = false; });  // 2 of its 10 mm
  EXPECT_ONLY(partly.assess(), Verdict::Pass);
}

// A faint signal the lesion segmentation pointed out (away from the lesions it found) is a check,
// named by its levels when the discs are named, with its strength among the measures.
TEST(Quality, FaintCordSignalIsACheck) {
  Synthetic s;
  s.lesions.faint = {{100, 124, "dorsal", 0.12, 11.0}};
  const QualityReport r = s.assess();
  EXPECT_ONLY(r, Verdict::Check, "faint_cord_signal");
  EXPECT_NE(r.reasons.front().message.find("dorsal cord at C"), std::string::npos)
      << r.reasons.front().message;
  EXPECT_DOUBLE_EQ(r.measures.at("faint_signal_standard_errors"), 11.0);
}

TEST(Quality, SelfAssessmentsAreRead) {
  const Synthetic s;
  QualityInputs in = s.inputs();
  in.cordSelf.confidence = 0.4;
  EXPECT_ONLY(assessQuality(in), Verdict::Check, "cord_low_confidence");
  in.cordSelf.confidence = 0.1;
  EXPECT_ONLY(assessQuality(in), Verdict::Fail, "cord_low_confidence");
  in.cordSelf = {0.9, {"the outline leaves the canal at C5"}};
  const QualityReport doubt = assessQuality(in);
  EXPECT_ONLY(doubt, Verdict::Check, "cord_doubt");
  EXPECT_NE(doubt.reasons[0].message.find("leaves the canal at C5"), std::string::npos);
  EXPECT_DOUBLE_EQ(doubt.measures.at("cord_confidence"), 0.9);
  in.cordSelf = {};
  in.namingSelf = {0.3, {"dens base and disc count disagree by one level"}};
  EXPECT_ONLY(assessQuality(in), Verdict::Check, "naming_low_confidence", "naming_doubt");
}

TEST(Quality, ReportOrderHeadlineAndJson) {
  Synthetic s;
  s.vertebrae.anchor = "foramen magnum";
  s.vertebrae.discs.erase(s.vertebrae.discs.begin());
  s.forArcs(0, 1e9, [](CrossSection& c) { c.canalAreaMm2 = c.areaMm2; });  // no CSF anywhere: fail
  const QualityReport r = s.assess();
  // The fail first, whatever the order checked.
  EXPECT_ONLY(r, Verdict::Fail, "cord_outside_canal", "levels_named_from_fallback");
  EXPECT_EQ(r.codes(), "cord_outside_canal;levels_named_from_fallback");
  EXPECT_EQ(r.headline().rfind("fail - no CSF around the cord over 100 % of its length", 0), 0u)
      << r.headline();
  EXPECT_NE(r.headline().find("(+1 more in report.json)"), std::string::npos) << r.headline();
  const nlohmann::json j = r;
  EXPECT_EQ(j["verdict"], "fail");
  ASSERT_EQ(j["reasons"].size(), 2u);
  EXPECT_EQ(j["reasons"][0]["code"], "cord_outside_canal");
  EXPECT_EQ(j["reasons"][0]["severity"], "fail");
  EXPECT_EQ(j["reasons"][1]["severity"], "check");
  EXPECT_DOUBLE_EQ(j["measures"]["no_csf_fraction"].get<double>(), 1.0);
  // A limit is an option: a stricter reader can ask for more CSF.
  QualityOptions strict;
  strict.csfRingFactor = 3.0;  // 200 / 70 = 2.86 is then "no CSF"
  EXPECT_EQ(Synthetic().assess(strict).verdict, Verdict::Fail);
}

// The cord against its CSF, in units of the noise: cord 300, CSF 900 (a canal of radius 7 mm
// round the cord of radius 4 mm), Gaussian noise of known sigma everywhere. The measure must
// recover 600 / sigma, and grade it.
TEST(Quality, CordContrastIsMeasuredInUnitsOfTheNoise) {
  for (const double sigma : {20.0, 200.0, 1000.0}) {
    Synthetic s;
    s.cord.canal = s.maskLike();
    for (int z = -static_cast<int>(kCordLength); z <= 0; ++z)
      for (int y = -7; y <= 7; ++y)
        for (int x = -7; x <= 7; ++x)
          if (x * x + y * y <= 49) s.set(s.cord.canal, x, y, z, 1);
    std::mt19937 random(5);
    std::normal_distribution<float> noise(0.0f, static_cast<float>(sigma));
    itk::ImageRegionIteratorWithIndex<Image> it(s.volume.image,
                                                s.volume.image->GetBufferedRegion());
    for (; !it.IsAtEnd(); ++it) {
      const float base = s.cord.cord->GetPixel(it.GetIndex())    ? 300.0f
                         : s.cord.canal->GetPixel(it.GetIndex()) ? 900.0f
                                                                 : 100.0f;
      it.Set(base + noise(random));
    }
    const QualityReport r = s.assess();
    const double measured = r.measures.at("cord_csf_contrast_to_noise");
    std::cout << "[ sigma " << sigma << " ] contrast/noise " << measured << " (truth "
              << 600 / sigma << "), " << describe(r) << "\n";
    EXPECT_NEAR(measured, 600 / sigma, 0.1 * 600 / sigma);
    if (sigma == 20.0) EXPECT_ONLY(r, Verdict::Pass);
    if (sigma == 200.0) EXPECT_ONLY(r, Verdict::Check, "cord_contrast_low");
    if (sigma == 1000.0) EXPECT_ONLY(r, Verdict::Fail, "cord_contrast_low");
  }
}

// Slices further apart than they are thick (the image's 1 mm slice spacing against the
// metadata's thickness): a third of the anatomy unimaged is a check; a usual gap, or no thickness
// known, is nothing.
TEST(Quality, SliceGaps) {
  Synthetic s;
  s.volume.meta.sliceThicknessMm = 0.5;
  const QualityReport gapped = s.assess();
  EXPECT_ONLY(gapped, Verdict::Check, "slice_gaps");
  EXPECT_DOUBLE_EQ(gapped.measures.at("slice_spacing_to_thickness"), 2.0);
  EXPECT_NE(gapped.reasons.front().message.find("1.0 mm apart but 0.5 mm thick: 50 %"),
            std::string::npos)
      << describe(gapped);
  s.volume.meta.sliceThicknessMm = 0.8;  // a 25 % gap: a usual protocol
  EXPECT_ONLY(s.assess(), Verdict::Pass);
  s.volume.meta.sliceThicknessMm.reset();
  EXPECT_ONLY(s.assess(), Verdict::Pass);
}

// ---- The real pipeline ----

struct Analysed {
  CordSegmentation cord;
  CraniocervicalLandmarks landmarks;
  VertebralLabels vertebrae;
  LesionSegmentation lesions;
  std::vector<Lesion> lesionMetrics;
  QualityReport quality;
};

// As `cordscope analyze` runs it.
Analysed analyse(const Volume& volume) {
  Analysed a;
  a.cord = segmentCord(volume);
  a.landmarks = findCraniocervical(volume, a.cord);
  VertebraeOptions vertebrae;
  vertebrae.densBase = a.landmarks.densBase;
  a.vertebrae = labelVertebrae(volume, a.cord, vertebrae);
  a.lesions = segmentLesions(volume, a.cord);
  a.lesionMetrics = measureLesions(a.lesions, a.cord, a.vertebrae);
  QualityInputs in;
  in.volume = &volume;
  in.cord = &a.cord;
  in.landmarks = &a.landmarks;
  in.vertebrae = &a.vertebrae;
  in.lesions = &a.lesions;
  in.lesionMetrics = &a.lesionMetrics;
  if (a.cord.confidence) in.cordSelf = {a.cord.confidence, a.cord.doubts};
  a.quality = assessQuality(in);
  return a;
}

// Phantoms the analysis measures correctly against their truth (tests/segmentation,
// tests/measurement): no check may fire on them - a healthy one, lesions, a compressed cord.
TEST(Quality, PhantomsPass) {
  PhantomOptions healthy;
  PhantomOptions lesions;
  lesions.seed = 7;
  lesions.lesions = {{3, 5, "dorsal", 0.6}, {7, 8, "central", 0.6}};
  PhantomOptions compressed;
  compressed.seed = 9;
  compressed.compressions = {{5, 0.5}};
  compressed.lordosisMm = 14;
  for (const auto& [name, options] :
       {std::pair{"default", healthy}, std::pair{"two lesions", lesions},
        std::pair{"C5 compressed to 0.5, lordosis 14 mm", compressed}}) {
    const PhantomStudy study = makePhantom(options);
    const Analysed a = analyse(study.volume);
    EXPECT_ONLY(a.quality, Verdict::Pass);
    std::cout << "[ " << name << " ] quality " << toString(a.quality.verdict) << ", measured "
              << a.quality.measures.at("measured_fraction") << ", median area "
              << a.quality.measures.at("median_area_mm2") << " mm2 (truth C3 "
              << study.truth["cord"]["levels"][2]["csa_mm2"] << ")\n";
  }
}

// Real scans with reference cord masks: where the segmentation matches its reference (Dice at
// least 0.8) the verdict is never fail; where it misses it (Dice below 0.5: the thick-slice axial
// MT scans until the axial ring detector, 0.00 and 0.02) it is never pass - the silently wrong
// success this module exists to stop.
TEST(Quality, RealScansAgreeWithTheirReferenceMasks) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  struct Case {
    const char *image, *reference;
  } cases[] = {
      {"real/sct-t2/t2.nii.gz", "real/sct-t2/t2_seg-manual.nii.gz"},
      {"real/sct-t2-lesion/t2_lesion.nii.gz", "real/sct-t2-lesion/t2_lesion_seg-cord.nii.gz"},
      {"real/pam50-small/PAM50_small_t2.nii.gz", "real/pam50-small/PAM50_small_cord.nii.gz"},
      {"real/sct-mt-axial/mt0.nii.gz", "real/sct-mt-axial/mt0_seg.nii.gz"},
      {"real/sct-mt-axial/mt1.nii.gz", "real/sct-mt-axial/mt1_seg.nii.gz"}};
  int judged = 0;
  for (const Case& c : cases) {
    const Volume volume = readNifti((data / c.image).string());
    const Analysed a = analyse(volume);
    const Mask::Pointer reference = readMask((data / c.reference).string());
    const double dice = test::dice(a.cord.cord.GetPointer(), reference.GetPointer());
    std::cout << "[ " << c.image << " ] Dice " << dice << ", quality " << describe(a.quality)
              << "\n";
    if (dice >= 0.8) {
      EXPECT_NE(a.quality.verdict, Verdict::Fail)
          << c.image << " Dice " << dice << ": " << describe(a.quality);
      ++judged;
    } else if (dice < 0.5) {
      EXPECT_NE(a.quality.verdict, Verdict::Pass)
          << c.image << " Dice " << dice << ": " << describe(a.quality);
      ++judged;
    }
  }
  EXPECT_GE(judged, 4);
}

// The whole PAM50 template runs from the brainstem to L2 and holds no lesion. Below its cord's
// end (the conus) the outline follows the cauda equina's roots, brighter than a cord, and a 74 mm
// "lesion" T12-L2 came out with a pass. Whatever is reported there must be a check.
TEST(Quality, LesionBelowTheConusIsACheck) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  const Analysed a = analyse(readNifti((data / "real/pam50-small/PAM50_small_t2.nii.gz").string()));
  std::cout << "[ pam50 whole template ] " << a.lesionMetrics.size() << " lesions, "
            << describe(a.quality) << "\n";
  for (const Lesion& l : a.lesionMetrics) {
    ASSERT_TRUE(l.bottomLevel.has_value()) << "levels are named on PAM50";
    if (*l.bottomLevel >= 20) {
      EXPECT_TRUE(has(a.quality, "lesion_below_conus", Verdict::Check)) << describe(a.quality);
    }
  }
  if (!a.lesionMetrics.empty()) {
    EXPECT_NE(a.quality.verdict, Verdict::Pass) << "a lesion on a lesion-free template";
  }
}

// Volumes of pure noise, sagittal and axial: whatever "cord" the segmenters pick in them (the
// darkest tube in a brighter ring exists in any noise), the verdict is fail - it was a 46-49 mm
// cord with ADI "subluxation" and exit 0 (issue 23).
TEST(Quality, PureNoiseIsNoCord) {
  for (const bool sagittal : {true, false}) {
    Volume volume;
    volume.image = Image::New();
    Image::SizeType size{{320, 320, 12}};
    Image::SpacingType spacing;
    spacing[0] = spacing[1] = 0.8;
    spacing[2] = 3.0;
    if (sagittal) {
      size = {{12, 320, 320}};
      spacing[0] = 3.0;
      spacing[2] = 0.8;
    }
    volume.image->SetRegions(size);
    volume.image->SetSpacing(spacing);
    volume.image->Allocate();
    std::mt19937 random(sagittal ? 1 : 2);
    std::normal_distribution<float> noise(500.0f, 100.0f);
    itk::ImageRegionIteratorWithIndex<Image> it(volume.image, volume.image->GetBufferedRegion());
    for (; !it.IsAtEnd(); ++it) it.Set(std::max(0.0f, noise(random)));
    const Analysed a = analyse(volume);
    std::cout << "[ noise, " << (sagittal ? "sagittal" : "axial") << " ] found " << a.cord.found
              << ", " << describe(a.quality) << "\n";
    EXPECT_EQ(a.quality.verdict, Verdict::Fail) << describe(a.quality);
    if (a.cord.found) {
      EXPECT_TRUE(has(a.quality, "cord_contrast_low", Verdict::Fail));
    }
  }
}

// An axial slab in which no cord can be seen (the real MT slab with every slice replaced by a
// smooth ramp): whatever the segmenter returns, the verdict is never pass.
TEST(Quality, AxialSlabWithoutACordIsNotPassed) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  Volume volume = readNifti((data / "real/sct-mt-axial/mt0.nii.gz").string());
  itk::ImageRegionIteratorWithIndex<Image> it(volume.image, volume.image->GetBufferedRegion());
  for (; !it.IsAtEnd(); ++it)
    it.Set(200.0f + 3.0f * static_cast<float>(it.GetIndex()[0]) +
           2.0f * static_cast<float>(it.GetIndex()[1]));
  const Analysed a = analyse(volume);
  std::cout << "[ ramp slab ] found " << a.cord.found << ", quality " << describe(a.quality)
            << "\n";
  EXPECT_NE(a.quality.verdict, Verdict::Pass) << describe(a.quality);
}

}  // namespace
}  // namespace cordscope
