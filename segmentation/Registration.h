// Rigid registration of two scans of one patient around the cord (follow-up onto baseline), with
// ITK's v4 registration framework: a 3D Euler transform, Mattes mutual information (the two
// scans' intensities need not match), regular-step gradient descent over three resolutions,
// initialised by the cord masks' centres, the metric restricted to the baseline's cord region
// (the cord mask dilated) so that a different head or shoulder position does not pull it.
#pragma once
#include <array>
#include <string>

#include "core/ImageSampler.h"
#include "data/Volume.h"

namespace cordscope {

struct RigidRegistrationOptions {
  double regionMarginMm = 15;  // the fixed mask: the baseline cord dilated by this much
  unsigned iterations = 200;   // per resolution level
  double samplingFraction = 0.25;
  unsigned histogramBins = 32;
};

struct RigidRegistration {
  bool converged = false;
  std::string note;
  // Maps a follow-up (moving) point to the baseline (fixed) point it matches, LPS mm. ITK's
  // transform maps fixed to moving: moving = A * fixed + b; here fixed = A^T * (moving - b).
  std::array<double, 9> rotation{1, 0, 0, 0, 1, 0, 0, 0, 1};  // A^T, row-major
  Vec3 offset{};                                              // b
  double rotationDeg = 0, translationMm = 0;                  // size of the motion found
  double metric = 0;                                          // final Mattes MI (negative: better)
  Vec3 toBaseline(const Vec3& followUp) const;
};

RigidRegistration registerRigid(const Volume& baseline, const Mask* baselineCord,
                                const Volume& followUp, const Mask* followUpCord,
                                const RigidRegistrationOptions& options = {});

}  // namespace cordscope
