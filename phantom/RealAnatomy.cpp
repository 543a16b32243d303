#include "phantom/RealAnatomy.h"

#include <itkImageRegionConstIteratorWithIndex.h>
#include <itkImageRegionIteratorWithIndex.h>
#include <itkMultiThreaderBase.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>

#include "core/Curve.h"
#include "core/ImageSampler.h"
#include "core/Statistics.h"
#include "data/DicomWriter.h"
#include "data/Error.h"
#include "data/Input.h"
#include "data/Levels.h"
#include "data/Nifti.h"

namespace cordscope {
namespace {

namespace fs = std::filesystem;

constexpr double kStep = 0.5;         // sampling of the source cord's course, mm
constexpr double kExtensionMm = 160;  // the course continued straight beyond the expert mask
constexpr double kSubSampleMm = 0.6;  // partial volume: sub-samples across the slice this far apart

template <typename TMask>
Image::Pointer asFloat(const TMask* mask, double (*value)(typename TMask::PixelType)) {
  auto out = Image::New();
  out->CopyInformation(mask);
  out->SetRegions(mask->GetLargestPossibleRegion());
  out->Allocate();
  const auto* in = mask->GetBufferPointer();
  float* o = out->GetBufferPointer();
  const std::size_t n = mask->GetLargestPossibleRegion().GetNumberOfPixels();
  for (std::size_t i = 0; i < n; ++i) o[i] = static_cast<float>(value(in[i]));
  return out;
}

double nonZero(unsigned char v) {
  return v ? 1.0 : 0.0;
}

Vec3 physical(const itk::ImageBase<3>* image, const itk::Index<3>& index) {
  itk::Point<double, 3> p;
  image->TransformIndexToPhysicalPoint(index, p);
  return {p[0], p[1], p[2]};
}

// One real scan, its expert labels, and its cord's own course with a frame at every kStep mm.
struct Source {
  std::string kind;
  Volume volume;
  Image::Pointer cord;         // expert cord mask as 0/1 floats (trilinear sampling)
  Image::Pointer lesion;       // the source's own lesion mask (sct-t2-lesion), else null
  LabelImage::Pointer levels;  // levels on the cord, else null
  std::unique_ptr<ImageSampler> image, cordSampler, lesionSampler;
  std::vector<Vec3> centre, tangent, anterior,
      lateral;                           // station i at arc i * kStep, cranial first
  double cordTop = 0, cordBottom = 0;    // arcs of the expert mask's first and last section
  double imageTop = 0, imageBottom = 0;  // arcs where the course runs inside the image
  std::map<int, double> discArc;         // label N (the disc at the top of vertebra N) -> arc
  // Per station, smoothed along the course: the cord's centre offset from the course and its
  // semi-axes in the section (anterior, lateral), the cord's and the CSF's signal.
  std::vector<double> offsetA, offsetL, semiA, semiL, cordSignal, csfSignal;
  double background = 0;  // what lies outside the scan's box
  double brightest = 0;   // 99.5th percentile of the scan (T1-like inversion)

  double arcOfIndex(std::size_t i) const { return i * kStep; }
  std::size_t stations() const { return centre.size(); }
  // Linear interpolation of a per-station quantity at arc a, clamped to the course's ends.
  double at(const std::vector<double>& q, double a) const {
    const double u = std::clamp(a / kStep, 0.0, static_cast<double>(q.size() - 1));
    const std::size_t i = std::min(q.size() - 2, static_cast<std::size_t>(u));
    const double f = u - i;
    return q[i] * (1 - f) + q[i + 1] * f;
  }
  Vec3 frameAt(const std::vector<Vec3>& q, double a) const {
    const double u = std::clamp(a / kStep, 0.0, static_cast<double>(q.size() - 1));
    const std::size_t i = std::min(q.size() - 2, static_cast<std::size_t>(u));
    const double f = u - i;
    return (1 - f) * q[i] + f * q[i + 1];
  }
  Vec3 point(double a, double ant, double lat) const {
    return frameAt(centre, a) + ant * frameAt(anterior, a) + lat * frameAt(lateral, a);
  }
  // Arc of the plane perpendicular to the course through p, and p's offsets in that plane.
  void locate(const Vec3& p, double& a, double& ant, double& lat) const {
    std::size_t best = 0;
    double bestDistance = 1e300;
    for (std::size_t i = 0; i < stations(); ++i) {
      const double d = norm(p - centre[i]);
      if (d < bestDistance) {
        bestDistance = d;
        best = i;
      }
    }
    a = arcOfIndex(best) + dot(p - centre[best], tangent[best]);
    for (int iteration = 0; iteration < 3; ++iteration) {
      const Vec3 d = p - frameAt(centre, a);
      a += dot(d, normalized(frameAt(tangent, a)));
    }
    const Vec3 d = p - frameAt(centre, a);
    ant = dot(d, frameAt(anterior, a));
    lat = dot(d, frameAt(lateral, a));
  }
};

// The course: centroids of the expert mask's sections across the grid axis nearest the patient's
// head-foot axis, smoothed (4 mm), resampled every kStep, and continued straight along the end
// directions (above the mask: the medulla and brainstem; PAM50 is straightened, so exactly).
void buildCourse(Source& s) {
  const Image* cord = s.cord.GetPointer();
  const auto direction = cord->GetDirection();
  int axis = 0;
  for (int k = 1; k < 3; ++k)
    if (std::abs(direction[2][k]) > std::abs(direction[2][axis])) axis = k;
  std::map<long, std::pair<Vec3, double>> planes;
  for (itk::ImageRegionConstIteratorWithIndex<Image> it(cord, cord->GetLargestPossibleRegion());
       !it.IsAtEnd(); ++it) {
    if (it.Get() < 0.5f) continue;
    auto& [sum, count] = planes[it.GetIndex()[axis]];
    sum = sum + physical(cord, it.GetIndex());
    count += 1;
  }
  if (planes.size() < 5) throw InputError(s.kind + ": the expert cord mask has too few sections");
  std::vector<Vec3> points;
  for (const auto& [plane, entry] : planes) points.push_back((1.0 / entry.second) * entry.first);
  std::sort(points.begin(), points.end(), [](const Vec3& a, const Vec3& b) { return a[2] > b[2]; });
  const double planeSpacing = cord->GetSpacing()[axis] * std::abs(direction[2][axis]);
  points = resampleEvenly(smoothCurve(points, 4.0 / planeSpacing), kStep);
  const std::size_t n = points.size();
  const std::size_t reach = std::min<std::size_t>(n - 1, static_cast<std::size_t>(10.0 / kStep));
  const Vec3 up = normalized(points[0] - points[reach]);
  const Vec3 down = normalized(points[n - 1] - points[n - 1 - reach]);
  const int extension = static_cast<int>(kExtensionMm / kStep);
  std::vector<Vec3> course;
  for (int k = extension; k >= 1; --k) course.push_back(points[0] + (k * kStep) * up);
  course.insert(course.end(), points.begin(), points.end());
  for (int k = 1; k <= extension; ++k) course.push_back(points[n - 1] + (k * kStep) * down);
  s.centre = course;
  s.cordTop = extension * kStep;
  s.cordBottom = s.cordTop + (n - 1) * kStep;
  const std::size_t m = course.size();
  for (std::size_t i = 0; i < m; ++i) {
    const Vec3 t = normalized(course[std::min(m - 1, i + 1)] - course[i == 0 ? 0 : i - 1]);
    // The patient's anterior (LPS -y) in the section.
    const Vec3 a = normalized(Vec3{0, -1, 0} - dot(Vec3{0, -1, 0}, t) * t);
    s.tangent.push_back(t);
    s.anterior.push_back(a);
    s.lateral.push_back(normalized(cross(t, a)));
  }
  // Where the course is inside the scan's box.
  s.imageTop = 0;
  s.imageBottom = (m - 1) * kStep;
  for (std::size_t i = 0; i < m; ++i)
    if (s.image->at(course[i])) {
      s.imageTop = i * kStep;
      break;
    }
  for (std::size_t i = m; i-- > 0;)
    if (s.image->at(course[i])) {
      s.imageBottom = i * kStep;
      break;
    }
}

// Gaussian smoothing of a per-station profile (sigma in stations), NaN-aware; the ends and gaps
// take the nearest value.
std::vector<double> smoothProfile(std::vector<double> q, double sigma) {
  const long n = static_cast<long>(q.size()), r = static_cast<long>(std::ceil(3 * sigma));
  std::vector<double> out(q.size(), std::numeric_limits<double>::quiet_NaN());
  for (long i = 0; i < n; ++i) {
    double sum = 0, weight = 0;
    for (long k = std::max(0L, i - r); k <= std::min(n - 1, i + r); ++k) {
      if (std::isnan(q[k])) continue;
      const double g = std::exp(-0.5 * (k - i) * (k - i) / (sigma * sigma));
      sum += g * q[k];
      weight += g;
    }
    if (weight > 0) out[i] = sum / weight;
  }
  fillGapsWithNearest(out);
  return out;
}

// The cord's section at every station of the expert mask: centre offset and semi-axes from the
// mask's moments (an ellipse of semi-axis A has variance A^2 / 4 along it), its signal (median
// of the image inside), the CSF's (80th percentile of a 3 mm ring outside it: the brightest part
// of the canal around the cord).
void measureSections(Source& s) {
  const std::size_t m = s.stations();
  std::vector<double> oa(m, NAN), ol(m, NAN), sa(m, NAN), sl(m, NAN), cs(m, NAN), fs(m, NAN);
  const long first = std::lround(s.cordTop / kStep), last = std::lround(s.cordBottom / kStep);
  itk::MultiThreaderBase::New()->ParallelizeArray(
      first, last + 1,
      [&](itk::SizeValueType i) {
        const double a = i * kStep;
        double n = 0, ma = 0, ml = 0, maa = 0, mll = 0;
        std::vector<double> inside;
        for (double u = -12; u <= 12; u += 0.25)
          for (double v = -12; v <= 12; v += 0.25) {
            const Vec3 p = s.point(a, u, v);
            const auto c = s.cordSampler->at(p);
            if (!c || *c < 0.5f) continue;
            n += 1;
            ma += u;
            ml += v;
            maa += u * u;
            mll += v * v;
            if (*c > 0.99f)
              if (const auto value = s.image->at(p)) inside.push_back(*value);
          }
        if (n < 20) return;
        ma /= n;
        ml /= n;
        oa[i] = ma;
        ol[i] = ml;
        sa[i] = 2 * std::sqrt(std::max(0.25, maa / n - ma * ma));
        sl[i] = 2 * std::sqrt(std::max(0.25, mll / n - ml * ml));
        cs[i] = median(inside);
        std::vector<double> ring;
        for (int k = 0; k < 96; ++k) {
          const double angle = 2 * kPi * k / 96;
          for (double out = 0.75; out <= 3.0; out += 0.25) {
            const double u = ma + (sa[i] + out) * std::cos(angle),
                         v = ml + (sl[i] + out) * std::sin(angle);
            if (const auto value = s.image->at(s.point(a, u, v))) ring.push_back(*value);
          }
        }
        fs[i] = percentile(ring, 0.8);
      },
      nullptr);
  const double sigma = 2.0 / kStep;
  s.offsetA = smoothProfile(oa, sigma);
  s.offsetL = smoothProfile(ol, sigma);
  s.semiA = smoothProfile(sa, sigma);
  s.semiL = smoothProfile(sl, sigma);
  s.cordSignal = smoothProfile(cs, 4 * sigma);
  s.csfSignal = smoothProfile(fs, 4 * sigma);
}

// Disc arcs from a disc label image (one voxel per disc, value N at the top of vertebra N).
void discsFromPoints(Source& s, const LabelImage* discs) {
  std::map<int, std::pair<Vec3, double>> sums;
  for (itk::ImageRegionConstIteratorWithIndex<LabelImage> it(discs,
                                                             discs->GetLargestPossibleRegion());
       !it.IsAtEnd(); ++it) {
    if (!it.Get()) continue;
    auto& [sum, count] = sums[it.Get()];
    sum = sum + physical(discs, it.GetIndex());
    count += 1;
  }
  for (const auto& [label, entry] : sums) {
    double a, ant, lat;
    s.locate((1.0 / entry.second) * entry.first, a, ant, lat);
    s.discArc[label] = a;
  }
}

// Disc arcs from a cord labelled by level: where the label along the course steps from N to
// N + 1, half-way between the last section of N and the first of N + 1.
void discsFromLevels(Source& s) {
  const long first = std::lround(s.cordTop / kStep), last = std::lround(s.cordBottom / kStep);
  int previous = 0;
  double previousArc = 0;
  for (long i = first; i <= last; ++i) {
    const double a = i * kStep;
    std::map<int, int> votes;
    for (double u = -4; u <= 4; u += 1)
      for (double v = -5; v <= 5; v += 1) {
        itk::Point<double, 3> p;
        const Vec3 q = s.point(a, s.at(s.offsetA, a) + u, s.at(s.offsetL, a) + v);
        p[0] = q[0];
        p[1] = q[1];
        p[2] = q[2];
        itk::Index<3> index;
        if (s.levels->TransformPhysicalPointToIndex(p, index) && s.levels->GetPixel(index))
          ++votes[s.levels->GetPixel(index)];
      }
    if (votes.empty()) continue;
    const int label =
        std::max_element(votes.begin(), votes.end(), [](const auto& x, const auto& y) {
          return x.second < y.second;
        })->first;
    if (previous && label == previous + 1 && !s.discArc.count(label))
      s.discArc[label] = 0.5 * (previousArc + a);
    if (label >= previous) {
      previous = label;
      previousArc = a;
    }
  }
}

std::shared_ptr<const Source> loadSource(const std::string& sharedData, const std::string& kind) {
  static std::mutex guard;
  static std::map<std::string, std::shared_ptr<const Source>> cache;
  const std::lock_guard<std::mutex> lock(guard);
  const std::string key = sharedData + "|" + kind;
  if (const auto it = cache.find(key); it != cache.end()) return it->second;
  auto s = std::make_shared<Source>();
  s->kind = kind;
  const fs::path real = fs::path(sharedData) / "real";
  if (kind == "pam50") {
    const fs::path d = real / "pam50-small";
    s->volume = readNifti((d / "PAM50_small_t2.nii.gz").string());
    s->levels = readLabels((d / "PAM50_small_levels.nii.gz").string());
    // The cord: the expert mask, and the level map painted on the cord, which goes 8 mm higher
    // (into C1).
    const Mask::Pointer mask = readMask((d / "PAM50_small_cord.nii.gz").string());
    s->cord = asFloat(mask.GetPointer(), nonZero);
    const auto n = mask->GetLargestPossibleRegion().GetNumberOfPixels();
    for (std::size_t i = 0; i < n; ++i)
      if (s->levels->GetBufferPointer()[i]) s->cord->GetBufferPointer()[i] = 1.0f;
  } else if (kind == "sct-t2") {
    const fs::path d = real / "sct-t2";
    s->volume = readNifti((d / "t2.nii.gz").string());
    s->levels = readLabels((d / "t2_seg-manual_labeled.nii.gz").string());
    s->cord = asFloat(readMask((d / "t2_seg-manual.nii.gz").string()).GetPointer(), nonZero);
  } else if (kind == "sct-t2-lesion") {
    const fs::path d = real / "sct-t2-lesion";
    s->volume = readNifti((d / "t2_lesion.nii.gz").string());
    s->cord = asFloat(readMask((d / "t2_lesion_seg-cord.nii.gz").string()).GetPointer(), nonZero);
    s->lesion =
        asFloat(readMask((d / "t2_lesion_seg-lesion.nii.gz").string()).GetPointer(), nonZero);
    // The lesion lies inside the cord.
    const auto n = s->cord->GetLargestPossibleRegion().GetNumberOfPixels();
    for (std::size_t i = 0; i < n; ++i)
      if (s->lesion->GetBufferPointer()[i] > 0.5f) s->cord->GetBufferPointer()[i] = 1.0f;
  } else {
    throw UsageError("real-anatomy source must be pam50, sct-t2 or sct-t2-lesion, got '" + kind +
                     "'");
  }
  s->image = std::make_unique<ImageSampler>(s->volume.image.GetPointer());
  s->cordSampler = std::make_unique<ImageSampler>(s->cord.GetPointer());
  if (s->lesion) s->lesionSampler = std::make_unique<ImageSampler>(s->lesion.GetPointer());
  buildCourse(*s);
  measureSections(*s);
  if (kind == "pam50")
    discsFromPoints(
        *s,
        readLabels((real / "pam50-small" / "PAM50_small_label_disc.nii.gz").string()).GetPointer());
  else if (kind == "sct-t2")
    discsFromLevels(*s);
  std::vector<double> values;
  const Image* image = s->volume.image.GetPointer();
  const std::size_t count = image->GetLargestPossibleRegion().GetNumberOfPixels();
  for (std::size_t i = 0; i < count; i += 7) values.push_back(image->GetBufferPointer()[i]);
  s->background = percentile(values, 0.3);
  s->brightest = percentile(values, 0.995);
  cache[key] = s;
  return s;
}

// The output cord's course in the anatomy's own frame (LPS before the spine is tilted in the
// scanner): a plane curve x = 0 through the origin, going caudally, its direction angle theta(s)
// from the head-foot axis carrying the lordosis - an anterior bow d(s) = L sin^2(pi u) between
// the arcs sA and sB (u from 0 to 1), so theta = asin(d'(s)) - tabulated every ds mm.
struct OutputCourse {
  double s0 = 0, ds = 0.1;
  std::vector<double> y, z, theta;

  OutputCourse(double sFrom, double sTo, double bowMm, double sA, double sB) {
    s0 = sFrom;
    const int n = static_cast<int>(std::ceil((sTo - sFrom) / ds)) + 1;
    y.assign(n, 0.0);
    z.assign(n, 0.0);
    theta.assign(n, 0.0);
    for (int i = 0; i < n; ++i) {
      const double s = s0 + i * ds;
      if (s > sA && s < sB) {
        const double slope = bowMm * kPi / (sB - sA) * std::sin(2 * kPi * (s - sA) / (sB - sA));
        theta[i] = std::asin(std::clamp(slope, -0.9, 0.9));
      }
    }
    // Integrate from s = 0 (the origin) both ways: tangent (0, -sin, -cos).
    const int zero = static_cast<int>(std::lround(-s0 / ds));
    for (int i = zero + 1; i < n; ++i) {
      const double t = 0.5 * (theta[i] + theta[i - 1]);
      y[i] = y[i - 1] - ds * std::sin(t);
      z[i] = z[i - 1] - ds * std::cos(t);
    }
    for (int i = zero - 1; i >= 0; --i) {
      const double t = 0.5 * (theta[i] + theta[i + 1]);
      y[i] = y[i + 1] + ds * std::sin(t);
      z[i] = z[i + 1] + ds * std::cos(t);
    }
  }
  double sMax() const { return s0 + (y.size() - 1) * ds; }
  void sample(double s, double& py, double& pz, double& th) const {
    const double u = std::clamp((s - s0) / ds, 0.0, static_cast<double>(y.size() - 1));
    const std::size_t i = std::min(y.size() - 2, static_cast<std::size_t>(u));
    const double f = u - i;
    py = y[i] * (1 - f) + y[i + 1] * f;
    pz = z[i] * (1 - f) + z[i + 1] * f;
    th = theta[i] * (1 - f) + theta[i + 1] * f;
  }
  Vec3 point(double s) const {
    double py, pz, th;
    sample(s, py, pz, th);
    return {0, py, pz};
  }
  // Anatomy-frame point at arc s, anterior offset a, lateral offset l (lateral = T x A = -x).
  Vec3 place(double s, double a, double l) const {
    double py, pz, th;
    sample(s, py, pz, th);
    return Vec3{-l, py - a * std::cos(th), pz + a * std::sin(th)};
  }
  // The arc s of the section through q and q's offsets in it (Newton on (q - C(s)) . T(s) = 0).
  void locate(const Vec3& q, double& s, double& a, double& l) const {
    // First guess: the course is close to the head-foot axis; z decreases along it.
    std::size_t lo = 0, hi = z.size() - 1;
    while (hi - lo > 1) {
      const std::size_t mid = (lo + hi) / 2;
      (z[mid] > q[2] ? lo : hi) = mid;
    }
    s = s0 + lo * ds;
    for (int iteration = 0; iteration < 8; ++iteration) {
      double py, pz, th;
      sample(s, py, pz, th);
      const double dy = q[1] - py, dz = q[2] - pz;
      const double along = -dy * std::sin(th) - dz * std::cos(th);
      const double anterior = -dy * std::cos(th) + dz * std::sin(th);
      // d theta / ds by a central difference of the table
      double y1, z1, t1, y2, z2, t2;
      sample(s - ds, y1, z1, t1);
      sample(s + ds, y2, z2, t2);
      const double curvature = (t2 - t1) / (2 * ds);
      const double denominator = std::max(0.2, 1 - curvature * anterior);
      const double step = along / denominator;
      s += step;
      if (std::abs(step) < 1e-4) break;
    }
    double py, pz, th;
    sample(s, py, pz, th);
    const double dy = q[1] - py, dz = q[2] - pz;
    a = -dy * std::cos(th) + dz * std::sin(th);
    l = -q[0];
  }
};

// Rotation of the anatomy in the scanner: tilt about the left-right axis (x), then roll about
// the anterior-posterior axis (y).
struct Rotation {
  double m[3][3];
  Rotation(double tiltDeg, double rollDeg) {
    const double t = tiltDeg * kPi / 180, r = rollDeg * kPi / 180;
    const double tilt[3][3] = {
        {1, 0, 0}, {0, std::cos(t), -std::sin(t)}, {0, std::sin(t), std::cos(t)}};
    const double roll[3][3] = {
        {std::cos(r), 0, std::sin(r)}, {0, 1, 0}, {-std::sin(r), 0, std::cos(r)}};
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        m[i][j] = 0;
        for (int k = 0; k < 3; ++k) m[i][j] += roll[i][k] * tilt[k][j];
      }
  }
  Vec3 apply(const Vec3& v) const {
    return {m[0][0] * v[0] + m[0][1] * v[1] + m[0][2] * v[2],
            m[1][0] * v[0] + m[1][1] * v[1] + m[1][2] * v[2],
            m[2][0] * v[0] + m[2][1] * v[1] + m[2][2] * v[2]};
  }
  Vec3 invert(const Vec3& v) const {
    return {m[0][0] * v[0] + m[1][0] * v[1] + m[2][0] * v[2],
            m[0][1] * v[0] + m[1][1] * v[1] + m[2][1] * v[2],
            m[0][2] * v[0] + m[1][2] * v[1] + m[2][2] * v[2]};
  }
};

// A painted lesion in source arcs with its shape in cord semi-axes.
struct LesionShape {
  double top = 0, bottom = 0;             // source arcs
  double pc = 0, qc = 0, rp = 1, rq = 1;  // centre and radii in (posterior, right) semi-axes
  double brightness = 0, taperMm = 0;
};

LesionShape shapeOf(const PaintedLesion& l, double top, double bottom) {
  LesionShape s;
  s.top = top;
  s.bottom = bottom;
  s.brightness = l.brightness;
  s.taperMm = l.taperMm;
  if (l.pattern == "dorsal") {  // the dorsal columns: between the posterior horns
    s.pc = 0.52, s.qc = 0, s.rp = 0.42, s.rq = 0.40;
  } else if (l.pattern == "lateral") {  // one lateral column
    s.pc = 0.05, s.qc = l.rightSide ? 0.55 : -0.55, s.rp = 0.48, s.rq = 0.36;
  } else if (l.pattern == "central") {  // the grey matter's middle
    s.pc = 0, s.qc = 0, s.rp = 0.42, s.rq = 0.40;
  } else if (l.pattern == "ventral") {
    s.pc = -0.52, s.qc = 0, s.rp = 0.40, s.rq = 0.42;
  } else if (l.pattern == "holocord") {
    s.pc = 0, s.qc = 0, s.rp = 0.9, s.rq = 0.9;
  } else {
    throw UsageError(
        "painted lesion pattern must be dorsal, lateral, central, ventral or holocord, got '" +
        l.pattern + "'");
  }
  return s;
}

struct Membership {
  double inside = 0;  // 1 when the point is in the lesion's truth shape
  double signal = 0;  // the signal added, as a fraction of (CSF - cord)
};

// The painted lesion at source arc a, offsets (ant, lat); `stretch` turns source mm into output mm
// for the taper.
Membership membership(const Source& src, const LesionShape& l, double a, double ant, double lat,
                      double stretch) {
  Membership m;
  const double end = std::min(a - l.top, l.bottom - a) * stretch;
  if (end <= 0) return m;
  const double ramp = l.taperMm > 0 ? std::min(1.0, end / l.taperMm) : 1.0;
  const double size = std::sqrt(ramp);
  const double p = -(ant - src.at(src.offsetA, a)) / src.at(src.semiA, a);
  const double q = -(lat - src.at(src.offsetL, a)) / src.at(src.semiL, a);  // lateral axis = right
  const double rim = p * p + q * q;
  if (rim >= 0.95 * 0.95) return m;
  const double e = std::hypot((p - l.pc) / l.rp, (q - l.qc) / l.rq);
  if (e < size && rim < 0.93 * 0.93) m.inside = 1;
  const double edge = std::clamp((size - e) / 0.25 + 0.5, 0.0, 1.0);
  m.signal = edge * l.brightness * (0.5 + 0.5 * ramp);
  return m;
}

// C1's extent on the cord, above the C1/C2 junction, taken as tall as C2 (from the junction to
// C2-C3): the cord there runs from the foramen magnum to the dens base, about one level.
double c1Height(const Source& src) {
  const auto c2 = src.discArc.find(2), c3 = src.discArc.find(3);
  return c2 != src.discArc.end() && c3 != src.discArc.end() ? c3->second - c2->second : 16.0;
}

// Source arc of a place given by level and fraction.
double levelToSourceArc(const Source& src, int level, double fraction, const std::string& what) {
  if (level == 1) {
    const auto it = src.discArc.find(2);
    if (it == src.discArc.end()) throw UsageError(what + ": the source has no C1/C2 junction");
    return it->second - (1 - fraction) * c1Height(src);
  }
  const auto upper = src.discArc.find(level), lower = src.discArc.find(level + 1);
  if (upper == src.discArc.end() && lower != src.discArc.end() && level == 2) {
    // sct-t2 starts inside C2: its visible part, from the mask's top.
    return src.cordTop + fraction * (lower->second - src.cordTop);
  }
  if (upper == src.discArc.end() || lower == src.discArc.end())
    throw UsageError(what + ": level " + levelName(level) + " is not labelled in the source " +
                     src.kind);
  return upper->second + fraction * (lower->second - upper->second);
}

template <typename T>
typename T::Pointer newImage(const itk::Size<3>& size, const Image::SpacingType& spacing,
                             const Image::PointType& origin,
                             const Image::DirectionType& direction) {
  auto image = T::New();
  image->SetRegions(itk::ImageRegion<3>(size));
  image->SetSpacing(spacing);
  image->SetOrigin(origin);
  image->SetDirection(direction);
  image->Allocate(true);
  return image;
}

nlohmann::json pointJson(const Vec3& lps) {
  return nlohmann::json{{"position_lps", {lps[0], lps[1], lps[2]}},
                        {"position_ras_mm", {-lps[0], -lps[1], lps[2]}}};
}

}  // namespace

void to_json(nlohmann::json& j, const RealAnatomyOptions& o) {
  nlohmann::json lesions = nlohmann::json::array();
  for (const PaintedLesion& l : o.lesions)
    lesions.push_back({{"top_level", l.topLevel},
                       {"bottom_level", l.bottomLevel},
                       {"top_fraction", l.topFraction},
                       {"bottom_fraction", l.bottomFraction},
                       {"top_mm", l.topMm},
                       {"bottom_mm", l.bottomMm},
                       {"pattern", l.pattern},
                       {"brightness", l.brightness},
                       {"taper_mm", l.taperMm},
                       {"right_side", l.rightSide}});
  j = nlohmann::json{{"name", o.name},
                     {"source", o.source},
                     {"seed", o.seed},
                     {"stretch", o.stretch},
                     {"lordosis_mm", o.lordosisMm},
                     {"tilt_deg", o.tiltDeg},
                     {"roll_deg", o.rollDeg},
                     {"lateral_offset_mm", o.lateralOffsetMm},
                     {"orientation", o.orientation},
                     {"pixel_mm", o.pixelMm},
                     {"slice_thickness_mm", o.sliceThicknessMm},
                     {"slice_gap_mm", o.sliceGapMm},
                     {"slices", o.slices},
                     {"fov_in_plane_mm", o.fovInPlaneMm},
                     {"above_junction_mm", o.aboveJunctionMm},
                     {"bottom_level", o.bottomLevel},
                     {"axial_top_level", o.axialTopLevel},
                     {"axial_bottom_level", o.axialBottomLevel},
                     {"noise", o.noise},
                     {"bias", o.bias},
                     {"invert", o.invert},
                     {"lesions", lesions}};
}

RealAnatomyStudy makeRealAnatomyStudy(const RealAnatomyOptions& o) {
  if (o.stretch < 0.7 || o.stretch > 1.4) throw UsageError("real anatomy: stretch must be 0.7-1.4");
  if (o.pixelMm < 0.2 || o.sliceThicknessMm < 0.5 || o.sliceThicknessMm > 25)
    throw UsageError("real anatomy: pixel 0.2 mm or more, slices 0.5-25 mm");
  if (o.orientation != "sagittal" && o.orientation != "axial")
    throw UsageError("real anatomy: orientation must be sagittal or axial");
  const std::shared_ptr<const Source> source = loadSource(o.sharedData, o.source);
  const Source& src = *source;
  const bool sagittal = o.orientation == "sagittal";
  const bool hasLevels = !src.discArc.empty();

  // Source arc <-> output arc: s = (a - aRef) x stretch, s = 0 at the C1/C2 junction (PAM50) or
  // at the expert mask's top.
  const double aRef = src.discArc.count(2) ? src.discArc.at(2) : src.cordTop;
  const auto outArc = [&](double a) { return (a - aRef) * o.stretch; };
  const auto sourceArc = [&](double s) { return aRef + s / o.stretch; };

  // The lordosis bows the cord between the middle of C2 and the middle of T1 (when labelled).
  double bowFrom = outArc(aRef + 8), bowTo = bowFrom + 110 * o.stretch;
  if (src.discArc.count(3) && src.discArc.count(9)) {
    bowFrom = outArc(src.discArc.at(2) + 0.5 * (src.discArc.at(3) - src.discArc.at(2)));
    bowTo = outArc(src.discArc.at(8) + 0.5 * (src.discArc.at(9) - src.discArc.at(8)));
  }
  const OutputCourse course(outArc(0) - 50, outArc((src.stations() - 1) * kStep) + 50, o.lordosisMm,
                            bowFrom, bowTo);
  const Rotation rotation(o.tiltDeg, o.rollDeg);
  const auto world = [&](double s, double a, double l) {
    return rotation.apply(course.place(s, a, l));
  };

  // Field of view along the spine, in output arcs.
  double sTop = 0, sBottom = 0;
  const auto middleOf = [&](int level) {
    return 0.5 * (levelToSourceArc(src, level, 0, "field of view") +
                  levelToSourceArc(src, level, 1, "field of view"));
  };
  if (o.source == "pam50" && sagittal) {
    sTop = -o.aboveJunctionMm;
    sBottom = outArc(middleOf(o.bottomLevel));
  } else if (o.source == "pam50") {
    sTop = outArc(middleOf(o.axialTopLevel));
    sBottom = outArc(middleOf(o.axialBottomLevel));
  } else {
    // The sct scans: their extent along the course, 3 mm inside the box.
    sTop = outArc(src.imageTop) + 3;
    sBottom = outArc(src.imageBottom) - 3;
  }
  sTop = std::max(sTop, outArc(src.imageTop));
  sBottom = std::min(sBottom, outArc(src.imageBottom));
  if (sBottom - sTop < 10)
    throw UsageError("real anatomy: the field of view along the spine is empty");

  // The grid. Sagittal: columns to the patient's back, rows to the feet, slices to the left
  // (the usual PIL); axial: rows to the left, columns to the back, slices to the head.
  double lo[3] = {1e300, 1e300, 1e300}, hi[3] = {-1e300, -1e300, -1e300};
  for (double s = sTop; s <= sBottom; s += 1.0) {
    const Vec3 p = world(s, 0, 0);
    for (int k = 0; k < 3; ++k) {
      lo[k] = std::min(lo[k], p[k]);
      hi[k] = std::max(hi[k], p[k]);
    }
  }
  const Vec3 middle{0.5 * (lo[0] + hi[0]), 0.5 * (lo[1] + hi[1]), 0.5 * (lo[2] + hi[2])};
  // The source's own box across the cord (sct sources: the grid stays inside it).
  const auto srcSize = src.volume.image->GetLargestPossibleRegion().GetSize();
  const auto srcSpacing = src.volume.image->GetSpacing();
  const auto srcDirection = src.volume.image->GetDirection();
  double srcAp = 0, srcLr = 0;
  for (int k = 0; k < 3; ++k) {
    srcAp += std::abs(srcDirection[1][k]) * srcSize[k] * srcSpacing[k];
    srcLr += std::abs(srcDirection[0][k]) * srcSize[k] * srcSpacing[k];
  }
  const bool boxed = o.source != "pam50";
  Image::DirectionType direction;
  direction.Fill(0);
  itk::Size<3> size;
  Image::SpacingType spacing;
  Image::PointType origin;
  const double slicePitch = o.sliceThicknessMm + o.sliceGapMm;
  if (sagittal) {
    direction[1][0] = 1;   // i: posterior
    direction[2][1] = -1;  // j: inferior
    direction[0][2] = 1;   // k: left
    const double fovAp = o.fovInPlaneMm > 0 ? o.fovInPlaneMm
                         : boxed            ? srcAp - 6
                                            : (hi[1] - lo[1]) + 90;
    const double fovSi = (hi[2] - lo[2]);
    int slices = o.slices > 0 ? o.slices : 15;
    if (boxed) slices = std::min(slices, std::max(3, static_cast<int>((srcLr - 4) / slicePitch)));
    size[0] = static_cast<unsigned>(std::ceil(fovAp / o.pixelMm));
    size[1] = static_cast<unsigned>(std::ceil(fovSi / o.pixelMm));
    size[2] = static_cast<unsigned>(slices);
    spacing[0] = spacing[1] = o.pixelMm;
    spacing[2] = slicePitch;
    origin[0] = middle[0] + o.lateralOffsetMm - 0.5 * (slices - 1) * slicePitch;
    origin[1] = middle[1] - 0.5 * (size[0] - 1) * o.pixelMm;
    origin[2] = hi[2];
  } else {
    direction[0][0] = 1;  // i: left
    direction[1][1] = 1;  // j: posterior
    direction[2][2] = 1;  // k: superior
    const double fov = o.fovInPlaneMm > 0 ? o.fovInPlaneMm
                       : boxed            ? std::min(srcAp, srcLr) - 6
                                          : 100;
    const int slices =
        o.slices > 0 ? o.slices
                     : std::max(3, static_cast<int>(std::floor((hi[2] - lo[2]) / slicePitch)) + 1);
    size[0] = size[1] = static_cast<unsigned>(std::ceil(fov / o.pixelMm));
    size[2] = static_cast<unsigned>(slices);
    spacing[0] = spacing[1] = o.pixelMm;
    spacing[2] = slicePitch;
    origin[0] = middle[0] - 0.5 * (size[0] - 1) * o.pixelMm;
    origin[1] = middle[1] - 0.5 * (size[1] - 1) * o.pixelMm;
    origin[2] = middle[2] - 0.5 * (slices - 1) * slicePitch;
  }
  RealAnatomyStudy study;
  study.volume.image = newImage<Image>(size, spacing, origin, direction);
  study.cord = newImage<Mask>(size, spacing, origin, direction);
  study.lesion = newImage<Mask>(size, spacing, origin, direction);
  study.cordRegion = newImage<Mask>(size, spacing, origin, direction);
  study.levels = newImage<LabelImage>(size, spacing, origin, direction);

  // Lesions in source arcs.
  std::vector<LesionShape> shapes;
  for (std::size_t k = 0; k < o.lesions.size(); ++k) {
    const PaintedLesion& l = o.lesions[k];
    const std::string what = "painted lesion " + std::to_string(k + 1);
    double top, bottom;
    if (l.topLevel > 0) {
      if (!hasLevels)
        throw UsageError(what + ": the source " + o.source + " has no levels; give mm");
      top = levelToSourceArc(src, l.topLevel, l.topFraction, what);
      bottom = levelToSourceArc(src, l.bottomLevel, l.bottomFraction, what);
    } else {
      top = src.cordTop + l.topMm;
      bottom = src.cordTop + l.bottomMm;
    }
    if (bottom <= top + 1) throw UsageError(what + ": its bottom must lie below its top");
    if (top < src.cordTop - c1Height(src) || bottom > src.cordBottom)
      throw UsageError(what + ": outside the cord of the source");
    shapes.push_back(shapeOf(l, top, bottom));
  }

  // Render: every voxel averages sub-samples across its slice (partial volume); the truth masks
  // take the majority of them.
  const Vec3 sliceNormal{direction[0][2], direction[1][2], direction[2][2]};
  const int subSamples =
      std::max(1, static_cast<int>(std::ceil(o.sliceThicknessMm / kSubSampleMm)));
  const ImageSampler grid(study.volume.image.GetPointer());
  float* pixels = study.volume.image->GetBufferPointer();
  unsigned char* cordTruth = study.cord->GetBufferPointer();
  unsigned char* lesionTruth = study.lesion->GetBufferPointer();
  unsigned char* region = study.cordRegion->GetBufferPointer();
  unsigned short* levelTruth = study.levels->GetBufferPointer();
  const long nx = size[0], ny = size[1], nz = size[2];
  const long sourceLesionId = static_cast<long>(shapes.size()) + 1;
  itk::MultiThreaderBase::New()->ParallelizeArray(
      0, static_cast<itk::SizeValueType>(nz * ny),
      [&](itk::SizeValueType row) {
        const long k = static_cast<long>(row) / ny, j = static_cast<long>(row) % ny;
        for (long i = 0; i < nx; ++i) {
          const Vec3 centre = grid.toPoint(
              {static_cast<double>(i), static_cast<double>(j), static_cast<double>(k)});
          double value = 0, cordVotes = 0, regionVotes = 0;
          std::vector<double> lesionVotes(shapes.size() + 1, 0.0);
          for (int m = 0; m < subSamples; ++m) {
            const double offset = ((m + 0.5) / subSamples - 0.5) * o.sliceThicknessMm;
            const Vec3 p = centre + offset * sliceNormal;
            double s, ant, lat;
            course.locate(rotation.invert(p), s, ant, lat);
            const double a = sourceArc(s);
            const Vec3 q = src.point(a, ant, lat);
            const auto sample = src.image->at(q);
            if (!sample) {
              value += src.background;
              continue;
            }
            double v = *sample;
            const double contrast = src.at(src.csfSignal, a) - src.at(src.cordSignal, a);
            for (std::size_t n = 0; n < shapes.size(); ++n) {
              const Membership mem = membership(src, shapes[n], a, ant, lat, o.stretch);
              v += mem.signal * contrast;
              lesionVotes[n] += mem.inside;
            }
            value += v;
            const auto c = src.cordSampler->at(q);
            if (c) cordVotes += *c;
            if (src.lesionSampler)
              if (const auto lesion = src.lesionSampler->at(q)) lesionVotes.back() += *lesion;
            if (a >= src.cordTop && a <= src.cordBottom) regionVotes += 1;
          }
          const std::size_t offset = i + nx * (j + ny * k);
          value /= subSamples;
          pixels[offset] = static_cast<float>(o.invert ? src.brightest - value : value);
          bool inLesion = false;
          for (std::size_t n = 0; n < lesionVotes.size(); ++n)
            if (lesionVotes[n] >= 0.5 * subSamples) {
              lesionTruth[offset] =
                  static_cast<unsigned char>(n < shapes.size() ? n + 1 : sourceLesionId);
              inLesion = true;
              break;
            }
          cordTruth[offset] = (cordVotes >= 0.5 * subSamples || inLesion) ? 1 : 0;
          region[offset] = regionVotes >= 0.5 * subSamples ? 1 : 0;
          if (cordTruth[offset] && src.levels) {
            double s, ant, lat;
            course.locate(rotation.invert(centre), s, ant, lat);
            const Vec3 q = src.point(sourceArc(s), ant, lat);
            itk::Point<double, 3> pt;
            pt[0] = q[0];
            pt[1] = q[1];
            pt[2] = q[2];
            itk::Index<3> index;
            if (src.levels->TransformPhysicalPointToIndex(pt, index))
              levelTruth[offset] = src.levels->GetPixel(index);
          }
        }
      },
      nullptr);

  // A smooth coil field, an intensity scale, Rician noise (per slice, seeded: the same study
  // whatever the threads).
  std::mt19937 rng(o.seed * 7919u + 17u);
  std::uniform_real_distribution<double> uniform(0, 1);
  struct Wave {
    Vec3 k;
    double phase;
  };
  std::vector<Wave> waves;
  for (int w = 0; w < 3; ++w) {
    const double wavelength = 150 + 250 * uniform(rng);
    const Vec3 dir = normalized({uniform(rng) - 0.5, uniform(rng) - 0.5, uniform(rng) - 0.5});
    waves.push_back({(2 * kPi / wavelength) * dir, 2 * kPi * uniform(rng)});
  }
  std::vector<double> cordValues;
  const std::size_t voxels = static_cast<std::size_t>(nx) * ny * nz;
  for (std::size_t v = 0; v < voxels; ++v)
    if (cordTruth[v] && !lesionTruth[v]) cordValues.push_back(pixels[v]);
  const double cordLevel = cordValues.empty() ? src.at(src.cordSignal, aRef) : median(cordValues);
  const double scale = (300 + 2700 * uniform(rng)) / std::max(1e-6, std::abs(cordLevel));
  const double sigma = o.noise * std::abs(cordLevel) * scale;
  for (long k = 0; k < nz; ++k) {
    std::mt19937 sliceRng(o.seed * 104729u + static_cast<unsigned>(k) * 31u + 5u);
    std::normal_distribution<double> gauss(0, 1);
    for (long j = 0; j < ny; ++j)
      for (long i = 0; i < nx; ++i) {
        const std::size_t offset = i + nx * (j + ny * k);
        const Vec3 p =
            grid.toPoint({static_cast<double>(i), static_cast<double>(j), static_cast<double>(k)});
        double field = 0;
        for (const Wave& w : waves) field += std::cos(dot(w.k, p) + w.phase);
        const double clean = std::max(0.0, pixels[offset] * scale * std::exp(o.bias * field / 3));
        const double re = clean + sigma * gauss(sliceRng), im = sigma * gauss(sliceRng);
        pixels[offset] = static_cast<float>(std::round(std::hypot(re, im)));
      }
  }

  // Metadata.
  SeriesMetadata& meta = study.volume.meta;
  meta.patientId = "REAL-" + o.source + "-" + std::to_string(o.seed);
  meta.patientSex = (o.seed % 2) ? "F" : "M";
  meta.patientAgeYears = 35 + (o.seed * 13) % 45;
  meta.studyDate = "20250301";
  meta.seriesDescription =
      std::string(o.invert ? "T1" : "T2") + (sagittal ? " SAG" : " AX") + " " + o.source;
  meta.modality = "MR";
  meta.manufacturer = "cordscope real-anatomy";
  meta.echoTimeMs = o.invert ? 12.0 : 100.0;
  meta.repetitionTimeMs = o.invert ? 600.0 : 3000.0;
  meta.sliceThicknessMm = o.sliceThicknessMm;
  meta.seriesNumber = sagittal ? 2 : 3;
  study.volume.sourceKind = "phantom";
  study.volume.sourcePath = "real-anatomy:" + o.name;

  // Truth.
  nlohmann::json truth;
  truth["generator"] = "cordscope real anatomy (phantom/RealAnatomy.cpp)";
  truth["options"] = o;
  truth["source"] = o.source;
  const auto cordPoint = [&](double s) {
    const double a = sourceArc(s);
    return world(s, src.at(src.offsetA, a), src.at(src.offsetL, a));
  };
  const auto inView = [&](const Vec3& p) { return grid.at(p).has_value(); };
  nlohmann::json discs = nlohmann::json::array();
  for (const auto& [label, arc] : src.discArc) {
    const double s = outArc(arc);
    const Vec3 p = cordPoint(s);
    nlohmann::json d = pointJson(p);
    d["label"] = label;
    d["name"] = discName(label);
    d["arc_mm"] = s;
    d["in_view"] = inView(p) && s >= sTop && s <= sBottom;
    discs.push_back(d);
  }
  truth["discs"] = discs;
  nlohmann::json levels = nlohmann::json::array();
  std::map<int, std::pair<double, double>> levelArcs;  // output arcs
  for (const auto& [label, arc] : src.discArc) {
    const auto next = src.discArc.find(label + 1);
    if (next != src.discArc.end()) levelArcs[label] = {outArc(arc), outArc(next->second)};
  }
  if (src.discArc.count(2))
    levelArcs[1] = {outArc(src.discArc.at(2) - c1Height(src)), outArc(src.discArc.at(2))};
  if (o.source == "sct-t2" && src.discArc.count(3))
    levelArcs[2] = {outArc(src.cordTop), outArc(src.discArc.at(3))};
  for (const auto& [level, arcs] : levelArcs)
    levels.push_back({{"level", level},
                      {"name", levelName(level)},
                      {"top_arc_mm", arcs.first},
                      {"bottom_arc_mm", arcs.second},
                      {"height_mm", arcs.second - arcs.first}});
  truth["levels"] = levels;
  truth["cord"] = {
      {"top_arc_mm", std::max(sTop, outArc(src.cordTop))},
      {"bottom_arc_mm", std::min(sBottom, outArc(src.cordBottom))},
      {"arc_origin", src.discArc.count(2) ? "C1/C2 junction" : "top of the expert mask"}};
  truth["field_of_view_arc_mm"] = {sTop, sBottom};

  nlohmann::json lesions = nlohmann::json::array();
  const auto lesionJson = [&](int id, double top, double bottom, const std::string& pattern,
                              double brightness) {
    const double sT = outArc(top), sB = outArc(bottom);
    nlohmann::json l{{"id", id},
                     {"pattern", pattern},
                     {"brightness", brightness},
                     {"top_arc_mm", sT},
                     {"bottom_arc_mm", sB},
                     {"length_mm", sB - sT},
                     {"top", pointJson(cordPoint(sT))},
                     {"bottom", pointJson(cordPoint(sB))}};
    if (!levelArcs.empty()) {
      nlohmann::json perLevel = nlohmann::json::array();
      int topLevel = 0, bottomLevel = 0;
      for (const auto& [level, arcs] : levelArcs) {
        const double mm = std::min(arcs.second, sB) - std::max(arcs.first, sT);
        if (mm <= 0) continue;
        if (!topLevel) topLevel = level;
        bottomLevel = level;
        perLevel.push_back({{"level", level},
                            {"name", levelName(level)},
                            {"mm", mm},
                            {"height_mm", arcs.second - arcs.first}});
      }
      l["per_level"] = perLevel;
      l["top_level"] = topLevel ? nlohmann::json(levelName(topLevel)) : nlohmann::json();
      l["bottom_level"] = bottomLevel ? nlohmann::json(levelName(bottomLevel)) : nlohmann::json();
    }
    return l;
  };
  for (std::size_t k = 0; k < shapes.size(); ++k)
    lesions.push_back(lesionJson(static_cast<int>(k + 1), shapes[k].top, shapes[k].bottom,
                                 o.lesions[k].pattern, o.lesions[k].brightness));
  if (src.lesion) {
    // The source's own lesion: its extent along the course from its voxels.
    double top = 1e300, bottom = -1e300;
    const Image* lesion = src.lesion.GetPointer();
    for (itk::ImageRegionConstIteratorWithIndex<Image> it(lesion,
                                                          lesion->GetLargestPossibleRegion());
         !it.IsAtEnd(); ++it) {
      if (it.Get() < 0.5f) continue;
      double a, ant, lat;
      src.locate(physical(lesion, it.GetIndex()), a, ant, lat);
      top = std::min(top, a);
      bottom = std::max(bottom, a);
    }
    const double half = 0.5 * lesion->GetSpacing()[0];
    nlohmann::json l =
        lesionJson(static_cast<int>(sourceLesionId), top - half, bottom + half, "", 0);
    l["pattern"] = nullptr;  // not known: the source's own painted lesion
    l["from_source"] = true;
    lesions.push_back(l);
  }
  truth["lesions"] = lesions;
  study.truth = truth;
  return study;
}

std::vector<RealAnatomyOptions> realAnatomyTestSet(const std::string& sharedData) {
  std::vector<RealAnatomyOptions> set;
  unsigned seed = 100;
  const auto add = [&](const std::string& name, const std::string& source, auto configure) {
    RealAnatomyOptions o;
    o.name = name;
    o.source = source;
    o.sharedData = sharedData;
    o.seed = ++seed;
    configure(o);
    set.push_back(o);
  };
  // Study k of the random draw with `drawSeed`, exactly as `random-<drawSeed>-<k>` makes it.
  const auto addDraw = [&](const std::string& name, unsigned drawSeed, int k) {
    RealAnatomyOptions o = realAnatomyRandomSet(sharedData, k + 1, drawSeed).at(k);
    o.name = name;
    set.push_back(o);
  };
  const auto lesion = [](int top, double topFraction, int bottom, double bottomFraction,
                         const std::string& pattern, double brightness, double taperMm = 4) {
    PaintedLesion l;
    l.topLevel = top;
    l.topFraction = topFraction;
    l.bottomLevel = bottom;
    l.bottomFraction = bottomFraction;
    l.pattern = pattern;
    l.brightness = brightness;
    l.taperMm = taperMm;
    return l;
  };
  // Whole spines, sagittal (PAM50).
  add("pam50-plain", "pam50", [](RealAnatomyOptions&) {});
  add("pam50-tall12", "pam50", [](RealAnatomyOptions& o) {
    o.stretch = 1.12;
    o.lordosisMm = 12;
  });
  add("pam50-short87", "pam50", [](RealAnatomyOptions& o) {
    o.stretch = 0.87;
    o.sliceThicknessMm = 2.5;
  });
  add("pam50-tall15-dorsal-C2-C6", "pam50", [&](RealAnatomyOptions& o) {
    o.stretch = 1.15;
    o.lesions = {lesion(2, 0.15, 6, 0.6, "dorsal", 0.6)};
  });
  add("pam50-dorsal-C2-T2", "pam50",
      [&](RealAnatomyOptions& o) { o.lesions = {lesion(2, 0.2, 9, 0.5, "dorsal", 0.7)}; });
  add("pam50-subtle-dorsal-C3-C4", "pam50",
      [&](RealAnatomyOptions& o) { o.lesions = {lesion(3, 0.3, 4, 0.7, "dorsal", 0.25)}; });
  add("pam50-short90-dorsal-C2-C7", "pam50", [&](RealAnatomyOptions& o) {
    o.stretch = 0.9;
    o.lesions = {lesion(2, 0.3, 7, 0.5, "dorsal", 0.5)};
  });
  add("pam50-dorsal-C2-T1", "pam50",
      [&](RealAnatomyOptions& o) { o.lesions = {lesion(2, 0.1, 8, 0.4, "dorsal", 0.6, 8)}; });
  add("pam50-dorsal-C1-C5", "pam50",
      [&](RealAnatomyOptions& o) { o.lesions = {lesion(1, 0.4, 5, 0.6, "dorsal", 0.6)}; });
  add("pam50-holocord-csf-C3-T1", "pam50",
      [&](RealAnatomyOptions& o) { o.lesions = {lesion(3, 0.2, 8, 0.6, "holocord", 1.0, 6)}; });
  add("pam50-holocord-C4-C6", "pam50",
      [&](RealAnatomyOptions& o) { o.lesions = {lesion(4, 0.3, 6, 0.7, "holocord", 0.7)}; });
  add("pam50-lateral-right-C3-C5", "pam50", [&](RealAnatomyOptions& o) {
    o.lesions = {lesion(3, 0.2, 5, 0.7, "lateral", 0.6)};
    o.lesions[0].rightSide = true;
  });
  add("pam50-lateral-left-C5-C6", "pam50",
      [&](RealAnatomyOptions& o) { o.lesions = {lesion(5, 0.3, 6, 0.6, "lateral", 0.5)}; });
  add("pam50-central-C4-C5", "pam50",
      [&](RealAnatomyOptions& o) { o.lesions = {lesion(4, 0.2, 5, 0.6, "central", 0.6)}; });
  add("pam50-ventral-C5-C7", "pam50",
      [&](RealAnatomyOptions& o) { o.lesions = {lesion(5, 0.3, 7, 0.5, "ventral", 0.5)}; });
  add("pam50-dorsal-C4-touching-C5", "pam50", [&](RealAnatomyOptions& o) {
    // Ends 1 mm into C5 (C5 is about 16 mm): the lesion is a C4 lesion that touches C5.
    o.lesions = {lesion(4, 0.25, 5, 1.0 / 16.0, "dorsal", 0.6, 3)};
  });
  add("pam50-subtle-dorsal-C2-C6", "pam50",
      [&](RealAnatomyOptions& o) { o.lesions = {lesion(2, 0.2, 6, 0.5, "dorsal", 0.2)}; });
  add("pam50-tall10-tilt8-dorsal-C2-T2", "pam50", [&](RealAnatomyOptions& o) {
    o.stretch = 1.1;
    o.tiltDeg = 8;
    o.lesions = {lesion(2, 0.3, 9, 0.3, "dorsal", 0.6)};
  });
  add("pam50-kyphosis-dorsal-C3-C7", "pam50", [&](RealAnatomyOptions& o) {
    o.lordosisMm = -5;
    o.lesions = {lesion(3, 0.3, 7, 0.7, "dorsal", 0.6)};
  });
  add("pam50-lordosis20-dorsal-C2-C5", "pam50", [&](RealAnatomyOptions& o) {
    o.lordosisMm = 20;
    o.lesions = {lesion(2, 0.3, 5, 0.5, "dorsal", 0.6)};
  });
  add("pam50-two-lesions", "pam50", [&](RealAnatomyOptions& o) {
    o.lesions = {lesion(2, 0.3, 3, 0.6, "dorsal", 0.6), lesion(6, 0.3, 7, 0.5, "lateral", 0.6)};
  });
  add("pam50-noisy-dorsal-C2-T3", "pam50", [&](RealAnatomyOptions& o) {
    o.sliceThicknessMm = 3.5;
    o.noise = 0.08;
    o.bottomLevel = 11;
    o.lesions = {lesion(2, 0.2, 10, 0.5, "dorsal", 0.6)};
  });
  add("pam50-fine-dorsal-C5-T1", "pam50", [&](RealAnatomyOptions& o) {
    o.sliceThicknessMm = 2.5;
    o.pixelMm = 0.5;
    o.lesions = {lesion(5, 0.2, 8, 0.6, "dorsal", 0.6)};
  });
  add("pam50-tilt-roll-dorsal-C2-C4", "pam50", [&](RealAnatomyOptions& o) {
    o.tiltDeg = -10;
    o.rollDeg = 4;
    o.lesions = {lesion(2, 0.2, 4, 0.6, "dorsal", 0.6)};
  });
  add("pam50-offset-central-C3-C6", "pam50", [&](RealAnatomyOptions& o) {
    o.lateralOffsetMm = 1.5;
    o.lesions = {lesion(3, 0.3, 6, 0.6, "central", 0.6)};
  });
  add("pam50-bias-dorsal-C2-C7", "pam50", [&](RealAnatomyOptions& o) {
    o.bias = 0.45;
    o.lesions = {lesion(2, 0.4, 7, 0.6, "dorsal", 0.6)};
  });
  add("pam50-t1-like", "pam50", [](RealAnatomyOptions& o) { o.invert = true; });
  add("pam50-short85-holocord-C2-C4", "pam50", [&](RealAnatomyOptions& o) {
    o.stretch = 0.85;
    o.lesions = {lesion(2, 0.3, 4, 0.6, "holocord", 0.8)};
  });
  // Axial slabs (PAM50).
  add("pam50-axial4-dorsal-C3-C6", "pam50", [&](RealAnatomyOptions& o) {
    o.orientation = "axial";
    o.sliceThicknessMm = 4;
    o.lesions = {lesion(3, 0.3, 6, 0.6, "dorsal", 0.7)};
  });
  add("pam50-axial5-lateral-C4-C6", "pam50", [&](RealAnatomyOptions& o) {
    o.orientation = "axial";
    o.sliceThicknessMm = 5;
    o.lesions = {lesion(4, 0.2, 6, 0.7, "lateral", 0.7)};
  });
  add("pam50-axial3-holocord-C3-C5", "pam50", [&](RealAnatomyOptions& o) {
    o.orientation = "axial";
    o.sliceThicknessMm = 3;
    o.pixelMm = 0.5;
    o.fovInPlaneMm = 60;
    o.lesions = {lesion(3, 0.3, 5, 0.6, "holocord", 0.7)};
  });
  add("pam50-axial10", "pam50", [](RealAnatomyOptions& o) {
    o.orientation = "axial";
    o.sliceThicknessMm = 10;
    o.axialBottomLevel = 8;
  });
  add("pam50-axial17-slab", "pam50", [](RealAnatomyOptions& o) {
    o.orientation = "axial";
    o.sliceThicknessMm = 17;
    o.slices = 5;
    o.pixelMm = 0.84;
    o.fovInPlaneMm = 40;
    o.axialTopLevel = 3;
    o.axialBottomLevel = 7;
  });
  // sct-t2: a real 3D T2 (C2-C5) resampled to clinical slices.
  add("sct-t2-sag3-dorsal-C3-C4", "sct-t2", [&](RealAnatomyOptions& o) {
    o.lordosisMm = 2;
    o.lesions = {lesion(3, 0.2, 4, 0.8, "dorsal", 0.6)};
  });
  add("sct-t2-sag25-lateral-C2-C3", "sct-t2", [&](RealAnatomyOptions& o) {
    o.sliceThicknessMm = 2.5;
    o.lordosisMm = 0;
    o.lesions = {lesion(2, 0.3, 3, 0.5, "lateral", 0.6)};
  });
  add("sct-t2-tall-central-C2-C4", "sct-t2", [&](RealAnatomyOptions& o) {
    o.stretch = 1.1;
    o.lordosisMm = 0;
    o.lesions = {lesion(2, 0.5, 4, 0.5, "central", 0.6)};
  });
  add("sct-t2-axial5-dorsal-C3-C4", "sct-t2", [&](RealAnatomyOptions& o) {
    o.orientation = "axial";
    o.sliceThicknessMm = 5;
    o.lordosisMm = 0;
    o.lesions = {lesion(3, 0.2, 4, 0.7, "dorsal", 0.7)};
  });
  add("sct-t2-axial3-t1-like", "sct-t2", [](RealAnatomyOptions& o) {
    o.orientation = "axial";
    o.sliceThicknessMm = 3;
    o.lordosisMm = 0;
    o.invert = true;
  });
  // sct-t2-lesion: a real sagittal T2 with its own small lesion.
  add("sct-t2-lesion-sag3", "sct-t2-lesion", [](RealAnatomyOptions& o) { o.lordosisMm = 0; });
  add("sct-t2-lesion-sag3-dorsal", "sct-t2-lesion", [](RealAnatomyOptions& o) {
    o.lordosisMm = 2;
    PaintedLesion l;
    l.topLevel = 0;
    l.topMm = 8;
    l.bottomMm = 30;
    l.pattern = "dorsal";
    l.brightness = 0.6;
    o.lesions = {l};
  });
  add("sct-t2-lesion-sag25-lateral", "sct-t2-lesion", [](RealAnatomyOptions& o) {
    o.lordosisMm = 0;
    o.sliceThicknessMm = 2.5;
    PaintedLesion l;
    l.topLevel = 0;
    l.topMm = 22;  // above the scan's own lesion (60-71 mm)
    l.bottomMm = 42;
    l.pattern = "lateral";
    l.brightness = 0.6;
    l.rightSide = true;
    o.lesions = {l};
  });
  add("sct-t2-lesion-short-holocord", "sct-t2-lesion", [](RealAnatomyOptions& o) {
    o.lordosisMm = 0;
    o.stretch = 0.9;
    PaintedLesion l;
    l.topLevel = 0;
    l.topMm = 5;
    l.bottomMm = 25;
    l.pattern = "holocord";
    l.brightness = 0.8;
    o.lesions = {l};
  });
  add("sct-t2-lesion-axial4", "sct-t2-lesion", [](RealAnatomyOptions& o) {
    o.lordosisMm = 0;
    o.orientation = "axial";
    o.sliceThicknessMm = 4;
  });
  // Added after the set above was fixed (appended, so that every study above keeps its seed).
  // A lateral lesion as bright as CSF on thick sagittal slices lies only in voxels that straddle
  // the cord's edge (an unseen draw, random-11-16, lost all but its upper part; docs/lesions.md).
  add("pam50-thick-lateral-csf-C2-C5", "pam50", [&](RealAnatomyOptions& o) {
    o.sliceThicknessMm = 3.4;
    o.lateralOffsetMm = 1.4;
    o.noise = 0.05;
    o.lesions = {lesion(2, 0.3, 5, 0.5, "lateral", 0.9, 6)};
    o.lesions[0].rightSide = true;
  });
  // Unseen random draws that once failed, replayed exactly (the draw's options and its noise) under
  // a descriptive name: each is the study that a rule now in the pipeline was made for.
  //
  // A bright dorsal lesion down to T2 in a tall, tilted neck: where the cord bends out of the
  // lordosis the lesion took most of the outline (its area fell to a quarter, shape kept), the
  // lower half of the lesion was lost and the count was 3 segments for 6, with a pass
  // (docs/segmentation.md, "occluded stations").
  addDraw("pam50-tall15-tilt-dorsal-C4-T2", 13, 1);
  // A dorsal lesion nearly as bright as CSF from C3 to T2 in a straight, 7 % shorter neck: over the
  // lesion's upper end the outline lost the cord's dorsal third and narrowed with it, keeping its
  // shape, and 7 segments were counted as 6 with a pass (docs/segmentation.md, occluded stations).
  addDraw("pam50-short93-bright-dorsal-C3-T2", 17, 6);
  // Long holocord lesions of modest brightness: longer than the +-40 mm window of the cord level's
  // robust local fit, they lifted that level to their own and were not found - faint_cord_signal
  // pointed at their ends only. The cord's level is now held under the cord-to-CSF ratio's lower
  // envelope (docs/lesions.md, reference levels).
  addDraw("pam50-tall15-holocord-0.4-C3-T1", 23, 8);
  // Holocord C3-T2 at 0.26 of CSF, 124 mm - 60 % of the cord - with noise 0.05 and a strong coil
  // field: the noise read over the whole cord's interior was the lesion's, the seed threshold
  // doubled, and seven segments were not found (a check, faint signal at one end).
  addDraw("pam50-tall13-holocord-0.26-C3-T2", 23, 4);
  // Lesion-free, taller than average, tilted, with lordosis: the rounder, RL-narrower cord at C7 on
  // 3.4 mm sagittal slices was taken for an occluded one, modelled from its canal, and CSF inside
  // the model became an 11.7 mm lesion with a pass.
  addDraw("pam50-tall10-tilt-lordosis", 23, 13);
  // Holocord C5-T1 at 0.25 of CSF (with the two above: the cord-to-CSF envelope).
  addDraw("pam50-holocord-0.25-C5-T1", 23, 1);
  return set;
}

std::vector<RealAnatomyOptions> realAnatomyRandomSet(const std::string& sharedData, int count,
                                                     unsigned seed) {
  std::vector<RealAnatomyOptions> set;
  std::mt19937 rng(seed);
  const auto uniform = [&](double a, double b) {
    return std::uniform_real_distribution<double>(a, b)(rng);
  };
  const auto integer = [&](int a, int b) { return std::uniform_int_distribution<int>(a, b)(rng); };
  static const char* patterns[] = {"dorsal",  "dorsal",  "dorsal",  "lateral",
                                   "central", "ventral", "holocord"};
  for (int k = 0; k < count; ++k) {
    RealAnatomyOptions o;
    o.source = "pam50";
    o.sharedData = sharedData;
    o.seed = seed * 1000 + static_cast<unsigned>(k);
    o.stretch = uniform(0.85, 1.15);
    o.lordosisMm = uniform(-5, 20);
    o.tiltDeg = uniform(-10, 10);
    o.rollDeg = uniform(-4, 4);
    o.lateralOffsetMm = uniform(-1.5, 1.5);
    o.sliceThicknessMm = uniform(2.5, 3.5);
    o.pixelMm = uniform(0.5, 0.9);
    o.noise = uniform(0.02, 0.08);
    o.bias = uniform(0, 0.4);
    o.aboveJunctionMm = uniform(40, 75);
    o.bottomLevel = integer(9, 11);
    std::string name = "random-" + std::to_string(seed) + "-" + std::to_string(k);
    if (integer(1, 5) <= 4) {
      PaintedLesion l;
      l.pattern = patterns[integer(0, 6)];
      l.topLevel = integer(1, 5);
      l.bottomLevel = std::min(o.bottomLevel - 1, l.topLevel + integer(0, 7));
      l.topFraction = uniform(0.1, 0.7);
      l.bottomFraction =
          l.bottomLevel == l.topLevel ? uniform(l.topFraction + 0.25, 0.95) : uniform(0.3, 0.9);
      l.brightness = uniform(0.15, 1.0);
      l.taperMm = uniform(0, 8);
      l.rightSide = integer(0, 1) == 1;
      o.lesions = {l};
      name += "-" + l.pattern + "-" + levelName(l.topLevel) + "-" + levelName(l.bottomLevel);
    }
    o.name = name;
    set.push_back(o);
  }
  return set;
}

namespace {

// One series: its DICOM into dicomDir, its truth into truthDir and truthJson, on the grid
// `convert` produces from that DICOM.
void writeOneSeries(const RealAnatomyStudy& study, const std::string& dicomDir,
                    const fs::path& truthDir, const fs::path& truthJson,
                    const std::string& studyUid) {
  fs::create_directories(truthDir);
  fs::remove_all(dicomDir);
  DicomWriteOptions write;
  write.uidSeed = "cordscope-real-anatomy/" + study.truth["options"].dump();
  write.patientName = "REALANATOMY^CORDSCOPE";
  Volume volume = study.volume;
  if (!studyUid.empty()) volume.meta.studyInstanceUid = studyUid;
  writeDicomSeries(volume, dicomDir, write);
  const Volume reread = loadInput(dicomDir);
  const Image* grid = reread.image.GetPointer();
  // The truth on the read-back grid (the same voxels up to axis order and flips).
  const auto onGrid = [&](auto* source) {
    using T = std::remove_const_t<std::remove_pointer_t<decltype(source)>>;
    auto out = T::New();
    out->CopyInformation(grid);
    out->SetRegions(grid->GetLargestPossibleRegion());
    out->Allocate(true);
    for (itk::ImageRegionIteratorWithIndex<T> it(out, out->GetLargestPossibleRegion());
         !it.IsAtEnd(); ++it) {
      typename T::PointType point;
      out->TransformIndexToPhysicalPoint(it.GetIndex(), point);
      typename T::IndexType index;
      if (source->TransformPhysicalPointToIndex(point, index)) it.Set(source->GetPixel(index));
    }
    return out;
  };
  writeNifti(onGrid(study.cord.GetPointer()).GetPointer(), (truthDir / "cord.nii.gz").string());
  writeNifti(onGrid(study.lesion.GetPointer()).GetPointer(), (truthDir / "lesion.nii.gz").string());
  writeNifti(onGrid(study.cordRegion.GetPointer()).GetPointer(),
             (truthDir / "cord_region.nii.gz").string());
  writeNifti(onGrid(study.levels.GetPointer()).GetPointer(), (truthDir / "levels.nii.gz").string());
  std::ofstream(truthJson) << study.truth.dump(2) << "\n";
}

}  // namespace

void writeRealAnatomyStudy(const RealAnatomyStudy& study, const std::string& outDir) {
  writeOneSeries(study, (fs::path(outDir) / "dicom").string(), fs::path(outDir) / "truth",
                 fs::path(outDir) / "truth.json", "");
}

void writeRealAnatomySeries(const std::vector<RealAnatomyStudy>& series,
                            const std::string& outDir) {
  if (series.empty()) return;
  const std::string studyUid =
      uidFromSeed("cordscope-real-anatomy-study/" + series.front().truth["options"].dump());
  for (std::size_t k = 0; k < series.size(); ++k) {
    const std::string n = std::to_string(k + 1);
    writeOneSeries(series[k], (fs::path(outDir) / "dicom" / n).string(),
                   fs::path(outDir) / ("truth-" + n), fs::path(outDir) / ("truth-" + n + ".json"),
                   studyUid);
  }
}

}  // namespace cordscope
