#include <gtest/gtest.h>

#include <cmath>

#include "data/Volume.h"

namespace cordscope {
namespace {

Image::DirectionType rotationAboutY(double degrees) {
  // Start from a sagittal grid (columns -> P, rows -> I, slices -> L) and tilt it about the AP
  // axis.
  const double a = degrees * M_PI / 180.0;
  Image::DirectionType sagittal;
  sagittal.Fill(0);
  sagittal[1][0] = 1;   // column axis -> +y (P)
  sagittal[2][1] = -1;  // row axis -> -z (I)
  sagittal[0][2] = 1;   // slice axis -> +x (L)
  Image::DirectionType tilt;
  tilt.Fill(0);
  tilt[0][0] = std::cos(a);
  tilt[0][2] = std::sin(a);
  tilt[1][1] = 1;
  tilt[2][0] = -std::sin(a);
  tilt[2][2] = std::cos(a);
  return tilt * sagittal;
}

TEST(Volume, PatientAgeFromDicomStrings) {
  EXPECT_DOUBLE_EQ(*parsePatientAge("047Y", "", ""), 47.0);
  EXPECT_DOUBLE_EQ(*parsePatientAge("006M", "", ""), 0.5);
  EXPECT_NEAR(*parsePatientAge("010W", "", ""), 70.0 / 365.25, 1e-12);
  EXPECT_NEAR(*parsePatientAge("", "19700115", "20200115"), 50.0, 0.01);
  EXPECT_FALSE(parsePatientAge("", "", "20200115").has_value());
  EXPECT_FALSE(parsePatientAge("", "20300101", "20200115").has_value());
  // No one's age (issue 23: 999Y was used as an age): unknown, unless the dates tell.
  EXPECT_FALSE(parsePatientAge("999Y", "", "").has_value());
  EXPECT_FALSE(parsePatientAge("-05Y", "", "").has_value());
  EXPECT_FALSE(parsePatientAge("nanY", "", "").has_value());
  EXPECT_NEAR(*parsePatientAge("999Y", "19700115", "20200115"), 50.0, 0.01);
  EXPECT_FALSE(parsePatientAge("", "17000101", "20200115").has_value());
}

TEST(Volume, OrientationFromSliceNormal) {
  Image::DirectionType identity;
  identity.SetIdentity();
  EXPECT_EQ(classifyOrientation(identity), Orientation::Axial);
  EXPECT_EQ(classifyOrientation(rotationAboutY(0)), Orientation::Sagittal);
  EXPECT_EQ(classifyOrientation(rotationAboutY(20)), Orientation::Sagittal);
  EXPECT_EQ(classifyOrientation(rotationAboutY(45)), Orientation::Oblique);
  EXPECT_EQ(classifyOrientation(rotationAboutY(80)), Orientation::Axial);
}

TEST(Volume, AxisCodeNamesWherePositiveIndexPoints) {
  Image::DirectionType identity;
  identity.SetIdentity();
  EXPECT_EQ(axisCode(identity), "LPS");
  EXPECT_EQ(axisCode(rotationAboutY(0)), "PIL");
}

}  // namespace
}  // namespace cordscope
