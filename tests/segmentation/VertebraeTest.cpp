// Discs and vertebral levels (issue 5) against expert labels (../shared/data) and phantom truth.
// The numbers printed are the ones quoted in the issue notes.
#include <gtest/gtest.h>
#include <itkImageRegionConstIteratorWithIndex.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "TestSupport.h"
#include "data/Error.h"
#include "data/Input.h"
#include "data/Levels.h"
#include "data/Nifti.h"
#include "data/Phantom.h"
#include "segmentation/Craniocervical.h"
#include "segmentation/Vertebrae.h"

namespace cordscope {
namespace {

struct DiscErrors {
  std::vector<double> errors;  // |arc error|, mm, per truth disc named by us
  std::vector<std::string> missing;
  double median() const {
    std::vector<double> e(errors);
    if (e.empty()) return 1e9;
    std::nth_element(e.begin(), e.begin() + e.size() / 2, e.end());
    return e[e.size() / 2];
  }
  double max() const {
    return errors.empty() ? 1e9 : *std::max_element(errors.begin(), errors.end());
  }
};

// Truth discs (label = lower vertebra, LPS) against ours, along the cord.
DiscErrors compareDiscs(const std::vector<std::pair<int, Vec3>>& truth, const VertebralLabels& ours,
                        const CordSegmentation& cord, const std::string& name) {
  DiscErrors out;
  std::cout << "[ " << name << " ]";
  for (const auto& [label, position] : truth) {
    // Only discs beside the cord in view can be named.
    const double truthArc = arcAlongCord(cord.sections, position);
    if (truthArc < 0 || truthArc > cord.sections.back().arcMm) continue;
    const auto it = std::find_if(ours.discs.begin(), ours.discs.end(),
                                 [&](const Disc& d) { return d.lowerVertebra == label; });
    if (it == ours.discs.end()) {
      out.missing.push_back(discName(label));
      std::cout << " " << discName(label) << " missing";
      continue;
    }
    const double error = it->arcMm - truthArc;
    out.errors.push_back(std::abs(error));
    std::cout << " " << discName(label) << " " << error;
  }
  std::cout << " | median " << out.median() << " max " << out.max() << " mm\n";
  return out;
}

std::vector<std::pair<int, Vec3>> phantomDiscs(const nlohmann::json& truth) {
  std::vector<std::pair<int, Vec3>> discs;
  for (const auto& d : truth.at("discs")) {
    const std::string name = d.at("name");
    const auto& p = d.at("position_ras_mm");
    discs.emplace_back(parseLevel(name.substr(name.find('-') + 1)),
                       Vec3{-p[0].get<double>(), -p[1].get<double>(), p[2].get<double>()});
  }
  return discs;
}

// Fraction of the reference's labelled voxels that carry the same level in ours (bothLabelled:
// only over the voxels ours labels too - naming alone, without the cord mask's coverage).
template <class Reference>
double levelAgreement(const Reference* reference, const Mask* ours, bool bothLabelled = false) {
  long total = 0, same = 0;
  itk::ImageRegionConstIteratorWithIndex<Reference> it(reference, reference->GetBufferedRegion());
  for (; !it.IsAtEnd(); ++it) {
    if (it.Get() == 0) continue;
    if (bothLabelled && ours->GetPixel(it.GetIndex()) == 0) continue;
    ++total;
    same += static_cast<int>(ours->GetPixel(it.GetIndex())) == static_cast<int>(it.Get());
  }
  return total > 0 ? static_cast<double>(same) / total : 0;
}

void expectPhantomDiscs(const PhantomOptions& options, const std::string& name) {
  const PhantomStudy study = makePhantom(options);
  const CordSegmentation cord = segmentCord(study.volume);
  ASSERT_TRUE(cord.found) << name;
  // As the pipeline does: anchored on the dens's base; and without it, on the foramen magnum.
  VertebraeOptions anatomical;
  anatomical.densBase = findCraniocervical(study.volume, cord).densBase;
  for (const VertebraeOptions& labelling : {anatomical, VertebraeOptions{}}) {
    const VertebralLabels labels = labelVertebrae(study.volume, cord, labelling);
    const std::string anchor = labelling.densBase ? "dens base" : "foramen magnum";
    ASSERT_TRUE(labels.named) << name << ": "
                              << (labels.warnings.empty() ? "" : labels.warnings.front());
    EXPECT_EQ(labels.anchor, anchor) << name;
    // Names resting on one anchor (the foramen magnum alone) are never given more than 0.5.
    if (labels.anchors.size() == 1) {
      EXPECT_LE(labels.namingConfidence, 0.5) << name;
    }
    const DiscErrors e =
        compareDiscs(phantomDiscs(study.truth), labels, cord, "phantom " + name + ", " + anchor);
    EXPECT_TRUE(e.missing.empty()) << name;
    EXPECT_LE(e.median(), 3.0) << name;
    EXPECT_LE(e.max(), 5.0) << name;
    const double agreement =
        levelAgreement(study.levels.GetPointer(), labels.levelMap.GetPointer());
    std::cout << "[ phantom " << name << ", " << anchor << " ] level agreement " << agreement
              << "\n";
    EXPECT_GE(agreement, 0.80) << name;  // the issue's floor for sct-t2
  }
  EXPECT_TRUE(anatomical.densBase.has_value()) << name << ": the dens base was not found";
}

TEST(Vertebrae, PhantomDefault) {
  expectPhantomDiscs({}, "default");
}

TEST(Vertebrae, PhantomLordosis) {
  PhantomOptions o;
  o.seed = 2;
  o.lordosisMm = 15;
  expectPhantomDiscs(o, "lordosis 15");
}

TEST(Vertebrae, PhantomKyphoticTilted) {
  PhantomOptions o;
  o.seed = 4;
  o.lordosisMm = -5;
  o.tiltDeg = 10;
  expectPhantomDiscs(o, "kyphotic -5, tilt 10");
}

TEST(Vertebrae, PhantomThickSlices) {
  PhantomOptions o;
  o.seed = 5;
  o.sliceThicknessMm = 4;
  o.slices = 13;
  expectPhantomDiscs(o, "4 mm slices");
}

TEST(Vertebrae, PhantomOtherFieldOfView) {
  PhantomOptions o;
  o.seed = 42;
  o.pixelMm = 0.7;
  o.matrix = 320;
  o.noise = 0.08;
  expectPhantomDiscs(o, "0.7 mm x 320, noisy");
}

// A dorsal lesion from C2 down fills the window the medulla's flare is measured against, so the
// flare came out at 1.57 x the cord instead of 1.6-1.9 x on three of these seeds: the cord ran on
// into the brainstem, the junction and dens were lost and no level was named (issue 18).
TEST(Vertebrae, PhantomLesionFromC2KeepsTheJunction) {
  for (unsigned seed : {1u, 3u, 5u, 6u}) {
    PhantomOptions o;
    o.seed = seed;
    o.lesions.push_back(PhantomLesion{2, 5, "dorsal", 0.6});
    expectPhantomDiscs(o, "seed " + std::to_string(seed) + ", dorsal lesion C2-C5");
  }
}

// A field of view that does not reach the foramen magnum: discs are found but not named, the
// warning says how to name them, and a radiologist's C2-C3 point or disc list names them.
TEST(Vertebrae, CropWithoutAnchorWarnsAndAcceptsGivenDiscs) {
  PhantomOptions o;
  o.seed = 8;
  o.matrix = 256;
  o.pixelMm = 0.8;
  const PhantomStudy study = makePhantom(o);
  const CordSegmentation cord = segmentCord(study.volume);
  ASSERT_TRUE(cord.found);
  const VertebralLabels unnamed = labelVertebrae(study.volume, cord);
  EXPECT_FALSE(unnamed.named);
  ASSERT_FALSE(unnamed.warnings.empty());
  EXPECT_NE(unnamed.warnings.front().find("--c2c3"), std::string::npos);
  EXPECT_GE(unnamed.discs.size(), 5u);  // found, without names
  for (const Disc& d : unnamed.discs) EXPECT_TRUE(d.name.empty());

  const auto truth = phantomDiscs(study.truth);
  VertebraeOptions given;
  given.c2c3 = truth.front().second;  // C2-C3
  const VertebralLabels named = labelVertebrae(study.volume, cord, given);
  ASSERT_TRUE(named.named);
  EXPECT_EQ(named.anchor, "c2c3 given");
  const DiscErrors e = compareDiscs(truth, named, cord, "phantom crop, c2c3 given");
  EXPECT_TRUE(e.missing.empty());
  EXPECT_LE(e.median(), 3.0);

  VertebraeOptions list;
  list.manualDiscs = truth;
  list.manualDiscs.emplace_back(50, truth.front().second);  // an SCT brainstem label: not a disc
  const VertebralLabels listed = labelVertebrae(study.volume, cord, list);
  EXPECT_EQ(listed.anchor, "discs given");
  ASSERT_EQ(listed.warnings.size(), 1u);
  EXPECT_NE(listed.warnings.front().find("50"), std::string::npos);
  EXPECT_EQ(listed.discs.size(), truth.size());
  // The discs are used as given and name the levels between them, in order.
  for (std::size_t k = 0; k < truth.size(); ++k) {
    EXPECT_EQ(listed.discs[k].lowerVertebra, truth[k].first);
    EXPECT_TRUE(listed.discs[k].manual);
    EXPECT_NEAR(norm(listed.discs[k].position - truth[k].second), 0.0, 1e-9);
  }
  ASSERT_GE(listed.levels.size(), truth.size());
  for (std::size_t k = 1; k < listed.levels.size(); ++k)
    EXPECT_EQ(listed.levels[k], listed.levels[k - 1] + 1);
  // Printed, not asserted: where both label the cord, levels from the phantom's disc list agree
  // with its level map on about 86 % of voxels. The list starts at C2-C3 (no C1/C2 junction), so
  // the cord above it - C1 and C2, about 30 mm - is all called C2; below C2-C3 the boundaries
  // match (the phantom's disc centres project onto its level boundaries to 0.05 mm).
  std::cout << "[ phantom crop, discs given ] level agreement where both label "
            << levelAgreement(study.levels.GetPointer(), listed.levelMap.GetPointer(), true)
            << "\n";
}

// PAM50: every disc from the C1/C2 junction to T1-T2 named, within 3 mm (median) and 5 mm (max)
// along the cord of PAM50_small_label_disc.
TEST(Vertebrae, Pam50) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  const Volume volume = loadInput((data / "real/pam50-small/PAM50_small_t2.nii.gz").string());
  const CordSegmentation cord = segmentCord(volume);
  ASSERT_TRUE(cord.found);
  VertebraeOptions options;  // as the pipeline does: anchored on the dens's base
  options.densBase = findCraniocervical(volume, cord).densBase;
  ASSERT_TRUE(options.densBase.has_value());
  const VertebralLabels labels = labelVertebrae(volume, cord, options);
  ASSERT_TRUE(labels.named) << (labels.warnings.empty() ? "" : labels.warnings.front());
  EXPECT_EQ(labels.anchor, "dens base");
  std::vector<std::pair<int, Vec3>> truth;
  for (const auto& d :
       readDiscs((data / "real/pam50-small/PAM50_small_label_disc.nii.gz").string()))
    if (d.first >= 2 && d.first <= 9) truth.push_back(d);
  ASSERT_EQ(truth.size(), 8u);
  const DiscErrors e = compareDiscs(truth, labels, cord, "PAM50 C1/C2..T1-T2");
  EXPECT_TRUE(e.missing.empty());
  EXPECT_LE(e.median(), 3.0);
  EXPECT_LE(e.max(), 5.0);
  // The level map against PAM50_small_levels over C1-T2.
  const Mask::Pointer levels =
      readMask((data / "real/pam50-small/PAM50_small_levels.nii.gz").string());
  long total = 0, same = 0;
  for (std::size_t i = 0; i < levels->GetBufferedRegion().GetNumberOfPixels(); ++i) {
    const int expert = levels->GetBufferPointer()[i];
    if (expert < 1 || expert > 9) continue;
    ++total;
    same += labels.levelMap->GetBufferPointer()[i] == expert;
  }
  std::cout << "[ PAM50 ] level agreement C1-T2 " << static_cast<double>(same) / total << "\n";
  EXPECT_GE(static_cast<double>(same) / total, 0.80);
}

// Given discs that are not this image's (another subject's label file: here PAM50's own discs
// moved 100 mm) are ignored with the reason - they named the levels in silence (issue 23); the
// same discs in place name them.
TEST(Vertebrae, GivenDiscsFarFromTheCordAreNotUsed) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  const Volume volume = loadInput((data / "real/pam50-small/PAM50_small_t2.nii.gz").string());
  const CordSegmentation cord = segmentCord(volume);
  ASSERT_TRUE(cord.found);
  VertebraeOptions inPlace, moved;
  for (const auto& d :
       readDiscs((data / "real/pam50-small/PAM50_small_label_disc.nii.gz").string())) {
    inPlace.manualDiscs.push_back(d);
    moved.manualDiscs.push_back({d.first, d.second + Vec3{0, 100, 0}});
  }
  const VertebralLabels named = labelVertebrae(volume, cord, inPlace);
  EXPECT_TRUE(named.named);
  EXPECT_GE(named.discs.size(), 8u);
  const VertebralLabels far = labelVertebrae(volume, cord, moved);
  EXPECT_FALSE(far.named);
  EXPECT_TRUE(far.discs.empty());
  std::string warnings;
  for (const auto& w : far.warnings) warnings += w + "\n";
  EXPECT_NE(warnings.find("mm from the cord, so it is not a disc of this image"), std::string::npos)
      << warnings;
}

// sct-t2: a 55 mm field that starts inside C2 - no anatomical anchor in view. Without help the
// discs are not named; with the C2-C3 point a radiologist would click (taken here from the
// expert's level boundary), the levels agree with t2_seg-manual_labeled on >= 80 % of its voxels.
TEST(Vertebrae, SctT2WithGivenC2C3) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  const Volume volume = loadInput((data / "real/sct-t2/t2.nii.gz").string());
  const CordSegmentation cord = segmentCord(volume);
  ASSERT_TRUE(cord.found);
  EXPECT_FALSE(labelVertebrae(volume, cord).named);

  const Mask::Pointer expert =
      readMask((data / "real/sct-t2/t2_seg-manual_labeled.nii.gz").string());
  // The C2-C3 boundary: centroid of the level-2 voxels touching level 3.
  Vec3 sum{0, 0, 0};
  int count = 0;
  itk::ImageRegionConstIteratorWithIndex<Mask> it(expert, expert->GetBufferedRegion());
  const auto region = expert->GetBufferedRegion();
  for (; !it.IsAtEnd(); ++it) {
    if (it.Get() != 2) continue;
    bool touches = false;
    for (int axis = 0; axis < 3 && !touches; ++axis)
      for (int step : {-1, 1}) {
        auto n = it.GetIndex();
        n[axis] += step;
        if (region.IsInside(n) && expert->GetPixel(n) == 3) touches = true;
      }
    if (!touches) continue;
    Mask::PointType p;
    expert->TransformIndexToPhysicalPoint(it.GetIndex(), p);
    sum = sum + Vec3{p[0], p[1], p[2]};
    ++count;
  }
  ASSERT_GT(count, 0);
  VertebraeOptions options;
  options.c2c3 = (1.0 / count) * sum;
  const VertebralLabels labels = labelVertebrae(volume, cord, options);
  ASSERT_TRUE(labels.named);
  const double agreement = levelAgreement(expert.GetPointer(), labels.levelMap.GetPointer());
  std::cout << "[ sct-t2, C2-C3 given ] discs";
  for (const Disc& d : labels.discs) std::cout << " " << d.name << "@" << d.arcMm;
  std::cout << "; level agreement " << agreement << "\n";
  EXPECT_GE(agreement, 0.80);
}

TEST(Vertebrae, ReadDiscsFromCsvAndRejectsBadRows) {
  const test::TempDir scratch;
  const auto& dir = scratch.path();
  {
    std::ofstream out(dir / "discs.csv");
    out << "name,x_ras_mm,y_ras_mm,z_ras_mm\nC2-C3,1,2,3\nC7-T1,4,5,-6\n";
  }
  const auto discs = readDiscs((dir / "discs.csv").string());
  ASSERT_EQ(discs.size(), 2u);
  EXPECT_EQ(discs[0].first, 3);
  EXPECT_EQ(discs[1].first, 8);
  EXPECT_DOUBLE_EQ(discs[0].second[0], -1.0);  // RAS -> LPS
  EXPECT_DOUBLE_EQ(discs[1].second[2], -6.0);
  {
    std::ofstream out(dir / "bad.csv");
    out << "C2C3,1,2,3\n";
  }
  EXPECT_THROW(readDiscs((dir / "bad.csv").string()), InputError);
  // NaN and inf would be discs nowhere that still name the levels (issue 23).
  for (const char* row : {"C2-C3,nan,2,3\n", "C2-C3,1,inf,3\n"}) {
    std::ofstream(dir / "nan.csv") << row;
    EXPECT_THROW(readDiscs((dir / "nan.csv").string()), InputError) << row;
  }
}

}  // namespace
}  // namespace cordscope
