#include "segmentation/CordRing.h"

#include <itkMultiThreaderBase.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>

#include "core/Curve.h"
#include "core/ImageSampler.h"
#include "core/Statistics.h"

namespace cordscope {
namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
const double kNaN = std::numeric_limits<double>::quiet_NaN();

// In-plane grid axes of an axial series: ap and lr are the grid axes nearest the patient's
// anterior-posterior and left-right directions; the slices run along axis 2.
struct SliceAxes {
  int ap = 1, lr = 0;
};

SliceAxes sliceAxes(const Image::DirectionType& d) {
  SliceAxes a;
  a.ap = std::abs(d[1][1]) >= std::abs(d[1][0]) ? 1 : 0;
  a.lr = 1 - a.ap;
  return a;
}

// One slice, intensities divided by the slice's scale, addressed (ap, lr) in voxels.
class SliceImage {
 public:
  SliceImage(const Image* image, const SliceAxes& axes, long slice, double scale) {
    const auto size = image->GetBufferedRegion().GetSize();
    const auto spacing = image->GetSpacing();
    nAp_ = static_cast<long>(size[axes.ap]);
    nLr_ = static_cast<long>(size[axes.lr]);
    spAp_ = spacing[axes.ap];
    spLr_ = spacing[axes.lr];
    const long stride[2] = {1, static_cast<long>(size[0])};
    const float* buffer = image->GetBufferPointer() + slice * static_cast<long>(size[0] * size[1]);
    values_.resize(static_cast<std::size_t>(nAp_ * nLr_));
    for (long i = 0; i < nAp_; ++i)
      for (long j = 0; j < nLr_; ++j)
        values_[i * nLr_ + j] = buffer[i * stride[axes.ap] + j * stride[axes.lr]] / scale;
  }
  long nAp() const { return nAp_; }
  long nLr() const { return nLr_; }
  double spAp() const { return spAp_; }
  double spLr() const { return spLr_; }
  // Bilinear at (ap, lr) in mm from voxel (0, 0); NaN outside the slice.
  double at(double apMm, double lrMm) const {
    const double i = apMm / spAp_, j = lrMm / spLr_;
    if (i < -0.5 || j < -0.5 || i > nAp_ - 0.5 || j > nLr_ - 0.5) return kNaN;
    const double ic = std::clamp(i, 0.0, static_cast<double>(nAp_ - 1));
    const double jc = std::clamp(j, 0.0, static_cast<double>(nLr_ - 1));
    const long i0 = std::min(nAp_ - 2, static_cast<long>(ic)),
               j0 = std::min(nLr_ - 2, static_cast<long>(jc));
    if (i0 < 0 || j0 < 0)
      return values_[static_cast<std::size_t>(std::max(0L, i0) * nLr_ + std::max(0L, j0))];
    const double fi = ic - i0, fj = jc - j0;
    const float* v = &values_[static_cast<std::size_t>(i0 * nLr_ + j0)];
    return (1 - fi) * ((1 - fj) * v[0] + fj * v[1]) + fi * ((1 - fj) * v[nLr_] + fj * v[nLr_ + 1]);
  }

 private:
  std::vector<float> values_;
  long nAp_ = 0, nLr_ = 0;
  double spAp_ = 1, spLr_ = 1;
};

struct Candidate {
  double apMm = 0, lrMm = 0;  // in the slice, mm from voxel (0, 0)
  double score = -kInf;
  double discAp = 0, discRl = 0;
  double ringLevel = kNaN;  // the ring's median level, scaled
};

// The ring score of one position and size for polarity `sign` (+1: CSF brighter than cord).
Candidate scoreAt(const SliceImage& s, double ap, double lr, double discAp, double discRl, int sign,
                  const RingOptions& o, std::vector<double>& scratch) {
  Candidate c;
  c.apMm = ap;
  c.lrMm = lr;
  c.discAp = discAp;
  c.discRl = discRl;
  const double a = 0.5 * discAp, b = 0.5 * discRl;
  std::vector<double>& disc = scratch;
  disc.clear();
  const double centre = s.at(ap, lr);
  if (std::isnan(centre)) return c;
  disc.push_back(sign * centre);
  double ring[64], wall[64], raw[64];
  int present = 0;
  const int n = std::min(o.angles, 64);
  for (int k = 0; k < n; ++k) {
    const double t = 2 * kPi * k / n;
    const double ct = std::cos(t), st = std::sin(t);
    const double edge = 1.0 / std::sqrt((ct * ct) / (a * a) + (st * st) / (b * b));
    for (double rho : {0.4, 0.75}) {
      const double v = s.at(ap + rho * edge * ct, lr + rho * edge * st);
      if (std::isnan(v)) return c;  // the cord must lie inside the slice
      disc.push_back(sign * v);
    }
    double best = -kInf, bestAt = 0, rawBest = kNaN;
    for (double d = 0; d <= o.ringMm + 1e-9; d += 0.5) {
      const double v = s.at(ap + (edge + d) * ct, lr + (edge + d) * st);
      if (std::isnan(v)) break;
      if (sign * v > best) {
        best = sign * v;
        bestAt = d;
        rawBest = v;
      }
    }
    if (!std::isfinite(best)) continue;
    double low = kInf;
    for (double d = bestAt + 1.0; d <= bestAt + 1.0 + o.wallMm + 1e-9; d += 1.0) {
      const double v = s.at(ap + (edge + d) * ct, lr + (edge + d) * st);
      if (std::isnan(v)) break;
      low = std::min(low, sign * v);
    }
    ring[present] = best;
    wall[present] = std::isfinite(low) ? best - low : kNaN;
    raw[present] = rawBest;
    ++present;
  }
  if (present < 0.6 * n) return c;
  // The disc's level and evenness from its lower part (in the polarity's direction): a lesion
  // (bright on T2, like the CSF) filling up to a third of the cord must not lift its level or
  // make it look uneven, or the best disc would slide off the lesion towards the CSF.
  const double discLevel = percentile(disc, 0.3);
  // Air and background are no cord (an airway is a dark disc in a bright ring on T2).
  if (sign > 0 && discLevel < 0.1) return c;
  const double spread = 2 * (percentile(disc, 0.5) - percentile(disc, 0.1));
  // Per angle, the ring must stand out against both the disc and the wall beyond it: the CSF
  // is between the cord and the canal's wall. (Against the disc alone, a dark gap between
  // muscles, or fat, looks like a cord; against the wall alone, the whole canal does.) The
  // weakest missingRing of the angles are left out; the rest are averaged.
  std::vector<double> both;
  for (int k = 0; k < present; ++k)
    both.push_back(std::min(ring[k] - discLevel, std::isfinite(wall[k]) ? wall[k] : 0.0));
  std::sort(both.begin(), both.end());
  const std::size_t skip = static_cast<std::size_t>(o.missingRing * both.size());
  double mean = 0;
  for (std::size_t k = skip; k < both.size(); ++k) mean += both[k];
  mean /= static_cast<double>(std::max<std::size_t>(1, both.size() - skip));
  c.score = mean - o.evennessWeight * spread;
  c.ringLevel = median(std::vector<double>(raw, raw + present));
  return c;
}

// Scale of each slice: the 90th percentile of its foreground (voxels above a tenth of its 99th
// percentile), smoothed over 20 mm across slices (the coil's sensitivity is smooth, anatomy not).
std::vector<double> sliceScales(const Image* image, double dz) {
  const auto size = image->GetBufferedRegion().GetSize();
  const long slices = static_cast<long>(size[2]);
  const std::size_t perSlice = size[0] * size[1];
  std::vector<double> level(slices, kNaN);
  for (long k = 0; k < slices; ++k) {
    const float* p = image->GetBufferPointer() + k * perSlice;
    std::vector<double> values(p, p + perSlice);
    const double top = percentile(values, 0.99);
    if (!(top > 0)) continue;
    std::vector<double> foreground;
    for (double v : values)
      if (v > 0.1 * top) foreground.push_back(v);
    if (foreground.size() < 0.05 * perSlice) continue;
    level[k] = percentile(foreground, 0.9);
  }
  std::vector<double> scales(slices, kNaN);
  const double sigma = 20.0 / dz;
  for (long k = 0; k < slices; ++k) {
    double sum = 0, w = 0;
    for (long q = 0; q < slices; ++q) {
      if (std::isnan(level[q])) continue;
      const double g = std::exp(-0.5 * (q - k) * (q - k) / (sigma * sigma));
      sum += g * level[q];
      w += g;
    }
    if (w > 0 && !std::isnan(level[k])) scales[k] = sum / w;
  }
  return scales;
}

// One slice's score on the candidate grid (the best size at each node).
struct ScoreMap {
  std::vector<Candidate> nodes;  // row-major over (ap, lr) grid nodes; score -inf off the slice
  double best = -kInf;
};

struct Grid {
  int nAp = 0, nLr = 0;
  double step = 1;
};

ScoreMap scoreSlice(const SliceImage& s, const Grid& g, int sign, const RingOptions& o) {
  ScoreMap map;
  map.nodes.resize(static_cast<std::size_t>(g.nAp) * g.nLr);
  std::vector<double> scratch;
  for (int a = 0; a < g.nAp; ++a)
    for (int b = 0; b < g.nLr; ++b) {
      Candidate best;
      best.apMm = a * g.step;
      best.lrMm = b * g.step;
      for (const auto& [discAp, discRl] : o.sizes) {
        const Candidate c = scoreAt(s, a * g.step, b * g.step, discAp, discRl, sign, o, scratch);
        if (c.score > best.score) best = c;
      }
      map.best = std::max(map.best, best.score);
      map.nodes[static_cast<std::size_t>(a) * g.nLr + b] = best;
    }
  return map;
}

// The best candidate within half a grid step of a node (a finer look at the chosen one).
Candidate refine(const SliceImage& s, const Candidate& c, double step, int sign,
                 const RingOptions& o) {
  Candidate best = c;
  std::vector<double> scratch;
  for (double dAp = -0.5 * step; dAp <= 0.5 * step + 1e-9; dAp += 0.25 * step)
    for (double dLr = -0.5 * step; dLr <= 0.5 * step + 1e-9; dLr += 0.25 * step)
      for (const auto& [discAp, discRl] : o.sizes) {
        const Candidate r =
            scoreAt(s, c.apMm + dAp, c.lrMm + dLr, discAp, discRl, sign, o, scratch);
        if (r.score > best.score) best = r;
      }
  return best;
}

struct PolarityPath {
  std::vector<long> slices;
  std::vector<Candidate> chosen;
  std::vector<double> bestScores;  // each slice's best candidate
  double total = -kInf;
  double typical = 0;
};

// The path through every scored slice: a dynamic programme over the grid nodes of consecutive
// slices, gaining each slice's score (floored at zero: a slice where the ring is hidden - a
// lesion as bright as CSF, flow, partial volume - says little against a position) and paying
// slopeStiffness x typical x (lateral step / slice spacing)^2. Through a stretch of weak slices
// the cheapest path is the straight line between the cord above and below. Steps steeper than
// maxSlope (plus a grid step) are not considered: no cord crosses axial slices at more than
// about 35 degrees.
PolarityPath chainSlices(const std::vector<SliceImage>& images, const std::vector<long>& slices,
                         int sign, double dz, const RingOptions& o) {
  PolarityPath out;
  const long n = static_cast<long>(slices.size());
  if (n == 0) return out;
  // At most maxGridNodes nodes across a slice's longer side: a wide field of view (a whole neck,
  // 200 mm) is searched on a coarser grid, and the chosen positions refined (below).
  const double longer =
      std::max((images[0].nAp() - 1) * images[0].spAp(), (images[0].nLr() - 1) * images[0].spLr());
  Grid g;
  g.step = std::max(o.gridMm, longer / o.maxGridNodes);
  g.nAp = static_cast<int>(std::floor((images[0].nAp() - 1) * images[0].spAp() / g.step)) + 1;
  g.nLr = static_cast<int>(std::floor((images[0].nLr() - 1) * images[0].spLr() / g.step)) + 1;
  std::vector<ScoreMap> maps(n);
  itk::MultiThreaderBase::New()->ParallelizeArray(
      0, static_cast<itk::SizeValueType>(n),
      [&](itk::SizeValueType k) { maps[k] = scoreSlice(images[k], g, sign, o); }, nullptr);
  std::vector<double> maxima;
  out.bestScores.assign(n, -kInf);
  for (long k = 0; k < n; ++k) {
    out.bestScores[k] = maps[k].best;
    if (std::isfinite(maps[k].best)) maxima.push_back(maps[k].best);
  }
  if (maxima.empty()) return out;
  out.typical = std::max(0.02, percentile(maxima, 0.75));
  const double t = out.typical;
  const std::size_t m = maps[0].nodes.size();
  const auto gain = [&](long k, std::size_t i) {
    const double v = maps[k].nodes[i].score;
    return std::isfinite(v) ? std::max(0.0, v) : -2 * t;  // off the slice: possible, costly
  };
  const int reach = static_cast<int>(std::ceil((o.maxSlope * dz + g.step) / g.step));
  std::vector<std::vector<double>> value(n, std::vector<double>(m, -kInf));
  std::vector<std::vector<int>> from(n, std::vector<int>(m, -1));
  for (std::size_t i = 0; i < m; ++i) value[0][i] = gain(0, i);
  std::vector<double> stepCost((2 * reach + 1) * (2 * reach + 1));
  for (int da = -reach; da <= reach; ++da)
    for (int db = -reach; db <= reach; ++db) {
      const double d = std::hypot(da, db) * g.step / dz;
      stepCost[(da + reach) * (2 * reach + 1) + db + reach] = t * o.slopeStiffness * d * d;
    }
  for (long k = 1; k < n; ++k) {
    itk::MultiThreaderBase::New()->ParallelizeArray(
        0, static_cast<itk::SizeValueType>(g.nAp),
        [&](itk::SizeValueType aa) {
          const int a = static_cast<int>(aa);
          for (int b = 0; b < g.nLr; ++b) {
            double best = -kInf;
            int arg = -1;
            for (int da = -reach; da <= reach; ++da) {
              const int pa = a + da;
              if (pa < 0 || pa >= g.nAp) continue;
              for (int db = -reach; db <= reach; ++db) {
                const int pb = b + db;
                if (pb < 0 || pb >= g.nLr) continue;
                const std::size_t q = static_cast<std::size_t>(pa) * g.nLr + pb;
                const double v =
                    value[k - 1][q] - stepCost[(da + reach) * (2 * reach + 1) + db + reach];
                if (v > best) {
                  best = v;
                  arg = static_cast<int>(q);
                }
              }
            }
            const std::size_t i = static_cast<std::size_t>(a) * g.nLr + b;
            value[k][i] = best + gain(k, i);
            from[k][i] = arg;
          }
        },
        nullptr);
  }
  const auto it = std::max_element(value[n - 1].begin(), value[n - 1].end());
  out.total = *it;
  std::vector<int> pick(n, 0);
  pick[n - 1] = static_cast<int>(it - value[n - 1].begin());
  for (long k = n - 1; k >= 1; --k) pick[k - 1] = from[k][pick[k]];
  out.slices = slices;
  for (long k = 0; k < n; ++k) {
    const Candidate& c = maps[k].nodes[pick[k]];
    out.chosen.push_back(c.score > 0 ? refine(images[k], c, g.step, sign, o) : c);
  }
  return out;
}

}  // namespace

bool isAxialSeries(const Image* image) {
  if (classifyOrientation(image->GetDirection()) != Orientation::Axial) return false;
  const auto spacing = image->GetSpacing();
  const auto size = image->GetBufferedRegion().GetSize();
  return size[2] >= 1 && spacing[2] >= 2.5 * std::max(spacing[0], spacing[1]);
}

AxialCenterline findAxialCenterline(const Volume& volume, const CenterlineOptions& options,
                                    const RingOptions& ring) {
  const Image* image = volume.image.GetPointer();
  AxialCenterline out;
  const SliceAxes axes = sliceAxes(image->GetDirection());
  const double dz = image->GetSpacing()[2];
  out.sliceSpacingMm = dz;
  const std::vector<double> scales = sliceScales(image, dz);
  std::vector<SliceImage> images;
  std::vector<long> slices;
  for (long k = 0; k < static_cast<long>(scales.size()); ++k)
    if (std::isfinite(scales[k]) && scales[k] > 0) {
      images.emplace_back(image, axes, k, scales[k]);
      slices.push_back(k);
    }
  out.centerline.stepMm = options.stepMm;
  if (slices.empty()) return out;

  int sign = options.contrast == Contrast::Auto ? 0 : csfSign(options.contrast);
  if (sign == 0) {
    const Contrast hinted = contrastFromMetadata(volume.meta);
    if (hinted != Contrast::Auto) sign = csfSign(hinted);
  }
  // The image's foreground, to place each polarity's ring level in it.
  std::vector<float> foreground;
  {
    const double scale = intensityScale(image, 200000);
    const float* p = image->GetBufferPointer();
    const std::size_t count = image->GetBufferedRegion().GetNumberOfPixels();
    for (std::size_t i = 0; i < count; i += std::max<std::size_t>(1, count / 200000))
      if (p[i] > 0.1 * scale) foreground.push_back(p[i]);
    std::sort(foreground.begin(), foreground.end());
  }
  const auto ringPercentile = [&](const PolarityPath& path) {
    std::vector<double> levels;
    for (std::size_t k = 0; k < path.chosen.size(); ++k)
      if (std::isfinite(path.chosen[k].ringLevel))
        levels.push_back(path.chosen[k].ringLevel *
                         scales[static_cast<std::size_t>(path.slices[k])]);
    if (levels.empty() || foreground.empty()) return 0.5;
    const double level = median(levels);
    return static_cast<double>(std::lower_bound(foreground.begin(), foreground.end(), level) -
                               foreground.begin()) /
           foreground.size();
  };
  PolarityPath path;
  if (sign != 0) {
    path = chainSlices(images, slices, sign, dz, ring);
    out.polarityMargin = 1;
  } else {
    PolarityPath bright = chainSlices(images, slices, +1, dz, ring);
    PolarityPath dark = chainSlices(images, slices, -1, dz, ring);
    const double brightCsf = ringPercentile(bright), darkCsf = 1.0 - ringPercentile(dark);
    sign = brightCsf >= darkCsf ? +1 : -1;
    out.polarityMargin = std::abs(brightCsf - darkCsf);
    path = std::move(sign > 0 ? bright : dark);
  }
  out.centerline.csfSign = sign;
  out.centerline.contrast =
      options.contrast == Contrast::Auto ? nameContrast(sign, volume.meta) : options.contrast;
  if (path.chosen.empty()) return out;

  const ImageSampler sampler(image);
  std::vector<Vec3> points;
  double scoreSum = 0;
  int clear = 0, agreeing = 0;
  std::vector<long> weak, departed;
  for (std::size_t k = 0; k < path.chosen.size(); ++k) {
    const Candidate& c = path.chosen[k];
    Vec3 index{0, 0, 0};
    index[axes.ap] = c.apMm / images[k].spAp();
    index[axes.lr] = c.lrMm / images[k].spLr();
    index[2] = static_cast<double>(path.slices[k]);
    SliceCord s;
    s.slice = path.slices[k];
    s.centre = sampler.toPoint(index);
    s.apMm = c.discAp;
    s.rlMm = c.discRl;
    s.score = std::isfinite(c.score) ? c.score : 0.0;
    s.bestScore = path.bestScores[k];
    s.clear = s.score >= ring.clearScore;
    out.slices.push_back(s);
    points.push_back(s.centre);
    scoreSum += s.score;
    clear += s.clear;
    if (!s.clear) weak.push_back(s.slice);
    // The path agrees with the slice's own best candidate (within 80 % of its score).
    if (s.score >= 0.8 * s.bestScore || s.score >= s.bestScore - 0.2 * path.typical)
      ++agreeing;
    else
      departed.push_back(s.slice);
  }
  out.centerline.meanResponse = scoreSum / path.chosen.size();
  // Confidence: the share of slices where a clear ring was found and where the path takes the
  // slice's own best, and the polarity's margin when the image decided it.
  const double n = static_cast<double>(path.chosen.size());
  const double clearShare = clear / n, agreeShare = agreeing / n;
  const double polarity = std::clamp(0.5 + out.polarityMargin * 2.5, 0.5, 1.0);
  out.confidence = std::clamp(clearShare * (0.5 + 0.5 * agreeShare) * polarity, 0.0, 1.0);
  const auto list = [](const std::vector<long>& v) {
    std::string s;
    for (long k : v) s += (s.empty() ? "" : ", ") + std::to_string(k + 1);
    return s;
  };
  char text[256];
  if (!weak.empty()) {
    std::snprintf(text, sizeof text,
                  "no clear CSF ring round the cord in %zu of %zu axial slices (slice %s)",
                  weak.size(), path.chosen.size(), list(weak).c_str());
    out.doubts.push_back(text);
  }
  if (!departed.empty()) {
    std::snprintf(
        text, sizeof text,
        "the cord's course leaves the best-looking candidate in %zu axial slices (slice %s)",
        departed.size(), list(departed).c_str());
    out.doubts.push_back(text);
  }
  if (out.polarityMargin < 0.1) {
    std::snprintf(
        text, sizeof text,
        "CSF polarity uncertain: the bright and dark readings of the image differ by %.2f",
        out.polarityMargin);
    out.doubts.push_back(text);
  }
  if (path.chosen.size() < 3) {
    std::snprintf(text, sizeof text,
                  "only %zu axial slices: little to check the cord's course against",
                  path.chosen.size());
    out.doubts.push_back(text);
  }

  if (points.front()[2] < points.back()[2])
    std::reverse(points.begin(), points.end());  // LPS z: superior
  if (points.size() >= 3) points = smoothCurve(points, options.smoothingMm / dz);
  if (points.size() == 1) {  // a single slice: a stub across it
    const Vec3 normal = normalized(sampler.toPoint({0, 0, 1}) - sampler.toPoint({0, 0, 0}));
    points = {points[0] + (0.25 * dz) * normal, points[0] - (0.25 * dz) * normal};
    if (points.front()[2] < points.back()[2]) std::reverse(points.begin(), points.end());
  }
  out.centerline.points = resampleEvenly(points, options.stepMm);
  return out;
}

}  // namespace cordscope
