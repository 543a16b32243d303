// Craniocervical junction (issue 7): ADI, PADI, the landmarks and the flags against phantom truth
// over a range of subluxations, tilts, noise and slice thicknesses; the real PAM50 template in
// the normal adult range; a field of view without the junction. The numbers printed are the
// ones quoted in the issue notes.
#include <gtest/gtest.h>
#include <itkImageRegionConstIteratorWithIndex.h>

#include <cmath>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>

#include "TestSupport.h"
#include "core/ImageSampler.h"
#include "data/Input.h"
#include "data/Nifti.h"
#include "data/Phantom.h"
#include "measurement/CraniocervicalMetrics.h"

namespace cordscope {
namespace {

CraniocervicalMeasures analyse(const Volume& volume, const CraniocervicalRules& rules = {}) {
  const CordSegmentation cord = segmentCord(volume);
  const VertebralLabels vertebrae = labelVertebrae(volume, cord);
  return measureCraniocervical(findCraniocervical(volume, cord), cord, vertebrae,
                               volume.meta.patientSex, rules);
}

Vec3 lpsOf(const nlohmann::json& ras) {
  return lpsFromRas({ras[0].get<double>(), ras[1].get<double>(), ras[2].get<double>()});
}

struct Case {
  double adi;
  std::optional<double> padi;
  double tilt, noise, slice;
  const char* sex;
};

// Phantoms with ADI 1-12 mm and PADI 8-22 mm, tilted up to 5 degrees, noisy, 3-4 mm slices:
// |ADI error| and |PADI error| <= 1 mm, every atlantodental flag right, landmarks near truth.
TEST(Craniocervical, PhantomSeries) {
  const std::vector<Case> cases = {
      {1.0, std::nullopt, 0, 0.03, 3, "F"}, {2.0, 22, 5, 0.04, 3, "M"},
      {3.5, 16, -5, 0.05, 3, "M"},          {4.5, 13, 3, 0.04, 3, "F"},
      {6.5, 12, -3, 0.05, 3, "M"},          {8.0, 9, 5, 0.04, 3, "F"},
      {9.5, 8, -4, 0.05, 3, "M"},           {12.0, 11, 2, 0.04, 3, "F"},
      {1.5, 20, 0, 0.04, 4, "M"},           {5.0, 18, -2, 0.06, 4, "F"}};
  std::map<std::string, std::vector<double>> landmarkErrors;
  std::vector<double> adiErrors, padiErrors, mcraeErrors, sacErrors, cordErrors;
  for (std::size_t k = 0; k < cases.size(); ++k) {
    const Case& c = cases[k];
    PhantomOptions o;
    o.seed = 300 + static_cast<unsigned>(k);
    o.adiMm = c.adi;
    o.padiMm = c.padi;
    o.tiltDeg = c.tilt;
    o.noise = c.noise;
    o.sliceThicknessMm = c.slice;
    o.sex = c.sex;
    const PhantomStudy study = makePhantom(o);
    const nlohmann::json& truth = study.truth.at("craniocervical");
    const CraniocervicalMeasures m = analyse(study.volume);
    const std::string name = "ADI " + std::to_string(c.adi) + " tilt " + std::to_string(c.tilt) +
                             " slice " + std::to_string(c.slice);
    ASSERT_TRUE(m.measured) << name << ": " << (m.warnings.empty() ? "" : m.warnings.front());
    if (!m.adiMm || !m.padiMm) {
      ADD_FAILURE() << name << ": ADI or PADI not measured: "
                    << (m.warnings.empty() ? "" : m.warnings.front());
      continue;
    }
    const double truthAdi = truth.at("adi_mm"), truthPadi = truth.at("padi_mm");
    std::cout << "[ phantom " << name << " ] ADI " << *m.adiMm << " (truth " << truthAdi
              << "), PADI " << *m.padiMm << " (truth " << truthPadi << ")";
    adiErrors.push_back(std::abs(*m.adiMm - truthAdi));
    padiErrors.push_back(std::abs(*m.padiMm - truthPadi));
    EXPECT_LE(std::abs(*m.adiMm - truthAdi), 1.0) << name;
    EXPECT_LE(std::abs(*m.padiMm - truthPadi), 1.0) << name;
    // Flags against the truth values with the same cut-offs.
    EXPECT_EQ(m.flags.at("aas_anterior"), truthAdi > 3.0) << name;
    EXPECT_EQ(m.flags.at("aas_over_6mm"), truthAdi > 6.0) << name;
    EXPECT_EQ(m.flags.at("aas_over_9mm"), truthAdi > 9.0) << name;
    EXPECT_EQ(m.flags.at("padi_below_14mm"), truthPadi < 14.0) << name;
    EXPECT_EQ(m.flags.at("padi_below_10mm"), truthPadi < 10.0) << name;
    // The space available for the cord and the cord's AP diameter at C1, asserted where the cord
    // is not compressed (PADI >= 14 mm): an arch pressed into the cord is not yet measured well
    // (see the issue notes); those numbers are printed only.
    const bool compressed = truthPadi < 14;
    if (m.sacSoftTissueMm && m.cordApMm) {
      const double truthCanal = truth.at("canal_ap_c1_mm"), truthCord = truth.at("cord_ap_c1_mm");
      std::cout << ", SAC " << *m.sacSoftTissueMm << " (truth " << truthCanal << "), cord AP "
                << *m.cordApMm << " (truth " << truthCord << ")";
      if (!compressed) {
        sacErrors.push_back(std::abs(*m.sacSoftTissueMm - truthCanal));
        cordErrors.push_back(std::abs(*m.cordApMm - truthCord));
      }
    } else if (!compressed) {
      ADD_FAILURE() << name << ": SAC or cord AP not measured";
    }
    if (m.densTipBelowMcRaeMm) {
      const double truthBelow = truth.at("dens_tip_below_mcrae_mm");
      std::cout << ", tip below McRae " << *m.densTipBelowMcRaeMm << " (truth " << truthBelow
                << ")";
      mcraeErrors.push_back(std::abs(*m.densTipBelowMcRaeMm - truthBelow));
      EXPECT_EQ(m.flags.at("cranial_settling_mcrae"), truthBelow < 0) << name;
    } else {
      ADD_FAILURE() << name << ": McRae not measured";
    }
    std::cout << "\n   landmark errors (mm):";
    const auto& l = m.landmarks;
    const std::vector<std::pair<const char*, std::optional<Vec3>>> ours = {
        {"c1_anterior_arch_posterior_cortex", l.c1AnteriorArchPosteriorCortex},
        {"dens_anterior_cortex", l.densAnteriorCortex},
        {"dens_posterior_cortex", l.densPosteriorCortex},
        {"c1_posterior_arch_anterior_margin", l.c1PosteriorArchAnteriorMargin},
        {"dens_tip", l.densTip},
        {"dens_base", l.densBase},
        {"basion", l.basion},
        {"opisthion", l.opisthion}};
    const auto planeText = [&](const Vec3& p) {
      const Vec3 d = p - l.origin;
      return "(" + std::to_string(dot(d, l.caudal)).substr(0, 6) + "," +
             std::to_string(dot(d, l.anterior)).substr(0, 6) + ")";
    };
    for (const auto& [key, point] : ours) {
      if (std::getenv("CORDSCOPE_TEST_VERBOSE"))
        std::cout << "\n     " << key << " truth "
                  << planeText(lpsOf(truth.at("landmarks_ras_mm").at(key))) << " ours "
                  << (point ? planeText(*point) : "-");
      if (!point) {
        std::cout << " " << key << " missing";
        landmarkErrors[key].push_back(1e9);
        continue;
      }
      const double e = norm(*point - lpsOf(truth.at("landmarks_ras_mm").at(key)));
      landmarkErrors[key].push_back(e);
      std::cout << " " << key << " " << e;
    }
    std::cout << "\n";
  }
  const auto summary = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    if (v.empty()) return std::make_pair(-1.0, -1.0);
    return std::make_pair(v[v.size() / 2], v.back());
  };
  std::cout << "[ phantom series ] |ADI error| median/max " << summary(adiErrors).first << "/"
            << summary(adiErrors).second << ", |PADI error| " << summary(padiErrors).first << "/"
            << summary(padiErrors).second << ", |McRae error| " << summary(mcraeErrors).first << "/"
            << summary(mcraeErrors).second << ", |SAC error| " << summary(sacErrors).first << "/"
            << summary(sacErrors).second << ", |cord AP error| " << summary(cordErrors).first << "/"
            << summary(cordErrors).second << " mm\n";
  for (const auto& [key, errors] : landmarkErrors) {
    const auto [med, max] = summary(errors);
    std::cout << "   " << key << " median " << med << " max " << max << " mm\n";
    // The skull-base landmarks are the loosest: the basion is the thin tip of the clivus, whose
    // last millimetres partial volume hides; the opisthion ends a broad bone among dark muscle.
    const bool skullBase = key == "basion" || key == "opisthion";
    EXPECT_LE(med, skullBase ? 2.5 : 1.0) << key;
    EXPECT_LE(max, skullBase ? 5.0 : 3.0) << key;
  }
  EXPECT_LE(summary(mcraeErrors).second, 1.5);
  EXPECT_LE(summary(sacErrors).second, 1.0);
  EXPECT_LE(summary(cordErrors).second, 1.0);
}

// The real PAM50 template (a healthy adult average; smooth, its marrow darker than the cord, so
// the rows are read by valleys and peaks): every value in the normal adult range and no flag;
// the dens base where the expert put the C1/C2 label; the landmarks in anatomical order.
TEST(Craniocervical, Pam50IsNormal) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  const Volume volume = loadInput((data / "real/pam50-small/PAM50_small_t2.nii.gz").string());
  const CordSegmentation cord = segmentCord(volume);
  const VertebralLabels vertebrae = labelVertebrae(volume, cord);
  const CraniocervicalMeasures m = measureCraniocervical(findCraniocervical(volume, cord), cord,
                                                         vertebrae, volume.meta.patientSex);
  nlohmann::json j = m;
  j.erase("landmarks_ras_mm");
  j.erase("mid_sagittal_plane");
  std::cout << "[ PAM50_small_t2 ] " << j.dump() << "\n";
  ASSERT_TRUE(m.measured) << (m.warnings.empty() ? "" : m.warnings.front());
  ASSERT_TRUE(m.adiMm && m.padiMm && m.sacSoftTissueMm && m.densTipBelowMcRaeMm);
  EXPECT_GE(*m.adiMm, 0.5);
  EXPECT_LE(*m.adiMm, 3.0);
  EXPECT_GE(*m.padiMm, 14.0);
  EXPECT_LE(*m.padiMm, 30.0);
  EXPECT_GT(*m.sacSoftTissueMm, 13.0);
  // McRae: the normal tip lies 4.6 +- 2.6 mm below the line.
  EXPECT_GE(*m.densTipBelowMcRaeMm, 0.0);
  EXPECT_LE(*m.densTipBelowMcRaeMm, 10.0);
  if (m.cervicomedullaryAngleDeg) {
    EXPECT_GE(*m.cervicomedullaryAngleDeg, 135.0);
  }
  for (const auto& [flag, raised] : m.flags) EXPECT_FALSE(raised) << flag;
  // The dens base against the expert's C1/C2 label (value 2 of PAM50_small_label_disc).
  const LabelImage::Pointer discs =
      readLabels((data / "real/pam50-small/PAM50_small_label_disc.nii.gz").string());
  std::optional<Vec3> expertBase;
  for (itk::ImageRegionConstIteratorWithIndex<LabelImage> it(discs, discs->GetBufferedRegion());
       !it.IsAtEnd(); ++it)
    if (it.Get() == 2) {
      LabelImage::PointType point;
      discs->TransformIndexToPhysicalPoint(it.GetIndex(), point);
      expertBase = Vec3{point[0], point[1], point[2]};
    }
  ASSERT_TRUE(expertBase && m.landmarks.densBase && m.landmarks.densTip &&
              m.landmarks.c1AnteriorArchCentre);
  const double baseError =
      arcAlongCord(cord.sections, *m.landmarks.densBase) - arcAlongCord(cord.sections, *expertBase);
  std::cout << "[ PAM50_small_t2 ] dens base vs the expert C1/C2 label: " << baseError
            << " mm along the cord\n";
  EXPECT_LE(std::abs(baseError), 2.0);
  // Tip above the arch's centre, the arch above the base (along the plane's caudal axis).
  const auto along = [&](const Vec3& p) { return dot(p - m.landmarks.origin, m.landmarks.caudal); };
  EXPECT_LT(along(*m.landmarks.densTip), along(*m.landmarks.c1AnteriorArchCentre));
  EXPECT_LT(along(*m.landmarks.c1AnteriorArchCentre), along(*m.landmarks.densBase));
}

// A field of view that starts below the junction: nothing measured, null values, and a warning
// that says why.
TEST(Craniocervical, OutOfViewIsNullWithWarning) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  const Volume volume = loadInput((data / "real/sct-t2/t2.nii.gz").string());
  const CraniocervicalMeasures m = analyse(volume);
  const nlohmann::json j = m;
  EXPECT_FALSE(m.measured);
  EXPECT_TRUE(j.at("adi_mm").is_null());
  EXPECT_TRUE(j.at("padi_mm").is_null());
  EXPECT_TRUE(j.at("flags").empty());
  ASSERT_FALSE(m.warnings.empty());
  EXPECT_NE(m.warnings.front().find("field of view"), std::string::npos) << m.warnings.front();
}

}  // namespace
}  // namespace cordscope

namespace cordscope {
namespace {

// The 2.5 mm female cut-off is an option: ADI 2.8 mm in a woman is flagged with it, not without
// it, and never in a man.
TEST(Craniocervical, FemaleCutoffIsAnOption) {
  PhantomOptions o;
  o.seed = 320;
  o.adiMm = 2.8;
  o.sex = "F";
  const PhantomStudy study = makePhantom(o);
  CraniocervicalRules rules;
  const CraniocervicalMeasures plain = analyse(study.volume, rules);
  rules.femaleAdiCutoff = true;
  const CraniocervicalMeasures female = analyse(study.volume, rules);
  ASSERT_TRUE(plain.adiMm && female.adiMm);
  EXPECT_NEAR(*female.adiMm, 2.8, 0.3);
  EXPECT_FALSE(plain.flags.at("aas_anterior"));
  EXPECT_TRUE(female.flags.at("aas_anterior"));
  EXPECT_DOUBLE_EQ(female.adiCutoffMm, 2.5);
  const CordSegmentation cord = segmentCord(study.volume);
  const CraniocervicalMeasures man = measureCraniocervical(
      findCraniocervical(study.volume, cord), cord, labelVertebrae(study.volume, cord), "M", rules);
  EXPECT_FALSE(man.flags.at("aas_anterior"));
}

}  // namespace
}  // namespace cordscope
