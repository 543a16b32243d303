#include "segmentation/Craniocervical.h"

#include <itkImageFileWriter.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <map>
#include <optional>
#include <tuple>

#include "core/ImageSampler.h"
#include "core/Statistics.h"

namespace cordscope {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The mid-sagittal image: rows along the plane's caudal axis, columns towards anterior.
struct PlaneImage {
  double step = 0.25, along0 = 0, anterior0 = 0;
  long rows = 0, cols = 0;
  std::vector<double> value;  // NaN outside the volume
  double at(long r, long c) const { return value[r * cols + c]; }
  double alongOf(double r) const { return along0 + r * step; }
  double anteriorOf(double c) const { return anterior0 + c * step; }
  double rowOf(double along) const { return (along - along0) / step; }
  double colOf(double anterior) const { return (anterior - anterior0) / step; }
};

void dumpForDebugging(const PlaneImage& p, const char* path) {
  using Slice = itk::Image<float, 2>;
  auto slice = Slice::New();
  Slice::SizeType size{
      {static_cast<itk::SizeValueType>(p.cols), static_cast<itk::SizeValueType>(p.rows)}};
  slice->SetRegions(size);
  slice->Allocate();
  const double spacing[2] = {p.step, p.step};
  slice->SetSpacing(spacing);
  for (long r = 0; r < p.rows; ++r)
    for (long c = 0; c < p.cols; ++c) {
      const double v = p.at(r, c);
      slice->GetBufferPointer()[r * p.cols + c] = std::isnan(v) ? 0.f : static_cast<float>(v);
    }
  auto writer = itk::ImageFileWriter<Slice>::New();
  writer->SetInput(slice);
  writer->SetFileName(path);
  writer->Update();
}

// A profile along one row (towards anterior), in normalised units: 0 = the darkest tissue
// (cortical bone), 1 = the cord. Rows are averaged over +-halfRows (structures here run along
// the cord, so this lowers noise without blurring their edges).
std::vector<double> rowProfile(const PlaneImage& p, long r, long halfRows, double dark,
                               double cord) {
  std::vector<double> out(p.cols, kNaN);
  for (long c = 0; c < p.cols; ++c) {
    double sum = 0;
    int n = 0;
    for (long k = std::max(0L, r - halfRows); k <= std::min(p.rows - 1, r + halfRows); ++k)
      if (const double v = p.at(k, c); !std::isnan(v)) {
        sum += v;
        ++n;
      }
    if (n) out[c] = (sum / n - dark) / (cord - dark);
  }
  return out;
}

// Where `profile` crosses `level` between index a and index b (either order), linearly
// interpolated; the crossing nearest to a. NaN when it does not.
double crossing(const std::vector<double>& profile, long a, long b, double level) {
  const long step = b > a ? 1 : -1;
  for (long i = a; i != b; i += step) {
    const double u = profile[i], v = profile[i + step];
    if (std::isnan(u) || std::isnan(v)) return kNaN;
    if ((u - level) * (v - level) <= 0 && u != v) return i + step * (u - level) / (u - v);
  }
  return kNaN;
}

// Alternating dark / not-dark runs along a profile from `start` in direction `dir`, at most
// `length` samples, with hysteresis so that noise does not split a run.
struct Run {
  bool dark = false;
  long first = 0, last = 0;  // sample indices, first nearer the start
  long extreme = 0;          // darkest (dark run) or brightest (other) sample
  double extremeValue = 0;
  long width() const { return std::abs(last - first) + 1; }
};
std::vector<Run> runsAlong(const std::vector<double>& profile, long start, int dir, long length,
                           double darkBelow, double brightAbove) {
  std::vector<Run> runs;
  for (long k = 0; k < length; ++k) {
    const long i = start + dir * k;
    if (i < 0 || i >= static_cast<long>(profile.size()) || std::isnan(profile[i])) break;
    const double v = profile[i];
    bool dark = runs.empty() ? v < 0.5 * (darkBelow + brightAbove) : runs.back().dark;
    if (dark && v > brightAbove) dark = false;
    if (!dark && v < darkBelow) dark = true;
    if (runs.empty() || runs.back().dark != dark) runs.push_back({dark, i, i, i, v});
    Run& run = runs.back();
    run.last = i;
    if (dark ? v < run.extremeValue : v > run.extremeValue) {
      run.extreme = i;
      run.extremeValue = v;
    }
  }
  return runs;
}

// Alternating valleys and peaks along a profile from `start` (taken as a valley), each peak or
// valley at least `delta` above or below its neighbours: the runs of a low-contrast profile
// (a smooth image, marrow darker than the cord) where fixed thresholds see nothing. Run
// boundaries are the half-way crossings between neighbouring extremes.
std::vector<Run> zigzagRuns(const std::vector<double>& profile, long start, int dir, long length,
                            double delta) {
  std::vector<long> extremes;
  bool dark = true;
  long extreme = start;
  for (long k = 0; k < length; ++k) {
    const long i = start + dir * k;
    if (i < 0 || i >= static_cast<long>(profile.size()) || std::isnan(profile[i])) break;
    const double v = profile[i];
    if (dark ? v < profile[extreme] : v > profile[extreme]) {
      extreme = i;
    } else if (dark ? v > profile[extreme] + delta : v < profile[extreme] - delta) {
      extremes.push_back(extreme);
      dark = !dark;
      extreme = i;
    }
  }
  extremes.push_back(extreme);
  std::vector<Run> runs;
  long first = extremes.front();
  for (std::size_t k = 0; k < extremes.size(); ++k) {
    long last = extremes[k];
    if (k + 1 < extremes.size()) {
      const long a = extremes[k], b = extremes[k + 1];
      const double x = crossing(profile, a, b, 0.5 * (profile[a] + profile[b]));
      last = std::isnan(x) ? a : static_cast<long>(dir > 0 ? std::floor(x) : std::ceil(x));
    }
    runs.push_back({k % 2 == 0, first, last, extremes[k], profile[extremes[k]]});
    first = last + dir;
  }
  return runs;
}

// Straight line anterior = a + b * along, least squares, with one pass of outlier rejection.
struct Line {
  double a = 0, b = 0;
  bool valid = false;
  double at(double along) const { return a + b * along; }
};
Line fitLine(const std::vector<std::pair<double, double>>& points) {
  Line line;
  std::vector<std::pair<double, double>> use = points;
  for (int pass = 0; pass < 2; ++pass) {
    if (use.size() < 3) return line;
    double s0 = 0, s1 = 0, s2 = 0, t0 = 0, t1 = 0;
    for (const auto& [x, y] : use) {
      s0 += 1;
      s1 += x;
      s2 += x * x;
      t0 += y;
      t1 += x * y;
    }
    const double det = s0 * s2 - s1 * s1;
    if (std::abs(det) < 1e-9) return line;
    line = {(s2 * t0 - s1 * t1) / det, (s0 * t1 - s1 * t0) / det, true};
    std::vector<double> residuals;
    for (const auto& [x, y] : use) residuals.push_back(std::abs(y - line.at(x)));
    const double limit = std::max(0.5, 3 * median(residuals));
    std::vector<std::pair<double, double>> kept;
    for (const auto& [x, y] : use)
      if (std::abs(y - line.at(x)) <= limit) kept.push_back({x, y});
    use = kept;
  }
  return line;
}

// Mean over the (2 radius + 1)^2 square around each sample (clipped at the borders), from a
// summed-area table.
std::vector<double> boxMean(const std::vector<double>& v, long rows, long cols, long radius) {
  std::vector<double> sum((rows + 1) * (cols + 1), 0.0);
  for (long r = 0; r < rows; ++r)
    for (long c = 0; c < cols; ++c)
      sum[(r + 1) * (cols + 1) + c + 1] = v[r * cols + c] + sum[r * (cols + 1) + c + 1] +
                                          sum[(r + 1) * (cols + 1) + c] - sum[r * (cols + 1) + c];
  std::vector<double> out(v.size());
  for (long r = 0; r < rows; ++r)
    for (long c = 0; c < cols; ++c) {
      const long r0 = std::max(0L, r - radius), r1 = std::min(rows - 1, r + radius);
      const long c0 = std::max(0L, c - radius), c1 = std::min(cols - 1, c + radius);
      const double total = sum[(r1 + 1) * (cols + 1) + c1 + 1] - sum[r0 * (cols + 1) + c1 + 1] -
                           sum[(r1 + 1) * (cols + 1) + c0] + sum[r0 * (cols + 1) + c0];
      out[r * cols + c] = total / ((r1 - r0 + 1) * (c1 - c0 + 1));
    }
  return out;
}

// Binary closing with a (2 radius + 1)^2 square: joins the fragments of a thin cortex that noise
// and partial volume break up, so that one bone is one component.
std::vector<bool> closeMask(const std::vector<bool>& mask, long rows, long cols, long radius) {
  const auto filter = [&](const std::vector<bool>& in, bool dilate) {
    std::vector<bool> across(in.size()), out(in.size());
    for (long r = 0; r < rows; ++r)
      for (long c = 0; c < cols; ++c) {
        bool v = !dilate;
        for (long k = std::max(0L, c - radius); k <= std::min(cols - 1, c + radius); ++k)
          if (in[r * cols + k] == dilate) {
            v = dilate;
            break;
          }
        across[r * cols + c] = v;
      }
    for (long r = 0; r < rows; ++r)
      for (long c = 0; c < cols; ++c) {
        bool v = !dilate;
        for (long k = std::max(0L, r - radius); k <= std::min(rows - 1, r + radius); ++k)
          if (across[k * cols + c] == dilate) {
            v = dilate;
            break;
          }
        out[r * cols + c] = v;
      }
    return out;
  };
  return filter(filter(mask, true), false);
}

// A connected piece of the dark mask (4-connected, within `allowed`), with its principal axis
// (pointing caudal) and its length along it.
struct Component {
  std::vector<std::pair<long, long>> members;  // (row, col)
  double meanRow = 0, meanCol = 0, axisRow = 1, axisCol = 0, lengthMm = 0;
};

Component floodComponent(const PlaneImage& p, const std::vector<bool>& mask, long row, long col,
                         const std::function<bool(long, long)>& allowed, std::vector<bool>& seen) {
  Component out;
  std::vector<std::pair<long, long>> queue{{row, col}};
  seen[row * p.cols + col] = true;
  while (!queue.empty()) {
    const auto [r, c] = queue.back();
    queue.pop_back();
    out.members.push_back({r, c});
    const long nr[4] = {r - 1, r + 1, r, r}, nc[4] = {c, c, c - 1, c + 1};
    for (int j = 0; j < 4; ++j) {
      if (nr[j] < 0 || nc[j] < 0 || nr[j] >= p.rows || nc[j] >= p.cols) continue;
      const long i = nr[j] * p.cols + nc[j];
      if (seen[i] || !mask[i] || !allowed(nr[j], nc[j])) continue;
      seen[i] = true;
      queue.push_back({nr[j], nc[j]});
    }
  }
  for (const auto& [r, c] : out.members) {
    out.meanRow += r;
    out.meanCol += c;
  }
  out.meanRow /= out.members.size();
  out.meanCol /= out.members.size();
  double srr = 0, src = 0, scc = 0;
  for (const auto& [r, c] : out.members) {
    srr += (r - out.meanRow) * (r - out.meanRow);
    src += (r - out.meanRow) * (c - out.meanCol);
    scc += (c - out.meanCol) * (c - out.meanCol);
  }
  const double angle = 0.5 * std::atan2(2 * src, srr - scc);
  out.axisRow = std::cos(angle);
  out.axisCol = std::sin(angle);
  if (out.axisRow < 0) {
    out.axisRow = -out.axisRow;
    out.axisCol = -out.axisCol;
  }
  double near = std::numeric_limits<double>::infinity(), far = -near;
  for (const auto& [r, c] : out.members) {
    const double t = (r - out.meanRow) * out.axisRow + (c - out.meanCol) * out.axisCol;
    near = std::min(near, t);
    far = std::max(far, t);
  }
  out.lengthMm = (far - near) * p.step;
  return out;
}

// Walking along row `row` from `startCol` in direction `dir`: the first component of `mask`
// (within `allowed`) at least `minLengthMm` long. Smaller ones (noise specks) are walked past.
std::optional<Component> componentAlongRow(const PlaneImage& p, const std::vector<bool>& mask,
                                           long row, long startCol, int dir, long maxCols,
                                           const std::function<bool(long, long)>& allowed,
                                           std::vector<bool>& seen, double minLengthMm) {
  if (row < 0 || row >= p.rows) return std::nullopt;
  for (long k = 0; k < maxCols; ++k) {
    const long col = startCol + dir * k;
    if (col < 0 || col >= p.cols) break;
    const long i = row * p.cols + col;
    if (seen[i] || !mask[i] || !allowed(row, col)) continue;
    Component component = floodComponent(p, mask, row, col, allowed, seen);
    if (component.lengthMm >= minLengthMm) return component;
  }
  return std::nullopt;
}

// A bone's free end: the end of its principal axis towards caudal, or with `towards`, its sample
// nearest that point; the centre of the samples within 1 mm of it (the middle of the bone's rim
// there, as basion and opisthion are defined).
// The centre of the samples (among those `keep` accepts) within 1 mm of a bone's end sample: the
// middle of the bone's rim there, as basion and opisthion are defined.
PlanePoint rimCentre(const PlaneImage& p, const std::vector<std::pair<long, long>>& members,
                     std::pair<long, long> end, const std::function<bool(long, long)>& keep) {
  double sr = 0, sc = 0;
  int n = 0;
  for (const auto& [r, c] : members)
    if (keep(r, c) && std::hypot(r - end.first, c - end.second) <= 1.0 / p.step) {
      sr += r;
      sc += c;
      ++n;
    }
  return PlanePoint{p.alongOf(sr / n), p.anteriorOf(sc / n)};
}

PlanePoint componentEnd(const PlaneImage& p, const Component& bone,
                        std::optional<PlanePoint> towards) {
  std::pair<long, long> end = bone.members.front();
  double best = std::numeric_limits<double>::infinity();
  for (const auto& [r, c] : bone.members) {
    const double score =
        towards ? std::hypot(p.alongOf(r) - towards->along, p.anteriorOf(c) - towards->anterior)
                : -((r - bone.meanRow) * bone.axisRow + (c - bone.meanCol) * bone.axisCol);
    if (score < best) {
      best = score;
      end = {r, c};
    }
  }
  return rimCentre(p, bone.members, end, [](long, long) { return true; });
}

// A slab-like bone's free end (the occipital squama's: the opisthion): the most caudal of its
// samples within a band round its principal axis (not the farthest along that axis, which a dark
// line leaving the end sideways - the membrane or a muscle edge along the CSF below the foramen
// magnum - would still extend).
PlanePoint slabEnd(const PlaneImage& p, const Component& bone) {
  const double mr = bone.meanRow, mc = bone.meanCol, ar = bone.axisRow, ac = bone.axisCol;
  const auto across = [&](long r, long c) { return std::abs(-(r - mr) * ac + (c - mc) * ar); };
  std::vector<double> widths;
  for (const auto& [r, c] : bone.members) widths.push_back(across(r, c));
  // At least 4 mm: the rim curves in from the cortices to the end.
  const double band = std::max(1.3 * percentile(widths, 0.9) + 0.5 / p.step, 4.0 / p.step);
  // The end: the most caudal sample within the band (nearest the axis among equals). Not the
  // farthest along the axis, which a line leaving the end sideways would still extend.
  std::pair<long, long> end{-1, -1};
  for (const auto& [r, c] : bone.members) {
    if (across(r, c) > band) continue;
    if (end.first < 0 || r > end.first ||
        (r == end.first && across(r, c) < across(end.first, end.second)))
      end = {r, c};
  }
  return rimCentre(p, bone.members, end, [&](long r, long c) { return across(r, c) <= band; });
}

}  // namespace

CraniocervicalLandmarks findCraniocervical(const Volume& volume, const CordSegmentation& cord,
                                           const CraniocervicalOptions& o) {
  CraniocervicalLandmarks out;
  if (!cord.found || cord.sections.size() < 2) {
    out.warnings.push_back("craniocervical junction not measured: no cord found");
    return out;
  }
  if (cord.centerline.csfSign < 0) {
    out.warnings.push_back(
        "craniocervical junction not measured: it needs T2 contrast (CSF brighter than cord)");
    return out;
  }
  if (!cord.topIsJunction) {
    out.warnings.push_back(
        "craniocervical junction not in the field of view: the cord runs to the image's top edge, "
        "so ADI, PADI and the skull-base lines cannot be measured");
    return out;
  }
  const auto& sections = cord.sections;
  const std::size_t axisEnd =
      std::min(sections.size() - 1, static_cast<std::size_t>(std::lround(
                                        o.planeAxisMm / (sections[1].arcMm - sections[0].arcMm))));
  out.origin = sections.front().centre;
  out.caudal = normalized(sections[axisEnd].centre - out.origin);
  Vec3 forward{0, 0, 0};
  for (std::size_t i = 0; i <= axisEnd; ++i) forward = forward + sections[i].anterior;
  out.anterior = normalized(forward - dot(forward, out.caudal) * out.caudal);
  out.lateral = cross(out.caudal, out.anterior);

  PlaneImage plane;
  plane.step = o.stepMm;
  plane.along0 = -o.aboveTopMm;
  plane.anterior0 = -o.halfWidthMm;
  plane.rows = static_cast<long>(std::lround((o.aboveTopMm + o.belowTopMm) / o.stepMm)) + 1;
  plane.cols = static_cast<long>(std::lround(2 * o.halfWidthMm / o.stepMm)) + 1;
  plane.value.assign(plane.rows * plane.cols, kNaN);
  const ImageSampler sampler(volume.image.GetPointer());
  for (long r = 0; r < plane.rows; ++r)
    for (long c = 0; c < plane.cols; ++c)
      if (auto v = sampler.at(out.toPatient({plane.alongOf(r), plane.anteriorOf(c)})))
        plane.value[r * plane.cols + c] = *v;
  if (const char* path = std::getenv("CORDSCOPE_DEBUG_CC_PLANE")) dumpForDebugging(plane, path);

  const double step = plane.step;
  const auto mm = [&](double samples) { return samples * step; };
  const auto samples = [&](double millimetres) {
    return static_cast<long>(std::lround(millimetres / step));
  };
  // The cord's centre in each row (the plane's axis is a chord: the cord bows off it a little).
  std::vector<double> cordCol(plane.rows, kNaN);
  for (const CrossSection& section : sections) {
    const Vec3 d = section.centre - out.origin;
    const long r = std::lround(plane.rowOf(dot(d, out.caudal)));
    if (r >= 0 && r < plane.rows) cordCol[r] = plane.colOf(dot(d, out.anterior));
  }
  {
    long firstKnown = 0;
    while (firstKnown < plane.rows && std::isnan(cordCol[firstKnown])) ++firstKnown;
    for (long r = 0; r < firstKnown && firstKnown < plane.rows; ++r)
      cordCol[r] = cordCol[firstKnown];
    fillGapsWithNearest(cordCol);
  }

  // Intensity references: the cord, the CSF around it, and the darkest tissue (cortical bone).
  std::vector<double> cordValues, canalValues, regionValues;
  for (long r = samples(o.aboveTopMm + 5); r < samples(o.aboveTopMm + 40) && r < plane.rows; ++r) {
    const long c = std::lround(cordCol[r]);
    for (long k = -samples(1.5); k <= samples(1.5); ++k)
      if (const double v = plane.at(r, c + k); !std::isnan(v)) cordValues.push_back(v);
    for (long k = -samples(9); k <= samples(9); ++k)
      if (const double v = plane.at(r, c + k); !std::isnan(v)) canalValues.push_back(v);
  }
  for (long r = samples(o.aboveTopMm - 10); r < samples(o.aboveTopMm + 50) && r < plane.rows; ++r)
    for (long c = std::lround(plane.colOf(-25)); c <= std::lround(plane.colOf(30)); ++c)
      if (const double v = plane.at(r, c); !std::isnan(v)) regionValues.push_back(v);
  const double cordLevel = median(cordValues), csfLevel = percentile(canalValues, 0.9);
  const double darkLevel = percentile(regionValues, 0.03);
  if (!(cordLevel > darkLevel) || !(csfLevel > cordLevel)) {
    out.warnings.push_back("craniocervical junction not measured: no CSF-cord-bone contrast there");
    return out;
  }
  const double csfN = (csfLevel - darkLevel) / (cordLevel - darkLevel);
  // Cortex is below 0.4 of the cord's level; marrow, soft tissue and joint fluid above 0.7.
  constexpr double kDark = 0.4, kBright = 0.7;

  // Each row, from the cord towards anterior: cord and CSF, the canal's front wall (ligament and
  // cortex), the dens's marrow, its anterior cortex, the atlantodental gap, the C1 arch.
  struct RowFinding {
    bool dens = false, atlas = false;
    double wallEdge = kNaN, marrowBack = kNaN, marrowFront = kNaN, densFront = kNaN;
    double archBack = kNaN, archFront = kNaN;  // anterior mm
  };
  const long rowHalf = samples(0.5);
  const long firstRow = samples(o.aboveTopMm - 15),
             lastRow = std::min(plane.rows - 1, samples(o.aboveTopMm + 55));
  std::vector<RowFinding> rows(plane.rows);
  bool lowContrast = false;  // the rows were read by valleys and peaks (see below)
  // One row's reading, from its runs (runs[0]: the cord and the CSF in front of it).
  const auto parseRow = [&](const std::vector<double>& p, const std::vector<Run>& runs) {
    RowFinding f;
    if (runs.size() < 4 || runs[0].dark || runs[0].extremeValue < 0.5 * (1 + csfN)) return f;
    const Run &csf = runs[0], &wall = runs[1], &marrow = runs[2], &cortex = runs[3];
    f.wallEdge = plane.anteriorOf(
        crossing(p, csf.extreme, wall.extreme, 0.5 * (csf.extremeValue + wall.extremeValue)));
    std::vector<double> marrowValues(p.begin() + marrow.first, p.begin() + marrow.last + 1);
    const double marrowLevel = median(marrowValues);
    f.marrowBack = plane.anteriorOf(
        crossing(p, wall.extreme, marrow.extreme, 0.5 * (wall.extremeValue + marrowLevel)));
    f.marrowFront = plane.anteriorOf(
        crossing(p, cortex.extreme, marrow.extreme, 0.5 * (cortex.extremeValue + marrowLevel)));
    const double marrowWidth = f.marrowFront - f.marrowBack;
    f.dens = marrowWidth >= 3 && marrowWidth <= 11.5 && mm(cortex.width()) <= 3.5;
    if (!f.dens || runs.size() < 8) return f;
    const Run &gap = runs[4], &archBack = runs[5], &archMarrow = runs[6], &archFront = runs[7];
    f.densFront = plane.anteriorOf(
        crossing(p, cortex.extreme, gap.extreme, 0.5 * (cortex.extremeValue + gap.extremeValue)));
    f.archBack = plane.anteriorOf(crossing(p, archBack.extreme, gap.extreme,
                                           0.5 * (archBack.extremeValue + gap.extremeValue)));
    // The arch's front cortex may run on into the dark pharynx: its surface is where the
    // arch's marrow ends, plus a cortex.
    f.archFront =
        plane.anteriorOf(crossing(p, archMarrow.extreme, archFront.extreme,
                                  0.5 * (archMarrow.extremeValue + archFront.extremeValue)));
    const double archDepth = f.archFront - f.archBack;
    f.atlas = mm(gap.width()) <= 15 && mm(archMarrow.width()) >= 1 && archDepth >= 3 &&
              archDepth <= 14 && !std::isnan(f.archFront) && !std::isnan(f.densFront) &&
              !std::isnan(f.archBack);
    return f;
  };
  std::vector<std::vector<double>> profiles(plane.rows);
  std::vector<std::vector<Run>> fixedRuns(plane.rows);
  for (long r = firstRow; r <= lastRow; ++r) {
    profiles[r] = rowProfile(plane, r, rowHalf, darkLevel, cordLevel);
    fixedRuns[r] = runsAlong(profiles[r], std::lround(cordCol[r]), +1, samples(45), kDark, kBright);
    // Where the cord is squeezed to a sliver its centre can fall on the bone pressing it (the
    // posterior arch): a dark start under 1 mm is that edge, not the canal's front wall.
    if (fixedRuns[r].size() > 2 && fixedRuns[r][0].dark && mm(fixedRuns[r][0].width()) < 1.0)
      fixedRuns[r].erase(fixedRuns[r].begin());
    rows[r] = parseRow(profiles[r], fixedRuns[r]);
  }
  // Runs of atlas rows (gaps up to 1.5 mm bridged), cranial first.
  const auto atlasRuns = [&] {
    std::vector<std::pair<long, long>> found;
    for (long r = firstRow; r <= lastRow; ++r) {
      if (!rows[r].atlas) continue;
      long last = r, gap = 0;
      for (long k = r + 1; k <= lastRow && gap <= samples(1.5); ++k) {
        if (rows[k].atlas) {
          last = k;
          gap = 0;
        } else {
          ++gap;
        }
      }
      found.push_back({r, last});
      r = last;
    }
    return found;
  };
  // The anterior arch: the longest plausible run, at least 3 mm. The skull base above the atlas
  // can read the same way (clivus, longus capitis, pharyngeal mucosa and air look like dens, gap
  // and arch), so a run is plausible when (1) it is not centred more than 3 mm above the cord's
  // top - the cervicomedullary junction, a few mm above the foramen magnum, below which the
  // ring lies - and (2) the bone behind its gap bounds the canal: its back within 12 mm in front
  // of the cord's centre (the atlas's canal is narrow in front; the clivus lies behind the wide
  // prepontine and premedullary cisterns). Implausible runs are used only when there is nothing
  // else.
  const auto plausible = [&](long first, long last) {
    if (plane.alongOf(0.5 * (first + last)) < -3.0) return false;
    std::vector<double> wall;
    for (long r = first; r <= last; ++r)
      if (rows[r].atlas && std::isfinite(rows[r].wallEdge) && std::isfinite(cordCol[r]))
        wall.push_back(rows[r].wallEdge - plane.anteriorOf(cordCol[r]));
    return !wall.empty() && median(wall) <= 12.0;
  };
  const auto chooseRun = [&](double minMm, bool longest) {
    std::pair<long, long> best{-1, -1};
    for (const bool strict : {true, false}) {
      for (const auto& [first, last] : atlasRuns()) {
        if ((strict && !plausible(first, last)) || mm(last - first) < minMm) continue;
        if (best.first < 0 || (longest && last - first > best.second - best.first))
          best = {first, last};
        if (!longest) break;  // the most cranial
      }
      if (best.first >= 0) break;
    }
    return best;
  };
  long bestFirst, bestLast;
  std::tie(bestFirst, bestLast) = chooseRun(3, true);
  if (bestFirst < 0) {
    // Low contrast (a smooth image, marrow darker than the cord): read the rows again by their
    // valleys and peaks, at least a quarter of the bone's own range deep (the 5th to 90th
    // percentile over 25 mm beyond the canal). Below the arch, the C2 body with the soft tissue in
    // front of it can read like dens-and-arch at this contrast; the arch is the most cranial
    // such run (at least 2 mm), the first bone ring below the skull base.
    lowContrast = true;
    for (long r = firstRow; r <= lastRow; ++r) {
      const std::vector<double>& p = profiles[r];
      const std::vector<Run>& runs = fixedRuns[r];
      rows[r] = {};
      if (runs.size() < 2 || runs[0].dark || runs[0].extremeValue < 0.5 * (1 + csfN)) continue;
      std::vector<double> bone;
      for (long c = runs[1].first; c < std::min<long>(p.size(), runs[1].first + samples(25)); ++c)
        if (!std::isnan(p[c])) bone.push_back(p[c]);
      if (bone.size() < 20) continue;
      const double range = percentile(bone, 0.9) - percentile(bone, 0.05);
      std::vector<Run> zigzag =
          zigzagRuns(p, runs[1].extreme, +1, samples(40), std::max(0.08, 0.25 * range));
      zigzag.insert(zigzag.begin(), runs[0]);
      zigzag[1].first = runs[1].first;
      rows[r] = parseRow(p, zigzag);
    }
    std::tie(bestFirst, bestLast) = chooseRun(2, false);
  }
  if (bestFirst < 0) {
    out.warnings.push_back(
        "craniocervical junction: the C1 anterior arch and the dens were not found in front of the "
        "upper cord; ADI and PADI not measured");
    return out;
  }
  // The dens's anterior surface as a line (the atlantodental interval is measured across it).
  std::vector<std::pair<double, double>> densFront;
  for (long r = bestFirst; r <= bestLast; ++r)
    if (rows[r].atlas) densFront.push_back({plane.alongOf(r), rows[r].densFront});
  Line dens = fitLine(densFront);
  if (!dens.valid || std::abs(dens.b) > std::tan(30 * kPi / 180))
    dens = {median([&] {
              std::vector<double> v;
              for (const auto& pt : densFront) v.push_back(pt.second);
              return v;
            }()),
            0, true};
  const double secant = std::sqrt(1 + dens.b * dens.b);
  const PlanePoint axis{1 / secant, dens.b / secant}, front{-dens.b / secant, 1 / secant};
  // The arch's middle half: medians of the gap, the cortex and the dens there.
  const long quarter = (bestLast - bestFirst) / 4;
  std::vector<double> gaps, cortices, widths, archBacks, archCentres, alongs;
  for (long r = bestFirst + quarter; r <= bestLast - quarter; ++r) {
    const RowFinding& f = rows[r];
    if (!f.atlas) continue;
    const double along = plane.alongOf(r);
    gaps.push_back((f.archBack - dens.at(along)) / secant);
    cortices.push_back((f.densFront - f.marrowFront) / secant);
    widths.push_back((dens.at(along) - f.marrowBack) / secant);
    archBacks.push_back(f.archBack);
    archCentres.push_back(0.5 * (f.archBack + f.archFront));
    alongs.push_back(along);
  }
  const double atlasAlong = median(alongs);
  const double adi = median(gaps);
  out.corticalThicknessMm = std::clamp(median(cortices), 0.5, 2.5);
  const double densMarrowWidth = median(widths);
  const PlanePoint densFrontPoint{atlasAlong, dens.at(atlasAlong)};
  const auto offset = [](const PlanePoint& p, const PlanePoint& dir, double d) {
    return PlanePoint{p.along + d * dir.along, p.anterior + d * dir.anterior};
  };
  const PlanePoint archPoint = offset(densFrontPoint, front, adi);
  const PlanePoint densBackPoint =
      offset(densFrontPoint, front, -(densMarrowWidth + out.corticalThicknessMm));
  out.densAnteriorCortex = out.toPatient(densFrontPoint);
  out.c1AnteriorArchPosteriorCortex = out.toPatient(archPoint);
  out.densPosteriorCortex = out.toPatient(densBackPoint);
  out.c1AnteriorArchCentre = out.toPatient({atlasAlong, median(archCentres)});
  out.densAxis = normalized(axis.along * out.caudal + axis.anterior * out.anterior);
  out.found = true;
  out.atlasRowsMm = mm(bestLast - bestFirst);
  out.lowContrast = lowContrast;
  {
    std::size_t hint = 0;
    out.atlasArcMm =
        sections[locateOnCord(sections, *out.c1AnteriorArchCentre, hint).section].arcMm;
  }

  // Bone is dark: cortex is the darkest tissue and darker than what surrounds it (muscle can be
  // nearly as dark, but evenly so). The mask: 3x3 means (to calm the noise) below the dark level
  // and clearly below the mean of the 4 mm around them; closed so that the pieces of a cortex
  // broken by partial volume join into one bone.
  std::vector<double> normalised(plane.value.size());
  for (std::size_t i = 0; i < normalised.size(); ++i)
    normalised[i] =
        std::isnan(plane.value[i]) ? 1.0 : (plane.value[i] - darkLevel) / (cordLevel - darkLevel);
  const std::vector<double> local3 = boxMean(normalised, plane.rows, plane.cols, 1);
  const std::vector<double> local4mm = boxMean(normalised, plane.rows, plane.cols, samples(2));
  std::vector<bool> darkMask(plane.value.size(), false);
  for (std::size_t i = 0; i < darkMask.size(); ++i)
    darkMask[i] =
        !std::isnan(plane.value[i]) && local3[i] < kDark && local3[i] < local4mm[i] - 0.15;
  darkMask = closeMask(darkMask, plane.rows, plane.cols, samples(0.75));
  // Where a row leaves the cord and the canal's CSF on the given side (the posterior dura, or the
  // tissue the cord touches when there is no CSF left), and the CSF-to-dura edge when there is.
  const auto canalEnd = [&](long r, int dir, double* dura) -> long {
    const std::vector<double> p = rowProfile(plane, r, rowHalf, darkLevel, cordLevel);
    const std::vector<Run> runs =
        runsAlong(p, std::lround(cordCol[r]), dir, samples(35), kDark, kBright);
    if (runs.size() < 2 || runs[0].dark) return -1;
    // The dura: where the CSF's brightness ends, half-way down to the dark tissue beyond; but
    // where the fall stops on a plateau first - epidural fat, bright on T2 but less than CSF,
    // between the dura and the bone - half-way down to that plateau.
    if (dura) {
      if (runs[0].extremeValue < 0.5 * (1 + csfN)) {
        *dura = kNaN;
      } else {
        const double peak = runs[0].extremeValue, floor = runs[1].extremeValue;
        double level = 0.5 * (peak + floor);
        const long halfWay = std::lround(crossing(p, runs[0].extreme, runs[1].extreme, level));
        // A plateau: at least 1 mm, before the half-way fall, within 10 % of one value that lies
        // clearly below the peak (under 85 %) and clearly above that fall's level.
        const long need = std::max(2L, samples(1.0));
        for (long i = runs[0].extreme, sense = dir; (i - halfWay) * sense < 0; i += sense) {
          if (i - sense * need < 0 && sense < 0) break;
          const long j = i + sense * (need - 1);
          if (j < 0 || j >= static_cast<long>(p.size()) || std::isnan(p[i]) || std::isnan(p[j]))
            break;
          double lo = p[i], hi = p[i];
          for (long k = i; k != j + sense; k += sense) {
            lo = std::min(lo, p[k]);
            hi = std::max(hi, p[k]);
          }
          const double mid = 0.5 * (lo + hi);
          if (hi - lo <= 0.2 * mid && mid < 0.85 * peak && mid > level + 0.1 * (peak - floor)) {
            level = 0.5 * (peak + mid);
            break;
          }
        }
        *dura = plane.anteriorOf(crossing(p, runs[0].extreme, runs[1].extreme, level));
      }
    }
    return runs[0].extreme;
  };

  // Behind the cord at the anterior arch's height: the C1 posterior arch, the first bone behind
  // the canal (the component most rows across the arch's height meet first). Its front's most
  // anterior point is the arch's apex.
  const long atlasRow = std::lround(plane.rowOf(atlasAlong));
  double posteriorArchTop = kNaN;  // along, mm
  {
    const long bandFirst = bestFirst - samples(3), bandLast = bestLast + samples(3);
    const auto allowed = [&](long r, long c) {
      const double behind = plane.anteriorOf(cordCol[r]) - plane.anteriorOf(c);
      // A small PADI brings the arch up to (or into) the cord's outline.
      return r >= bandFirst - samples(6) && r <= bandLast + samples(6) && behind >= -2 &&
             behind <= 40;
    };
    std::vector<bool> seen(darkMask.size(), false);
    std::vector<Component> found;
    std::vector<double> votes;
    std::vector<int> owner(darkMask.size(), -1);
    for (long r = std::max(0L, bandFirst); r <= std::min(plane.rows - 1, bandLast);
         r += samples(0.5)) {
      long start = canalEnd(r, -1, nullptr);
      if (start < 0) start = std::lround(cordCol[r]);  // the cord runs into the bone
      for (long k = 0; k < samples(25); ++k) {
        const long c = start - k;
        if (c < 0) break;
        const long i = r * plane.cols + c;
        if (!darkMask[i] || !allowed(r, c)) continue;
        if (owner[i] < 0) {
          Component component = floodComponent(plane, darkMask, r, c, allowed, seen);
          const int id = static_cast<int>(found.size());
          for (const auto& [mr, mc] : component.members) owner[mr * plane.cols + mc] = id;
          found.push_back(std::move(component));
          votes.push_back(0);
        }
        if (found[owner[i]].lengthMm < 4) continue;  // a speck: walk on past it
        // The posterior arch is at the anterior arch's height: rows near it count most.
        votes[owner[i]] += std::exp(-0.5 * std::pow(mm(r - atlasRow) / 4, 2));
        break;
      }
    }
    const auto winner = std::max_element(votes.begin(), votes.end());
    if (winner != votes.end() && *winner > 0) {
      const Component& arch = found[winner - votes.begin()];
      // The front of the arch in each row, refined to the half-way crossing between its cortex
      // and the tissue in front of it.
      std::map<long, long> frontCol;
      for (const auto& [r, c] : arch.members)
        if (!frontCol.count(r) || c > frontCol[r]) frontCol[r] = c;
      const auto boneFront = [&](long r) {
        const auto it = frontCol.find(r);
        if (it == frontCol.end()) return kNaN;
        const std::vector<double> p = rowProfile(plane, r, rowHalf, darkLevel, cordLevel);
        long darkest = it->second;
        for (long c = it->second - samples(1.5); c <= it->second + samples(0.5); ++c)
          if (c >= 0 && c < plane.cols && !std::isnan(p[c]) && p[c] < p[darkest]) darkest = c;
        std::vector<double> before;
        for (long c = darkest + samples(1); c <= darkest + samples(2) && c < plane.cols; ++c)
          if (!std::isnan(p[c])) before.push_back(p[c]);
        if (before.empty()) return kNaN;
        return plane.anteriorOf(crossing(p, darkest, std::min(plane.cols - 1, darkest + samples(3)),
                                         0.5 * (p[darkest] + median(before))));
      };
      long apexRow = -1;
      double apex = -std::numeric_limits<double>::infinity();
      for (const auto& [r, c] : frontCol) {
        if (r < bandFirst || r > bandLast) continue;
        if (const double e = boneFront(r); !std::isnan(e) && e > apex) {
          apex = e;
          apexRow = r;
        }
      }
      if (apexRow >= 0) {
        // PADI on the atlantodental line when it crosses the arch; else to the arch's apex.
        const double atAtlas = boneFront(atlasRow);
        const bool onLine = !std::isnan(atAtlas) && atAtlas > apex - 1.5;
        out.c1PosteriorArchAnteriorMargin = out.toPatient(
            onLine ? PlanePoint{atlasAlong, atAtlas} : PlanePoint{plane.alongOf(apexRow), apex});
        // The arch's centre: the middle of its marrow on the apex row (front cortex, marrow, back
        // cortex going posterior), else the middle of a compact component (a ring). A long
        // component is the canal's wall merged with the arch (a smooth image): no centre.
        const std::vector<double> p = rowProfile(plane, apexRow, rowHalf, darkLevel, cordLevel);
        const std::vector<Run> behind =
            zigzagRuns(p, std::lround(plane.colOf(apex - 0.5)), -1, samples(20), 0.25);
        if (behind.size() >= 3 && mm(behind[1].width()) >= 1 && mm(behind[1].width()) <= 15)
          out.c1PosteriorArchCentre = out.toPatient(
              {plane.alongOf(apexRow), plane.anteriorOf(0.5 * (behind[1].first + behind[1].last))});
        else if (arch.lengthMm <= 20)
          out.c1PosteriorArchCentre =
              out.toPatient({plane.alongOf(arch.meanRow), plane.anteriorOf(arch.meanCol)});
        posteriorArchTop =
            std::max(plane.alongOf(frontCol.begin()->first), plane.alongOf(apexRow) - 8);
      }
    }
    double dura = kNaN;
    canalEnd(atlasRow, -1, &dura);
    if (!std::isnan(dura))
      out.canalPosteriorAtC1 = out.toPatient({atlasAlong, dura});
    else
      out.canalPosteriorAtC1 =
          out.c1PosteriorArchAnteriorMargin;  // no CSF left: the cord meets the arch
  }
  if (!std::isnan(rows[atlasRow].wallEdge))
    out.canalAnteriorAtC1 = out.toPatient({atlasAlong, rows[atlasRow].wallEdge});

  // Along the dens's axis (through the middle of the bone, averaged over +-1.5 mm across it):
  // its tip, where the marrow ends going up, plus a cortex; its base, the darkest thin line across
  // the column 8-25 mm below the tip.
  const PlanePoint densCentre =
      offset(densFrontPoint, front, -0.5 * (densMarrowWidth + out.corticalThicknessMm));
  const long axisHalf = samples(35);
  std::vector<double> column(2 * axisHalf + 1, kNaN);  // index axisHalf = the atlas line
  for (long k = -axisHalf; k <= axisHalf; ++k) {
    double sum = 0;
    int n = 0;
    for (double across = -1.5; across <= 1.5 + 1e-9; across += step) {
      const PlanePoint q = offset(offset(densCentre, axis, mm(k)), front, across);
      const double rr = plane.rowOf(q.along), cc = plane.colOf(q.anterior);
      const long r0 = static_cast<long>(std::floor(rr)), c0 = static_cast<long>(std::floor(cc));
      if (r0 < 0 || c0 < 0 || r0 + 1 >= plane.rows || c0 + 1 >= plane.cols) continue;
      const double wr = rr - r0, wc = cc - c0;
      const double v = (1 - wr) * ((1 - wc) * plane.at(r0, c0) + wc * plane.at(r0, c0 + 1)) +
                       wr * ((1 - wc) * plane.at(r0 + 1, c0) + wc * plane.at(r0 + 1, c0 + 1));
      if (!std::isnan(v)) {
        sum += v;
        ++n;
      }
    }
    if (n) column[k + axisHalf] = (sum / n - darkLevel) / (cordLevel - darkLevel);
  }
  double tipOffset = kNaN;  // mm along the axis from the atlas line (negative: up)
  {
    // Going up from the atlas line, the marrow ends at the first clear change of signal: a drop
    // below three quarters of its level (cortex, ligament), or a rise above one and a half times
    // it (fat, fluid, CSF above the tip).
    //  - A drop: the valley just beyond is the tip's cortex when it is dark enough to be one;
    //    the tip's surface is then a cortex beyond the marrow's edge. An eroded tip shows no
    //    cortex: its surface is the marrow's edge itself.
    //  - A rise: the darkest point between the atlas line and the rise is the tip's cortex;
    //    the surface is the half-way crossing from it to the brighter tissue above.
    std::vector<double> around;
    for (long i = axisHalf - samples(3); i <= axisHalf + samples(3); ++i)
      if (!std::isnan(column[i])) around.push_back(column[i]);
    const double marrowLevel = around.empty() ? kNaN : median(around);
    long change = -1;
    for (long i = axisHalf; i >= 0 && change < 0; --i) {
      if (std::isnan(column[i])) break;
      if (column[i] < 0.75 * marrowLevel || column[i] > 1.5 * marrowLevel) change = i;
    }
    if (change >= 0 && marrowLevel > 0.1) {
      if (column[change] < marrowLevel) {
        long valley = change;
        for (long i = change; i >= std::max(0L, change - samples(2)); --i)
          if (!std::isnan(column[i]) && column[i] < column[valley]) valley = i;
        const double edge =
            crossing(column, valley, axisHalf, 0.5 * (marrowLevel + column[valley]));
        const bool cortexSeen = column[valley] < 0.5 * marrowLevel;
        if (!std::isnan(edge))
          tipOffset = mm(edge - axisHalf) - (cortexSeen ? out.corticalThicknessMm : 0);
      } else {
        long valley = change;
        for (long i = change; i <= axisHalf; ++i)
          if (!std::isnan(column[i]) && column[i] < column[valley]) valley = i;
        const double edge =
            crossing(column, valley, change, 0.5 * (column[valley] + column[change]));
        if (!std::isnan(edge)) tipOffset = mm(edge - axisHalf);
      }
    }
  }
  if (!std::isnan(tipOffset)) {
    out.densTip = out.toPatient(offset(densCentre, axis, tipOffset));
    // The base: a thin dark line across the column (a valley at most ~3 mm wide).
    const long from = axisHalf + samples(tipOffset + 8),
               to = std::min<long>(column.size() - 1, axisHalf + samples(tipOffset + 25));
    const long reach = samples(2.5);
    double bestDepth = 0.25;
    long best = -1;
    for (long i = std::max(from, reach); i <= to && i + reach < static_cast<long>(column.size());
         ++i) {
      if (std::isnan(column[i]) || column[i] > column[i - 1] || column[i] > column[i + 1]) continue;
      double above = -1e9, below = -1e9;
      for (long k = 1; k <= reach; ++k) {
        if (!std::isnan(column[i - k])) above = std::max(above, column[i - k]);
        if (!std::isnan(column[i + k])) below = std::max(below, column[i + k]);
      }
      const double depth = std::min(above, below) - column[i];
      if (depth > bestDepth) {
        bestDepth = depth;
        best = i;
      }
    }
    if (best >= 0) out.densBase = out.toPatient(offset(densCentre, axis, mm(best - axisHalf)));
  }

  // The foramen magnum: the clivus's lower end (basion) in front, the occipital squama's
  // (opisthion) behind, both above the C1 arches.
  const double tipAlong = out.densTip ? densCentre.along + tipOffset * axis.along : atlasAlong - 7;
  std::vector<bool> seen(darkMask.size(), false);
  {
    const double top = plane.alongOf(bestFirst) - 0.5;
    const auto allowed = [&](long r, long c) {
      const double along = plane.alongOf(r), anterior = plane.anteriorOf(c);
      if (along > top || along < tipAlong - 25 || anterior < plane.anteriorOf(cordCol[r]) ||
          anterior > plane.anteriorOf(cordCol[r]) + 40)
        return false;
      // Not the dens (in cranial settling its tip rises past the basion).
      const double dAlong = along - densCentre.along, dAnterior = anterior - densCentre.anterior;
      const double u = dAlong * axis.along + dAnterior * axis.anterior,
                   w = dAlong * front.along + dAnterior * front.anterior;
      return !(std::abs(w) < 0.5 * (densMarrowWidth + out.corticalThicknessMm) + 1.5 &&
               (std::isnan(tipOffset) || u > tipOffset - 1.5));
    };
    // The basion is the clivus's point nearest the dens's tip (the basion-dens interval).
    const PlanePoint tipPoint = offset(densCentre, axis, std::isnan(tipOffset) ? -7.0 : tipOffset);
    for (double above = 10; above <= 20 && !out.basion; above += 2) {
      const long r = std::lround(plane.rowOf(tipAlong - above));
      if (r < 0) break;
      if (const long c = canalEnd(r, +1, nullptr); c >= 0)
        if (auto bone =
                componentAlongRow(plane, darkMask, r, c, +1, samples(30), allowed, seen, 10))
          out.basion = out.toPatient(componentEnd(plane, *bone, tipPoint));
    }
  }
  {
    // Above the posterior arch (its top, or 6 mm above the atlas line when it was not found).
    const double top = (std::isnan(posteriorArchTop) ? atlasAlong - 6 : posteriorArchTop) - 1;
    const auto allowed = [&](long r, long c) {
      const double along = plane.alongOf(r),
                   anterior = plane.anteriorOf(c) - plane.anteriorOf(cordCol[r]);
      return along <= top && along >= top - 25 && anterior <= -3 && anterior >= -40;
    };
    for (double above = 12; above <= 24 && !out.opisthion; above += 2) {
      const long r = std::lround(plane.rowOf(top + 1 - above + 4));
      if (r < 0) break;
      if (const long c = canalEnd(r, -1, nullptr); c >= 0)
        if (auto bone =
                componentAlongRow(plane, darkMask, r, c, -1, samples(30), allowed, seen, 10))
          out.opisthion = out.toPatient(slabEnd(plane, *bone));
    }
  }
  return out;
}

}  // namespace cordscope
