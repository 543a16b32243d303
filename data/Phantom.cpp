#include "Phantom.h"

#include <itkImageRegionIteratorWithIndex.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <thread>
#include <tuple>

#include "DicomWriter.h"
#include "Error.h"
#include "Input.h"
#include "Levels.h"
#include "Nifti.h"
#include "core/Geometry.h"

namespace cordscope {
namespace {

constexpr int kLowestVertebra = 13;  // T6: the model's column ends here, below any field of view

// T2 TSE signal of each tissue, as a fraction of CSF (literature appearance, not measurements).
enum Tissue : std::uint8_t {
  Air,
  Csf,
  Cord,
  Cerebellum,
  Nucleus,
  Annulus,
  Marrow,
  Cortex,
  Fat,
  Muscle,
  Ligament,
  Soft,
  JointFluid,
  WhiteMatter,
  Mucosa,
  Tongue,
  Cartilage,
  Gland,
  FlowVoid,
  TissueCount
};
constexpr std::array<double, TissueCount> kSignal = {0.0,  1.0,  0.40, 0.50, 0.80, 0.22, 0.55,
                                                     0.06, 0.70, 0.24, 0.08, 0.36, 0.60, 0.32,
                                                     0.55, 0.34, 0.16, 0.46, 0.02};
constexpr double kCsfSignal = 1200.0;
// Texture: smooth relative variation of each tissue's signal (trabecular marrow, muscle fibres,
// fat septa, the tongue's interlacing fibres and fat); fluids and the cord are homogeneous at this
// resolution.
constexpr std::array<double, TissueCount> kTexture = {0.0,  0.0,  0.02, 0.04, 0.05, 0.06, 0.10,
                                                      0.0,  0.06, 0.08, 0.0,  0.08, 0.0,  0.03,
                                                      0.06, 0.14, 0.08, 0.05, 0.0};
// In-plane point spread: a Gaussian of this many pixels (sigma), about the blur of k-space
// truncation with the usual filter (FWHM 1.2 pixels).
constexpr double kPsfPixels = 0.5;

double sq(double v) {
  return v * v;
}
double smoothstep(double e0, double e1, double x) {
  const double t = std::clamp((x - e0) / (e1 - e0), 0.0, 1.0);
  return t * t * (3 - 2 * t);
}
// Linear interpolation in a table indexed by level 1..9 (C1..T2), clamped at the ends.
double perLevel(const std::array<double, 9>& table, double level) {
  const double l = std::clamp(level, 1.0, 9.0) - 1.0;
  const int i = std::min(7, static_cast<int>(l));
  return table[i] + (table[i + 1] - table[i]) * (l - i);
}
// Normal adult diameters (mm), cord and dural sac, C1..T2 (cordscope normative table, CLINICAL.md).
constexpr std::array<double, 9> kCordAp = {8.27, 7.76, 7.59, 7.62, 7.47, 7.07, 6.56, 6.29, 6.06};
constexpr std::array<double, 9> kCordRl = {11.36, 11.73, 12.14, 12.93, 13.03,
                                           12.44, 10.94, 9.41,  8.69};
constexpr std::array<double, 9> kCanalAp = {16.08, 14.50, 13.06, 12.80, 12.78,
                                            12.58, 12.76, 12.90, 12.69};
constexpr std::array<double, 9> kCanalRl = {23.23, 22.24, 20.84, 20.97, 21.17,
                                            20.68, 19.74, 18.00, 16.08};

// The cord centerline in the mid-sagittal plane, tabulated by arc length s (LPS y, z in mm).
struct Curve {
  double s0 = -150, ds = 0.05;
  std::vector<double> y, z;

  // smoothingMm > 0 gives the same course smoothed by a Gaussian of about that sigma: far from
  // the cord (face, front of the neck) anatomy is placed along it, because there the normals of
  // the cord's own curve cross (where the lordosis starts its radius is only 40-70 mm).
  Curve(double lordosisMm, double c2Mid, double t1Mid, double smoothingMm = 0) {
    const int n = static_cast<int>((450.0) / ds) + 1;
    y.resize(n);
    z.resize(n);
    for (int i = 0; i < n; ++i) {
      const double s = s0 + i * ds;
      double value = 0;
      if (s > c2Mid && s < t1Mid)
        value -= lordosisMm * sq(std::sin(kPi * (s - c2Mid) / (t1Mid - c2Mid)));
      if (s > t1Mid) value += 0.0015 * sq(s - t1Mid);  // upper thoracic kyphosis
      if (s < 0) value -= 0.25 * s * s / (60.0 - s);   // brainstem leans forward going up
      y[i] = value;
    }
    // Three passes of a moving average (prefix sums), about a Gaussian of sigma = smoothingMm.
    const int half = static_cast<int>(smoothingMm / ds);
    for (int pass = 0; pass < 3 && half > 0; ++pass) {
      std::vector<double> sum(n + 1, 0.0);
      for (int i = 0; i < n; ++i) sum[i + 1] = sum[i] + y[i];
      for (int i = 0; i < n; ++i) {
        const int a = std::max(0, i - half), b = std::min(n, i + half + 1);
        y[i] = (sum[b] - sum[a]) / (b - a);
      }
    }
    // z by arc length: each step of length ds, so s is exactly the arc length of the polyline.
    const int zero = static_cast<int>(-s0 / ds);
    z[zero] = 0;
    for (int i = zero + 1; i < n; ++i)
      z[i] = z[i - 1] - std::sqrt(std::max(0.0, sq(ds) - sq(y[i] - y[i - 1])));
    for (int i = zero - 1; i >= 0; --i)
      z[i] = z[i + 1] + std::sqrt(std::max(0.0, sq(ds) - sq(y[i + 1] - y[i])));
  }

  // Point and unit tangent (dy/ds, dz/ds) at s.
  void at(double s, double& py, double& pz, double& ty, double& tz) const {
    const double f = std::clamp((s - s0) / ds, 0.0, static_cast<double>(y.size() - 2));
    const int i = static_cast<int>(f);
    const double w = f - i;
    py = y[i] + (y[i + 1] - y[i]) * w;
    pz = z[i] + (z[i + 1] - z[i]) * w;
    ty = (y[i + 1] - y[i]) / ds;
    tz = (z[i + 1] - z[i]) / ds;
  }

  // Spine coordinates (s, v) of a mid-sagittal-plane point (y, z), Newton from a warm start.
  void project(double py, double pz, double& s, double& v) const {
    for (int iteration = 0; iteration < 4; ++iteration) {
      double cy, cz, ty, tz;
      at(s, cy, cz, ty, tz);
      const double along = (py - cy) * ty + (pz - cz) * tz;
      s += along;
      if (std::abs(along) < 1e-3) break;
    }
    double cy, cz, ty, tz;
    at(s, cy, cz, ty, tz);
    v = (py - cy) * (-tz) + (pz - cz) * ty;  // normal (-tz, ty) points posterior
  }
};

struct Sample {
  Tissue tissue = Air;
  bool cord = false, canal = false;
  int lesion = -1;  // index of the lesion the point is in
};

struct LesionExtent {
  double top = 0, bottom = 0;
  PhantomLesion spec;
};

class Anatomy {
 public:
  explicit Anatomy(const PhantomOptions& o) : options_(o) {
    // A process-wide unique id: a thread's cache of per-s quantities is never taken for another
    // phantom's, even one built later at the same address.
    static std::atomic<std::uint64_t> next{1};
    id_ = next++;
    std::mt19937 random(o.seed * 7919u + 17u);
    std::uniform_real_distribution<double> jitter(-0.6, 0.6);
    densTip_ = 5.0 + jitter(random);
    densBase_ = densTip_ + 15.0;
    c1Centre_ = densTip_ + 7.0;
    static const std::array<double, 14> bodyHeight = {0,  0,  38, 13.5, 13.5, 13.5, 14,
                                                      15, 16, 17, 18,   18,   19,   19};
    static const std::array<double, 14> discHeight = {0,   0, 0,   4.5, 5,   5.5, 5.5,
                                                      5.5, 5, 4.5, 4.5, 4.5, 4.5, 4.5};
    bodyTop_[2] = densTip_;
    bodyBottom_[2] = densTip_ + bodyHeight[2] + jitter(random);
    for (int k = 3; k <= kLowestVertebra; ++k) {
      bodyTop_[k] = bodyBottom_[k - 1] + discHeight[k] + 0.5 * jitter(random);
      bodyBottom_[k] = bodyTop_[k] + bodyHeight[k] + jitter(random);
    }
    // Level extents along the cord (CLINICAL.md): level 1 from the foramen magnum to the dens
    // base; level 2 to the mid C2-C3 disc; level N between the mid-discs above and below body N.
    levelTop_[1] = 0.0;
    levelTop_[2] = densBase_;
    for (int k = 3; k <= kLowestVertebra; ++k) levelTop_[k] = midDisc(k);
    // C1-C2 geometry in v (posterior positive), from the cord outwards.
    densPosterior_ = -(kCordAp[1] / 2 + 2.2 + 2.5);  // cord, anterior CSF, transverse ligament
    densAnterior_ = densPosterior_ - 10.0;
    archPosteriorCortex_ = densAnterior_ - o.adiMm;
    postArchAnterior_ = densPosterior_ + (o.padiMm ? *o.padiMm : 19.0);
    basion_ = {-0.5, densAnterior_ + 3.0};
    opisthion_ = {0.5, basion_[1] + 35.0};
    for (const PhantomLesion& lesion : o.lesions) {
      if (lesion.bottomLevel < lesion.topLevel)
        throw UsageError("lesion " + levelName(lesion.topLevel) + ":" +
                         levelName(lesion.bottomLevel) + " ends above its start");
      // T3 and T4 are still in the default field of view (a 10-segment lesion needs them).
      if (lesion.topLevel < 1 || lesion.bottomLevel > 11)
        throw UsageError("lesion levels must lie between C1 and T4");
      LesionExtent e;
      e.spec = lesion;
      const double topFraction =
          lesion.topLevel == lesion.bottomLevel ? 0.25 : 0.3 + 0.3 * (jitter(random) + 0.6) / 1.2;
      const double bottomFraction =
          lesion.topLevel == lesion.bottomLevel ? 0.75 : 0.4 + 0.3 * (jitter(random) + 0.6) / 1.2;
      e.top = levelTop(lesion.topLevel) + topFraction * levelHeight(lesion.topLevel);
      e.bottom = levelTop(lesion.bottomLevel) + bottomFraction * levelHeight(lesion.bottomLevel);
      lesions_.push_back(e);
    }
    buildPharynx();
    const Section roof = cordSection(kFastigium);
    fastigiumV_ = roof.centre + roof.halfPosterior + 10.0;
    // Nuchal ligament: from the external occipital protuberance to the tip of C7's spinous process.
    const double occS = -std::sin(50 * kPi / 180), occV = std::cos(50 * kPi / 180);
    nuchalTop_ = {opisthion_[0] + 38 * occS + 4.5 * occV, opisthion_[1] + 38 * occV - 4.5 * occS};
    const double c7 = 0.5 * (bodyTop_[7] + 2 + bodyBottom_[7] + 5);
    double centre, halfAp, halfRl;
    canalSize(c7, centre, halfAp, halfRl);
    nuchalBottom_ = {c7 + 0.4 * kSpinousLength[7] + 1,
                     centre + halfAp + 6 + kSpinousLength[7] + 1.5};
  }

  double midDisc(int lowerVertebra) const {
    return 0.5 * (bodyBottom_[lowerVertebra - 1] + bodyTop_[lowerVertebra]);
  }
  double levelTop(int level) const { return levelTop_[level]; }
  double levelBottom(int level) const { return levelTop_[level + 1]; }
  double levelHeight(int level) const { return levelBottom(level) - levelTop(level); }
  int levelAt(double s) const {
    // levelTop_[1..kLowestVertebra] ascend: the last top at or above s (binary search; this runs
    // for every sub-sample).
    if (s < levelTop_[1] || s >= levelTop_[kLowestVertebra]) return 0;
    return static_cast<int>(
               std::upper_bound(levelTop_.begin() + 1, levelTop_.begin() + kLowestVertebra + 1, s) -
               levelTop_.begin()) -
           1;
  }
  // Fractional level index (1 = middle of C1) for interpolating per-level tables.
  double levelCoordinate(double s) const {
    if (s < levelTop(1)) return 1.0;
    const int level = std::max(1, levelAt(s));
    return level - 0.5 + (s - levelTop(level)) / levelHeight(level);
  }

  double compressionWeight(double s, double& ratio) const {
    double w = 0;
    ratio = 1;
    for (const auto& c : options_.compressions) {
      const double centre = 0.5 * (levelTop(c.level) + levelBottom(c.level));
      const double wc = 0.5 * (1 + std::cos(kPi * std::clamp((s - centre) / 8.0, -1.0, 1.0)));
      if (wc > w) {
        w = wc;
        ratio = c.ratio;
      }
    }
    return w;
  }

  // Cord diameters (AP, RL) at s, with the medulla widening above the foramen magnum.
  void cordSize(double s, double& ap, double& rl) const {
    const double level = levelCoordinate(s);
    ap = perLevel(kCordAp, level);
    rl = perLevel(kCordRl, level);
    if (s < 0) {
      const double grow = smoothstep(0, -35, s);
      ap += 4.0 * grow;
      rl += 5.0 * grow;
    }
    double ratio;
    const double w = compressionWeight(s, ratio);
    ap *= 1 - (1 - ratio) * w;
    rl *= 1 + 0.3 * (1 - ratio) * w;
    // At C1 the posterior arch bounds the canal: a narrow PADI flattens the cord.
    const double room = postArchAnterior_ - 0.8;
    if (s > c1Centre_ - 8 && s < c1Centre_ + 8 && ap / 2 > room) ap = 2 * std::max(1.0, room);
  }

  // Dural sac: centre offset and semi-axes (v, x).
  void canalSize(double s, double& centre, double& halfAp, double& halfRl) const {
    const double level = levelCoordinate(s);
    halfAp = perLevel(kCanalAp, level) / 2;
    halfRl = perLevel(kCanalRl, level) / 2;
    centre = 0.8;
    if (s < 0) {
      const double grow = smoothstep(0, -20, s);
      halfAp += 4.0 * grow;
      halfRl += 6.0 * grow;
    }
    double ratio;
    const double w = compressionWeight(s, ratio);
    halfAp *= 1 - 0.35 * (1 - ratio) * w;
    if (s > c1Centre_ - 9 && s < c1Centre_ + 9) {
      const double posterior = std::min(centre + halfAp, postArchAnterior_ - 0.8);
      const double anterior = std::max(centre - halfAp, densPosterior_ + 2.5);
      centre = 0.5 * (posterior + anterior);
      halfAp = std::max(0.5, 0.5 * (posterior - anterior));
    }
  }

  // The cord's section at s: centre offset (v) and semi-axes. Above the foramen magnum the
  // medulla widens and moves forward, and the pons bulges towards the clivus (a few mm of
  // prepontine cistern left); the truth cord starts at s = 0, so this shapes only the picture.
  struct Section {
    double centre = 0, halfAnterior = 0, halfPosterior = 0, halfRl = 0;
  };
  Section cordSection(double s) const {
    double ap, rl;
    cordSize(s, ap, rl);
    Section c{0, ap / 2, ap / 2, rl / 2};
    if (s < 0) {
      c.centre = -2.5 * smoothstep(0, -30, s);
      const double pons = smoothstep(-20, -32, s) * (1 - smoothstep(-58, -70, s));
      const double room = std::max(0.0, (c.centre - c.halfAnterior) - (clivusBackV(s) + 4.0));
      c.halfAnterior += pons * std::min(14.0, room);
      c.halfRl += pons * 8.0;
    }
    return c;
  }

  Sample evaluate(double s, double v, double x) const {
    Sample out;
    double skinAnterior, skinPosterior, skinLateral;
    outline(s, skinAnterior, skinPosterior, skinLateral);
    const double extent = v < 0 ? -skinAnterior : skinPosterior;
    const double radius = std::sqrt(sq(v / extent) + sq(x / skinLateral));  // 1 on the skin
    if (radius > 1.0) {
      out.tissue = Air;
      return out;
    }
    const double belowSkin = (1 - radius) * extent;  // about the depth under the skin (mm)
    // The C1 posterior arch is bone wherever it lies: a small PADI pushes it into the sac and the
    // cord, which it indents (compression), so it is drawn before them.
    if (const Tissue t = posteriorArch(s, v, x); t != TissueCount) {
      out.tissue = t;
      return out;
    }
    // Cord (brainstem above the foramen magnum) and dural sac; both depend on s alone, which the
    // sub-samples of one voxel of a sagittal slab share: computed once per s on each thread.
    thread_local struct {
      std::uint64_t owner = 0;
      double s = std::nan("");
      Section section;
      double canalCentre = 0, canalHalfAp = 0, canalHalfRl = 0;
    } along;
    if (along.owner != id_ || !(along.s == s)) {
      along.owner = id_;
      along.s = s;
      along.section = cordSection(s);
      canalSize(s, along.canalCentre, along.canalHalfAp, along.canalHalfRl);
    }
    const Section& section = along.section;
    const double dv = v - section.centre;
    const double p = dv / (dv < 0 ? section.halfAnterior : section.halfPosterior),
                 q = x / section.halfRl;
    if (p * p + q * q <= 1.0 && s > -90) {
      out.tissue = Cord;
      out.cord = s >= 0;  // truth cord starts at the foramen magnum (cervicomedullary junction)
      out.canal = out.cord;
      for (std::size_t i = 0; i < lesions_.size(); ++i)
        if (s >= lesions_[i].top && s <= lesions_[i].bottom &&
            inPattern(lesions_[i].spec.pattern, p, q))
          out.lesion = static_cast<int>(i);
      return out;
    }
    const double canalCentre = along.canalCentre, canalHalfAp = along.canalHalfAp,
                 canalHalfRl = along.canalHalfRl;
    const double canalV = (v - canalCentre) / canalHalfAp, canalX = x / canalHalfRl;
    if (canalV * canalV + canalX * canalX <= 1.0 && s > -25) {
      out.tissue = Csf;
      out.canal = s >= 0;
      return out;
    }
    const double canalAnterior = canalCentre - canalHalfAp,
                 canalPosterior = canalCentre + canalHalfAp;

    if (s < 8) {
      if (const Tissue t = skullBase(s, v, x); t != TissueCount) {
        out.tissue = t;
        return out;
      }
    }
    if (const Tissue t = craniocervical(s, v, x); t != TissueCount) {
      out.tissue = t;
      return out;
    }
    if (const Tissue t = column(s, v, x, canalAnterior, canalPosterior); t != TissueCount) {
      out.tissue = t;
      return out;
    }
    out.tissue = v < 0 ? anteriorNeck(s, v, x, skinAnterior, belowSkin)
                       : posteriorNeck(s, v, x, skinPosterior, belowSkin);
    return out;
  }

  const std::vector<LesionExtent>& lesions() const { return lesions_; }
  double densTip() const { return densTip_; }
  double densBase() const { return densBase_; }
  double c1Centre() const { return c1Centre_; }
  double densPosterior() const { return densPosterior_; }
  double densAnterior() const { return densAnterior_; }
  double archPosteriorCortex() const { return archPosteriorCortex_; }
  double postArchAnterior() const { return postArchAnterior_; }
  std::array<double, 2> basion() const { return basion_; }
  std::array<double, 2> opisthion() const { return opisthion_; }
  double bodyTop(int k) const { return bodyTop_[k]; }
  double bodyBottom(int k) const { return bodyBottom_[k]; }
  double bodyPosterior(double s) const {
    double centre, halfAp, halfRl;
    canalSize(s, centre, halfAp, halfRl);
    return centre - halfAp - 1.2;
  }

 private:
  static bool inPattern(const std::string& pattern, double p, double q) {
    // p: AP position in cord semi-axes (+ posterior); q: left-right.
    if (pattern == "dorsal")
      return p >= 0.15 && std::abs(q) <= 0.6 - 0.3 * p && p * p + q * q <= 0.92;
    if (pattern == "ventral") return p <= -0.2 && std::abs(q) <= 0.5 && p * p + q * q <= 0.92;
    if (pattern == "lateral") return q >= 0.35 && std::abs(p) <= 0.6 && p * p + q * q <= 0.92;
    if (pattern == "central") return p * p + q * q <= 0.45 * 0.45;
    return p * p + q * q <= 0.9 * 0.9;  // holocord
  }

  // Bony shape with a dark cortical shell of `cortex` mm: Cortex, Marrow, or none (TissueCount).
  static Tissue bone(double depthInside, double cortex = 1.1) {
    if (depthInside < 0) return TissueCount;
    return depthInside < cortex ? Cortex : Marrow;
  }
  // Depth inside an axis-aligned ellipse in (s, v) scaled to mm (approximate, good near the edge).
  static double ellipseDepth(double ds, double dv, double rs, double rv) {
    const double r = std::sqrt(sq(ds / rs) + sq(dv / rv));
    return (1.0 - r) * std::min(rs, rv);
  }
  static double boxDepth(double s, double v, double x, double s0, double s1, double v0, double v1,
                         double halfX) {
    return std::min({s - s0, s1 - s, v - v0, v1 - v, halfX - std::abs(x)});
  }
  // Distance from point to a slab along a ray from `start` in direction `angle` (radians from
  // the downward s axis, towards negative v) of length `length`.
  static double slabDepth(double s, double v, std::array<double, 2> start, double ds, double dv,
                          double length, double half) {
    const double rs = s - start[0], rv = v - start[1];
    const double t = rs * ds + rv * dv;
    if (t < 0 || t > length) return -1;
    const double across = std::abs(-rs * dv + rv * ds);
    const double thickness = half * std::min(1.0, 0.4 + t / 12.0);  // tapers to the rim
    return thickness - across;
  }

  // Clivus: a slab from the basion up and forward at 62 degrees to the horizontal (spine frame).
  static constexpr double kClivusDeg = 62, kClivusHalf = 5.5, kClivusLength = 45;
  // Fourth ventricle along s: the obex, the fastigium (apex of its roof) and the aqueduct.
  static constexpr double kObex = -12, kFastigium = -36, kAqueduct = -50;
  double clivusBackV(double s) const {
    const double a = kClivusDeg * kPi / 180;
    return basion_[1] + (s - basion_[0]) / std::tan(a) + kClivusHalf / std::sin(a);
  }
  double clivusFrontV(double s) const {
    return clivusBackV(s) - 2 * kClivusHalf / std::sin(kClivusDeg * kPi / 180);
  }

  Tissue skullBase(double s, double v, double x) const {
    const double ax = std::abs(x);
    const double clivusS = -std::sin(kClivusDeg * kPi / 180),
                 clivusV = -std::cos(kClivusDeg * kPi / 180);
    if (ax < 18)
      if (Tissue t = bone(slabDepth(s, v, basion_, clivusS, clivusV, kClivusLength, kClivusHalf));
          t != TissueCount)
        return t;
    // Occipital squama: from the opisthion up and back.
    const double occS = -std::sin(50 * kPi / 180), occV = std::cos(50 * kPi / 180);
    if (Tissue t = bone(slabDepth(s, v, opisthion_, occS, occV, 110, 4.0), 1.5); t != TissueCount)
      return t;
    // The intracranial CSF reaches down to the foramen magnum's rim (the dura's attachment).
    if (s >= opisthion_[0]) return TissueCount;
    // Inside the skull: behind the clivus's line and in front of the squama's (its inner table
    // lies 4 mm inside the line).
    const double inside = -(s - opisthion_[0]) * occV + (v - opisthion_[1]) * occS;
    const bool behindClivus = -(s - basion_[0]) * clivusV + (v - basion_[1]) * clivusS < 0;
    if (!behindClivus || inside <= 0) {
      // Above the clivus in front: the sphenoid sinus (air) in its bony shell.
      if (!behindClivus && s < -38 && v > clivusFrontV(s) - 22 && ax < 16)
        return v > clivusFrontV(s) - 20.5 && s < -39.5 && ax < 14.5 ? Air : Cortex;
      return TissueCount;
    }
    // The foramen magnum is about 36 mm wide: beside it, and up the skull base's slopes, bone
    // (occipital condyles, jugular tubercles); above, the posterior fossa widens.
    if (const double side = 16 + 1.2 * std::max(0.0, -s - 4); s > -25 && ax > side)
      return ax - side < 1.2 ? Cortex : Marrow;
    // Brainstem surface behind: the floor of the fourth ventricle.
    const Section c = cordSection(s);
    const double floor = c.centre + c.halfPosterior;
    double depth = 0;
    if (s < kObex && s >= kFastigium)
      depth = 10.0 * (kObex - s) / (kObex - kFastigium);
    else if (s < kFastigium && s >= kAqueduct)
      depth = 10.0 - 8.5 * (kFastigium - s) / (kFastigium - kAqueduct);
    else if (s < kAqueduct)
      depth = 1.5;
    if (v > floor && v < floor + depth && ax < 2 + 0.9 * depth) return Csf;
    if (s < kAqueduct && v >= floor + 1.5 && v < floor + 7.5 && ax < 9) return Cord;  // tectum
    // Cerebellum: behind the ventricle and the medulla, above the cisterna magna; the tonsils end
    // about 4 mm above the foramen magnum, the hemispheres' lower surface rises behind them; a
    // rim of CSF separates it from the bone.
    // (Beside the tonsils, beyond 12 mm from the midline, the hemispheres come down to the bone.)
    const double medial = 1 - smoothstep(10, 14, ax);
    const double lower = -2 - medial * (2 + 4 * (1 - smoothstep(floor + 1, floor + 5, v)) +
                                        12 * smoothstep(floor + 10, floor + 26, v));
    if (v > floor + 1.5 && s < lower && inside > 5.5 && ax < 55) {
      // Folia: fissures radiating from the fastigium (CSF) and the white-matter core branching
      // between them (the arbor vitae, darker than the cortex on T2).
      const double fs = s - kFastigium, fv = v - fastigiumV_;
      const double r = std::sqrt(fs * fs + fv * fv),
                   phase = 18 * std::atan2(fs, fv) + 0.05 * r + 0.015 * r * r / 10;
      // Fissures start at different depths (the lobes and lobules are of unequal size).
      const double lobule = std::floor(phase / (2 * kPi) + 0.5);
      const double start = 10 + 12 * std::abs(std::sin(lobule * 12.9898));
      if (r > start && std::cos(phase) > 0.95) return Csf;
      // Shallower fissures between them split the lobules into folia near the surface.
      const double folium = std::floor(phase / kPi);
      if (r > start + 7 + 6 * std::abs(std::sin(folium * 78.233)) &&
          std::cos(2 * phase + kPi) > 0.96)
        return Csf;
      if (r < 7 || (r < 20 && std::cos(phase + kPi) > 0.45 + r / 35)) return WhiteMatter;
      return Cerebellum;
    }
    return Csf;  // cisterns: prepontine in front, cisterna magna behind and below
  }

  Tissue posteriorArch(double s, double v, double x) const {
    if (std::abs(x) >= 16) return TissueCount;
    return bone(ellipseDepth(s - (c1Centre_ + 1.5), v - (postArchAnterior_ + 4.0), 4.5, 4.0), 1.0);
  }

  Tissue craniocervical(double s, double v, double x) const {
    const double ax = std::abs(x);
    if (s > bodyBottom_[2] + 1 || s < densTip_ - 12) return TissueCount;
    // Dens: an upright peg with a rounded tip; a thin dark scar marks its base.
    const double densCentreV = 0.5 * (densPosterior_ + densAnterior_);
    if (s >= densTip_ && s <= densBase_ + 1) {
      double radius = 5.0;
      if (s < densTip_ + 5)
        radius = 5.0 * std::sqrt(std::max(0.0, 1 - sq((densTip_ + 5 - s) / 5.0)));
      const double depth = radius - std::sqrt(sq(v - densCentreV) + sq(x));
      if (depth >= 0) {
        // The remnant of the subdental synchondrosis: a dark line that does not reach the
        // cortex (a complete one would read as a fracture or an os odontoideum).
        if (std::abs(s - densBase_) < 0.7 && depth > 2.2) return Cortex;
        return bone(depth, 1.0);
      }
    }
    // C2 body below the dens (continuous with it: only its lower corners are rounded).
    if (Tissue t = bone(bodyDepth(s, v, x, densBase_, bodyBottom_[2], densPosterior_ - 15.5,
                                  densPosterior_, false));
        t != TissueCount)
      return t;
    // Atlantodental joint: fluid between the anterior arch and the dens.
    if (s > c1Centre_ - 5 && s < c1Centre_ + 5 && v > archPosteriorCortex_ && v < densAnterior_ &&
        ax < 6)
      return JointFluid;
    // C1 anterior arch, posterior arch, lateral masses.
    if (ax < 10)
      if (Tissue t =
              bone(ellipseDepth(s - c1Centre_, v - (archPosteriorCortex_ - 4.5), 5.5, 4.5), 1.0);
          t != TissueCount)
        return t;
    if (Tissue t = posteriorArch(s, v, x); t != TissueCount) return t;
    if (ax >= 12 && ax < 24) {  // lateral masses: the ring's thick sides
      const double front = archPosteriorCortex_ - 4, back = postArchAnterior_;
      if (Tissue t = bone(std::min(ellipseDepth(s - (c1Centre_ + 0.5), v - 0.5 * (front + back),
                                                8.5, 0.5 * (back - front)),
                                   24 - ax));
          t != TissueCount)
        return t;
    }
    // Transverse ligament behind the dens.
    if (s > c1Centre_ - 5 && s < c1Centre_ + 5 && v >= densPosterior_ && v < densPosterior_ + 2.5 &&
        ax < 11)
      return Ligament;
    // Posterior epidural fat between the dura and the C1 posterior arch (the canal is excluded
    // before this is asked).
    if (s > c1Centre_ - 7 && s < densBase_ + 2 && v > 0 && v < postArchAnterior_ + 0.5 && ax < 10)
      return Fat;
    return TissueCount;
  }

  // Depth (mm, positive inside) in a vertebral body spanning [top, bottom] along s and
  // [front, back] along v: corners rounded, endplates concave (the disc is thickest at its
  // centre), the anterior surface slightly waisted.
  static double bodyDepth(double s, double v, double x, double top, double bottom, double front,
                          double back, bool roundTop = true, double kHalfX = 8.0) {
    constexpr double kCorner = 2.0, kCup = 1.0, kWaist = 0.7;
    if (s < top - 1 || s > bottom + 1 || v < front - 1 || v > back + 1 || std::abs(x) > kHalfX)
      return -1;
    const double u = std::clamp((2 * v - front - back) / (back - front), -1.0, 1.0),
                 w = std::clamp(x / kHalfX, -1.0, 1.0);
    const double cup = kCup * (1 - u * u) * (1 - w * w);
    const double mid = 0.5 * (top + bottom), half = 0.5 * (bottom - top);
    const double s0 = s - (roundTop ? top + cup : top), s1 = bottom - cup - s;
    const double v0 = v - (front + kWaist * std::max(0.0, 1 - sq((s - mid) / half))), v1 = back - v;
    const double alongS = roundTop ? std::min(s0, s1) : s1, alongV = std::min(v0, v1);
    double depth = std::min({s0, s1, v0, v1});
    if (alongS < kCorner && alongV < kCorner && depth >= -kCorner)
      depth = kCorner - std::sqrt(sq(kCorner - alongS) + sq(kCorner - alongV));
    return std::min(depth, kHalfX - std::abs(x));
  }

  Tissue column(double s, double v, double x, double canalAnterior, double canalPosterior) const {
    // Nothing of the column lies further than this in front of or behind the canal (bodies with
    // bulging discs up to 23 mm, spinous processes up to 37 mm): most of the neck leaves here.
    if (v < canalAnterior - 30 || v > canalPosterior + 45) return TissueCount;
    const double ax = std::abs(x);
    const double posterior = canalAnterior - 1.2;
    for (int k = 3; k <= kLowestVertebra; ++k) {
      if (s < bodyBottom_[k - 1] - 2 || s > bodyBottom_[k] + 1) continue;
      const double depth = k <= 7 ? 16.0 : 20.0;
      // Half-width: 8 mm at C3 to 12 mm at C7 and 13 mm below (with the uncinate processes).
      const double halfWidth = std::min(13.0, 8.0 + 1.0 * (k - 3));
      const double inBody = bodyDepth(s, v, x, bodyTop_[k], bodyBottom_[k], posterior - depth,
                                      posterior, true, halfWidth);
      if (inBody >= 0) {
        // Basivertebral vein: a bright notch behind the body's middle, inside its cortex.
        const double mid = 0.5 * (bodyTop_[k] + bodyBottom_[k]);
        if (std::abs(s - mid) < 1.1 && v > posterior - 5 && v < posterior - 1.1 && ax < 2.5)
          return JointFluid;
        return bone(inBody);
      }
      // Disc between body k-1 and body k (both tested before: body k-1 in the previous turn or,
      // for C2, in craniocervical()), bulging a little in front and behind.
      const double mid = 0.5 * (bodyBottom_[k - 1] + bodyTop_[k]),
                   half = 0.5 * (bodyTop_[k] - bodyBottom_[k - 1]);
      const double bulge = std::max(0.0, 1 - sq((s - mid) / (half + 1.0)));
      if (std::abs(s - mid) < half + 1.0 && v > posterior - depth - 1.5 * bulge &&
          v < posterior + 0.8 * bulge && ax < std::min(13.0, 7.5 + 1.0 * (k - 3)) + bulge) {
        const double nucleusV = posterior - 0.45 * depth;
        const bool nucleus =
            sq((s - mid) / (0.6 * half)) + sq((v - nucleusV) / (0.28 * depth)) + sq(x / 6.0) <= 1;
        return nucleus ? Nucleus : Annulus;
      }
    }
    // Posterior longitudinal ligament and epidural fat around the sac.
    if (v < canalAnterior && v > canalAnterior - 1.2 && ax < 9 && s > densBase_) return Ligament;
    if (v > canalPosterior && v < canalPosterior + 0.9 && ax < 9 && s > densBase_) return Fat;
    // Posterior elements: laminae and sloping spinous processes.
    for (int k = 2; k <= kLowestVertebra; ++k) {
      const double top = k == 2 ? densBase_ + 4 : bodyTop_[k] + 2, bottom = bodyBottom_[k] + 5;
      if (s < top - 8 || s > bottom + 0.4 * kSpinousLength[k] + 8) continue;  // not near vertebra k
      const double lamina0 = canalPosterior + 0.9, lamina1 = canalPosterior + 6;
      if (s >= top && s <= bottom && v >= lamina0 && v <= lamina1 && ax < 13)
        return bone(std::min({s - top, bottom - s, v - lamina0, lamina1 - v}), 1.0);
      // Spinous process: sloping down, tapering, with a knob at the tip of C2, C7 and below.
      const double along = v - lamina1, length = kSpinousLength[k];
      if (along > 0 && along < length) {
        const double t = along / length, centre = 0.5 * (top + bottom) + 0.4 * along,
                     halfX = 3.5 - 1.0 * t;
        if (std::abs(s - centre) < 5.5 &&
            ax < halfX) {  // (the widest it gets: 4.2 + the knob's 1.3)
          const double knob =
              (k == 2 || k >= 7) ? 1.3 * std::exp(-sq((length - along) / 4.0)) : 0.0;
          const double halfS = 4.2 - 1.8 * t + knob;
          if (std::abs(s - centre) < halfS)
            return bone(std::min({halfS - std::abs(s - centre), halfX - ax, length - along}), 1.0);
        }
      }
      if (s > bottom && s < (k < kLowestVertebra ? bodyTop_[k + 1] + 2 : bottom + 5) &&
          v >= lamina0 && v <= lamina0 + 3 && ax < 10)
        return Ligament;  // ligamentum flavum
    }
    // Articular pillars beside the canal, stacked along facet joints that slope down and back
    // (bright joint fluid between them), and the vertebral arteries (flow voids) in front of them.
    if (ax > 12.5 && ax < 22.5 && v > -5 && v < 11 && s > c1Centre_ + 10) {
      const double sh = s - 0.7 * (v - 3);
      for (int k = 2; k <= kLowestVertebra; ++k) {
        const double top = k == 2 ? c1Centre_ + 10.5 : bodyTop_[k] + 1.5,
                     bottom = bodyBottom_[k] + 4;
        if (sh >= top && sh <= bottom)
          return bone(std::min({sh - top, bottom - sh, v + 5, 11 - v, ax - 12.5, 22.5 - ax}), 1.0);
        const double next = k < kLowestVertebra ? bodyTop_[k + 1] + 1.5 : bottom;
        if (sh > bottom && sh < next)
          return std::abs(sh - 0.5 * (bottom + next)) < 0.6 ? JointFluid : Cartilage;
      }
    }
    if (s > c1Centre_ + 6 && s < bodyBottom_[8] && sq(ax - 16) + sq(v + 9) < sq(2.2))
      return FlowVoid;
    return TissueCount;
  }

  // Skin outline at s: v of the anterior and posterior skin and the lateral half-width. The face
  // and chin lie in front of the upper neck, the occiput behind it, the chest below.
  static void outline(double s, double& anterior, double& posterior, double& lateral) {
    // Neck; chin and lips (a rounded profile, the nose above); chest below the neck.
    anterior = -74 - 4 * smoothstep(90, 130, s) - 38 * std::sqrt(smoothstep(64, 46, s)) -
               14 * smoothstep(-16, -30, s) - 3 * sq(std::max(0.0, 1 - sq((s - 5) / 9))) -
               22 * smoothstep(168, 215, s);
    posterior = 62 + 34 * smoothstep(15, -40, s);
    lateral = 60 + 15 * smoothstep(10, -30, s);
  }

  // Front of the skeleton and the pharynx's posterior wall along s, tabulated and smoothed (the
  // pieces - clivus, C1 anterior arch, vertebral bodies - meet without steps).
  static constexpr double kTableStart = -120, kTableStep = 0.5;
  void buildPharynx() {
    const int n = static_cast<int>((330 - kTableStart) / kTableStep);
    std::vector<double> raw(n, std::nan(""));
    for (int i = 0; i < n; ++i) {
      const double s = kTableStart + i * kTableStep;
      if (s < basion_[0] - 6)
        raw[i] = clivusFrontV(s) - 8.0;  // longus capitis, adenoids
      else if (std::abs(s - c1Centre_) < 4)
        raw[i] = archPosteriorCortex_ - 9 - 4.5;  // on the anterior arch
      else if (s >= densBase_ + 2) {
        const double front = bodyPosterior(s) - (s < bodyTop_[8] ? 16.0 : 20.0);
        raw[i] = front - 4.5 - 10.5 * smoothstep(88, 112, s);  // longus colli; oesophagus
      }
    }
    int last = -1;
    for (int i = 0; i < n; ++i) {
      if (std::isnan(raw[i])) continue;
      for (int j = last + 1; j < i; ++j)
        raw[j] =
            last < 0 ? raw[i] : raw[last] + (raw[i] - raw[last]) * (j - last) / double(i - last);
      last = i;
    }
    for (int j = last + 1; j < n; ++j) raw[j] = raw[last];
    pharynxWall_.assign(n, 0);
    const int radius = 18;  // Gaussian, sigma 3 mm
    for (int i = 0; i < n; ++i) {
      double sum = 0, weight = 0;
      for (int d = -radius; d <= radius; ++d) {
        const double w = std::exp(-0.5 * sq(d * kTableStep / 3.0));
        sum += w * raw[std::clamp(i + d, 0, n - 1)];
        weight += w;
      }
      pharynxWall_[i] = sum / weight;
    }
  }
  double pharynxWall(double s) const {
    const double f = std::clamp((s - kTableStart) / kTableStep, 0.0, pharynxWall_.size() - 1.001);
    const int i = static_cast<int>(f);
    return pharynxWall_[i] + (pharynxWall_[i + 1] - pharynxWall_[i]) * (f - i);
  }

  // In front of the spine: pharynx and airway with their mucosa, soft palate, tongue, teeth,
  // mandible, hyoid, epiglottis, larynx, trachea with its rings, thyroid, oesophagus, the
  // manubrium and great vessels, strap muscles, subcutaneous fat.
  Tissue anteriorNeck(double s, double v, double x, double skinAnterior, double belowSkin) const {
    const double ax = std::abs(x);
    if (belowSkin < 6) return Fat;
    const double wall = pharynxWall(s);
    // Common carotid artery and internal jugular vein beside the pharynx and trachea.
    if (s > -15 && s < 175 &&
        (sq(ax - 22) + sq(v - (wall - 2)) < sq(3.5) || sq(ax - 31) + sq(v - (wall + 1)) < sq(5.0)))
      return FlowVoid;
    const bool trachea = s > 108;
    const double halfX = trachea ? 8.0 : 14.0;
    if (v >= wall) {
      // Between the bones (behind the longus muscles): fat, ligaments, vessels.
      if (s < -36 || v > wall + 4.5 + 10.5 * smoothstep(88, 112, s)) return Soft;
      if (v < wall + 2 && ax < halfX + 2) return Mucosa;
      if (s > 100 && ax < 10) {  // oesophagus: a collapsed muscular tube with a bright mucosal line
        const double oesophagusMid = wall + 2 + 0.5 * 10.5 * smoothstep(88, 112, s);
        if (std::abs(v - oesophagusMid) < 0.9) return Mucosa;
      }
      return Muscle;
    }
    // Airway lumen: nasopharynx (its roof under the sphenoid), oropharynx, larynx, trachea.
    const double lumen = s < -36 ? 0 : 14.0 * smoothstep(-37, -31, s) + (trachea ? 2.0 : 0.0);
    const double front = wall - lumen;
    // Soft palate: hangs from the hard palate's back end into the pharynx, ending in the uvula.
    {
      const std::array<double, 2> a{-14, wall - 16}, b{10, wall - 7};
      const double ds = b[0] - a[0], dv = b[1] - a[1], length = std::sqrt(ds * ds + dv * dv);
      const double t = std::clamp(((s - a[0]) * ds + (v - a[1]) * dv) / sq(length), 0.0, 1.0);
      const double across = std::sqrt(sq(s - (a[0] + t * ds)) + sq(v - (a[1] + t * dv)));
      if (across < 4.5 - 1.5 * t && ax < 18) return across > 3.3 - 1.5 * t ? Mucosa : Muscle;
    }
    if (v > front && ax < halfX) {
      // Epiglottis: a thin leaf rising from the larynx behind the tongue base.
      // Epiglottis: a curved leaf from the front wall at the larynx (its stalk) up behind the
      // tongue base.
      const double leafV = front + 0.5 + 0.35 * lumen * sq(1 - smoothstep(52, 84, s));
      if (s > 52 && s < 84 && std::abs(v - leafV) < 1.3 && ax < 10) return Soft;
      return Air;
    }
    if (v > front - 2 && ax < halfX + 2) return Mucosa;
    if (s <
        -17) {  // nasal cavity above the hard palate: septum in the midline, turbinates beside it
      if (v < skinAnterior + 12) return Soft;
      if (ax < 2.5) return Cartilage;  // septum (a 3 mm midline slice sees mostly it)
      const double meatus = std::sin(2 * kPi * (s + 0.15 * v) / 9.0);
      return meatus > 0.8 ? Air : Mucosa;
    }
    if (s < -11)
      return v < -100 ? Soft : bone(std::min({s + 17, -11 - s, v + 100}), 1.0);  // hard palate
    // Lower face: incisors, the mandible's symphysis below them, lips and chin.
    if (v < -97.5 && ax < 18) {
      if (s > -9 && s < 21 && v > -105 && std::abs(s - 5) > 0.8) return Cortex;
      if (const Tissue t = bone(ellipseDepth(s - 38, v + 96, 16, 6.5), 2.0); t != TissueCount)
        return t;
      return Muscle;
    }
    // Hyoid, then the larynx's framework in front of the airway.
    if (const Tissue t = bone(ellipseDepth(s - 70, v - (front - 12), 4, 5.5), 1.0);
        t != TissueCount && ax < 18)
      return t;
    if (s < 62) {
      // The tongue: its dorsum domes up under the palate and falls back towards the airway; the
      // oral cavity (air) above it; the floor of the mouth (muscle) beneath its front.
      const double u = std::clamp((v + 97.5) / (front - 2 + 97.5), 0.0, 1.0);
      const double dorsum = -8.5 - 2 * std::sin(kPi * (0.25 + 0.75 * u));
      if (s < dorsum) return Air;
      if (const Tissue t = bone(ellipseDepth(s - 38, v + 96, 16, 6.5), 2.0);
          t != TissueCount && ax < 30)
        return t;
      return s > 40 && u < 0.55 - 0.5 * smoothstep(40, 62, s) ? Muscle : Tongue;
    }
    if (s > 186 && ax < 25 && v > skinAnterior + 8 && v < skinAnterior + 20)  // manubrium
      return bone(std::min({s - 186, v - skinAnterior - 8, skinAnterior + 20 - v}), 1.5);
    if (s > 180) {  // upper mediastinum: fat and the great vessels
      if (sq(s - 194) + sq(v - (skinAnterior + 27)) < sq(4.5) ||
          sq(s - 206) + sq(v - (skinAnterior + 38)) < sq(5))
        return FlowVoid;
      if (v < front - 5) return Fat;
    }
    if (ax >= halfX + 2 && v > front - 2) {  // beside the airway: thyroid lobes, pharyngeal walls
      if (s > 104 && s < 146 && ax < 24) return Gland;
      return trachea ? Soft : Muscle;
    }
    if (v > front - 5.5) {  // cartilage of the larynx and trachea just outside the mucosa
      if (s > 74 && s < 106) return Cartilage;    // thyroid cartilage
      if (s >= 106 && s < 114) return Cartilage;  // cricoid arch
      if (trachea && ax < halfX + 5.5)
        return std::cos(2 * kPi * s / 4.5) > 0 ? Cartilage : Soft;  // tracheal rings
    }
    if (s > 62 && s < 82 && v > front - 16) return Fat;      // pre-epiglottic fat
    if (s > 110 && s < 140 && v > front - 11) return Gland;  // thyroid isthmus
    if (belowSkin < 11) return Muscle;                       // strap muscles, platysma
    return Soft;
  }

  // Behind the spine: neck muscles in layers with thin fat planes between them, the nuchal
  // ligament in the midline, subcutaneous fat.
  Tissue posteriorNeck(double s, double v, double x, double skinPosterior, double belowSkin) const {
    const double ax = std::abs(x);
    if (belowSkin < 9) return Fat;
    {
      const double ds = nuchalBottom_[0] - nuchalTop_[0], dv = nuchalBottom_[1] - nuchalTop_[1];
      const double t = std::clamp(
          ((s - nuchalTop_[0]) * ds + (v - nuchalTop_[1]) * dv) / (ds * ds + dv * dv), 0.0, 1.0);
      if (ax < 2.5 && sq(s - (nuchalTop_[0] + t * ds)) + sq(v - (nuchalTop_[1] + t * dv)) < sq(1.3))
        return Ligament;
    }
    // Layers follow the skin's outline (curved round the neck in an axial section).
    const double inner = 12, outer = skinPosterior - 9;
    if (v > inner || ax > 25) {
      const double f = 1 - (belowSkin - 9) / (outer - inner);
      // Three planes, each wobbling by 0.03 sin(s / 23 + 1.7 i + 0.05 x) (one sine and cosine).
      static constexpr std::array<double, 3> planes = {0.30, 0.55, 0.78};
      static const std::array<double, 3> c = {1.0, std::cos(1.7), std::cos(3.4)},
                                         sn = {0.0, std::sin(1.7), std::sin(3.4)};
      const double phase = s / 23 + 0.05 * x, sinPhase = std::sin(phase),
                   cosPhase = std::cos(phase);
      for (std::size_t i = 0; i < planes.size(); ++i) {
        const double wobble = 0.03 * (sinPhase * c[i] + cosPhase * sn[i]);
        // Each plane thickens and thins along the neck (0.4 to 1.0 mm either side).
        const double half = 0.7 + 0.3 * (cosPhase * c[i] - sinPhase * sn[i]);
        if (std::abs(f - planes[i] - wobble) * (outer - inner) < half) return Fat;
      }
    }
    return Muscle;
  }

  static constexpr std::array<double, 14> kSpinousLength = {0,  0,  26, 16, 16, 17, 21,
                                                            29, 31, 31, 30, 30, 30, 30};
  std::vector<double> pharynxWall_;
  std::array<double, 2> nuchalTop_{}, nuchalBottom_{};
  double fastigiumV_ = 0;
  std::uint64_t id_ = 0;
  PhantomOptions options_;
  double densTip_ = 0, densBase_ = 0, c1Centre_ = 0;
  std::array<double, kLowestVertebra + 2> bodyTop_{}, bodyBottom_{}, levelTop_{};
  double densPosterior_ = 0, densAnterior_ = 0, archPosteriorCortex_ = 0, postArchAnterior_ = 0;
  std::array<double, 2> basion_{}, opisthion_{};
  std::vector<LesionExtent> lesions_;
};

struct Grid {
  std::array<unsigned, 3> size{};
  std::array<double, 3> spacing{};
  std::array<Vec3, 3> axis{};  // unit vectors of index axes i, j, k (LPS)
  Vec3 origin{};

  Vec3 point(double i, double j, double k) const {
    Vec3 p = origin;
    for (int r = 0; r < 3; ++r)
      p[r] +=
          axis[0][r] * i * spacing[0] + axis[1][r] * j * spacing[1] + axis[2][r] * k * spacing[2];
    return p;
  }
  bool contains(const Vec3& p) const {
    for (int a = 0; a < 3; ++a) {
      double along = 0;
      for (int r = 0; r < 3; ++r) along += (p[r] - origin[r]) * axis[a][r];
      const double index = along / spacing[a];
      if (index < -0.5 || index > size[a] - 0.5) return false;
    }
    return true;
  }
};

Vec3 rotateAboutAp(const Vec3& v, double degrees) {
  const double a = degrees * kPi / 180, c = std::cos(a), s = std::sin(a);
  return {c * v[0] + s * v[2], v[1], -s * v[0] + c * v[2]};
}

// Patient (LPS) point of spine coordinates.
Vec3 spinePoint(const Curve& curve, double s, double v, double x) {
  double cy, cz, ty, tz;
  curve.at(s, cy, cz, ty, tz);
  return {x, cy + v * (-tz), cz + v * ty};
}

nlohmann::json ras(const Vec3& lps) {
  return nlohmann::json::array({-lps[0], -lps[1], lps[2]});
}

Grid makeGrid(const PhantomOptions& o, const Curve& curve, const Anatomy& anatomy,
              std::mt19937& random) {
  Grid g;
  const bool axial = o.orientation == "axial";
  const unsigned matrix = o.matrix;
  const double sliceSpacing = o.sliceThicknessMm + o.sliceGapMm;
  g.spacing = {o.pixelMm, o.pixelMm, sliceSpacing};
  if (axial) {
    g.axis = {Vec3{1, 0, 0}, Vec3{0, 1, 0}, Vec3{0, 0, 1}};
    const Vec3 top = spinePoint(curve, -10, 0, 0),
               bottom = spinePoint(curve, anatomy.bodyBottom(9) + 3, 0, 0);
    const unsigned count =
        o.slices ? *o.slices
                 : static_cast<unsigned>(std::ceil((top[2] - bottom[2]) / sliceSpacing)) + 1;
    g.size = {matrix, matrix, count};
  } else {
    g.axis = {Vec3{0, 1, 0}, Vec3{0, 0, -1}, Vec3{-1, 0, 0}};
    g.size = {matrix, matrix, o.slices ? *o.slices : 15u};
  }
  for (Vec3& a : g.axis) a = rotateAboutAp(a, o.tiltDeg);
  // Centre of the field of view: the middle of the column (C1-T2), a little anterior so that the
  // vertebral bodies and the posterior neck are both in view.
  const double middle = 0.5 * (-15 + anatomy.bodyBottom(9) + 5);
  const Vec3 centre = spinePoint(curve, middle, axial ? -6 : -14, 0);
  // The patient's midline is rarely at a slice centre: shift the slab by up to a third of a slice.
  std::uniform_real_distribution<double> shift(-0.33, 0.33);
  const double offset = axial ? 0.0 : shift(random) * sliceSpacing;
  for (int r = 0; r < 3; ++r) {
    g.origin[r] = centre[r] + offset * g.axis[2][r];
    for (int a = 0; a < 3; ++a) g.origin[r] -= g.axis[a][r] * g.spacing[a] * (g.size[a] - 1) / 2.0;
  }
  return g;
}

template <typename TImage>
typename TImage::Pointer allocate(const Grid& g) {
  auto image = TImage::New();
  typename TImage::RegionType region;
  region.SetSize({g.size[0], g.size[1], g.size[2]});
  image->SetRegions(region);
  typename TImage::SpacingType spacing;
  typename TImage::PointType origin;
  typename TImage::DirectionType direction;
  for (int a = 0; a < 3; ++a) {
    spacing[a] = g.spacing[a];
    origin[a] = g.origin[a];
    for (int r = 0; r < 3; ++r) direction[r][a] = g.axis[a][r];
  }
  image->SetSpacing(spacing);
  image->SetOrigin(origin);
  image->SetDirection(direction);
  image->Allocate(true);
  return image;
}

void validate(const PhantomOptions& o) {
  auto range = [](double value, double lo, double hi, const std::string& name) {
    if (!(value >= lo && value <= hi))
      throw UsageError(name + " " + std::to_string(value) + " is outside " + std::to_string(lo) +
                       ".." + std::to_string(hi));
  };
  range(o.adiMm, 0.5, 15, "--adi");
  if (o.padiMm) range(*o.padiMm, 6, 30, "--padi");
  range(o.lordosisMm, -10, 15, "--lordosis");
  range(o.pixelMm, 0.2, 2, "--pixel");
  range(o.sliceThicknessMm, 0.5, 6, "--slice-thickness");
  range(o.sliceGapMm, 0, 3, "--slice-gap");
  range(o.matrix, 64, 1024, "--matrix");
  range(o.tiltDeg, -20, 20, "--tilt");
  range(o.noise, 0, 0.5, "--noise");
  range(o.bias, 0, 0.5, "--bias");
  range(o.ageYears, 0, 120, "--age");
  if (o.slices) range(*o.slices, 2, 400, "--slices");
  if (o.orientation != "sagittal" && o.orientation != "axial")
    throw UsageError("--orientation must be sagittal or axial, not " + o.orientation);
  for (const auto& l : o.lesions) {
    static const std::vector<std::string> patterns = {"dorsal", "central", "lateral", "ventral",
                                                      "holocord"};
    if (std::find(patterns.begin(), patterns.end(), l.pattern) == patterns.end())
      throw UsageError("lesion pattern '" + l.pattern +
                       "' is not one of dorsal, central, lateral, ventral, holocord");
    range(l.contrast, 0.05, 1.5, "lesion contrast");
  }
  for (const auto& c : o.compressions) {
    range(c.ratio, 0.2, 1.0, "--compression ratio");
    range(c.level, 3, 8, "--compression level (C3..T1)");
  }
}

nlohmann::json optionsJson(const PhantomOptions& o) {
  nlohmann::json lesions = nlohmann::json::array(), compressions = nlohmann::json::array();
  for (const auto& l : o.lesions)
    lesions.push_back({{"top", levelName(l.topLevel)},
                       {"bottom", levelName(l.bottomLevel)},
                       {"pattern", l.pattern},
                       {"contrast", l.contrast}});
  for (const auto& c : o.compressions)
    compressions.push_back({{"level", levelName(c.level)}, {"ratio", c.ratio}});
  return {{"seed", o.seed},
          {"age_years", o.ageYears},
          {"sex", o.sex},
          {"lesions", lesions},
          {"adi_mm", o.adiMm},
          {"padi_mm", o.padiMm ? nlohmann::json(*o.padiMm) : nlohmann::json(nullptr)},
          {"compressions", compressions},
          {"lordosis_mm", o.lordosisMm},
          {"orientation", o.orientation},
          {"pixel_mm", o.pixelMm},
          {"slice_thickness_mm", o.sliceThicknessMm},
          {"slice_gap_mm", o.sliceGapMm},
          {"matrix", o.matrix},
          {"slices", o.slices ? nlohmann::json(*o.slices) : nlohmann::json(nullptr)},
          {"tilt_deg", o.tiltDeg},
          {"noise", o.noise},
          {"bias", o.bias},
          {"shuffle_files", o.shuffleFiles},
          {"study_date", o.studyDate}};
}

}  // namespace

PhantomStudy makePhantom(const PhantomOptions& options) {
  validate(options);
  const Anatomy anatomy(options);
  const double c2Mid = anatomy.bodyBottom(2) - 10,
               t1Mid = 0.5 * (anatomy.bodyTop(8) + anatomy.bodyBottom(8));
  const Curve curve(options.lordosisMm, c2Mid, t1Mid), far(options.lordosisMm, c2Mid, t1Mid, 35.0);
  std::mt19937 random(options.seed);
  const Grid grid = makeGrid(options, curve, anatomy, random);

  auto image = allocate<Image>(grid);
  auto cord = allocate<Mask>(grid), canal = allocate<Mask>(grid), lesion = allocate<Mask>(grid);
  auto levels = allocate<LabelImage>(grid);
  std::vector<int> lesionVoxels(anatomy.lesions().size(), 0);

  // Sub-samples across the slice thickness (rectangular slice profile), every 0.75 mm or so.
  const int subSamples =
      std::max(1, static_cast<int>(std::lround(options.sliceThicknessMm / 0.75)));
  const double cordSignal = kSignal[Cord] * kCsfSignal;
  const double sigma = options.noise * cordSignal;
  const Vec3 centre =
      grid.point((grid.size[0] - 1) / 2.0, (grid.size[1] - 1) / 2.0, (grid.size[2] - 1) / 2.0);
  const std::size_t slicePixels = static_cast<std::size_t>(grid.size[0]) * grid.size[1];

  // A smooth random field in [-1, 1]: kWaves plane waves of 2.5-12 mm wavelength in random
  // directions, seeded (enough of them that no direction shows as hatching).
  constexpr std::size_t kWaves = 24;
  struct Wave {
    Vec3 k;
    double phase;
  };
  std::vector<Wave> waves;
  {
    std::mt19937 texture(options.seed * 7919u + 17u);
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    for (std::size_t n = 0; n < kWaves; ++n) {
      const double z = 2 * unit(texture) - 1, a = 2 * kPi * unit(texture);
      const double r = std::sqrt(1 - z * z);
      const double wavenumber = 2 * kPi / (2.5 + 9.5 * unit(texture));
      waves.push_back({{wavenumber * r * std::cos(a), wavenumber * r * std::sin(a), wavenumber * z},
                       2 * kPi * unit(texture)});
    }
  }
  const double textureScale =
      1 / std::sqrt(0.5 * waves.size()) / 2.5;  // about unit variance / 2.5: within [-1, 1]

  // Spine coordinates (s, v) of a patient point, from a warm start s.
  const auto spineCoordinates = [&](const Vec3& q, double& s, double& v) {
    curve.project(q[1], q[2], s, v);
    if (std::abs(v) > 30) {  // far from the cord: blend into the smoothed course's frame
      double sFar = s, vFar = 0;
      far.project(q[1], q[2], sFar, vFar);
      const double w = smoothstep(30, 55, std::abs(v));
      s += w * (sFar - s);
      v += w * (vFar - v);
    }
  };
  // A sagittal grid (slice normal along x): every slice and every sub-sample across it has the
  // same (y, z) at a given in-plane pixel, so (s, v) is computed once per in-plane pixel.
  std::vector<std::pair<double, double>> inPlane;
  if (std::abs(grid.axis[2][1]) < 1e-12 && std::abs(grid.axis[2][2]) < 1e-12) {
    inPlane.resize(static_cast<std::size_t>(grid.size[0]) * grid.size[1]);
    const unsigned rowWorkers =
        std::max(1u, std::min(std::thread::hardware_concurrency(), grid.size[1]));
    std::vector<std::thread> rowThreads;
    for (unsigned w = 0; w < rowWorkers; ++w)
      rowThreads.emplace_back([&, w] {
        for (unsigned j = w; j < grid.size[1]; j += rowWorkers) {
          double sWarm = 60;
          for (unsigned i = 0; i < grid.size[0]; ++i) {
            double s = sWarm, v = 0;
            spineCoordinates(grid.point(i, j, 0), s, v);
            sWarm = s;
            inPlane[static_cast<std::size_t>(j) * grid.size[0] + i] = {s, v};
          }
        }
      });
    for (auto& thread : rowThreads) thread.join();
  }
  auto renderSlice = [&](unsigned k, std::vector<int>& lesionCount) {
    double sWarm = 60;
    for (unsigned j = 0; j < grid.size[1]; ++j) {
      // The texture field at the voxel centres of this row: each wave's phase grows by the same
      // step from voxel to voxel, so its sine and cosine advance by one rotation (no sine calls).
      std::array<double, kWaves> waveSin{}, waveCos{}, stepSin{}, stepCos{};
      {
        const Vec3 p0 = grid.point(0, j, k);
        for (std::size_t n = 0; n < kWaves; ++n) {
          const Wave& w = waves[n];
          const double phase0 = w.k[0] * p0[0] + w.k[1] * p0[1] + w.k[2] * p0[2] + w.phase;
          const double step =
              (w.k[0] * grid.axis[0][0] + w.k[1] * grid.axis[0][1] + w.k[2] * grid.axis[0][2]) *
              grid.spacing[0];
          waveSin[n] = std::sin(phase0);
          waveCos[n] = std::cos(phase0);
          stepSin[n] = std::sin(step);
          stepCos[n] = std::cos(step);
        }
      }
      for (unsigned i = 0; i < grid.size[0]; ++i) {
        const Vec3 p = grid.point(i, j, k);
        double signal = 0;
        int inCord = 0, inCanal = 0, inLesion = 0, lesionId = -1;
        double s = sWarm, v = 0, texture = 0;
        for (std::size_t n = 0; n < kWaves; ++n) {
          texture += waveSin[n];
          const double next = waveSin[n] * stepCos[n] + waveCos[n] * stepSin[n];
          waveCos[n] = waveCos[n] * stepCos[n] - waveSin[n] * stepSin[n];
          waveSin[n] = next;
        }
        texture *= textureScale;
        for (int m = 0; m < subSamples; ++m) {
          const double t = ((m + 0.5) / subSamples - 0.5) * options.sliceThicknessMm;
          const Vec3 q = {p[0] + t * grid.axis[2][0], p[1] + t * grid.axis[2][1],
                          p[2] + t * grid.axis[2][2]};
          // Spine coordinates: from the in-plane table of a sagittal grid, else projected.
          if (!inPlane.empty()) {
            if (m == 0) std::tie(s, v) = inPlane[static_cast<std::size_t>(j) * grid.size[0] + i];
          } else {
            s = sWarm;
            spineCoordinates(q, s, v);
            if (m == 0) sWarm = s;
          }
          const Sample sample = anatomy.evaluate(s, v, q[0]);
          double value = kSignal[sample.tissue];
          // The texture field at the voxel's centre: its wavelengths (2.5-12 mm) vary little
          // across one voxel's sub-samples, and six sines per sub-sample were a third of the time.
          if (kTexture[sample.tissue] > 0) value *= 1 + kTexture[sample.tissue] * texture;
          if (sample.lesion >= 0) {
            const double c = anatomy.lesions()[sample.lesion].spec.contrast;
            value = kSignal[Cord] + c * (kSignal[Csf] - kSignal[Cord]);
            ++inLesion;
            lesionId = sample.lesion;
          }
          signal += value;
          inCord += sample.cord;
          inCanal += sample.canal;
        }
        signal *= kCsfSignal / subSamples;
        const std::size_t offset = k * slicePixels + static_cast<std::size_t>(j) * grid.size[0] + i;
        image->GetBufferPointer()[offset] = static_cast<float>(signal);  // noise-free, for now
        const bool isCord = 2 * inCord >= subSamples;
        cord->GetBufferPointer()[offset] = isCord;
        canal->GetBufferPointer()[offset] = 2 * inCanal >= subSamples;
        if (2 * inLesion >= subSamples && isCord) {
          lesion->GetBufferPointer()[offset] = 1;
          ++lesionCount[lesionId];
        }
        if (isCord) {
          double along = sWarm, across = 0;
          if (!inPlane.empty())
            along = inPlane[static_cast<std::size_t>(j) * grid.size[0] + i]
                        .first;  // |v| < 30 here: the cord's own frame
          else
            curve.project(p[1], p[2], along, across);
          // A voxel mostly inside the cord may have its centre just above the foramen magnum.
          levels->GetBufferPointer()[offset] =
              static_cast<unsigned short>(anatomy.levelAt(std::max(along, 0.0)));
        }
      }
    }
    // Acquisition: in-plane point spread, coil sensitivity, Rician noise, integer pixels.
    float* slice = image->GetBufferPointer() + k * slicePixels;
    const int radius = 2;
    std::array<double, 2 * radius + 1> kernel;
    double kernelSum = 0;
    for (int d = -radius; d <= radius; ++d) {
      kernel[d + radius] = std::exp(-0.5 * d * d / sq(kPsfPixels));
      kernelSum += kernel[d + radius];
    }
    for (double& w : kernel) w /= kernelSum;
    const int nx = static_cast<int>(grid.size[0]), ny = static_cast<int>(grid.size[1]);
    std::vector<double> rows(slicePixels), blurred(slicePixels);
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) {
        double sum = 0;
        for (int d = -radius; d <= radius; ++d)
          sum += kernel[d + radius] * slice[j * nx + std::clamp(i + d, 0, nx - 1)];
        rows[j * nx + i] = sum;
      }
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) {
        double sum = 0;
        for (int d = -radius; d <= radius; ++d)
          sum += kernel[d + radius] * rows[std::clamp(j + d, 0, ny - 1) * nx + i];
        blurred[j * nx + i] = sum;
      }
    std::mt19937_64 noise(options.seed * 1000003ull + k);
    std::normal_distribution<double> gauss(0.0, 1.0);
    for (int j = 0; j < ny; ++j)
      for (int i = 0; i < nx; ++i) {
        const Vec3 p = grid.point(i, j, k);
        double signal = blurred[j * nx + i];
        const double field = 1 + options.bias * (0.6 * std::sin(kPi * (centre[2] - p[2]) / 300.0) +
                                                 0.4 * (p[1] - centre[1]) / 100.0);
        signal *= std::max(0.3, field);
        if (sigma >
            0) {  // Rician: the magnitude of a complex signal with Gaussian noise in both parts
          const double re = signal + sigma * gauss(noise), im = sigma * gauss(noise);
          signal = std::sqrt(re * re + im * im);
        }
        slice[j * nx + i] = static_cast<float>(std::max(0L, std::lround(signal)));
      }
  };
  const unsigned workers =
      std::max(1u, std::min(std::thread::hardware_concurrency(), grid.size[2]));
  std::vector<std::vector<int>> counts(workers, std::vector<int>(anatomy.lesions().size(), 0));
  std::vector<std::thread> threads;
  for (unsigned w = 0; w < workers; ++w)
    threads.emplace_back([&, w] {
      for (unsigned k = w; k < grid.size[2]; k += workers) renderSlice(k, counts[w]);
    });
  for (auto& t : threads) t.join();
  for (const auto& c : counts)
    for (std::size_t i = 0; i < c.size(); ++i) lesionVoxels[i] += c[i];

  // ---- Ground truth ----
  nlohmann::json truth;
  truth["schema"] = "cordscope.phantom-truth/1";
  truth["parameters"] = optionsJson(options);
  truth["patient_age_years"] = options.ageYears;
  truth["patient_sex"] = options.sex;
  const double voxelVolume = grid.spacing[0] * grid.spacing[1] * grid.spacing[2];

  // Cord extent in view: from the foramen magnum (s = 0) to the lowest centerline point in the
  // grid.
  double cordTop = 0, cordBottom = 0;
  while (cordTop < 100 && !grid.contains(spinePoint(curve, cordTop, 0, 0))) cordTop += 0.25;
  cordBottom = cordTop;
  while (cordBottom < 400 && grid.contains(spinePoint(curve, cordBottom + 0.25, 0, 0)))
    cordBottom += 0.25;
  nlohmann::json centerline = nlohmann::json::array();
  for (double s = cordTop; s <= cordBottom + 1e-9; s += 1.0)
    centerline.push_back(ras(spinePoint(curve, s, 0, 0)));
  truth["centerline_ras_mm"] = centerline;

  nlohmann::json levelList = nlohmann::json::array(), csaList = nlohmann::json::array();
  for (int level = 1; level < kLowestVertebra; ++level) {
    const double top = std::max(anatomy.levelTop(level), cordTop),
                 bottom = std::min(anatomy.levelBottom(level), cordBottom);
    if (bottom <= top) continue;
    levelList.push_back(
        {{"level", level},
         {"name", levelName(level)},
         {"top_s_mm", anatomy.levelTop(level)},
         {"bottom_s_mm", anatomy.levelBottom(level)},
         {"height_mm", anatomy.levelHeight(level)},
         {"in_view_mm", bottom - top},
         {"top_ras_mm", ras(spinePoint(curve, anatomy.levelTop(level), 0, 0))},
         {"bottom_ras_mm", ras(spinePoint(curve, anatomy.levelBottom(level), 0, 0))}});
    double area = 0, ap = 0, rl = 0;
    int n = 0;
    for (double s = top + 0.05; s < bottom; s += 0.1, ++n) {
      double a, r;
      anatomy.cordSize(s, a, r);
      area += kPi / 4 * a * r;
      ap += a;
      rl += r;
    }
    csaList.push_back({{"level", level},
                       {"name", levelName(level)},
                       {"csa_mm2", area / n},
                       {"ap_mm", ap / n},
                       {"rl_mm", rl / n}});
  }
  truth["levels"] = levelList;
  std::size_t cordVoxels = 0;
  for (std::size_t i = 0; i < cord->GetBufferedRegion().GetNumberOfPixels(); ++i)
    cordVoxels += cord->GetBufferPointer()[i] != 0;
  truth["cord"] = {{"top_s_mm", cordTop},
                   {"bottom_s_mm", cordBottom},
                   {"length_mm", cordBottom - cordTop},
                   {"volume_mm3", cordVoxels * voxelVolume},
                   {"levels", csaList}};

  nlohmann::json discs = nlohmann::json::array();
  for (int k = 3; k <= kLowestVertebra; ++k) {
    const double s = anatomy.midDisc(k);
    const Vec3 centrePoint =
        spinePoint(curve, s, anatomy.bodyPosterior(s) - (k <= 7 ? 8.0 : 10.0), 0);
    if (!grid.contains(centrePoint) || s > cordBottom) continue;
    discs.push_back({{"name", discName(k)},
                     {"label", k},
                     {"s_mm", s},
                     {"position_ras_mm", ras(centrePoint)},
                     {"cord_position_ras_mm", ras(spinePoint(curve, s, 0, 0))}});
  }
  truth["discs"] = discs;

  nlohmann::json lesionList = nlohmann::json::array();
  for (std::size_t i = 0; i < anatomy.lesions().size(); ++i) {
    const LesionExtent& e = anatomy.lesions()[i];
    nlohmann::json perLevel = nlohmann::json::object();
    double equivalent = 0;
    int spanned = 0;
    for (int level = 1; level < kLowestVertebra; ++level) {
      const double overlap =
          std::min(e.bottom, anatomy.levelBottom(level)) - std::max(e.top, anatomy.levelTop(level));
      if (overlap <= 0) continue;
      perLevel[levelName(level)] = overlap;
      equivalent += overlap / anatomy.levelHeight(level);
      ++spanned;
    }
    lesionList.push_back({{"id", i + 1},
                          {"top_level", levelName(e.spec.topLevel)},
                          {"bottom_level", levelName(e.spec.bottomLevel)},
                          {"top_s_mm", e.top},
                          {"bottom_s_mm", e.bottom},
                          {"top_ras_mm", ras(spinePoint(curve, e.top, 0, 0))},
                          {"bottom_ras_mm", ras(spinePoint(curve, e.bottom, 0, 0))},
                          {"length_mm", e.bottom - e.top},
                          {"segments_spanned", spanned},
                          {"segments_equivalent", equivalent},
                          {"per_level_mm", perLevel},
                          {"pattern", e.spec.pattern},
                          {"contrast", e.spec.contrast},
                          {"volume_mm3", lesionVoxels[i] * voxelVolume}});
  }
  truth["lesions"] = lesionList;
  int maxSpanned = 0;
  for (const auto& l : lesionList)
    maxSpanned = std::max(maxSpanned, l["segments_spanned"].get<int>());
  truth["summary"] = {{"lesion_count", lesionList.size()},
                      {"max_segments_spanned", maxSpanned},
                      {"extensive_ge7_segments", maxSpanned >= 7}};

  // Craniocervical landmarks and distances, measured in patient space.
  const double densCentreV = 0.5 * (anatomy.densPosterior() + anatomy.densAnterior());
  const double c1 = anatomy.c1Centre();
  const Vec3 arch = spinePoint(curve, c1, anatomy.archPosteriorCortex(), 0);
  const Vec3 densFront = spinePoint(curve, c1, anatomy.densAnterior(), 0);
  const Vec3 densBack = spinePoint(curve, c1, anatomy.densPosterior(), 0);
  const Vec3 postArch = spinePoint(curve, c1, anatomy.postArchAnterior(), 0);
  const Vec3 tip = spinePoint(curve, anatomy.densTip(), densCentreV, 0);
  const Vec3 base = spinePoint(curve, anatomy.densBase(), densCentreV, 0);
  const Vec3 basion = spinePoint(curve, anatomy.basion()[0], anatomy.basion()[1], 0);
  const Vec3 opisthion = spinePoint(curve, anatomy.opisthion()[0], anatomy.opisthion()[1], 0);
  auto distance = [](const Vec3& a, const Vec3& b) {
    return std::sqrt(sq(a[0] - b[0]) + sq(a[1] - b[1]) + sq(a[2] - b[2]));
  };
  // Signed distance of the dens tip below McRae's line (basion-opisthion), in the sagittal plane.
  const double ly = opisthion[1] - basion[1], lz = opisthion[2] - basion[2],
               ll = std::hypot(ly, lz);
  const double below = -((tip[1] - basion[1]) * (-lz / ll) + (tip[2] - basion[2]) * (ly / ll));
  double cordApC1, cordRlC1, canalCentreC1, canalHalfApC1, canalHalfRlC1;
  anatomy.cordSize(c1, cordApC1, cordRlC1);
  // A posterior arch inside the cord's outline indents it (see evaluate()).
  cordApC1 = std::min(cordApC1, anatomy.postArchAnterior() + cordApC1 / 2);
  anatomy.canalSize(c1, canalCentreC1, canalHalfApC1, canalHalfRlC1);
  truth["craniocervical"] = {{"adi_mm", distance(arch, densFront)},
                             {"padi_mm", distance(densBack, postArch)},
                             {"dens_tip_below_mcrae_mm", below},
                             {"cord_ap_c1_mm", cordApC1},
                             {"canal_ap_c1_mm", 2 * canalHalfApC1},
                             {"landmarks_ras_mm",
                              {{"c1_anterior_arch_posterior_cortex", ras(arch)},
                               {"dens_anterior_cortex", ras(densFront)},
                               {"dens_posterior_cortex", ras(densBack)},
                               {"c1_posterior_arch_anterior_margin", ras(postArch)},
                               {"dens_tip", ras(tip)},
                               {"dens_base", ras(base)},
                               {"basion", ras(basion)},
                               {"opisthion", ras(opisthion)}}}};
  nlohmann::json compressionList = nlohmann::json::array();
  for (const auto& c : options.compressions)
    compressionList.push_back({{"level", levelName(c.level)}, {"cord_ap_ratio", c.ratio}});
  truth["compressions"] = compressionList;

  PhantomStudy study;
  study.volume.image = image;
  study.volume.sourceKind = "phantom";
  SeriesMetadata& meta = study.volume.meta;
  meta.modality = "MR";
  meta.manufacturer = "cordscope phantom";
  meta.seriesDescription = options.seriesDescription.empty()
                               ? (options.orientation == "axial" ? "T2 TSE AX" : "T2 TSE SAG")
                               : options.seriesDescription;
  meta.protocolName = meta.seriesDescription;
  meta.patientId = "PHANTOM-" + std::to_string(options.seed);
  meta.patientSex = options.sex;
  meta.patientAgeYears = options.ageYears;
  meta.studyDate = options.studyDate;
  meta.echoTimeMs = options.dicomEchoTimeMs;
  meta.repetitionTimeMs = options.dicomRepetitionTimeMs;
  meta.sliceThicknessMm = options.sliceThicknessMm;
  meta.magneticFieldStrengthT = 1.5;
  meta.seriesNumber = 3;
  study.cord = cord;
  study.canal = canal;
  study.lesion = lesion;
  study.levels = levels;
  study.truth = truth;
  return study;
}

namespace {

// Copies `source` onto the grid of `target` voxel by voxel through world coordinates. The grids
// differ at most by axis order and flips, so every target voxel centre is a source voxel centre.
template <typename TImage>
typename TImage::Pointer onGrid(const TImage* source, const Image* target) {
  auto out = TImage::New();
  out->CopyInformation(target);
  out->SetRegions(target->GetLargestPossibleRegion());
  out->Allocate(true);
  for (itk::ImageRegionIteratorWithIndex<TImage> it(out, out->GetLargestPossibleRegion());
       !it.IsAtEnd(); ++it) {
    typename TImage::PointType point;
    out->TransformIndexToPhysicalPoint(it.GetIndex(), point);
    typename TImage::IndexType index;
    if (source->TransformPhysicalPointToIndex(point, index)) it.Set(source->GetPixel(index));
  }
  return out;
}

}  // namespace

void writePhantom(const PhantomStudy& study, const PhantomOptions& options,
                  const std::string& outDir) {
  namespace fs = std::filesystem;
  fs::create_directories(fs::path(outDir) / "truth");
  const std::string dicomDir = (fs::path(outDir) / "dicom").string();
  fs::remove_all(dicomDir);
  DicomWriteOptions write;
  write.uidSeed = "cordscope-phantom/" + optionsJson(options).dump();
  write.shuffleFileNames = options.shuffleFiles;
  write.shuffleSeed = options.seed;
  writeDicomSeries(study.volume, dicomDir, write);

  // The grid `cordscope convert OUTDIR/dicom` produces: read the series back.
  const Volume reread = loadInput(dicomDir);
  const Image* grid = reread.image.GetPointer();
  const fs::path truthDir = fs::path(outDir) / "truth";
  writeNifti(onGrid<Mask>(study.cord.GetPointer(), grid).GetPointer(),
             (truthDir / "cord.nii.gz").string());
  writeNifti(onGrid<Mask>(study.canal.GetPointer(), grid).GetPointer(),
             (truthDir / "canal.nii.gz").string());
  writeNifti(onGrid<Mask>(study.lesion.GetPointer(), grid).GetPointer(),
             (truthDir / "lesion.nii.gz").string());
  writeNifti(onGrid<LabelImage>(study.levels.GetPointer(), grid).GetPointer(),
             (truthDir / "levels.nii.gz").string());
  std::ofstream(fs::path(outDir) / "truth.json") << study.truth.dump(2) << "\n";
}

}  // namespace cordscope
