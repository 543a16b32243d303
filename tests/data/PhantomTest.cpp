// The synthetic study generator: truth complete, self-consistent and aligned with the image.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include "TestSupport.h"
#include "data/Error.h"
#include "data/Input.h"
#include "data/Nifti.h"
#include "data/Phantom.h"

namespace cordscope {
namespace {

namespace fs = std::filesystem;

// A coarser grid keeps the logic tests fast; geometry is the same model.
PhantomOptions small() {
  PhantomOptions o;
  o.matrix = 220;
  o.pixelMm = 1.15;
  return o;
}

double meanWhere(const Image* image, const Mask* a, const Mask* notIn = nullptr) {
  double sum = 0;
  std::size_t n = 0;
  for (std::size_t i = 0; i < image->GetBufferedRegion().GetNumberOfPixels(); ++i)
    if (a->GetBufferPointer()[i] && !(notIn && notIn->GetBufferPointer()[i])) {
      sum += image->GetBufferPointer()[i];
      ++n;
    }
  return n ? sum / n : 0;
}

TEST(Phantom, TruthMasksAlignWithTheImage) {
  PhantomOptions o = small();
  o.lesions = {{3, 6, "dorsal", 0.6}};
  const PhantomStudy study = makePhantom(o);
  const Image* image = study.volume.image.GetPointer();
  const double cord = meanWhere(image, study.cord.GetPointer(), study.lesion.GetPointer());
  const double csf = meanWhere(image, study.canal.GetPointer(), study.cord.GetPointer());
  const double lesion = meanWhere(image, study.lesion.GetPointer());
  EXPECT_GT(cord, 0);
  EXPECT_LT(cord, 0.6 * csf) << "T2: cord darker than CSF";
  EXPECT_GT(lesion, 1.3 * cord) << "lesion brighter than normal cord";
  EXPECT_LT(lesion, csf);
}

// The image value nearest a RAS point of truth.json.
double valueAtRas(const Image* image, const nlohmann::json& ras) {
  Image::PointType point;
  point[0] = -ras[0].get<double>();
  point[1] = -ras[1].get<double>();
  point[2] = ras[2].get<double>();
  Image::IndexType index;
  if (!image->TransformPhysicalPointToIndex(point, index)) {
    ADD_FAILURE() << "outside the image: " << ras;
    return std::nan("");
  }
  return image->GetPixel(index);
}

// T2 appearance where truth puts the column: each disc's centre (its nucleus) brighter than the
// middle of the vertebral body below it (marrow) - the discs truth names are where the image
// shows them.
TEST(Phantom, DiscsInTruthAreBrightNucleiBetweenBodies) {
  PhantomOptions o;
  o.noise = 0;
  const PhantomStudy study = makePhantom(o);
  const Image* image = study.volume.image.GetPointer();
  const auto& discs = study.truth["discs"];
  ASSERT_GE(discs.size(), 8u);
  for (std::size_t k = 0; k + 1 < discs.size(); ++k) {
    const auto& a = discs[k]["position_ras_mm"];
    const auto& b = discs[k + 1]["position_ras_mm"];
    const nlohmann::json body = {0.5 * (a[0].get<double>() + b[0].get<double>()),
                                 0.5 * (a[1].get<double>() + b[1].get<double>()),
                                 0.5 * (a[2].get<double>() + b[2].get<double>())};
    const double nucleus = valueAtRas(image, a), marrow = valueAtRas(image, body);
    EXPECT_GT(nucleus, 1.2 * marrow)
        << discs[k]["name"] << ": nucleus " << nucleus << ", body below " << marrow;
  }
}

TEST(Phantom, LesionC3ToC6SpansFourSegmentsInTruthAndMask) {
  PhantomOptions o = small();
  o.lesions = {{3, 6, "dorsal", 0.6}};
  const PhantomStudy study = makePhantom(o);
  const auto& lesion = study.truth["lesions"].at(0);
  EXPECT_EQ(lesion["top_level"], "C3");
  EXPECT_EQ(lesion["bottom_level"], "C6");
  EXPECT_EQ(lesion["segments_spanned"], 4);
  EXPECT_NEAR(lesion["length_mm"].get<double>(),
              lesion["bottom_s_mm"].get<double>() - lesion["top_s_mm"].get<double>(), 1e-9);
  double perLevel = 0;
  for (const auto& [name, mm] : lesion["per_level_mm"].items()) perLevel += mm.get<double>();
  EXPECT_NEAR(perLevel, lesion["length_mm"].get<double>(), 1e-6);
  EXPECT_GT(lesion["segments_equivalent"].get<double>(), 2.0);
  EXPECT_LT(lesion["segments_equivalent"].get<double>(), 4.0);
  // The painted voxels carry level labels C3..C6 only.
  std::set<int> labels;
  for (std::size_t i = 0; i < study.lesion->GetBufferedRegion().GetNumberOfPixels(); ++i)
    if (study.lesion->GetBufferPointer()[i]) labels.insert(study.levels->GetBufferPointer()[i]);
  EXPECT_EQ(labels, (std::set<int>{3, 4, 5, 6}));
  EXPECT_FALSE(study.truth["summary"]["extensive_ge7_segments"].get<bool>());
}

TEST(Phantom, SevenSegmentLesionIsFlaggedInTruth) {
  PhantomOptions o = small();
  o.lesions = {{2, 8, "dorsal", 0.6}};
  const PhantomStudy study = makePhantom(o);
  EXPECT_EQ(study.truth["lesions"][0]["segments_spanned"], 7);
  EXPECT_TRUE(study.truth["summary"]["extensive_ge7_segments"].get<bool>());
}

TEST(Phantom, TruthAdiAndPadiEqualTheRequest) {
  for (double adi : {1.0, 4.5, 12.0}) {
    PhantomOptions o = small();
    o.adiMm = adi;
    o.padiMm = 10.0;
    const PhantomStudy study = makePhantom(o);
    EXPECT_NEAR(study.truth["craniocervical"]["adi_mm"].get<double>(), adi, 1e-6);
    EXPECT_NEAR(study.truth["craniocervical"]["padi_mm"].get<double>(), 10.0, 1e-6);
  }
}

TEST(Phantom, LevelsAndDiscsAreComplete) {
  const PhantomStudy study = makePhantom(small());
  std::vector<std::string> levels, discs;
  for (const auto& l : study.truth["levels"]) levels.push_back(l["name"]);
  for (const auto& d : study.truth["discs"]) discs.push_back(d["name"]);
  ASSERT_GE(levels.size(), 9u);
  EXPECT_EQ(levels[0], "C1");
  EXPECT_EQ(levels[8], "T2");
  ASSERT_GE(discs.size(), 8u);
  EXPECT_EQ(discs[0], "C2-C3");
  EXPECT_EQ(discs[6], "T1-T2");
  // Adjacent levels share their boundary; heights are vertebral (13-20 mm below C2).
  for (std::size_t i = 1; i < study.truth["levels"].size(); ++i)
    EXPECT_DOUBLE_EQ(study.truth["levels"][i]["top_s_mm"].get<double>(),
                     study.truth["levels"][i - 1]["bottom_s_mm"].get<double>());
  for (std::size_t i = 2; i < 9; ++i) {
    const double h = study.truth["levels"][i]["height_mm"];
    EXPECT_GT(h, 16.0);
    EXPECT_LT(h, 25.0);
  }
  // Every cord voxel has a level; per-level CSA is in the normal adult range.
  for (std::size_t i = 0; i < study.cord->GetBufferedRegion().GetNumberOfPixels(); ++i)
    if (study.cord->GetBufferPointer()[i]) {
      ASSERT_GT(study.levels->GetBufferPointer()[i], 0);
    }
  for (const auto& l : study.truth["cord"]["levels"]) {
    EXPECT_GT(l["csa_mm2"].get<double>(), 35);
    EXPECT_LT(l["csa_mm2"].get<double>(), 130);
  }
  EXPECT_GT(study.truth["cord"]["length_mm"].get<double>(), 150);
}

TEST(Phantom, SameArgumentsGiveIdenticalPixels) {
  PhantomOptions o = small();
  o.lesions = {{4, 5, "central", 0.8}};
  const PhantomStudy a = makePhantom(o), b = makePhantom(o);
  const std::size_t n = a.volume.image->GetBufferedRegion().GetNumberOfPixels();
  EXPECT_TRUE(std::equal(a.volume.image->GetBufferPointer(), a.volume.image->GetBufferPointer() + n,
                         b.volume.image->GetBufferPointer()));
  o.seed = 2;
  const PhantomStudy c = makePhantom(o);
  EXPECT_FALSE(std::equal(a.volume.image->GetBufferPointer(),
                          a.volume.image->GetBufferPointer() + n,
                          c.volume.image->GetBufferPointer()));
}

TEST(Phantom, BadParametersAreUsageErrors) {
  PhantomOptions o = small();
  o.lesions = {{3, 6, "spiral", 0.6}};
  EXPECT_THROW(makePhantom(o), UsageError);
  o = small();
  o.adiMm = 40;
  EXPECT_THROW(makePhantom(o), UsageError);
  o = small();
  o.orientation = "coronal";
  EXPECT_THROW(makePhantom(o), UsageError);
  const auto r = test::runCordscope("phantom -o /tmp/never --lesion C6:C3");
  EXPECT_EQ(r.exitCode, 2) << r.err;
  EXPECT_NE(r.err.find("ends above its start"), std::string::npos) << r.err;
  EXPECT_EQ(test::runCordscope("phantom -o /tmp/never --lesion X9:C3").exitCode, 2);
}

// Written study: DICOM read by convert and dcm2niix with identical geometry, truth on convert's
// grid.
TEST(Phantom, WrittenStudyRoundTripsThroughConvertAndDcm2niix) {
  test::TempDir dir;
  const auto r = test::runCordscope("phantom -o " + test::quote(dir / "p") +
                                    " --tilt 5 --slice-thickness 4 --shuffle-files --matrix 256 "
                                    "--pixel 1 --lesion C3:C5:lateral");
  ASSERT_EQ(r.exitCode, 0) << r.err;
  const auto c = test::runCordscope("convert " + test::quote(dir / "p/dicom") + " -o " +
                                    test::quote(dir / "p.nii.gz"));
  ASSERT_EQ(c.exitCode, 0) << c.err;
  const Volume converted = readNifti(dir / "p.nii.gz");
  EXPECT_EQ(converted.orientation(), Orientation::Sagittal);
  const Volume reference = readNifti(test::runDcm2niix(dir.path() / "p/dicom", dir).string());
  EXPECT_EQ(test::compareInWorld(converted.image.GetPointer(), reference.image.GetPointer(), 1e-3),
            "");
  for (const char* name : {"cord", "canal", "lesion", "levels"}) {
    const auto mask = readMask(dir / (std::string("p/truth/") + name + ".nii.gz"));
    EXPECT_EQ(mask->GetLargestPossibleRegion().GetSize(),
              converted.image->GetLargestPossibleRegion().GetSize())
        << name;
    for (int i = 0; i < 3; ++i) {
      EXPECT_NEAR(mask->GetOrigin()[i], converted.image->GetOrigin()[i], 1e-3) << name;
      for (int j = 0; j < 3; ++j)
        EXPECT_NEAR(mask->GetDirection()[i][j], converted.image->GetDirection()[i][j], 1e-5)
            << name;
    }
  }
  // The truth cord on the converted grid still sits on dark-cord voxels inside bright CSF.
  const auto cord = readMask(dir / "p/truth/cord.nii.gz");
  const auto canal = readMask(dir / "p/truth/canal.nii.gz");
  EXPECT_LT(meanWhere(converted.image.GetPointer(), cord.GetPointer()),
            0.7 * meanWhere(converted.image.GetPointer(), canal.GetPointer(), cord.GetPointer()));
  std::ifstream in(dir / "p/truth.json");
  const auto truth = nlohmann::json::parse(in);
  for (const char* key :
       {"discs", "levels", "cord", "lesions", "craniocervical", "patient_age_years", "parameters"})
    EXPECT_TRUE(truth.contains(key)) << key;
  const Inventory inventory = scanInput(dir / "p/dicom");
  EXPECT_EQ(inventory.series.at(0).meta.seriesDescription, "T2 TSE SAG");
  EXPECT_DOUBLE_EQ(*inventory.series.at(0).meta.patientAgeYears, 55.0);
}

TEST(Phantom, AxialStudyCoversC1ToT2) {
  PhantomOptions o;
  o.orientation = "axial";
  o.matrix = 128;
  o.pixelMm = 1.2;
  o.sliceThicknessMm = 4;
  const PhantomStudy study = makePhantom(o);
  EXPECT_EQ(study.volume.orientation(), Orientation::Axial);
  std::set<int> labels;
  for (std::size_t i = 0; i < study.levels->GetBufferedRegion().GetNumberOfPixels(); ++i)
    labels.insert(study.levels->GetBufferPointer()[i]);
  for (int level = 1; level <= 9; ++level) EXPECT_TRUE(labels.count(level)) << level;
}

}  // namespace
}  // namespace cordscope
