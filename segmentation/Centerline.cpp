#include "segmentation/Centerline.h"

#include <itkMultiThreaderBase.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/Geometry.h"

namespace cordscope {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// The grid axes named by the patient direction they run closest to.
struct GridAxes {
  int along = 2;  // head-foot: the planes across it are the cross-sections the detector scans
  int ap = 1;
  int lr = 0;
};

GridAxes gridAxes(const Image::DirectionType& d) {
  GridAxes g;
  int best = 0;
  for (int j = 1; j < 3; ++j)
    if (std::abs(d[2][j]) > std::abs(d[2][best])) best = j;
  g.along = best;
  const int a = (best + 1) % 3, b = (best + 2) % 3;
  g.ap = std::abs(d[1][a]) >= std::abs(d[1][b]) ? a : b;
  g.lr = g.ap == a ? b : a;
  return g;
}

// The intensity scale of each plane: the receive coil's sensitivity falls off along the spine,
// multiplying every tissue, so detector responses are measured against the local brightness
// rather than the image's. The 90th percentile of each plane's foreground, smoothed along the
// planes over a few centimetres (the bias field is smooth; anatomy is not).
std::vector<double> planeScales(const Image* image, const GridAxes& axes, double globalScale,
                                double dz) {
  const auto size = image->GetBufferedRegion().GetSize();
  const long planes = static_cast<long>(size[axes.along]);
  const long stride[3] = {1, static_cast<long>(size[0]), static_cast<long>(size[0] * size[1])};
  const float* buffer = image->GetBufferPointer();
  std::vector<double> level(planes, 0.0), weight(planes, 0.0);
  // Planes are independent: spread them over the cores.
  itk::MultiThreaderBase::New()->ParallelizeArray(
      0, static_cast<itk::SizeValueType>(planes),
      [&](itk::SizeValueType plane) {
        const long k = static_cast<long>(plane);
        std::vector<float> values;
        values.reserve(size[axes.ap] * size[axes.lr]);
        for (long i = 0; i < static_cast<long>(size[axes.ap]); ++i)
          for (long j = 0; j < static_cast<long>(size[axes.lr]); ++j)
            values.push_back(
                buffer[k * stride[axes.along] + i * stride[axes.ap] + j * stride[axes.lr]]);
        // Foreground relative to the plane's own bright end (a global floor would drop more of a
        // darker plane and so misjudge its level).
        auto top = values.begin() + static_cast<long>(0.99 * (values.size() - 1));
        std::nth_element(values.begin(), top, values.end());
        const float brightEnd = *top;  // read before the partition reorders the values
        const float floor = 0.1f * brightEnd;
        const auto end =
            std::partition(values.begin(), values.end(), [&](float v) { return v > floor; });
        const std::size_t count = static_cast<std::size_t>(end - values.begin());
        if (count < 0.05 * values.size() || brightEnd <= 0 || count == 0) return;  // background
        auto it = values.begin() + static_cast<long>(0.9 * (count - 1));
        std::nth_element(values.begin(), it, end);
        level[k] = *it;
        weight[k] = 1;
      },
      nullptr);
  const double sigma = 20.0 / dz;
  const long radius = static_cast<long>(std::ceil(2.5 * sigma));
  std::vector<double> scales(planes, globalScale);
  for (long k = 0; k < planes; ++k) {
    double sum = 0, w = 0;
    for (long d = -radius; d <= radius; ++d) {
      const long q = k + d;
      if (q < 0 || q >= planes || weight[q] == 0) continue;
      const double g = std::exp(-0.5 * d * d / (sigma * sigma));
      sum += g * level[q];
      w += g;
    }
    if (w > 0) scales[k] = std::clamp(sum / w, 0.2 * globalScale, 2.0 * globalScale);
  }
  return scales;
}

// One cross-section's detector responses on a (possibly strided) grid of positions.
struct Plane {
  std::vector<double> positive;  // response if CSF is brighter than cord; -inf where undefined
  std::vector<double> negative;  // response if darker
  // Response of a canal filled with bright fluid from wall to wall (CSF brighter than tissue): a
  // cord-wide column as bright as CSF across the cord and its CSF rim, darker tissue beyond the
  // canal in front and behind. It is what stays visible where a lesion as bright as CSF fills the
  // cord's section and the cord's own response vanishes.
  std::vector<double> filled;
};

class Detector {
 public:
  Detector(const Image* image, const GridAxes& axes, const CenterlineOptions& o,
           std::vector<double> scales)
      : image_(image), axes_(axes), scales_(std::move(scales)) {
    const auto size = image->GetBufferedRegion().GetSize();
    const auto spacing = image->GetSpacing();
    nAp_ = size[axes.ap];
    nLr_ = size[axes.lr];
    spAp_ = spacing[axes.ap];
    spLr_ = spacing[axes.lr];
    strideAp_ = std::max(1, static_cast<int>(1.0 / spAp_));
    strideLr_ = std::max(1, static_cast<int>(1.0 / spLr_));
    mAp_ = (nAp_ + strideAp_ - 1) / strideAp_;
    mLr_ = (nLr_ + strideLr_ - 1) / strideLr_;
    const auto vox = [](double mm, double sp) { return static_cast<int>(std::lround(mm / sp)); };
    const auto half = [](double mm, double sp) {
      return std::max(0, static_cast<int>(std::floor(mm / sp)));
    };
    // Cords differ in size between people and levels, and a cord crossing the planes obliquely
    // looks longer in AP: three sizes around the nominal one, the best answering.
    for (double f : {0.8, 1.0, 1.25}) {
      const double ap = f * o.cordApMm, rl = f * o.cordRlMm;
      Probe p;
      p.coreAp = half(0.3 * ap, spAp_);
      p.coreLr = half(0.3 * rl, spLr_);
      p.innerAp = half(0.125 * ap, spAp_);
      p.innerLr = half(0.125 * rl, spLr_);
      p.rimAp = half(0.5 * o.csfRimMm, spAp_);
      p.rimLr = half(0.5 * o.csfRimMm, spLr_);
      p.offAp = std::max(p.coreAp + p.rimAp + 1, vox(0.5 * ap + 0.5 * o.csfRimMm, spAp_));
      p.offLr = std::max(p.coreLr + p.rimLr + 1, vox(0.5 * rl + 0.5 * o.csfRimMm, spLr_));
      // The canal's walls: tissue one rim beyond the CSF probes (dura, ligaments, bone).
      p.wallAp = p.offAp + 2 * p.rimAp + std::max(1, vox(o.csfRimMm, spAp_));
      probes_.push_back(p);
    }
    strides_[0] = 1;
    strides_[1] = size[0];
    strides_[2] = size[0] * size[1];
  }

  int statesAp() const { return mAp_; }
  int statesLr() const { return mLr_; }
  double stepApMm() const { return strideAp_ * spAp_; }
  double stepLrMm() const { return strideLr_ * spLr_; }
  int strideAp() const { return strideAp_; }
  int strideLr() const { return strideLr_; }

  Plane plane(long k) const {
    // Summed-area table of the plane, scaled intensities.
    const long w = nLr_ + 1;
    std::vector<double> sat(static_cast<std::size_t>((nAp_ + 1) * w), 0.0);
    const float* buffer = image_->GetBufferPointer() + k * strides_[axes_.along];
    const double scale = scales_[static_cast<std::size_t>(k)];
    for (long i = 0; i < nAp_; ++i) {
      double row = 0;
      for (long j = 0; j < nLr_; ++j) {
        row += buffer[i * strides_[axes_.ap] + j * strides_[axes_.lr]] / scale;
        sat[(i + 1) * w + j + 1] = sat[i * w + j + 1] + row;
      }
    }
    const auto mean = [&](long i0, long i1, long j0, long j1) {  // inclusive bounds, all inside
      const double s = sat[(i1 + 1) * w + j1 + 1] - sat[i0 * w + j1 + 1] - sat[(i1 + 1) * w + j0] +
                       sat[i0 * w + j0];
      return s / static_cast<double>((i1 - i0 + 1) * (j1 - j0 + 1));
    };
    Plane out;
    out.positive.assign(static_cast<std::size_t>(mAp_ * mLr_), -kInf);
    out.negative.assign(out.positive.size(), -kInf);
    out.filled.assign(out.positive.size(), -kInf);
    for (const Probe& q : probes_) {
      const long reachAp = q.offAp + q.rimAp, reachLr = q.offLr + q.rimLr;
      // The cord's own boxes must be inside the plane; a lateral CSF probe may fall outside it
      // (a sagittal slab that the cord crosses obliquely ends beside it): that side is then
      // missing and the weakest of the other three decides.
      const long coreReachLr = std::max<long>(q.coreLr, 2 * q.innerLr + 1);
      for (int a = 0; a < mAp_; ++a) {
        const long i = static_cast<long>(a) * strideAp_;
        if (i - reachAp < 0 || i + reachAp >= nAp_) continue;
        for (int b = 0; b < mLr_; ++b) {
          const long j = static_cast<long>(b) * strideLr_;
          if (j - coreReachLr < 0 || j + coreReachLr >= nLr_) continue;
          const bool leftIn = j - reachLr >= 0, rightIn = j + reachLr < nLr_;
          if (!leftIn && !rightIn) continue;
          // Cord level: the median of five boxes tiling the cord, so that a lesion filling one or
          // two of them (central, or dorsal as in B12 myelopathy) does not lift it.
          double cord[5] = {mean(i - q.innerAp, i + q.innerAp, j - q.innerLr, j + q.innerLr),
                            mean(i - 2 * q.innerAp - 1, i - 1, j - q.innerLr, j + q.innerLr),
                            mean(i + 1, i + 2 * q.innerAp + 1, j - q.innerLr, j + q.innerLr),
                            mean(i - q.innerAp, i + q.innerAp, j - 2 * q.innerLr - 1, j - 1),
                            mean(i - q.innerAp, i + q.innerAp, j + 1, j + 2 * q.innerLr + 1)};
          std::nth_element(cord, cord + 2, cord + 5);
          const double core = cord[2];
          // CSF probes on four sides; the second weakest decides, so that one thin side (little
          // CSF in front of the cord at a disc bulge, thick sagittal slices beside it) is allowed.
          double csf[4];
          int sides = 0;
          csf[sides++] =
              mean(i - q.offAp - q.rimAp, i - q.offAp + q.rimAp, j - q.coreLr, j + q.coreLr);
          csf[sides++] =
              mean(i + q.offAp - q.rimAp, i + q.offAp + q.rimAp, j - q.coreLr, j + q.coreLr);
          if (leftIn)
            csf[sides++] =
                mean(i - q.coreAp, i + q.coreAp, j - q.offLr - q.rimLr, j - q.offLr + q.rimLr);
          if (rightIn)
            csf[sides++] =
                mean(i - q.coreAp, i + q.coreAp, j + q.offLr - q.rimLr, j + q.offLr + q.rimLr);
          std::sort(csf, csf + sides);
          const double bright = sides == 4 ? csf[1] : csf[0];
          const double dark = sides == 4 ? csf[2] : csf[sides - 1];
          const std::size_t s = static_cast<std::size_t>(a * mLr_ + b);
          out.positive[s] = std::max(out.positive[s], bright - core);
          out.negative[s] = std::max(out.negative[s], core - dark);
          // Filled canal: the column (core and both AP CSF probes) as bright as its dimmest part,
          // against the brighter of the two walls (both must be darker).
          if (i - q.wallAp - q.rimAp >= 0 && i + q.wallAp + q.rimAp < nAp_) {
            const double column = std::min(
                {core,
                 mean(i - q.offAp - q.rimAp, i - q.offAp + q.rimAp, j - q.coreLr, j + q.coreLr),
                 mean(i + q.offAp - q.rimAp, i + q.offAp + q.rimAp, j - q.coreLr, j + q.coreLr)});
            const double wall = std::max(
                mean(i - q.wallAp - q.rimAp, i - q.wallAp + q.rimAp, j - q.coreLr, j + q.coreLr),
                mean(i + q.wallAp - q.rimAp, i + q.wallAp + q.rimAp, j - q.coreLr, j + q.coreLr));
            out.filled[s] = std::max(out.filled[s], column - wall);
          }
        }
      }
    }
    return out;
  }

 private:
  const Image* image_;
  GridAxes axes_;
  std::vector<double> scales_;  // per plane
  long nAp_ = 0, nLr_ = 0;
  double spAp_ = 1, spLr_ = 1;
  int strideAp_ = 1, strideLr_ = 1, mAp_ = 0, mLr_ = 0;
  struct Probe {  // box half-sizes and offsets in voxels
    int coreAp = 0, coreLr = 0, innerAp = 0, innerLr = 0, rimAp = 0, rimLr = 0, offAp = 0,
        offLr = 0, wallAp = 0;
  };
  std::vector<Probe> probes_;
  long strides_[3] = {1, 1, 1};
};

// Felzenszwalb-Huttenlocher 1D distance transform: out[p] = min_q f[q] + w (p - q)^2, with the
// minimising q. Entries of f equal to +inf are not candidates.
void distanceTransform1d(const double* f, int n, long fStride, double w, double* out, int* arg,
                         long outStride, std::vector<int>& v, std::vector<double>& z) {
  v.resize(n);
  z.resize(n + 1);
  int k = -1;
  for (int q = 0; q < n; ++q) {
    const double fq = f[q * fStride];
    if (fq == kInf) continue;
    if (k < 0) {
      k = 0;
      v[0] = q;
      z[0] = -kInf;
      z[1] = kInf;
      continue;
    }
    double s;
    while (true) {
      const int r = v[k];
      s = ((fq + w * q * q) - (f[r * fStride] + w * r * r)) / (2.0 * w * (q - r));
      if (s <= z[k] && k > 0) {
        --k;
        continue;
      }
      break;
    }
    if (s <= z[k]) {  // k == 0 and the new parabola wins everywhere
      v[0] = q;
      z[0] = -kInf;
      z[1] = kInf;
      continue;
    }
    ++k;
    v[k] = q;
    z[k] = s;
    z[k + 1] = kInf;
  }
  if (k < 0) {
    for (int p = 0; p < n; ++p) {
      out[p * outStride] = kInf;
      arg[p * outStride] = -1;
    }
    return;
  }
  int j = 0;
  for (int p = 0; p < n; ++p) {
    while (z[j + 1] < p) ++j;
    const int q = v[j];
    out[p * outStride] = f[q * fStride] + w * (p - q) * (p - q);
    arg[p * outStride] = q;
  }
}

struct PathResult {
  std::vector<std::pair<long, int>> states;  // (plane, state index), cranial-caudal in plane order
  double total = -kInf;
  double meanResponse = 0;
};

// Best contiguous run through consecutive planes: value_k(p) = (response - presence) * dz +
// max(0, max_q value_{k-1}(q) - stiffness * |p - q|^2 / dz).
// drift(k) = expected (ap, lr) state position at plane k: penalties apply to departures from it,
// so a steadily tilted cord costs nothing while jumps still do.
PathResult bestPath(const std::vector<std::vector<double>>& responses, int mAp, int mLr,
                    double stepAp, double stepLr, double dz, double presence, double stiffness,
                    const std::function<std::pair<double, double>(long)>& drift, bool cheapSteps) {
  const long planes = static_cast<long>(responses.size());
  const std::size_t states = static_cast<std::size_t>(mAp) * mLr;
  std::vector<std::vector<int>> from(planes, std::vector<int>(states, -1));
  std::vector<double> previous(states, -kInf), current(states), cost(states), pass1(states),
      pass2(states);
  std::vector<int> arg1(states), arg2(states);
  std::vector<int> v;
  std::vector<double> z;
  // Penalty per plane: stiffness * (lateral move in mm)^2 / dz, a slope penalty. States coarser
  // than the plane spacing (thick sagittal slices seen from axial planes) cannot move gradually:
  // a cord crossing them obliquely must step a whole slice at once. With cheapSteps (the pass
  // that has no trend yet), a step to a neighbouring state is charged as a move of at most dz
  // (slope 1 over one plane); longer jumps pay their full distance. Once the trend is known the
  // drift carries the obliquity and departures from it pay in full.
  const double wAp = stiffness * stepAp * stepAp / dz, wLr = stiffness * stepLr * stepLr / dz;
  const double qAp = std::min(stepAp, dz), qLr = std::min(stepLr, dz);
  const double stepCostAp = stiffness * qAp * qAp / dz, stepCostLr = stiffness * qLr * qLr / dz;
  PathResult best;
  long bestPlane = -1;
  std::size_t bestState = 0;
  for (long k = 0; k < planes; ++k) {
    // cost = -value of the previous plane where it is worth continuing from.
    bool any = false;
    for (std::size_t s = 0; s < states; ++s) {
      cost[s] = previous[s] > 0 ? -previous[s] : kInf;
      any = any || previous[s] > 0;
    }
    if (any) {
      for (int a = 0; a < mAp; ++a)
        distanceTransform1d(&cost[static_cast<std::size_t>(a) * mLr], mLr, 1, wLr,
                            &pass1[static_cast<std::size_t>(a) * mLr],
                            &arg1[static_cast<std::size_t>(a) * mLr], 1, v, z);
      for (int b = 0; b < mLr; ++b)
        distanceTransform1d(&pass1[b], mAp, mLr, wAp, &pass2[b], &arg2[b], mLr, v, z);
    }
    const std::vector<double>& r = responses[k];
    int shiftAp = 0, shiftLr = 0;
    if (k > 0) {
      const auto [ap1, lr1] = drift(k);
      const auto [ap0, lr0] = drift(k - 1);
      shiftAp = static_cast<int>(std::lround(ap1) - std::lround(ap0));
      shiftLr = static_cast<int>(std::lround(lr1) - std::lround(lr0));
    }
    for (std::size_t s = 0; s < states; ++s) {
      if (r[s] == -kInf) {
        current[s] = -kInf;
        continue;
      }
      double carried = 0;
      int origin = -1;
      const int a0 = static_cast<int>(s / mLr) - shiftAp, b0 = static_cast<int>(s % mLr) - shiftLr;
      const std::size_t t = static_cast<std::size_t>(a0) * mLr + b0;
      if (any && a0 >= 0 && a0 < mAp && b0 >= 0 && b0 < mLr && pass2[t] != kInf && -pass2[t] > 0) {
        carried = -pass2[t];
        const int a = arg2[t];
        origin = a * mLr + arg1[static_cast<std::size_t>(a) * mLr + b0];
      }
      if (cheapSteps && any && a0 >= 0 && a0 < mAp && b0 >= 0 && b0 < mLr)
        for (int da = -1; da <= 1; ++da)
          for (int db = -1; db <= 1; ++db) {
            const int a = a0 + da, b = b0 + db;
            if ((da == 0 && db == 0) || a < 0 || a >= mAp || b < 0 || b >= mLr) continue;
            const std::size_t q = static_cast<std::size_t>(a) * mLr + b;
            const double value =
                previous[q] - (da != 0 ? stepCostAp : 0.0) - (db != 0 ? stepCostLr : 0.0);
            if (previous[q] > 0 && value > carried) {
              carried = value;
              origin = static_cast<int>(q);
            }
          }
      current[s] = (r[s] - presence) * dz + carried;
      from[k][s] = origin;
      if (current[s] > best.total) {
        best.total = current[s];
        bestPlane = k;
        bestState = s;
      }
    }
    std::swap(previous, current);
  }
  if (bestPlane < 0) return best;
  long k = bestPlane;
  int s = static_cast<int>(bestState);
  double sum = 0;
  while (k >= 0 && s >= 0) {
    best.states.emplace_back(k, s);
    sum += responses[k][s];
    s = from[k][s];
    --k;
  }
  std::reverse(best.states.begin(), best.states.end());
  best.meanResponse = sum / best.states.size();
  return best;
}

// The response level a clear cord reaches in this image: a high percentile of the positive
// responses (the cord is a small part of each plane, so not the median).
double typicalResponse(const std::vector<std::vector<double>>& responses) {
  std::vector<double> maxima;
  for (const auto& plane : responses) {
    double m = -kInf;
    for (double r : plane) m = std::max(m, r);
    if (m > 0) maxima.push_back(m);
  }
  if (maxima.empty()) return 0;
  auto it = maxima.begin() + static_cast<long>(0.75 * (maxima.size() - 1));
  std::nth_element(maxima.begin(), it, maxima.end());
  return *it;
}

}  // namespace

double Centerline::lengthMm() const {
  double length = 0;
  for (std::size_t i = 1; i < points.size(); ++i) length += norm(points[i] - points[i - 1]);
  return length;
}

Vec3 Centerline::tangent(std::size_t i) const {
  if (points.size() < 2) return {0, 0, -1};
  const std::size_t a = i == 0 ? 0 : i - 1;
  const std::size_t b = std::min(points.size() - 1, i + 1);
  return normalized(points[b] - points[a]);
}

std::vector<Vec3> robustSmoothCurve(const std::vector<Vec3>& points, long halfWindowPoints,
                                    double floorMm, int iterations) {
  const long n = static_cast<long>(points.size());
  if (n < 5 || halfWindowPoints < 2) return points;
  std::vector<double> robustness(n, 1.0);
  std::vector<Vec3> fitted(points);
  for (int iteration = 0; iteration <= iterations; ++iteration) {
    for (long i = 0; i < n; ++i) {
      // Weighted least squares of x(t) = a + b t + c t^2 around t = 0 (t in points), per axis.
      double m[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};
      double rhs[3][3] = {{0, 0, 0}, {0, 0, 0}, {0, 0, 0}};  // [axis][moment]
      for (long k = std::max(0L, i - halfWindowPoints); k <= std::min(n - 1, i + halfWindowPoints);
           ++k) {
        const double t = static_cast<double>(k - i);
        const double u = std::abs(t) / (halfWindowPoints + 1);
        const double v = 1 - u * u * u;
        const double tricube = v * v * v;
        const double w = tricube * robustness[k];
        if (w <= 0) continue;
        const double basis[3] = {1, t, t * t};
        for (int x = 0; x < 3; ++x) {
          for (int y = 0; y < 3; ++y) m[x][y] += w * basis[x] * basis[y];
          for (int axis = 0; axis < 3; ++axis) rhs[axis][x] += w * basis[x] * points[k][axis];
        }
      }
      // Solve the 3x3 system once per axis (Cramer's rule; the matrix is well conditioned when
      // enough neighbours carry weight, otherwise the point is kept).
      const double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                         m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                         m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
      if (std::abs(det) < 1e-9) {
        fitted[i] = points[i];
        continue;
      }
      for (int axis = 0; axis < 3; ++axis) {
        const double* r = rhs[axis];
        // a = det of m with column 0 replaced by r, / det
        const double a = r[0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                         m[0][1] * (r[1] * m[2][2] - m[1][2] * r[2]) +
                         m[0][2] * (r[1] * m[2][1] - m[1][1] * r[2]);
        fitted[i][axis] = a / det;
      }
    }
    if (iteration == iterations) break;
    std::vector<double> residual(n);
    for (long i = 0; i < n; ++i) residual[i] = norm(points[i] - fitted[i]);
    std::vector<double> sorted(residual);
    std::nth_element(sorted.begin(), sorted.begin() + n / 2, sorted.end());
    const double scale = std::max(floorMm, 6.0 * sorted[n / 2]);
    for (long i = 0; i < n; ++i) {
      const double u = residual[i] / scale;
      robustness[i] = u < 1 ? (1 - u * u) * (1 - u * u) : 0.0;
    }
  }
  return fitted;
}

double meanDistanceToCurve(const std::vector<Vec3>& a, const std::vector<Vec3>& b) {
  if (a.empty() || b.size() < 2) return kInf;
  double total = 0;
  for (const Vec3& p : a) {
    double best = kInf;
    for (std::size_t i = 1; i < b.size(); ++i) {
      const Vec3 d = b[i] - b[i - 1];
      const double len2 = dot(d, d);
      const double t = len2 > 0 ? std::clamp(dot(p - b[i - 1], d) / len2, 0.0, 1.0) : 0.0;
      best = std::min(best, norm(p - (b[i - 1] + t * d)));
    }
    total += best;
  }
  return total / a.size();
}

Centerline findCenterline(const Volume& volume, const CenterlineOptions& options) {
  const Image* image = volume.image.GetPointer();
  const GridAxes axes = gridAxes(image->GetDirection());
  const auto size = image->GetBufferedRegion().GetSize();
  const double dz = image->GetSpacing()[axes.along];
  const double scale = intensityScale(image, 500000);
  const Detector detector(image, axes, options, planeScales(image, axes, scale, dz));

  const long planes = static_cast<long>(size[axes.along]);
  std::vector<std::vector<double>> positive(planes), negative(planes);
  // Planes are independent: spread them over the cores.
  itk::MultiThreaderBase::New()->ParallelizeArray(
      0, static_cast<itk::SizeValueType>(planes),
      [&](itk::SizeValueType k) {
        Plane p = detector.plane(static_cast<long>(k));
        // With CSF bright, a section where a lesion as bright as CSF fills the cord is still a
        // canal filled wall to wall: that response, discounted, carries the path through it
        // (otherwise the best-scoring run leaves the canal for a darker strip beside it).
        for (std::size_t s = 0; s < p.positive.size(); ++s)
          if (p.filled[s] != -kInf)
            p.positive[s] = std::max(p.positive[s], options.filledCanalWeight * p.filled[s]);
        positive[k] = std::move(p.positive);
        negative[k] = std::move(p.negative);
      },
      nullptr);

  // Two passes: a stiff, strict one finds where the cord is unmistakable and how it runs through
  // the planes (a straight-line trend of its position); the second follows that trend, stiff
  // against departures from it but more tolerant of weak planes (low coil signal, a lesion).
  const auto run = [&](const std::vector<std::vector<double>>& responses) {
    const double typical = typicalResponse(responses);
    if (typical <= 0) return PathResult{};
    const auto none = [](long) { return std::pair<double, double>{0.0, 0.0}; };
    const PathResult strict =
        bestPath(responses, detector.statesAp(), detector.statesLr(), detector.stepApMm(),
                 detector.stepLrMm(), dz, 2 * options.presence * typical, typical, none, true);
    if (strict.states.size() < 3) return strict;
    double n = 0, sk = 0, skk = 0, sa = 0, ska = 0, sl = 0, skl = 0;
    for (const auto& [k, s] : strict.states) {
      const double a = s / detector.statesLr(), l = s % detector.statesLr();
      n += 1;
      sk += k;
      skk += double(k) * k;
      sa += a;
      ska += k * a;
      sl += l;
      skl += k * l;
    }
    const double det = n * skk - sk * sk;
    const double slopeAp = det > 0 ? (n * ska - sk * sa) / det : 0,
                 slopeLr = det > 0 ? (n * skl - sk * sl) / det : 0;
    const auto trend = [=](long k) { return std::pair<double, double>{slopeAp * k, slopeLr * k}; };
    return bestPath(responses, detector.statesAp(), detector.statesLr(), detector.stepApMm(),
                    detector.stepLrMm(), dz, options.presence * typical,
                    options.stiffness * typical, trend, false);
  };
  // Which polarity: CSF is the extreme compartment of the canal - the brightest tissue on T2 and
  // T2*, among the darkest on T1. For each polarity's path, the CSF probes' level as a percentile
  // of the image's foreground; the polarity whose CSF is the more extreme wins. The DP totals are
  // not comparable between polarities (on T2 a pocket of CSF beside the cord looks like a T1 cord).
  const ImageSampler sampler(image);
  std::vector<float> foreground;
  {
    const float* p = image->GetBufferPointer();
    const std::size_t n = image->GetBufferedRegion().GetNumberOfPixels();
    const double floor = 0.1 * scale;
    for (std::size_t i = 0; i < n; i += std::max<std::size_t>(1, n / 200000))
      if (p[i] > floor) foreground.push_back(p[i]);
    std::sort(foreground.begin(), foreground.end());
  }
  const auto toPoint = [&](long k, int s) {
    Vec3 index{0, 0, 0};
    index[axes.along] = static_cast<double>(k);
    index[axes.ap] = static_cast<double>((s / detector.statesLr()) * detector.strideAp());
    index[axes.lr] = static_cast<double>((s % detector.statesLr()) * detector.strideLr());
    return sampler.toPoint(index);
  };
  const auto csfPercentile = [&](const PathResult& path) {
    if (path.states.empty() || foreground.empty()) return 0.5;
    const auto direction = image->GetDirection();
    const Vec3 apAxis{direction[0][axes.ap], direction[1][axes.ap], direction[2][axes.ap]};
    const Vec3 lrAxis{direction[0][axes.lr], direction[1][axes.lr], direction[2][axes.lr]};
    std::vector<double> levels;
    for (std::size_t q = 0; q < path.states.size(); q += 2) {
      const Vec3 centre = toPoint(path.states[q].first, path.states[q].second);
      std::vector<double> ring;
      for (int j = 0; j < 16; ++j) {
        const double t = 2 * kPi * j / 16;
        const Vec3 at = centre +
                        (std::cos(t) * (0.5 * options.cordApMm + 0.5 * options.csfRimMm)) * apAxis +
                        (std::sin(t) * (0.5 * options.cordRlMm + 0.5 * options.csfRimMm)) * lrAxis;
        if (const auto v = sampler.at(at)) ring.push_back(*v);
      }
      if (ring.empty()) continue;
      std::nth_element(ring.begin(), ring.begin() + ring.size() / 2, ring.end());
      levels.push_back(ring[ring.size() / 2]);
    }
    if (levels.empty()) return 0.5;
    std::nth_element(levels.begin(), levels.begin() + levels.size() / 2, levels.end());
    const double level = levels[levels.size() / 2];
    return static_cast<double>(std::lower_bound(foreground.begin(), foreground.end(), level) -
                               foreground.begin()) /
           foreground.size();
  };
  int sign = options.contrast == Contrast::Auto ? 0 : csfSign(options.contrast);
  if (sign == 0) {
    const Contrast hinted = contrastFromMetadata(volume.meta);
    if (hinted != Contrast::Auto) sign = csfSign(hinted);
  }
  PathResult path;
  if (sign > 0)
    path = run(positive);
  else if (sign < 0)
    path = run(negative);
  else {
    PathResult bright = run(positive), dark = run(negative);
    const double brightCsf = csfPercentile(bright), darkCsf = 1.0 - csfPercentile(dark);
    sign = brightCsf >= darkCsf ? +1 : -1;
    path = std::move(sign > 0 ? bright : dark);
  }

  Centerline centerline;
  centerline.stepMm = options.stepMm;
  centerline.csfSign = sign;
  centerline.contrast =
      options.contrast == Contrast::Auto ? nameContrast(sign, volume.meta) : options.contrast;
  centerline.meanResponse = path.meanResponse;
  if (path.states.size() < 2) return centerline;

  std::vector<Vec3> points;
  for (const auto& [k, s] : path.states) {
    Vec3 index{0, 0, 0};
    index[axes.along] = static_cast<double>(k);
    index[axes.ap] = static_cast<double>((s / detector.statesLr()) * detector.strideAp());
    index[axes.lr] = static_cast<double>((s % detector.statesLr()) * detector.strideLr());
    points.push_back(sampler.toPoint(index));
  }
  points = smoothCurve(points, options.smoothingMm / dz);
  if (points.front()[2] < points.back()[2])
    std::reverse(points.begin(), points.end());  // LPS z: superior
  centerline.points = resampleEvenly(points, options.stepMm);
  return centerline;
}

void to_json(nlohmann::json& j, const Centerline& c) {
  j = nlohmann::json{{"found", c.found()},
                     {"length_mm", c.lengthMm()},
                     {"points", c.points.size()},
                     {"contrast", toString(c.contrast)},
                     {"mean_response", c.meanResponse}};
}

}  // namespace cordscope
