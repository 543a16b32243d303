#include "segmentation/Registration.h"

#include <itkBinaryDilateImageFilter.h>
#include <itkEuler3DTransform.h>
#include <itkFlatStructuringElement.h>
#include <itkImageMaskSpatialObject.h>
#include <itkImageRegionConstIteratorWithIndex.h>
#include <itkImageRegistrationMethodv4.h>
#include <itkMattesMutualInformationImageToImageMetricv4.h>
#include <itkRegistrationParameterScalesFromPhysicalShift.h>
#include <itkRegularStepGradientDescentOptimizerv4.h>

#include <algorithm>
#include <cmath>
#include <optional>

namespace cordscope {
namespace {

// Centroid of a mask's voxels in patient space; empty when the mask is empty.
std::optional<Vec3> centroid(const Mask* mask) {
  itk::ImageRegionConstIteratorWithIndex<Mask> it(mask, mask->GetBufferedRegion());
  Vec3 sum{0, 0, 0};
  long n = 0;
  for (; !it.IsAtEnd(); ++it) {
    if (!it.Get()) continue;
    Mask::PointType p;
    mask->TransformIndexToPhysicalPoint(it.GetIndex(), p);
    sum = sum + Vec3{p[0], p[1], p[2]};
    ++n;
  }
  if (n == 0) return std::nullopt;
  return (1.0 / n) * sum;
}

}  // namespace

Vec3 RigidRegistration::toBaseline(const Vec3& p) const {
  const Vec3 d = p - offset;
  return {rotation[0] * d[0] + rotation[1] * d[1] + rotation[2] * d[2],
          rotation[3] * d[0] + rotation[4] * d[1] + rotation[5] * d[2],
          rotation[6] * d[0] + rotation[7] * d[1] + rotation[8] * d[2]};
}

RigidRegistration registerRigid(const Volume& baseline, const Mask* baselineCord,
                                const Volume& followUp, const Mask* followUpCord,
                                const RigidRegistrationOptions& o) {
  RigidRegistration out;
  const auto fixedCentre = centroid(baselineCord), movingCentre = centroid(followUpCord);
  if (!fixedCentre || !movingCentre) {
    out.note = "no cord in one of the scans: not registered";
    return out;
  }
  // The fixed mask: the baseline's cord region.
  using Dilate = itk::BinaryDilateImageFilter<Mask, Mask, itk::FlatStructuringElement<3>>;
  itk::FlatStructuringElement<3>::RadiusType radius;
  for (int i = 0; i < 3; ++i)
    radius[i] = static_cast<itk::SizeValueType>(
        std::ceil(o.regionMarginMm / baselineCord->GetSpacing()[i]));
  auto dilate = Dilate::New();
  dilate->SetInput(baselineCord);
  dilate->SetKernel(itk::FlatStructuringElement<3>::Box(radius));
  dilate->SetForegroundValue(1);
  dilate->Update();
  auto region = itk::ImageMaskSpatialObject<3>::New();
  region->SetImage(dilate->GetOutput());
  region->Update();

  using Transform = itk::Euler3DTransform<double>;
  auto initial = Transform::New();
  Transform::InputPointType centre;
  for (int i = 0; i < 3; ++i) centre[i] = (*fixedCentre)[i];
  initial->SetCenter(centre);
  Transform::OutputVectorType shift;
  for (int i = 0; i < 3; ++i) shift[i] = (*movingCentre)[i] - (*fixedCentre)[i];
  initial->SetTranslation(shift);

  using Metric = itk::MattesMutualInformationImageToImageMetricv4<Image, Image>;
  using Optimizer = itk::RegularStepGradientDescentOptimizerv4<double>;
  using Method = itk::ImageRegistrationMethodv4<Image, Image, Transform>;
  auto metric = Metric::New();
  metric->SetNumberOfHistogramBins(o.histogramBins);
  metric->SetFixedImageMask(region);
  auto optimizer = Optimizer::New();
  optimizer->SetLearningRate(2.0);
  optimizer->SetMinimumStepLength(0.001);
  optimizer->SetRelaxationFactor(0.5);
  optimizer->SetNumberOfIterations(o.iterations);
  optimizer->SetReturnBestParametersAndValue(true);
  auto scales = itk::RegistrationParameterScalesFromPhysicalShift<Metric>::New();
  scales->SetMetric(metric);
  optimizer->SetScalesEstimator(scales);
  auto method = Method::New();
  method->SetFixedImage(baseline.image);
  method->SetMovingImage(followUp.image);
  method->SetMetric(metric);
  method->SetOptimizer(optimizer);
  method->SetInitialTransform(initial);
  method->InPlaceOn();
  Method::ShrinkFactorsArrayType shrink(2);
  shrink[0] = 2;
  shrink[1] = 1;
  Method::SmoothingSigmasArrayType sigmas(2);
  sigmas[0] = 1.5;
  sigmas[1] = 0;
  method->SetNumberOfLevels(2);
  method->SetShrinkFactorsPerLevel(shrink);
  method->SetSmoothingSigmasPerLevel(sigmas);
  method->SetSmoothingSigmasAreSpecifiedInPhysicalUnits(true);
  method->SetMetricSamplingStrategy(Method::MetricSamplingStrategyEnum::RANDOM);
  method->SetMetricSamplingPercentage(o.samplingFraction);
  method->MetricSamplingReinitializeSeed(20241126);
  try {
    method->Update();
  } catch (const itk::ExceptionObject& e) {
    out.note = std::string("registration failed: ") + e.GetDescription();
    return out;
  }
  const Transform* result = method->GetTransform();
  const auto matrix = result->GetMatrix();
  const auto offset = result->GetOffset();
  for (int r = 0; r < 3; ++r)
    for (int c = 0; c < 3; ++c) out.rotation[r * 3 + c] = matrix[c][r];  // A^T
  out.offset = {offset[0], offset[1], offset[2]};
  out.metric = optimizer->GetValue();
  const double trace = matrix[0][0] + matrix[1][1] + matrix[2][2];
  out.rotationDeg = std::acos(std::clamp((trace - 1) / 2, -1.0, 1.0)) * 180 / kPi;
  const auto t = result->GetTranslation();
  out.translationMm = std::sqrt(t[0] * t[0] + t[1] * t[1] + t[2] * t[2]);
  out.converged = true;
  out.note =
      "rigid registration of the cord region: " + std::to_string(optimizer->GetCurrentIteration()) +
      " iterations at the last level, stop: " + optimizer->GetStopConditionDescription();
  return out;
}

}  // namespace cordscope
