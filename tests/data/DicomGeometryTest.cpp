// DICOM geometry must equal dcm2niix's on real scanner data, and our own writer must round-trip.
#include <gtest/gtest.h>
#include <itkImageRegionIteratorWithIndex.h>

#include <cmath>

#include "TestSupport.h"
#include "data/DicomWriter.h"
#include "data/Input.h"
#include "data/Nifti.h"

namespace cordscope {
namespace {

using test::TempDir;

void expectSameGrid(const Image* a, const Image* b, double originTol, const std::string& what) {
  ASSERT_EQ(a->GetLargestPossibleRegion().GetSize(), b->GetLargestPossibleRegion().GetSize())
      << what;
  for (int i = 0; i < 3; ++i) {
    EXPECT_NEAR(a->GetOrigin()[i], b->GetOrigin()[i], originTol) << what;
    EXPECT_NEAR(a->GetSpacing()[i], b->GetSpacing()[i], 1e-4) << what;
    for (int j = 0; j < 3; ++j)
      EXPECT_NEAR(a->GetDirection()[i][j], b->GetDirection()[i][j], 1e-5) << what;
  }
}

// Same voxel-centre world coordinates and values as dcm2niix, up to axis order and flips (dcm2niix
// reverses the DICOM row order; we keep it, see DicomSeries.cpp).
void expectSameAsDcm2niix(const std::filesystem::path& folder) {
  TempDir scratch;
  const Volume ours = loadInput(folder.string());
  const Volume reference = readNifti(test::runDcm2niix(folder, scratch).string());
  EXPECT_EQ(test::compareInWorld(ours.image.GetPointer(), reference.image.GetPointer(), 1e-3), "")
      << folder;
}

TEST(DicomGeometry, ClassicSiemensSagittalEqualsDcm2niix) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  expectSameAsDcm2niix(data / "dicom/siemens-gre-sag-classic");
}

TEST(DicomGeometry, EnhancedMultiFrameEqualsDcm2niix) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  const Volume v = loadInput((data / "dicom/siemens-xa30-epi-sag-enhanced").string());
  const auto size = v.image->GetLargestPossibleRegion().GetSize();
  EXPECT_EQ(size[0] * size[1] * size[2], 86u * 86u * 63u);
  EXPECT_EQ(v.orientation(), Orientation::Sagittal);
  expectSameAsDcm2niix(data / "dicom/siemens-xa30-epi-sag-enhanced");
}

TEST(DicomGeometry, ShuffledRealSeriesEqualsDcm2niix) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  expectSameAsDcm2niix(data / "real/sct-t2-lesion/dicom");
}

TEST(DicomGeometry, RealSeriesReproducesItsNiftiExactly) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  const Volume fromDicom = loadInput((data / "real/sct-t2-lesion/dicom").string());
  const Volume fromNifti = readNifti((data / "real/sct-t2-lesion/t2_lesion.nii.gz").string());
  const Image* a = fromDicom.image.GetPointer();
  const Image* b = fromNifti.image.GetPointer();
  expectSameGrid(a, b, 1e-4, "sct-t2-lesion DICOM vs NIfTI");
  EXPECT_EQ(test::compareInWorld(a, b, 1e-4, 0.0), "");
  ASSERT_TRUE(fromDicom.meta.patientAgeYears.has_value());
  EXPECT_DOUBLE_EQ(*fromDicom.meta.patientAgeYears, 47.0);
  EXPECT_EQ(fromDicom.meta.seriesDescription, "T2 TSE SAG");
}

// An oblique grid with non-integer values through our writer, back through our reader and dcm2niix.
TEST(DicomGeometry, WriterRoundTripsObliqueGeometry) {
  auto image = Image::New();
  Image::RegionType region;
  region.SetSize({40, 50, 12});
  image->SetRegions(region);
  image->Allocate();
  const double a = 12.0 * M_PI / 180.0;
  Image::DirectionType d;
  d.Fill(0);
  d[1][0] = 1;
  d[0][1] = std::sin(a);
  d[2][1] = -std::cos(a);
  d[0][2] = std::cos(a);
  d[2][2] = std::sin(a);
  image->SetDirection(d);
  const double spacing[3] = {0.6, 0.7, 3.3};
  image->SetSpacing(spacing);
  const double origin[3] = {-21.123456, -80.5, 95.25};
  image->SetOrigin(origin);
  for (itk::ImageRegionIteratorWithIndex<Image> it(image, region); !it.IsAtEnd(); ++it) {
    const auto i = it.GetIndex();
    it.Set(static_cast<float>(i[0] * 7 + i[1] * 3 + i[2] * 101 % 2000));
  }
  Volume volume;
  volume.image = image;
  volume.meta.modality = "MR";
  volume.meta.seriesDescription = "T2 TSE SAG";
  TempDir scratch;
  writeDicomSeries(volume, scratch / "dicom", test::uidSeeded("roundtrip"));
  const Volume back = loadInput(scratch / "dicom");
  EXPECT_EQ(test::compareInWorld(image.GetPointer(), back.image.GetPointer(), 1e-5), "");
  expectSameAsDcm2niix(scratch / "dicom");
}

}  // namespace
}  // namespace cordscope
