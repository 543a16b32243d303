#include "segmentation/CordSegmentation.h"

#include <itkMultiThreaderBase.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/ImageSampler.h"
#include "core/Statistics.h"

namespace cordscope {
namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
// AP/RL diameter ratio of the healthy cervical cord (normal values about 0.55-0.8, C2-C7).
constexpr double kTypicalApRlRatio = 0.68;

// r(theta) = c[0] + sum_n c[2n-1] cos(n theta) + c[2n] sin(n theta)
struct Contour {
  std::vector<double> c;
  double radius(double theta) const {
    // cos(n t), sin(n t) by angle addition from one sincos: the trigonometry dominated the
    // outline fits and rasterisation.
    const double c1 = std::cos(theta), s1 = std::sin(theta);
    double cn = 1, sn = 0, r = c[0];
    for (std::size_t n = 1; 2 * n < c.size() + 1; ++n) {
      const double next = cn * c1 - sn * s1;
      sn = sn * c1 + cn * s1;
      cn = next;
      r += c[2 * n - 1] * cn + c[2 * n] * sn;
    }
    return std::max(0.0, r);
  }
  double area() const {
    double a = 0;
    const int n = 180;
    for (int i = 0; i < n; ++i) {
      const double r = radius(2 * kPi * i / n);
      a += 0.5 * r * r * (2 * kPi / n);
    }
    return a;
  }
  double maxRadius() const {
    double m = 0;
    for (int i = 0; i < 72; ++i) m = std::max(m, radius(2 * kPi * i / 72));
    return m;
  }
};

// Solves the small dense system A x = b (Gaussian elimination with partial pivoting).
bool solve(std::vector<double> a, std::vector<double> b, std::vector<double>& x) {
  const int n = static_cast<int>(b.size());
  for (int col = 0; col < n; ++col) {
    int pivot = col;
    for (int r = col + 1; r < n; ++r)
      if (std::abs(a[r * n + col]) > std::abs(a[pivot * n + col])) pivot = r;
    if (std::abs(a[pivot * n + col]) < 1e-12) return false;
    for (int k = 0; k < n; ++k) std::swap(a[col * n + k], a[pivot * n + k]);
    std::swap(b[col], b[pivot]);
    for (int r = col + 1; r < n; ++r) {
      const double f = a[r * n + col] / a[col * n + col];
      for (int k = col; k < n; ++k) a[r * n + k] -= f * a[col * n + k];
      b[r] -= f * b[col];
    }
  }
  x.assign(n, 0.0);
  for (int r = n - 1; r >= 0; --r) {
    double s = b[r];
    for (int k = r + 1; k < n; ++k) s -= a[r * n + k] * x[k];
    x[r] = s / a[r * n + r];
  }
  return true;
}

// Robust (Tukey biweight, IRLS) least-squares Fourier contour through the valid ray radii.
// Rays that disagree with the outline of the others - a lesion at the edge, a nerve root - get
// no weight. Fails when fewer than 60 % of the rays found a boundary.
bool fitContour(const std::vector<double>& theta, const std::vector<double>& radius, int harmonics,
                Contour& out) {
  std::vector<std::size_t> valid;
  for (std::size_t i = 0; i < radius.size(); ++i)
    if (std::isfinite(radius[i])) valid.push_back(i);
  if (valid.size() < 0.6 * radius.size()) return false;
  const int p = 2 * harmonics + 1;
  std::vector<double> weight(radius.size(), 1.0), coeff;
  // The Fourier basis at each ray, once.
  std::vector<double> basisTable(radius.size() * p);
  for (std::size_t i : valid) {
    double* basis = &basisTable[i * p];
    basis[0] = 1;
    for (int n = 1; n <= harmonics; ++n) {
      basis[2 * n - 1] = std::cos(n * theta[i]);
      basis[2 * n] = std::sin(n * theta[i]);
    }
  }
  const auto predicted = [&](const std::vector<double>& c, std::size_t i) {
    double r = 0;
    for (int x = 0; x < p; ++x) r += c[x] * basisTable[i * p + x];
    return std::max(0.0, r);
  };
  std::vector<double> r;
  for (std::size_t i : valid) r.push_back(radius[i]);
  coeff.assign(p, 0.0);
  coeff[0] = median(r);
  for (int iteration = 0; iteration < 8; ++iteration) {
    // Residuals and robust scale from the current fit (the first pass: a circle at the median).
    std::vector<double> absResidual;
    for (std::size_t i : valid) absResidual.push_back(std::abs(radius[i] - predicted(coeff, i)));
    const double scale = std::max(0.25, 1.4826 * median(absResidual));
    for (std::size_t i : valid) {
      const double u = (radius[i] - predicted(coeff, i)) / (4.685 * scale);
      weight[i] = std::abs(u) < 1 ? (1 - u * u) * (1 - u * u) : 0.0;
    }
    std::vector<double> a(p * p, 0.0), b(p, 0.0);
    for (std::size_t i : valid) {
      const double* basis = &basisTable[i * p];
      for (int x = 0; x < p; ++x) {
        b[x] += weight[i] * basis[x] * radius[i];
        for (int y = 0; y < p; ++y) a[x * p + y] += weight[i] * basis[x] * basis[y];
      }
    }
    std::vector<double> next;
    if (!solve(a, b, next)) return iteration > 0 && (out.c = coeff, true);
    coeff = next;
  }
  out.c = coeff;
  return coeff[0] > 0;
}

// A station's sampling frame: tangent t (caudal), u towards the patient's anterior, w = t x u.
struct Frame {
  Vec3 centre, t, u, w;
};

Frame frameAt(const Vec3& centre, const Vec3& tangent) {
  Frame f{centre, tangent, {}, {}};
  const Vec3 anterior{0, -1, 0};  // LPS
  Vec3 u = anterior - dot(anterior, tangent) * tangent;
  if (norm(u) < 1e-6) u = Vec3{1, 0, 0} - tangent[0] * tangent;  // cord running AP: degenerate
  f.u = normalized(u);
  f.w = normalized(cross(tangent, f.u));
  return f;
}

struct StationFit {
  bool cordValid = false, canalValid = false;
  bool cordHidden = false;  // the canal was seen, the cord in it was not (as bright as the CSF)
  Contour cord, canal;
};

// The cord and canal radii along each ray of one station, then their contours.
StationFit fitStation(const ImageSampler& sampler, const Frame& f, int sign, double scale,
                      const CordOptions& o, const std::vector<double>& theta) {
  const int rays = static_cast<int>(theta.size());
  const int samples = static_cast<int>(o.maxRadiusMm / o.sampleStepMm) + 1;
  std::vector<double> values(static_cast<std::size_t>(rays) * samples, kNaN);
  std::vector<double> core;
  for (int j = 0; j < rays; ++j) {
    const Vec3 dir = std::cos(theta[j]) * f.u + std::sin(theta[j]) * f.w;
    for (int m = 0; m < samples; ++m) {
      const double r = m * o.sampleStepMm;
      const auto v = sampler.at(f.centre + r * dir);
      if (!v) break;
      values[static_cast<std::size_t>(j) * samples + m] = sign * *v / scale;
      if (r <= 3.0) core.push_back(sign * *v / scale);
    }
  }
  StationFit fit;
  if (core.empty()) return fit;
  // Cord level: a low percentile of the core, so that a lesion in it does not raise it.
  auto it = core.begin() + static_cast<long>(0.25 * (core.size() - 1));
  std::nth_element(core.begin(), it, core.end());
  const double cordLevel = *it;
  std::vector<double> peaks;
  for (int j = 0; j < rays; ++j) {
    double peak = -std::numeric_limits<double>::infinity();
    for (int m = static_cast<int>(1.0 / o.sampleStepMm); m < samples; ++m) {
      const double v = values[static_cast<std::size_t>(j) * samples + m];
      if (std::isnan(v)) break;
      peak = std::max(peak, v);
    }
    if (std::isfinite(peak)) peaks.push_back(peak);
  }
  if (peaks.size() < 0.6 * rays) return fit;
  const double csfLevel = median(peaks);
  // Where the cord's inside is as bright as the CSF around it (a holocord lesion), no cord edge
  // can be seen, but the canal still can: the CSF ends at the dura, bone or ligament, darker than
  // it whatever the cord does. Its outline then comes from the fall half-way from the CSF to the
  // tissue beyond (the darkest a ray reaches past its peak), and the cord's is left to its
  // neighbours and the canal (fillCordFromCanal).
  std::vector<double> beyond;
  for (int j = 0; j < rays; ++j) {
    const double* raw = &values[static_cast<std::size_t>(j) * samples];
    int peakAt = -1;
    double peak = -std::numeric_limits<double>::infinity(),
           low = std::numeric_limits<double>::infinity();
    for (int m = 0; m < samples && !std::isnan(raw[m]); ++m) {
      if (raw[m] > peak) {
        peak = raw[m];
        peakAt = m;
        low = std::numeric_limits<double>::infinity();
      } else {
        low = std::min(low, raw[m]);
      }
    }
    if (peakAt >= 0 && std::isfinite(low)) beyond.push_back(low);
  }
  const double outsideLevel = beyond.size() >= 0.3 * rays ? median(beyond) : kNaN;
  const bool cordVisible = csfLevel > cordLevel &&
                           !(std::isfinite(outsideLevel) && csfLevel > outsideLevel &&
                             csfLevel - cordLevel < o.minCordContrast * (csfLevel - outsideLevel));
  if (!cordVisible) {
    if (!std::isfinite(outsideLevel) || csfLevel <= outsideLevel) return fit;
    const double canalThreshold = 0.5 * (csfLevel + outsideLevel);
    std::vector<double> canalRadius(rays, kNaN);
    for (int j = 0; j < rays; ++j) {
      const double* raw = &values[static_cast<std::size_t>(j) * samples];
      for (int m = 1; m < samples && !std::isnan(raw[m]); ++m)
        if (raw[m - 1] >= canalThreshold && raw[m] < canalThreshold) {
          canalRadius[j] =
              (m - 1 + (canalThreshold - raw[m - 1]) / (raw[m] - raw[m - 1])) * o.sampleStepMm;
          break;
        }
    }
    fit.canalValid = fitContour(theta, canalRadius, o.canalHarmonics, fit.canal);
    fit.cordHidden = fit.canalValid;
    return fit;
  }
  const double threshold = 0.5 * (cordLevel + csfLevel);

  std::vector<double> innerRadius(rays, kNaN), outerRadius(rays, kNaN), canalRadius(rays, kNaN);
  const auto crossing = [&](double a, double b, int m) {  // between samples m-1 (a) and m (b)
    const double frac = (threshold - a) / (b - a);
    return (m - 1 + std::clamp(frac, 0.0, 1.0)) * o.sampleStepMm;
  };
  // Each ray: lightly smoothed profile, then (1) into the cord proper (a lesion may sit on the
  // centre), (2) the run above the threshold that follows is CSF, possibly behind a lesion at the
  // cord edge, (3) two candidates for the cord boundary: the first strong rising edge and the
  // outermost clear one before the CSF peak (they differ where a dorsal-column lesion or a band of
  // dimmer CSF lies between cord and bright CSF; the station's outline decides, below), and (4)
  // the canal boundary is where the profile falls back below the threshold.
  const double sigmaSamples = 0.4 / o.sampleStepMm;
  const int kernelRadius = static_cast<int>(std::ceil(2.5 * sigmaSamples));
  std::vector<double> kernel(2 * kernelRadius + 1);
  for (int d = -kernelRadius; d <= kernelRadius; ++d)
    kernel[d + kernelRadius] = std::exp(-0.5 * d * d / (sigmaSamples * sigmaSamples));
  std::vector<double> profile(samples), slope(samples);
  for (int j = 0; j < rays; ++j) {
    const double* raw = &values[static_cast<std::size_t>(j) * samples];
    int length = 0;
    while (length < samples && !std::isnan(raw[length])) ++length;
    if (length < 3) continue;
    for (int m = 0; m < length; ++m) {
      double sum = 0, weight = 0;
      for (int d = -kernelRadius; d <= kernelRadius; ++d) {
        const int k = m + d;
        if (k < 0 || k >= length) continue;
        sum += kernel[d + kernelRadius] * raw[k];
        weight += kernel[d + kernelRadius];
      }
      profile[m] = sum / weight;
    }
    const double* v = profile.data();
    int m = 0;
    while (m < length && v[m] >= threshold) ++m;
    const int inside = m;
    while (m < length && v[m] < threshold) ++m;
    if (m >= length) continue;
    const int csfStart = m;
    while (m < length && v[m] >= threshold) ++m;
    const int csfEnd = m;  // first sample below again, or the ray's end
    const int peak = static_cast<int>(std::max_element(v + csfStart, v + csfEnd) - v);
    const int from = std::max(inside + 1, csfStart - static_cast<int>(1.0 / o.sampleStepMm));
    double steepest = 0;
    for (int k = from; k <= peak; ++k) {
      slope[k] = k + 1 < length ? 0.5 * (v[k + 1] - v[k - 1]) : 0.0;  // no slope past the ray
      steepest = std::max(steepest, slope[k]);
    }
    if (steepest <= 0) continue;
    const auto refined = [&](int edge) {  // parabolic refinement of the slope maximum
      double offset = 0;
      if (edge > from && edge < peak) {
        const double a = slope[edge - 1], b = slope[edge], c = slope[edge + 1];
        const double denominator = a - 2 * b + c;
        if (denominator < 0) offset = std::clamp(0.5 * (a - c) / denominator, -0.5, 0.5);
      }
      return (edge + offset) * o.sampleStepMm;
    };
    const auto clearEdge = [&](int k, double fraction) {
      if (k + 1 >= length) return false;
      const bool localMax =
          (k == from || slope[k] >= slope[k - 1]) && (k == peak || slope[k] >= slope[k + 1]);
      return localMax && slope[k] >= fraction * steepest;
    };
    for (int k = from; k <= peak; ++k)
      if (clearEdge(k, 0.35)) {
        innerRadius[j] = refined(k);
        break;
      }
    for (int k = peak; k >= from; --k)
      if (clearEdge(k, 0.35)) {
        outerRadius[j] = refined(k);
        break;
      }
    if (csfEnd < length) canalRadius[j] = crossing(v[csfEnd - 1], v[csfEnd], csfEnd);
  }
  // The two outlines agree on most stations. Where they differ, the one with the cervical cord's
  // shape wins: its AP/RL ratio is about 0.55-0.8 in health (below 0.4 only where compressed), so
  // an outline that went through a dorsal lesion to the CSF keeps that ratio while the inner one
  // is flattened, and an outline that took in a band of dim CSF behind the cord turns round.
  Contour inner, outer;
  const bool innerValid = fitContour(theta, innerRadius, o.cordHarmonics, inner);
  const bool outerValid = fitContour(theta, outerRadius, o.cordHarmonics, outer);
  // The cord is also left-right symmetric about its centre: an outline cut short on one side (a
  // lateral lesion taken for CSF) is lopsided.
  const auto shapeCost = [](const Contour& c) {
    const double left = c.radius(0.5 * kPi), right = c.radius(1.5 * kPi);
    const double ap = c.radius(0) + c.radius(kPi), rl = left + right;
    if (rl <= 0 || left <= 0 || right <= 0) return 1e9;
    // Half weight: the centre the two sides are measured from is itself an estimate.
    return std::abs(std::log(ap / rl / kTypicalApRlRatio)) + 0.5 * std::abs(std::log(left / right));
  };
  if (innerValid && (!outerValid || shapeCost(inner) < shapeCost(outer))) {
    fit.cord = inner;
    fit.cordValid = true;
  } else {
    fit.cord = outer;
    fit.cordValid = outerValid;
  }
  fit.canalValid = fitContour(theta, canalRadius, o.canalHarmonics, fit.canal);
  return fit;
}

// Stations whose outline is displaced from the outlines around them (its centre against the
// median outline's over +-windowStations) by much more than stations usually are, are not
// trusted: a lesion as bright as CSF filling part of the section pushes the outline to the other
// side, a nerve root or flow void pulls it. They are marked invalid and smoothContours fills them
// from the cord above and below. Displacement only - the first harmonic: a change of size or
// shape (a compressed, flattened cord; the enlargement) is real and keeps its measured outline.
void rejectOutlierStations(const std::vector<Contour>& contours, std::vector<bool>& valid,
                           long windowStations) {
  const long n = static_cast<long>(contours.size());
  std::vector<double> deviation(n, kNaN);
  std::vector<double> values;
  for (long i = 0; i < n; ++i) {
    if (!valid[i]) continue;
    const std::size_t p = contours[i].c.size();
    Contour reference{std::vector<double>(p, 0.0)};
    for (std::size_t c = 0; c < p; ++c) {
      values.clear();
      for (long k = std::max(0L, i - windowStations); k <= std::min(n - 1, i + windowStations); ++k)
        if (valid[k] && contours[k].c.size() == p) values.push_back(contours[k].c[c]);
      reference.c[c] = median(values);
    }
    deviation[i] =
        p >= 3 ? std::hypot(contours[i].c[1] - reference.c[1], contours[i].c[2] - reference.c[2])
               : 0.0;
  }
  values.clear();
  for (double d : deviation)
    if (std::isfinite(d)) values.push_back(d);
  if (values.size() < 8) return;
  const double typical = median(values);
  std::vector<double> spread;
  for (double d : values) spread.push_back(std::abs(d - typical));
  const double limit = std::max(0.5, typical + 4 * 1.4826 * median(spread));
  for (long i = 0; i < n; ++i)
    if (valid[i] && deviation[i] > limit) valid[i] = false;
}

// Stations whose cord outline lost part of the cord to a bright lesion: the lesion was read as
// CSF, so the outline is too small across one axis for its canal (against the same patient's
// typical stations) and the apparent CSF on one side too thick. Compression also makes the cord
// small for its canal, but squeezes the CSF around it rather than widening it. Such stations are
// marked invalid (and `occluded`), so that their cord comes from the canal and the neighbours.
void rejectOccludedStations(const std::vector<Contour>& cord, const std::vector<Contour>& canal,
                            std::vector<bool>& cordValid, const std::vector<bool>& canalValid,
                            const CordOptions& o, long minRunStations,
                            std::vector<bool>& occluded) {
  const std::size_t n = cord.size();
  occluded.assign(n, false);
  // Per station and axis (AP, RL): the cord's diameter as a fraction of the canal's, and the CSF
  // across that axis (both sides together: the station's centre moves with the outline, the sum
  // does not); and the cord's own AP/RL ratio.
  // [5]: the cord's mean radius over its canal's (its size whatever its shape); [6]: the cord's
  // mean radius itself (mm).
  std::vector<std::array<double, 7>> shape(n, {kNaN, kNaN, kNaN, kNaN, kNaN, kNaN, kNaN});
  std::vector<double> ratio[2], csf[2], flatness, size, radius;
  // A station whose own canal outline was rejected is judged against the nearest accepted one
  // within a few millimetres (the canal changes slowly; the cord inside it is what is in doubt).
  const long canalReach = 2 * minRunStations;
  for (std::size_t i = 0; i < n; ++i) {
    if (!cordValid[i]) continue;
    long c = -1;
    for (long d = 0; d <= canalReach && c < 0; ++d)
      for (long k : {static_cast<long>(i) - d, static_cast<long>(i) + d})
        if (c < 0 && k >= 0 && k < static_cast<long>(n) && canalValid[k]) c = k;
    if (c < 0) continue;
    const Contour& canalHere = canal[c];
    for (int axis = 0; axis < 2; ++axis) {
      const double a = axis == 0 ? 0 : 0.5 * kPi;
      const double canalDiameter = canalHere.radius(a) + canalHere.radius(a + kPi);
      const double cordDiameter = cord[i].radius(a) + cord[i].radius(a + kPi);
      if (canalDiameter <= 0) break;
      shape[i][axis] = cordDiameter / canalDiameter;
      shape[i][2 + axis] = canalDiameter - cordDiameter;
    }
    if (!std::isfinite(shape[i][1])) continue;
    const double rl = cord[i].radius(0.5 * kPi) + cord[i].radius(1.5 * kPi);
    shape[i][4] = rl > 0 ? (cord[i].radius(0) + cord[i].radius(kPi)) / rl : kNaN;
    shape[i][5] = canalHere.c.empty() || canalHere.c[0] <= 0 || cord[i].c.empty()
                      ? kNaN
                      : cord[i].c[0] / canalHere.c[0];
    if (std::isfinite(shape[i][5])) size.push_back(shape[i][5]);
    if (!cord[i].c.empty() && cord[i].c[0] > 0) {
      shape[i][6] = cord[i].c[0];
      radius.push_back(shape[i][6]);
    }
    for (int axis = 0; axis < 2; ++axis) {
      ratio[axis].push_back(shape[i][axis]);
      csf[axis].push_back(shape[i][2 + axis]);
    }
    flatness.push_back(shape[i][4]);
  }
  if (ratio[0].size() < 20) return;
  // Typical: an upper quantile of the size ratio and the median CSF, over the whole run (a lesion
  // only makes the apparent cord smaller and the apparent CSF thicker).
  double typicalRatio[2], typicalCsf[2];
  for (int axis = 0; axis < 2; ++axis) {
    typicalRatio[axis] = percentile(ratio[axis], 0.75);
    typicalCsf[axis] = median(csf[axis]);
  }
  const double typicalFlatness = median(flatness);
  const double typicalSize = size.empty() ? kNaN : percentile(size, 0.75);
  const double typicalRadius = radius.empty() ? kNaN : percentile(radius, 0.75);
  // Judged on the running median over a few millimetres: single outlines flicker about the
  // limits, a lesion does not.
  std::vector<bool> suspect(n, false);
  const long half = minRunStations / 2;
  const long reach = 4 * minRunStations;  // the cord beside a station: 1-2 reaches away
  for (std::size_t i = 0; i < n; ++i) {
    if (!std::isfinite(shape[i][1])) continue;
    std::array<double, 7> local;
    for (int q = 0; q < 7; ++q) {
      std::vector<double> around;
      for (long k = std::max(0L, static_cast<long>(i) - half); k <= std::min<long>(n - 1, i + half);
           ++k)
        if (std::isfinite(shape[k][q])) around.push_back(shape[k][q]);
      local[q] = median(around);
    }
    // The outline must also have lost the cord's shape across that axis: flattened (AP lost)
    // against the patient's typical outline. Near the foramen magnum the canal widens round a
    // cord of normal shape: small for its canal, much CSF, but not occluded. Not "narrowed (RL
    // lost)" by the same test: below the enlargement the cord is rounder and the canal wider in
    // RL, and on 3-3.5 mm sagittal slices its RL extent is read from three slices - that test
    // modelled a lesion-free C7 from its canal and a false 11.7 mm lesion came with it (unseen
    // draw random-23-13, now pam50-tall10-tilt-lordosis); without it no study of the set or of
    // six unseen draws of 20 changed its lesions, and a lateral lesion's lost side is caught by
    // the size clauses below.
    const bool shapeLost[2] = {local[4] < o.occludedSizeRatio * typicalFlatness, false};
    // Or abruptly smaller than the cord just above or below it, in millimetres: an outline that
    // lost a side and narrowed with it (a dorsal lesion's tapered end) keeps its shape but not its
    // size, and no cord narrows by a quarter within a centimetre (the enlargement tapers over
    // several; at the junction the canal widens round a cord of normal size).
    bool shrunk = false;
    for (int side : {-1, +1}) {
      std::vector<double> beside;
      for (long d = reach; d <= 2 * reach; ++d) {
        const long k = static_cast<long>(i) + side * d;
        if (k >= 0 && k < static_cast<long>(n) && std::isfinite(shape[k][6]))
          beside.push_back(shape[k][6]);
      }
      if (beside.size() >= static_cast<std::size_t>(reach / 2) &&
          local[6] < o.occludedSizeRatio * median(beside))
        shrunk = true;
    }
    for (int axis = 0; axis < 2; ++axis)
      if ((shapeLost[axis] || shrunk) && local[axis] < o.occludedSizeRatio * typicalRatio[axis] &&
          local[2 + axis] > o.occludedCsfKept * typicalCsf[axis])
        suspect[i] = true;
    // Collapsed: the cord's mean radius far below typical both against its canal's and in mm
    // (near the foramen magnum the canal widens round a cord of normal size), its shape whatever
    // it is, and the CSF across both axes together kept (the lost cord adds to the apparent CSF;
    // a compression squeezes it out).
    const bool collapsed =
        local[5] < o.occludedCollapseRatio * typicalSize &&
        local[6] < o.occludedCollapseRatio * typicalRadius &&
        local[2] + local[3] > o.occludedCsfKept * (typicalCsf[0] + typicalCsf[1]);
    if (collapsed) suspect[i] = true;
  }
  // A lesion has length: runs shorter than occludedMinRun stations are noise (an image edge, a
  // nerve root), not an occluded cord.
  for (std::size_t i = 0; i < n;) {
    if (!suspect[i]) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < n && suspect[j]) ++j;
    if (static_cast<long>(j - i) >= minRunStations)
      for (std::size_t k = i; k < j; ++k) occluded[k] = true;
    i = j;
  }
  // A lesion's tapered ends and a skip between two runs occlude less, but still: the runs are
  // widened by half a run each way, and gaps shorter than a run between them closed.
  std::vector<bool> widened = occluded;
  for (long i = 0; i < static_cast<long>(n); ++i)
    if (occluded[i])
      for (long k = std::max(0L, i - half); k <= std::min<long>(n - 1, i + half); ++k)
        widened[k] = true;
  for (std::size_t i = 0; i < n;) {
    if (widened[i]) {
      ++i;
      continue;
    }
    std::size_t j = i;
    while (j < n && !widened[j]) ++j;
    if (i > 0 && j < n && static_cast<long>(j - i) < minRunStations)
      for (std::size_t k = i; k < j; ++k) widened[k] = true;
    i = j;
  }
  for (std::size_t i = 0; i < n; ++i)
    if (widened[i] && canalValid[i]) {
      occluded[i] = true;
      cordValid[i] = false;
    }
}

// The cord where it could not be outlined (hidden in a lesion as bright as CSF, or occluded)
// but its canal could: the same patient's cord-in-canal relation - the cord's mean radius as a
// fraction of the canal's, its centre's offset from the canal's, its ellipticity - carried over
// from the stations where both were seen (Gaussian-weighted along the cord, the window widened
// until it reaches some), applied to this station's canal, over gaps of at least minGapStations.
// Returns which stations were filled.
std::vector<bool> fillCordFromCanal(std::vector<Contour>& cord, const std::vector<Contour>& canal,
                                    const std::vector<bool>& cordValid,
                                    const std::vector<bool>& canalValid,
                                    const std::vector<bool>& occluded, double sigmaStations,
                                    long minGapStations) {
  const long n = static_cast<long>(cord.size());
  std::vector<bool> filled(n, false);
  std::vector<std::array<double, 5>> relation(n);
  std::vector<bool> known(n, false);
  long count = 0;
  for (long i = 0; i < n; ++i) {
    if (!cordValid[i] || !canalValid[i] || cord[i].c.size() < 5 || canal[i].c.size() < 3 ||
        canal[i].c[0] <= 0 || cord[i].c[0] <= 0)
      continue;
    relation[i] = {cord[i].c[0] / canal[i].c[0], cord[i].c[1] - canal[i].c[1],
                   cord[i].c[2] - canal[i].c[2], cord[i].c[3] / cord[i].c[0],
                   cord[i].c[4] / cord[i].c[0]};
    known[i] = true;
    ++count;
  }
  if (count == 0) return filled;
  // Short gaps are bridged better by the cord on either side (smoothContours): the relation is
  // for stretches longer than a cord's own course can be interpolated over, and for occluded
  // stations (their neighbours are often occluded too, only less clearly).
  std::vector<bool> longGap(occluded.begin(), occluded.end());
  for (long i = 0; i < n;) {
    if (cordValid[i]) {
      ++i;
      continue;
    }
    long j = i;
    while (j < n && !cordValid[j]) ++j;
    if (j - i >= minGapStations)
      for (long k = i; k < j; ++k) longGap[k] = true;
    i = j;
  }
  const long radius = static_cast<long>(std::ceil(3 * sigmaStations));
  for (long i = 0; i < n; ++i) {
    if (cordValid[i] || !longGap[i] || !canalValid[i] || canal[i].c.size() < 3) continue;
    std::array<double, 5> sum{};
    double weight = 0;
    for (long reach = radius; weight == 0 && reach <= 2 * n; reach *= 2)
      for (long k = std::max(0L, i - reach); k <= std::min(n - 1, i + reach); ++k) {
        if (!known[k]) continue;
        const double d = static_cast<double>(k - i);
        const double g = std::exp(-0.5 * d * d / (sigmaStations * sigmaStations)) + 1e-300;
        weight += g;
        for (int c = 0; c < 5; ++c) sum[c] += g * relation[k][c];
      }
    if (weight == 0) continue;
    for (double& v : sum) v /= weight;
    const double r0 = sum[0] * canal[i].c[0];
    cord[i].c = {r0, canal[i].c[1] + sum[1], canal[i].c[2] + sum[2], sum[3] * r0, sum[4] * r0};
    filled[i] = true;
  }
  return filled;
}

// Gaussian smoothing of per-station coefficient vectors over the valid stations (normalised
// convolution, which also fills invalid stations from their neighbours).
std::vector<Contour> smoothContours(const std::vector<Contour>& contours,
                                    const std::vector<bool>& valid, double sigmaStations,
                                    std::vector<bool>& filled) {
  const long n = static_cast<long>(contours.size());
  const long radius = static_cast<long>(std::ceil(3 * std::max(sigmaStations, 0.5)));
  std::size_t p = 0;
  for (long i = 0; i < n; ++i)
    if (valid[i]) p = contours[i].c.size();
  std::vector<Contour> out(n, Contour{std::vector<double>(std::max<std::size_t>(p, 1), 0.0)});
  filled.assign(n, false);
  if (p == 0) return out;
  for (long i = 0; i < n; ++i) {
    double weight = 0;
    std::vector<double> sum(p, 0.0);
    // Widen the window until something valid is in it (long gaps are bridged by the nearest).
    for (long reach = radius; weight == 0 && reach <= n; reach *= 2) {
      for (long d = -reach; d <= reach; ++d) {
        const long k = i + d;
        if (k < 0 || k >= n || !valid[k]) continue;
        const double g = std::exp(-0.5 * d * d / (sigmaStations * sigmaStations + 1e-9));
        weight += g;
        for (std::size_t c = 0; c < p; ++c) sum[c] += g * contours[k].c[c];
      }
      if (weight < 1e-12) weight = 0;
    }
    if (weight == 0) continue;
    for (std::size_t c = 0; c < p; ++c) out[i].c[c] = sum[c] / weight;
    filled[i] = true;
  }
  return out;
}

Mask::Pointer emptyMaskLike(const Image* image) {
  auto mask = Mask::New();
  mask->CopyInformation(image);
  mask->SetRegions(image->GetLargestPossibleRegion());
  mask->Allocate();
  mask->FillBuffer(0);
  return mask;
}

// Marks every voxel whose centre lies inside the station's contour, within its slab along t.
void rasterise(const ImageSampler& sampler, const Frame& f, const Contour& contour, double halfSlab,
               Mask* mask) {
  // The outline tabulated every half degree: evaluating the Fourier series per voxel costs more
  // than the rest of the rasterisation.
  constexpr int kTable = 720;
  std::array<double, kTable + 1> table;
  for (int a = 0; a <= kTable; ++a) table[a] = contour.radius(2 * kPi * a / kTable);
  const auto radiusAt = [&](double theta) {
    const double u = (theta < 0 ? theta + 2 * kPi : theta) * kTable / (2 * kPi);
    const int a = std::min(kTable - 1, static_cast<int>(u));
    const double t = u - a;
    return table[a] * (1 - t) + table[a + 1] * t;
  };
  const double reach = contour.maxRadius() + 0.01;
  if (reach <= 0.01) return;
  const auto size = mask->GetLargestPossibleRegion().GetSize();
  double lo[3] = {1e300, 1e300, 1e300}, hi[3] = {-1e300, -1e300, -1e300};
  for (int corner = 0; corner < 8; ++corner) {
    const Vec3 p = f.centre + ((corner & 1) ? halfSlab : -halfSlab) * f.t +
                   ((corner & 2) ? reach : -reach) * f.u + ((corner & 4) ? reach : -reach) * f.w;
    const Vec3 index = sampler.toIndex(p);
    for (int a = 0; a < 3; ++a) {
      lo[a] = std::min(lo[a], index[a]);
      hi[a] = std::max(hi[a], index[a]);
    }
  }
  long from[3], to[3];
  for (int a = 0; a < 3; ++a) {
    from[a] = std::max(0L, static_cast<long>(std::ceil(lo[a])));
    to[a] = std::min(static_cast<long>(size[a]) - 1, static_cast<long>(std::floor(hi[a])));
    if (from[a] > to[a]) return;
  }
  unsigned char* buffer = mask->GetBufferPointer();
  for (long k = from[2]; k <= to[2]; ++k)
    for (long j = from[1]; j <= to[1]; ++j)
      for (long i = from[0]; i <= to[0]; ++i) {
        const Vec3 d = sampler.toPoint({static_cast<double>(i), static_cast<double>(j),
                                        static_cast<double>(k)}) -
                       f.centre;
        const double along = dot(d, f.t);
        if (std::abs(along) > halfSlab) continue;
        const double x = dot(d, f.u), y = dot(d, f.w);
        const double r = std::hypot(x, y);
        if (r > reach) continue;
        if (r <= radiusAt(std::atan2(y, x))) buffer[i + size[0] * (j + size[1] * k)] = 1;
      }
}

}  // namespace

CordSegmentation segmentCord(const Volume& volume, const Centerline& initial,
                             const CordOptions& options) {
  const Image* image = volume.image.GetPointer();
  CordSegmentation out;
  out.cord = emptyMaskLike(image);
  out.canal = emptyMaskLike(image);
  out.centerline = initial;
  if (!initial.found()) {
    out.failure = "no spinal cord found: no CSF-lined tube of cord size runs through the image";
    out.centerline.points.clear();
    return out;
  }
  const ImageSampler sampler(image);
  const double scale = intensityScale(image, 200000);
  std::vector<double> theta(options.rays);
  for (int j = 0; j < options.rays; ++j) theta[j] = 2 * kPi * j / options.rays;

  std::vector<Vec3> centres = resampleEvenly(initial.points, options.stationStepMm);
  std::vector<Frame> frames;
  std::vector<Contour> cord, canal;
  std::vector<bool> cordFilled, canalFilled, measured, occluded, modelled;
  const double sigma = options.smoothingMm / options.stationStepMm;
  for (int pass = 0; pass <= options.refinements; ++pass) {
    const std::size_t n = centres.size();
    frames.clear();
    std::vector<Contour> cordRaw(n), canalRaw(n);
    std::vector<bool> cordValid(n), canalValid(n);
    for (std::size_t i = 0; i < n; ++i) {
      const std::size_t a = i == 0 ? 0 : i - 1, b = std::min(n - 1, i + 1);
      frames.push_back(frameAt(centres[i], normalized(centres[b] - centres[a])));
    }
    std::vector<StationFit> fits(n);
    // Stations are independent: spread them over the cores.
    itk::MultiThreaderBase::New()->ParallelizeArray(
        0, static_cast<itk::SizeValueType>(n),
        [&](itk::SizeValueType i) {
          fits[i] = fitStation(sampler, frames[i], initial.csfSign, scale, options, theta);
        },
        nullptr);
    for (std::size_t i = 0; i < n; ++i) {
      cordRaw[i] = fits[i].cord;
      canalRaw[i] = fits[i].canal;
      cordValid[i] = fits[i].cordValid;
      canalValid[i] = fits[i].canalValid;
    }
    const long window = static_cast<long>(std::lround(8.0 / options.stationStepMm));
    rejectOutlierStations(cordRaw, cordValid, window);
    rejectOutlierStations(canalRaw, canalValid, window);
    // Occlusion found in an earlier pass stays: the refined centre moves into the lesion, and
    // an outline cast from there can again stop at the lesion's edge.
    std::vector<bool> occludedBefore = occluded;
    rejectOccludedStations(cordRaw, canalRaw, cordValid, canalValid, options,
                           std::lround(3.0 / options.stationStepMm), occluded);
    // (Stations are counted from the top every stationStepMm; a pass changes their number by
    // a few at the bottom.)
    for (std::size_t i = 0; i < std::min(n, occludedBefore.size()); ++i)
      if (occludedBefore[i] && !occluded[i]) {
        occluded[i] = true;
        cordValid[i] = false;
      }
    // Around a stretch where the cord was hidden (a lesion as bright as CSF filling its section),
    // the lesion's tapering ends still fill part of it: outlines there are cut round the bright
    // part. They are dropped too, hiddenMarginMm each way, so that the gap is bridged from clean
    // cord.
    {
      const long margin = std::lround(options.hiddenMarginMm / options.stationStepMm);
      std::vector<bool> near(n, false);
      for (long i = 0; i < static_cast<long>(n); ++i)
        if (fits[i].cordHidden)
          for (long k = std::max(0L, i - margin); k <= std::min<long>(n - 1, i + margin); ++k)
            near[k] = true;
      for (std::size_t i = 0; i < n; ++i)
        if (near[i]) cordValid[i] = false;
    }
    measured = cordValid;
    // Where the cord was hidden or occluded but its canal seen: the cord from the canal.
    modelled = fillCordFromCanal(cordRaw, canalRaw, cordValid, canalValid, occluded,
                                 10.0 / options.stationStepMm,
                                 std::lround(options.modelFromCanalGapMm / options.stationStepMm));
    std::vector<bool> cordKnown = cordValid;
    for (std::size_t i = 0; i < n; ++i) cordKnown[i] = cordKnown[i] || modelled[i];
    cord = smoothContours(cordRaw, cordKnown, sigma, cordFilled);
    canal = smoothContours(canalRaw, canalValid, sigma, canalFilled);
    if (pass == options.refinements) break;
    // Move each centre to its outline's centre (the first harmonic is the offset), then smooth.
    std::vector<Vec3> moved = centres;
    for (std::size_t i = 0; i < n; ++i) {
      if (!cordFilled[i] || cord[i].c.size() < 3) continue;
      moved[i] = centres[i] + cord[i].c[1] * frames[i].u + cord[i].c[2] * frames[i].w;
    }
    // The cord's course is smooth over centimetres: a stretch of centres drawn aside (a lesion as
    // bright as CSF filling part of the section) is replaced by the course through the cord
    // above and below it before the light smoothing.
    moved = robustSmoothCurve(
        moved, static_cast<long>(std::lround(options.courseWindowMm / options.stationStepMm)));
    centres = resampleEvenly(smoothCurve(moved, sigma), options.stationStepMm);
  }

  // The cord is where outlines were measured: trim unmeasured stations at both ends, and a stray
  // measured stretch shorter than 3 mm cut off from the rest by 2 mm or more of none, where the
  // image goes on beyond it (in the brainstem an outline sometimes closes round a small patch
  // above a stretch of nothing; at the image's edge a short stretch is the cord leaving it).
  const long shortRun = std::max(1L, std::lround(3.0 / options.stationStepMm));
  const long wideGap = std::max(1L, std::lround(2.0 / options.stationStepMm));
  std::size_t first = 0, last = centres.size();
  for (;;) {
    while (first < last && !measured[first]) ++first;
    std::size_t runEnd = first;
    while (runEnd < last && measured[runEnd]) ++runEnd;
    std::size_t gapEnd = runEnd;
    while (gapEnd < last && !measured[gapEnd]) ++gapEnd;
    if (gapEnd >= last || static_cast<long>(runEnd - first) >= shortRun ||
        static_cast<long>(gapEnd - runEnd) < wideGap ||
        !sampler.at(frames[first].centre - 5.0 * frames[first].t).has_value())
      break;
    first = gapEnd;
  }
  for (;;) {
    while (last > first && !measured[last - 1]) --last;
    std::size_t runStart = last;
    while (runStart > first && measured[runStart - 1]) --runStart;
    std::size_t gapStart = runStart;
    while (gapStart > first && !measured[gapStart - 1]) --gapStart;
    if (gapStart <= first || static_cast<long>(last - runStart) >= shortRun ||
        static_cast<long>(runStart - gapStart) < wideGap ||
        !sampler.at(frames[last - 1].centre + 5.0 * frames[last - 1].t).has_value())
      break;
    last = gapStart;
  }
  long present = 0;  // outlined, or modelled from the canal where a lesion hid the cord
  for (std::size_t i = first; i < last; ++i) present += measured[i] || modelled[i];
  if (last - first < 2 || present < 0.5 * (last - first)) {
    out.failure =
        "no spinal cord found: the candidate centerline has no consistent cord/CSF boundary";
    out.centerline.points.clear();
    return out;
  }

  // The cervicomedullary junction: above it the medulla flares (and the CSF opens into the
  // cisterna magna). Where the top of the run is much wider than the typical cord in the upper
  // 80 mm, the cord starts at the first station from the top that is back to cord size. Typical
  // is the lower quartile: not the narrowest (outlines vary along a real cord, and one narrow
  // station must not make an ordinary cord top look like a medulla), nor the median, which a
  // swollen stretch in the window (a long lesion) lifts (a C2-C4 holocord phantom: a medulla of
  // 127 mm2 was 1.58 x the median, 1.71 x the quartile). The top must also be 1.35 x the median,
  // so that a long compressed stretch, which pulls the quartile down, cannot make an ordinary top
  // a medulla (medullas on phantoms and PAM50: 1.7-2.0 x the median). Approximate (a few mm
  // above the foramen magnum); the craniocervical landmarks refine it.
  {
    const std::size_t window =
        std::min(last, first + static_cast<std::size_t>(80.0 / options.stationStepMm));
    std::vector<double> areas;
    for (std::size_t i = first; i < window; ++i) areas.push_back(cord[i].area());
    const double slim = percentile(areas, 0.25), typical = median(areas);
    const double top = cord[first].area();
    const auto flaresBy = [&](double ratio) {
      return std::isfinite(slim) && top > ratio * slim && top > 0.85 * ratio * typical;
    };
    // The flare is less pronounced where a lesion from C2 down fills the window (its stations
    // lift the quartile; phantoms: 1.57 x instead of 1.6-1.9 x), and the levels then lost their
    // only anchor. A run whose top lies inside the image and that widens towards it is a medulla
    // at a smaller flare: an ordinary cord top is the cord leaving the image.
    const std::size_t widening =
        std::min(last - 1, first + static_cast<std::size_t>(std::lround(options.medullaWideningMm /
                                                                        options.stationStepMm)));
    const bool endsInsideImage =
        sampler.at(frames[first].centre - 5.0 * frames[first].t).has_value();
    const bool widensToTop = cord[widening].area() < options.medullaWidening * top;
    if (flaresBy(options.medullaFlare) ||
        (endsInsideImage && widensToTop && flaresBy(options.medullaFlareInsideImage))) {
      // Back to cord size: the first station no wider than 1.15 x the cord of the window (its
      // lower quartile) or 1.1 x the cord just below it (the lower quartile over the next 20 mm:
      // the flare narrows over 15-25 mm, so the stretch below a flaring station still holds some
      // of it), whichever comes first. The local test keeps a stretch further down that is
      // slimmer for its own reasons (a lesion that took part of the outline, a compression) from
      // pulling the junction down into the cord.
      const std::size_t below = static_cast<std::size_t>(20.0 / options.stationStepMm);
      std::size_t i = first;
      while (i < window) {
        std::vector<double> next;
        for (std::size_t k = i; k < std::min(last, i + below); ++k) next.push_back(cord[k].area());
        if (cord[i].area() <= 1.15 * slim || cord[i].area() <= 1.10 * percentile(next, 0.25)) break;
        ++i;
      }
      for (std::size_t k = first; k < i; ++k) out.medulla.push_back(frames[k].centre);
      first = i;
      out.topIsJunction = true;
    }
  }
  // Otherwise the tube may simply end inside the image (the detector finds no cord in the
  // brainstem): a junction when the image goes on above it and the canal is opening there.
  if (!out.topIsJunction && last > first) {
    const bool imageGoesOn = sampler.at(frames[first].centre - 5.0 * frames[first].t).has_value();
    std::vector<double> canalAreas;
    const std::size_t window =
        std::min(last, first + static_cast<std::size_t>(80.0 / options.stationStepMm));
    for (std::size_t i = first; i < window; ++i) canalAreas.push_back(canal[i].area());
    const double typicalCanal = median(canalAreas);
    double topCanal = 0;
    const std::size_t topEnd =
        std::min(window, first + static_cast<std::size_t>(5.0 / options.stationStepMm));
    for (std::size_t i = first; i < topEnd; ++i) topCanal = std::max(topCanal, canal[i].area());
    out.topIsJunction = imageGoesOn && std::isfinite(typicalCanal) && topCanal > 1.3 * typicalCanal;
  }
  const double halfSlab = 0.5 * options.stationStepMm + 1e-6;
  std::vector<Vec3> kept;
  for (std::size_t i = first; i < last; ++i) {
    const Frame& f = frames[i];
    rasterise(sampler, f, cord[i], halfSlab, out.cord.GetPointer());
    Contour canalContour = canal[i];
    if (!canalFilled[i]) canalContour = cord[i];
    // The canal holds the cord: never let its outline cut inside the cord's.
    Contour canalOuter = canalContour;
    rasterise(sampler, f, canalOuter, halfSlab, out.canal.GetPointer());
    rasterise(sampler, f, cord[i], halfSlab, out.canal.GetPointer());

    CrossSection s;
    s.arcMm = (i - first) * options.stationStepMm;
    s.centre = f.centre;
    s.tangent = f.t;
    s.anterior = f.u;
    s.areaMm2 = cord[i].area();
    s.apMm = cord[i].radius(0) + cord[i].radius(kPi);
    s.rlMm = cord[i].radius(0.5 * kPi) + cord[i].radius(1.5 * kPi);
    s.canalAreaMm2 = std::max(canalContour.area(), s.areaMm2);
    s.canalAnteriorMm = std::max(canalContour.radius(0), cord[i].radius(0));
    s.canalApMm = std::max(canalContour.radius(0) + canalContour.radius(kPi), s.apMm);
    s.canalRlMm = std::max(canalContour.radius(0.5 * kPi) + canalContour.radius(1.5 * kPi), s.rlMm);
    s.measured = measured[i];
    s.modelled = modelled[i];
    out.volumeMm3 += s.areaMm2 * options.stationStepMm;
    out.canalVolumeMm3 += s.canalAreaMm2 * options.stationStepMm;
    out.sections.push_back(s);
    kept.push_back(f.centre);
  }
  out.centerline.points = resampleEvenly(kept, initial.stepMm);
  out.lengthMm = out.centerline.lengthMm();
  out.found = true;
  return out;
}

CordSegmentation segmentCordInSlices(const Volume& volume, const AxialCenterline& axial,
                                     const CordOptions& options) {
  const Image* image = volume.image.GetPointer();
  CordSegmentation out;
  out.method = "axial slices";
  out.cord = emptyMaskLike(image);
  out.canal = emptyMaskLike(image);
  out.centerline = axial.centerline;
  out.confidence = axial.confidence;
  out.doubts = axial.doubts;
  if (axial.slices.empty() || !axial.centerline.found()) {
    out.failure =
        "no spinal cord found: no slice of the axial series shows a cord in a ring of CSF";
    out.centerline.points.clear();
    out.confidence = 0.0;
    return out;
  }
  const ImageSampler sampler(image);
  const double scale = intensityScale(image, 200000);
  const double dz = axial.sliceSpacingMm;
  std::vector<double> theta(options.rays);
  for (int j = 0; j < options.rays; ++j) theta[j] = 2 * kPi * j / options.rays;
  // The slices' normal, pointing to the patient's feet (sections' tangents run caudally).
  Vec3 normal = normalized(sampler.toPoint({0, 0, 1}) - sampler.toPoint({0, 0, 0}));
  if (normal[2] > 0) normal = -1.0 * normal;  // LPS z is superior

  // Each slice's outline, re-centred on itself (refinements passes).
  struct SliceFit {
    Frame frame;
    StationFit fit;
  };
  const std::size_t n = axial.slices.size();
  std::vector<SliceFit> fits(n);
  itk::MultiThreaderBase::New()->ParallelizeArray(
      0, static_cast<itk::SizeValueType>(n),
      [&](itk::SizeValueType k) {
        Vec3 centre = axial.slices[k].centre;
        // Rays end a little beyond the CSF the ring found (its disc's half-width, the ring, 3 mm
        // of wall): in a small field of view longer rays reach fat and muscle brighter than the
        // CSF, whose peaks would set the station's CSF level.
        CordOptions local = options;
        local.maxRadiusMm = std::min(options.maxRadiusMm, 0.5 * axial.slices[k].rlMm + 6.0);
        for (int pass = 0; pass <= options.refinements; ++pass) {
          fits[k].frame = frameAt(centre, normal);
          fits[k].fit =
              fitStation(sampler, fits[k].frame, axial.centerline.csfSign, scale, local, theta);
          if (pass == options.refinements || !fits[k].fit.cordValid ||
              fits[k].fit.cord.c.size() < 3)
            break;
          const Frame& f = fits[k].frame;
          const Vec3 offset = fits[k].fit.cord.c[1] * f.u + fits[k].fit.cord.c[2] * f.w;
          // The ring found the cord to within a few millimetres: a larger move is the outline
          // running off to something else.
          if (norm(offset) > 3.0) break;
          centre = centre + offset;
        }
      },
      nullptr);
  // A slice whose outline is implausible for the cord the ring saw there (less than half or more
  // than 1.6 x the ring's best-fitting disc) is not measured: it takes the disc's ellipse.
  // Nor is one far from the size of the others (the cord's area changes by a fifth or so over
  // the cervical levels; 0.65-1.5 x their median allows for the enlargement and a compression).
  std::vector<Contour> cord(n), canal(n);
  std::vector<bool> measured(n, false), canalMeasured(n, false);
  std::vector<long> unmeasured;
  std::vector<double> plausibleAreas;
  const auto plausibleForRing = [&](std::size_t k) {
    const SliceCord& s = axial.slices[k];
    const double discArea = kPi * 0.25 * s.apMm * s.rlMm;
    const double area = fits[k].fit.cordValid ? fits[k].fit.cord.area() : 0.0;
    return fits[k].fit.cordValid && area > 0.5 * discArea && area < 1.6 * discArea;
  };
  for (std::size_t k = 0; k < n; ++k)
    if (plausibleForRing(k)) plausibleAreas.push_back(fits[k].fit.cord.area());
  const double typicalArea = plausibleAreas.size() >= 3 ? median(plausibleAreas) : kNaN;
  for (std::size_t k = 0; k < n; ++k) {
    const SliceCord& s = axial.slices[k];
    const StationFit& f = fits[k].fit;
    measured[k] = plausibleForRing(k) &&
                  (!std::isfinite(typicalArea) ||
                   (f.cord.area() > 0.65 * typicalArea && f.cord.area() < 1.5 * typicalArea));
    if (measured[k]) {
      cord[k] = f.cord;
      // Centred on the frame's own centre (the first harmonic) as fitted.
    } else {
      // The ring's disc: r(theta) of an ellipse with AP along u (theta 0) and RL along w.
      std::vector<double> radius(options.rays);
      for (int j = 0; j < options.rays; ++j) {
        const double a = 0.5 * s.apMm, b = 0.5 * s.rlMm, c = std::cos(theta[j]),
                     d = std::sin(theta[j]);
        radius[j] = 1.0 / std::sqrt(c * c / (a * a) + d * d / (b * b));
      }
      fitContour(theta, radius, options.cordHarmonics, cord[k]);
      fits[k].frame = frameAt(s.centre, normal);
      unmeasured.push_back(s.slice);
    }
    canalMeasured[k] = f.canalValid && f.canal.area() >= cord[k].area();
    canal[k] = canalMeasured[k] ? f.canal : cord[k];
  }
  if (!unmeasured.empty()) {
    std::string list;
    for (long k : unmeasured) list += (list.empty() ? "" : ", ") + std::to_string(k + 1);
    out.doubts.push_back("no cord outline in " + std::to_string(unmeasured.size()) + " of " +
                         std::to_string(n) + " axial slices (slice " + list +
                         "): the cord there is the ring's ellipse");
    out.confidence = *out.confidence * (1.0 - 0.5 * static_cast<double>(unmeasured.size()) / n);
  }
  // Masks: each slice's outline over its own slab.
  for (std::size_t k = 0; k < n; ++k) {
    rasterise(sampler, fits[k].frame, cord[k], 0.5 * dz, out.cord.GetPointer());
    rasterise(sampler, fits[k].frame, canal[k], 0.5 * dz, out.canal.GetPointer());
    rasterise(sampler, fits[k].frame, cord[k], 0.5 * dz, out.canal.GetPointer());
  }

  // The course: through the outlines' centres in path order, cranial first, half a slice beyond
  // the end slices along the cord.
  std::vector<std::size_t> order(n);
  for (std::size_t k = 0; k < n; ++k) order[k] = k;
  std::vector<Vec3> centres(n);
  for (std::size_t k = 0; k < n; ++k) {
    const Frame& f = fits[k].frame;
    centres[k] =
        f.centre + (measured[k] && cord[k].c.size() >= 3 ? cord[k].c[1] * f.u + cord[k].c[2] * f.w
                                                         : Vec3{0, 0, 0});
  }
  if (n >= 2 && centres.front()[2] < centres.back()[2]) std::reverse(order.begin(), order.end());
  std::vector<Vec3> course;
  for (std::size_t k : order) course.push_back(centres[k]);
  const auto tangentAt = [&](std::size_t i) {
    if (course.size() < 2) return normal;
    const std::size_t a = i == 0 ? 0 : i - 1, b = std::min(course.size() - 1, i + 1);
    return normalized(course[b] - course[a]);
  };
  const auto halfSlice = [&](const Vec3& t) {
    return 0.5 * dz / std::max(0.3, std::abs(dot(t, normal)));
  };
  const Vec3 top = course.front() - halfSlice(tangentAt(0)) * tangentAt(0);
  const Vec3 bottom =
      course.back() + halfSlice(tangentAt(course.size() - 1)) * tangentAt(course.size() - 1);
  // Arc of each slice centre along [top, centres..., bottom].
  std::vector<Vec3> polyline{top};
  polyline.insert(polyline.end(), course.begin(), course.end());
  polyline.push_back(bottom);
  std::vector<double> arc(polyline.size(), 0.0);
  for (std::size_t i = 1; i < polyline.size(); ++i)
    arc[i] = arc[i - 1] + norm(polyline[i] - polyline[i - 1]);
  const double total = arc.back();
  const auto blend = [](const Contour& a, const Contour& b, double t) {
    Contour c = a;
    for (std::size_t i = 0; i < c.c.size() && i < b.c.size(); ++i)
      c.c[i] = (1 - t) * a.c[i] + t * b.c[i];
    if (c.c.size() >= 3) c.c[1] = c.c[2] = 0;  // centred on the course
    return c;
  };
  for (double s = 0; s <= total + 1e-9; s += options.stationStepMm) {
    std::size_t seg = 1;
    while (seg + 1 < polyline.size() && arc[seg] < s) ++seg;
    const double len = std::max(1e-9, arc[seg] - arc[seg - 1]);
    const double f = std::clamp((s - arc[seg - 1]) / len, 0.0, 1.0);
    const Vec3 centre = polyline[seg - 1] + f * (polyline[seg] - polyline[seg - 1]);
    // Slices bracketing s (course index = polyline index - 1).
    const long below = std::clamp<long>(static_cast<long>(seg) - 2, 0, static_cast<long>(n) - 1);
    const long above = std::clamp<long>(static_cast<long>(seg) - 1, 0, static_cast<long>(n) - 1);
    const double t = (seg == 1 || seg + 1 == polyline.size()) ? 0.0 : f;
    const std::size_t ka = order[below], kb = order[above];
    Contour c = blend(cord[ka], cord[kb], t);
    Contour cc = blend(canal[ka], canal[kb], t);
    const Vec3 tangent = normalized(polyline[seg] - polyline[seg - 1]);
    const Frame frame = frameAt(centre, normal);
    // The slice cuts the cord obliquely: its outline is longer along the tilt than the section.
    const double along = std::max(0.3, std::abs(dot(tangent, normal)));
    const double tiltAp = dot(tangent, frame.u) / along, tiltRl = dot(tangent, frame.w) / along;
    const double stretchAp = std::sqrt(1 + tiltAp * tiltAp),
                 stretchRl = std::sqrt(1 + tiltRl * tiltRl);
    CrossSection x;
    x.arcMm = s;
    x.centre = centre;
    x.tangent = tangent;
    x.anterior = frameAt(centre, tangent).u;
    x.areaMm2 = c.area() * along;
    x.apMm = (c.radius(0) + c.radius(kPi)) / stretchAp;
    x.rlMm = (c.radius(0.5 * kPi) + c.radius(1.5 * kPi)) / stretchRl;
    x.canalAreaMm2 = std::max(cc.area() * along, x.areaMm2);
    x.canalApMm = std::max((cc.radius(0) + cc.radius(kPi)) / stretchAp, x.apMm);
    x.canalRlMm = std::max((cc.radius(0.5 * kPi) + cc.radius(1.5 * kPi)) / stretchRl, x.rlMm);
    x.canalAnteriorMm = std::max(cc.radius(0), c.radius(0)) / stretchAp;
    // The nearer slice's outline; where it had none, the ring's disc was fitted to the image
    // there: a coarse outline, counted as modelled (seen, its extent less certain).
    x.measured = measured[t < 0.5 ? ka : kb];
    x.modelled = !x.measured;
    out.volumeMm3 += x.areaMm2 * options.stationStepMm;
    out.canalVolumeMm3 += x.canalAreaMm2 * options.stationStepMm;
    out.sections.push_back(x);
  }
  std::vector<Vec3> points;
  for (const CrossSection& x : out.sections) points.push_back(x.centre);
  out.centerline.points = resampleEvenly(points, axial.centerline.stepMm);
  out.lengthMm = out.centerline.lengthMm();
  out.found = out.centerline.found();
  if (!out.found) out.failure = "no spinal cord found: the axial series' cord has no extent";
  return out;
}

CordPosition locateOnCord(const std::vector<CrossSection>& sections, const Vec3& point,
                          std::size_t& hint) {
  CordPosition out;
  if (sections.empty()) return out;
  std::size_t i = std::min(hint, sections.size() - 1);
  // A hint far from the point (the first call, a jump in the scan) starts from the nearest centre.
  if (norm(point - sections[i].centre) > 20.0) {
    double best = std::numeric_limits<double>::infinity();
    for (std::size_t k = 0; k < sections.size(); ++k) {
      const double d = norm(point - sections[k].centre);
      if (d < best) {
        best = d;
        i = k;
      }
    }
  }
  for (std::size_t step = 0; step < sections.size(); ++step) {
    const double along = dot(point - sections[i].centre, sections[i].tangent);
    if (along > 0.25 && i + 1 < sections.size())
      ++i;
    else if (along < -0.25 && i > 0)
      --i;
    else
      break;
  }
  hint = i;
  const CrossSection& s = sections[i];
  const Vec3 d = point - s.centre;
  out.section = i;
  out.arcMm = s.arcMm + dot(d, s.tangent);
  out.anteriorMm = dot(d, s.anterior);
  out.lateralMm = dot(d, normalized(cross(s.tangent, s.anterior)));
  return out;
}

CordSegmentation segmentCord(const Volume& volume, const CenterlineOptions& centerlineOptions,
                             const CordOptions& options) {
  if (!isAxialSeries(volume.image.GetPointer()))
    return segmentCord(volume, findCenterline(volume, centerlineOptions), options);
  const AxialCenterline axial = findAxialCenterline(volume, centerlineOptions);
  if (axial.sliceSpacingMm >= options.sliceModeMinMm)
    return segmentCordInSlices(volume, axial, options);
  // Thinner axial slices: enough planes for findCenterline's detector, which is the more robust
  // to a lesion in the cord (real-anatomy axial slabs, 3-5 mm, Dice 0.82-0.92 with it, 0.78-0.93
  // with the ring path); the ring path checks it.
  CordSegmentation out = segmentCord(volume, findCenterline(volume, centerlineOptions), options);
  out.method = "axial";
  out.confidence = out.found ? axial.confidence : 0.0;
  out.doubts = axial.doubts;
  if (out.found && axial.centerline.found()) {
    const double apart =
        std::max(meanDistanceToCurve(axial.centerline.points, out.centerline.points),
                 meanDistanceToCurve(out.centerline.points, axial.centerline.points));
    // Half a cord's width: the two detectors found different things.
    if (apart > options.axialDisagreementMm) {
      char text[200];
      std::snprintf(
          text, sizeof text,
          "the cord's course and the CSF rings of the axial slices disagree by %.1f mm on average",
          apart);
      out.doubts.push_back(text);
      out.confidence = std::min(*out.confidence, 0.3);
    }
  }
  return out;
}

void to_json(nlohmann::json& j, const CrossSection& s) {
  j = nlohmann::json{{"arc_mm", s.arcMm},
                     {"area_mm2", s.areaMm2},
                     {"ap_mm", s.apMm},
                     {"rl_mm", s.rlMm},
                     {"canal_area_mm2", s.canalAreaMm2},
                     {"canal_ap_mm", s.canalApMm},
                     {"canal_rl_mm", s.canalRlMm},
                     {"measured", s.measured}};
}

void to_json(nlohmann::json& j, const CordSegmentation& s) {
  j = nlohmann::json{
      {"found", s.found},
      {"length_mm", s.found ? nlohmann::json(s.lengthMm) : nlohmann::json(nullptr)},
      {"volume_mm3", s.found ? nlohmann::json(s.volumeMm3) : nlohmann::json(nullptr)},
      {"canal_volume_mm3", s.found ? nlohmann::json(s.canalVolumeMm3) : nlohmann::json(nullptr)},
      {"contrast", toString(s.centerline.contrast)},
      {"method", s.method}};
  if (s.confidence) j["confidence"] = *s.confidence;
  if (!s.doubts.empty()) j["doubts"] = s.doubts;
  if (!s.found) j["failure"] = s.failure;
}

}  // namespace cordscope
