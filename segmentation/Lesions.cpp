#include "segmentation/Lesions.h"

#include <itkConnectedComponentImageFilter.h>
#include <itkImageRegionConstIteratorWithIndex.h>

#include <algorithm>
#include <array>
#include <climits>
#include <cmath>
#include <limits>
#include <map>

#include "core/Baseline.h"
#include "core/Statistics.h"

namespace cordscope {
namespace {

// Robust local-linear smoothing of a sampled function (tricube x bisquare weights, +-window
// samples); NaN samples carry no weight and are filled.
std::vector<double> robustSmooth(const std::vector<double>& y, long window) {
  const long n = static_cast<long>(y.size());
  std::vector<double> robustness(n, 1.0), fit(n, std::numeric_limits<double>::quiet_NaN());
  for (int iteration = 0; iteration < 4; ++iteration) {
    for (long i = 0; i < n; ++i) {
      double s0 = 0, s1 = 0, s2 = 0, t0 = 0, t1 = 0;
      for (long k = std::max(0L, i - window); k <= std::min(n - 1, i + window); ++k) {
        if (std::isnan(y[k])) continue;
        const double t = static_cast<double>(k - i);
        const double u = std::abs(t) / (window + 1);
        const double c = 1 - u * u * u;
        const double w = c * c * c * robustness[k];
        s0 += w;
        s1 += w * t;
        s2 += w * t * t;
        t0 += w * y[k];
        t1 += w * t * y[k];
      }
      const double det = s0 * s2 - s1 * s1;
      if (s0 <= 0) continue;
      fit[i] = std::abs(det) > 1e-9 * s0 * s0 ? (s2 * t0 - s1 * t1) / det : t0 / s0;
    }
    std::vector<double> residual;
    for (long i = 0; i < n; ++i)
      if (!std::isnan(y[i]) && !std::isnan(fit[i])) residual.push_back(std::abs(y[i] - fit[i]));
    const double scale = 6.0 * percentile(residual, 0.5);
    if (!(scale > 0)) break;
    for (long i = 0; i < n; ++i) {
      if (std::isnan(y[i]) || std::isnan(fit[i])) continue;
      const double u = std::abs(y[i] - fit[i]) / scale;
      robustness[i] = u < 1 ? (1 - u * u) * (1 - u * u) : 0.0;
    }
  }
  fillGapsWithNearest(fit);  // ends or gaps with nothing nearby
  return fit;
}

// Each lesion's extent along the cord (top, bottom arc).
std::vector<std::pair<double, double>> lesionExtents(
    const std::vector<std::vector<LesionVoxel>>& lesions) {
  std::vector<std::pair<double, double>> extents;
  for (const auto& l : lesions) {
    double top = 1e300, bottom = -1e300;
    for (const LesionVoxel& v : l) {
      top = std::min(top, v.where.arcMm);
      bottom = std::max(bottom, v.where.arcMm);
    }
    if (top <= bottom) extents.emplace_back(top, bottom);
  }
  return extents;
}

// Sector means of the cord's interior (n above the cord's level) over +-faintHalfMm and
// +-faintShortHalfMm, away from
// the lesions: runs of sections where a sector stands faintFloor and faintStandardErrors above,
// one FaintSignal per run, strongest first. `forEachInterior(visit)` calls visit(position, excess)
// for every interior cord voxel.
template <typename ForEach>
std::vector<FaintSignal> findFaintSignal(const std::vector<CrossSection>& sections, double step,
                                         const std::vector<std::pair<double, double>>& lesions,
                                         const LesionOptions& o, ForEach&& forEachInterior,
                                         double spread) {
  static const char* const kSectorNames[] = {"central", "ventral", "dorsal", "lateral"};
  constexpr int kSectors = 4;
  const long count = static_cast<long>(sections.size());
  std::vector<std::array<double, kSectors>> sum(count), number(count);
  forEachInterior([&](const CordPosition& w, double excess) {
    const CrossSection& s = sections[w.section];
    const double a = w.anteriorMm / std::max(0.5, 0.5 * s.apMm);
    const double l = w.lateralMm / std::max(0.5, 0.5 * s.rlMm);
    const int q = std::hypot(a, l) < 0.4 ? 0 : std::abs(a) >= std::abs(l) ? (a > 0 ? 1 : 2) : 3;
    sum[w.section][q] += excess;
    number[w.section][q] += 1;
  });
  const auto nearLesion = [&](double arc) {
    for (const auto& [top, bottom] : lesions)
      if (arc >= top - o.joinGapMm && arc <= bottom + o.joinGapMm) return true;
    return false;
  };
  std::vector<FaintSignal> found;
  for (const double halfMm : {o.faintHalfMm, o.faintShortHalfMm}) {
    const long half = std::max(1L, static_cast<long>(std::lround(halfMm / step)));
    for (int q = 0; q < kSectors; ++q) {
      FaintSignal run;
      bool open = false;
      const auto close = [&] {
        if (open) found.push_back(run);
        open = false;
      };
      for (long i = 0; i < count; ++i) {
        double total = 0, n = 0;
        for (long k = std::max(0L, i - half); k <= std::min(count - 1, i + half); ++k) {
          total += sum[k][q];
          n += number[k][q];
        }
        const double mean = n > 0 ? total / n : 0;
        const double errors = n > 0 ? mean * std::sqrt(n) / std::max(spread, 1e-6) : 0;
        if (n < o.faintMinVoxels || mean < o.faintFloor || errors < o.faintStandardErrors ||
            nearLesion(sections[i].arcMm)) {
          close();
          continue;
        }
        const double top = sections[std::max(0L, i - half)].arcMm;
        const double bottom = sections[std::min(count - 1, i + half)].arcMm;
        if (!open) {
          run = FaintSignal{top, bottom, kSectorNames[q], mean, errors};
          open = true;
        }
        run.bottomArcMm = bottom;
        if (errors > run.standardErrors) {
          run.meanExcess = mean;
          run.standardErrors = errors;
        }
      }
      close();
    }
  }
  std::sort(found.begin(), found.end(), [](const FaintSignal& a, const FaintSignal& b) {
    return a.standardErrors > b.standardErrors;
  });
  // The two windows see the same signal: one run per sector and stretch, the strongest.
  std::vector<FaintSignal> distinct;
  for (const FaintSignal& f : found) {
    const bool seen = std::any_of(distinct.begin(), distinct.end(), [&](const FaintSignal& d) {
      return d.sector == f.sector && f.topArcMm <= d.bottomArcMm && f.bottomArcMm >= d.topArcMm;
    });
    if (!seen) distinct.push_back(f);
  }
  return distinct;
}

}  // namespace

LesionSegmentation segmentLesions(const Volume& volume, const CordSegmentation& cord,
                                  const LesionOptions& o) {
  const Image* image = volume.image.GetPointer();
  LesionSegmentation out;
  out.mask = Mask::New();
  out.mask->CopyInformation(image);
  out.mask->SetRegions(image->GetLargestPossibleRegion());
  out.mask->Allocate();
  out.mask->FillBuffer(0);
  const auto spacing = image->GetSpacing();
  out.voxelVolumeMm3 = spacing[0] * spacing[1] * spacing[2];
  if (!cord.found || cord.sections.size() < 3) {
    out.note = "no cord, so no lesions were looked for";
    return out;
  }
  if (cord.centerline.csfSign < 0) {
    out.note =
        "T1-like contrast (CSF darker than cord): T2 hyperintensities cannot be assessed "
        "on this series";
    return out;
  }
  out.looked = true;
  const auto& sections = cord.sections;
  const std::size_t count = sections.size();
  const double step = sections[1].arcMm - sections[0].arcMm;
  {  // a voxel's depth along the cord's tangent, at the middle section
    const Vec3 t = sections[count / 2].tangent;
    const auto d = image->GetDirection();
    double extent = 0;
    for (int k = 0; k < 3; ++k)
      extent += std::abs(t[0] * d[0][k] + t[1] * d[1][k] + t[2] * d[2][k]) * spacing[k];
    out.voxelExtentAlongCordMm = extent;
  }

  // 1. Every canal voxel in the cord's frame.
  struct Voxel {
    std::size_t offset;
    CordPosition where;
    float value;
    bool inCord;
  };
  std::vector<Voxel> voxels;
  {
    std::size_t hint = count;
    itk::ImageRegionConstIteratorWithIndex<Mask> it(cord.canal, cord.canal->GetBufferedRegion());
    const auto size = image->GetLargestPossibleRegion().GetSize();
    for (; !it.IsAtEnd(); ++it) {
      if (!it.Get()) continue;
      const auto index = it.GetIndex();
      Image::PointType p;
      image->TransformIndexToPhysicalPoint(index, p);
      const std::size_t offset = index[0] + size[0] * (index[1] + size[1] * index[2]);
      voxels.push_back({offset, locateOnCord(sections, {p[0], p[1], p[2]}, hint),
                        image->GetBufferPointer()[offset],
                        cord.cord->GetBufferPointer()[offset] != 0});
    }
  }

  // 2. Cord and CSF levels per section (+-2 mm pooled), fitted robustly along the cord.
  std::vector<std::vector<double>> cordValues(count), csfValues(count);
  for (const Voxel& v : voxels)
    (v.inCord ? cordValues : csfValues)[v.where.section].push_back(v.value);
  const long pool = std::max(1L, static_cast<long>(std::lround(2.0 / step)));
  const bool enoughMeasured = std::count_if(sections.begin(), sections.end(),
                                            [](const CrossSection& s) { return s.measured; }) >=
                              o.minMeasuredFraction * static_cast<double>(count);
  std::vector<double> cordRaw(count), csfRaw(count);
  for (long i = 0; i < static_cast<long>(count); ++i) {
    std::vector<double> c, f;
    for (long k = std::max(0L, i - pool); k <= std::min<long>(count - 1, i + pool); ++k) {
      c.insert(c.end(), cordValues[k].begin(), cordValues[k].end());
      f.insert(f.end(), csfValues[k].begin(), csfValues[k].end());
    }
    // Where the outline was not measured (modelled from the canal where a lesion as bright as CSF
    // hid or cut the cord, or interpolated between such stations), the voxels inside it are the
    // lesion's, not the cord's normal level: that level comes from the measured cord on either
    // side (a long lesion would otherwise set its own reference).
    const bool clean = sections[i].measured || !enoughMeasured;
    cordRaw[i] =
        clean && c.size() >= 5 ? percentile(c, 0.3) : std::numeric_limits<double>::quiet_NaN();
    csfRaw[i] = f.size() >= 5 ? percentile(f, 0.75) : std::numeric_limits<double>::quiet_NaN();
  }
  const long window = static_cast<long>(std::lround(o.fitWindowMm / step));
  const std::vector<double> cordLocal = robustSmooth(cordRaw, window);
  const std::vector<double> csfLevel = robustSmooth(csfRaw, window);
  // A lesion longer than the fit's window fills it and lifts the fitted cord level to its own:
  // holocord lesions of 100 mm at 0.4 of the way to CSF were not found (random-23-8). The coil
  // scales cord and CSF alike, so their ratio changes slowly along the cord, and a lesion only
  // raises it: its lower envelope (asymmetric least squares, bridging under a plateau however
  // long) times the CSF level is where the normal cord can be. Where the local fit stands above
  // that by more than baselineMargin of the contrast over at least a fit window, it was lifted
  // by a lesion and the envelope is used; a shorter excursion is the envelope's own misfit (it is
  // stiffer than the local fit), which the robust local fit already handles.
  std::vector<double> ratio(count);
  for (long i = 0; i < static_cast<long>(count); ++i) ratio[i] = cordRaw[i] / csfLevel[i];
  BaselineOptions envelope;
  envelope.lambda = std::pow(o.fitWindowMm / step, 4);
  envelope.asymmetry = o.baselineAsymmetry;
  const std::vector<double> ratioFloor = asymmetricBaseline(ratio, envelope);
  std::vector<double> lifted(count, std::numeric_limits<double>::quiet_NaN());
  for (long i = 0; i < static_cast<long>(count); ++i) {
    const double floor = ratioFloor[i] * csfLevel[i];
    const double limit = floor + o.baselineMargin * (csfLevel[i] - floor);
    if (std::isfinite(limit) && cordLocal[i] > limit) lifted[i] = limit;
  }
  std::vector<double> cordLevel = cordLocal;
  for (long i = 0; i < static_cast<long>(count);) {
    long j = i;
    while (!std::isnan(lifted[i]) && j + 1 < static_cast<long>(count) && !std::isnan(lifted[j + 1]))
      ++j;
    if (!std::isnan(lifted[i]) && sections[j].arcMm - sections[i].arcMm >= o.fitWindowMm)
      std::copy(lifted.begin() + i, lifted.begin() + j + 1, cordLevel.begin() + i);
    i = j + 1;
  }

  // 3. Normalised intensity; thresholds from the cord interior's own spread.
  // Interior: the whole voxel, not only its centre, inside `interior` x the cord's semi-axes -
  // a thick slice at the cord's side mixes cord and CSF even when its centre is well inside.
  const auto direction = image->GetDirection();
  const auto halfExtent = [&](const Vec3& axis) {
    double h = 0;
    for (int k = 0; k < 3; ++k)
      h += std::abs(axis[0] * direction[0][k] + axis[1] * direction[1][k] +
                    axis[2] * direction[2][k]) *
           spacing[k];
    return 0.5 * h;
  };
  std::vector<double> halfAnterior(count), halfLateral(count);
  for (std::size_t i = 0; i < count; ++i) {
    halfAnterior[i] = halfExtent(sections[i].anterior);
    halfLateral[i] = halfExtent(normalized(cross(sections[i].tangent, sections[i].anterior)));
  }
  const auto within = [&](const CordPosition& w, double fraction) {
    const CrossSection& s = sections[w.section];
    const double a =
        (std::abs(w.anteriorMm) + halfAnterior[w.section]) / std::max(0.5, 0.5 * s.apMm);
    const double l = (std::abs(w.lateralMm) + halfLateral[w.section]) / std::max(0.5, 0.5 * s.rlMm);
    return a * a + l * l <= fraction * fraction;
  };
  const auto interior = [&](const CordPosition& w) { return within(w, o.interior); };
  // The CSF-cord contrast, never below half its median along the cord (a section whose CSF is
  // crowded out - compression, a canal outline that missed - must not magnify noise).
  std::vector<double> contrasts(count), defined;
  for (std::size_t i = 0; i < count; ++i) {
    contrasts[i] = csfLevel[i] - cordLevel[i];
    if (std::isfinite(contrasts[i])) defined.push_back(contrasts[i]);
  }
  const double typicalContrast = percentile(defined, 0.5);
  if (!(typicalContrast > 0)) {
    out.looked = false;
    out.note =
        "no CSF brighter than the cord was found around it, so its intensity cannot be "
        "judged";
    return out;
  }
  for (double& c : contrasts)
    if (!std::isfinite(c)) c = typicalContrast;
  // The noise is read on sections at the cord's normal level: a holocord lesion over 60 % of the
  // cord puts the 30th percentile of the whole interior inside the lesion, and the spread read
  // below it doubled the seed threshold (unseen draw random-23-4: C3-T2, 124 mm at 0.26 of CSF,
  // spread 0.078 -> seed 0.45, not found). A section is at its normal level when its own cord
  // level (30th percentile) is within noiseSectionLimit of the fitted one.
  std::vector<double> normalised(voxels.size(), 0.0), inside, insideNormal;
  std::vector<bool> normalSection(count, true);
  for (std::size_t i = 0; i < count; ++i) {
    const double contrast = std::max(contrasts[i], 0.5 * typicalContrast);
    if (std::isfinite(cordRaw[i]) && (cordRaw[i] - cordLevel[i]) / contrast > o.noiseSectionLimit)
      normalSection[i] = false;
  }
  for (std::size_t k = 0; k < voxels.size(); ++k) {
    const std::size_t i = voxels[k].where.section;
    const double contrast = std::max(contrasts[i], 0.5 * typicalContrast);
    normalised[k] = contrast > 0 ? (voxels[k].value - cordLevel[i]) / contrast : 0.0;
    if (voxels[k].inCord && within(voxels[k].where, o.growWithin)) {
      inside.push_back(normalised[k]);
      if (normalSection[i]) insideNormal.push_back(normalised[k]);
    }
  }
  // Too few such voxels (a lesion over most of the cord, or a fit that missed): all of them.
  const std::vector<double>& noiseSample =
      insideNormal.size() >= o.noiseMinNormalShare * static_cast<double>(inside.size())
          ? insideNormal
          : inside;
  if (inside.size() < 20) {
    out.looked = false;
    out.note = "the cord is too small in this image to judge its intensity";
    return out;
  }
  // Noise from the lower side of the distribution: lesions only add to the upper side, and a long
  // lesion can fill much of the cord's interior (5th and 30th percentiles of a normal
  // distribution are 1.12 SD apart).
  const double low = percentile(noiseSample, 0.05), lower = percentile(noiseSample, 0.30);
  const double spread = std::max(1e-6, (lower - low) / 1.12);
  const double centre = lower + 0.524 * spread;
  out.seedThreshold = std::max(o.seedFloor, centre + o.seedSpreads * spread);
  out.growThreshold = std::max(o.growFloor, centre + o.growSpreads * spread);

  // Voxels at the cord's edge (their centre inside the outline, the whole voxel not): partly CSF,
  // so bright without a lesion, and left out above - but a lesion in a lateral column of a cord
  // scanned in 3 mm sagittal slices lies only in such voxels. Their partial volume is modelled:
  // the fraction of the voxel's footprint in the section outside the cord's ellipse is what CSF
  // alone would add to n (0 in cord, 1 in CSF); what a voxel holds above that, beyond the model's
  // error, is lesion. A lateral lesion as bright as CSF: n 0.9-1.0 where the voxel at the same
  // offset on the other side reads 0.2-0.3 (real-anatomy random-11-16).
  const auto outsideFraction = [&](const CordPosition& w) {
    const CrossSection& s = sections[w.section];
    const double ra = std::max(0.5, 0.5 * s.apMm), rl = std::max(0.5, 0.5 * s.rlMm);
    constexpr int kSubsamples = 5;
    int outside = 0;
    for (int i = 0; i < kSubsamples; ++i)
      for (int j = 0; j < kSubsamples; ++j) {
        const double a = w.anteriorMm + halfAnterior[w.section] * ((2.0 * i + 1) / kSubsamples - 1);
        const double l = w.lateralMm + halfLateral[w.section] * ((2.0 * j + 1) / kSubsamples - 1);
        outside += (a / ra) * (a / ra) + (l / rl) * (l / rl) > 1.0;
      }
    return static_cast<double>(outside) / (kSubsamples * kSubsamples);
  };
  std::vector<double> edgeExcess(voxels.size(), -1e300);  // n beyond partial volume, edge voxels
  for (std::size_t k = 0; k < voxels.size() && out.voxelExtentAlongCordMm <= o.edgeMaxAlongCordMm;
       ++k) {
    if (!voxels[k].inCord || within(voxels[k].where, o.growWithin)) continue;
    const double outside = outsideFraction(voxels[k].where);
    if (outside <= o.edgeMaxOutside) edgeExcess[k] = normalised[k] - outside - o.edgeModelError;
  }

  // 4. Candidates above the grow threshold; components with a seed (interior, or an edge voxel
  // bright beyond its partial volume).
  auto candidates = Mask::New();
  candidates->CopyInformation(image);
  candidates->SetRegions(image->GetLargestPossibleRegion());
  candidates->Allocate();
  candidates->FillBuffer(0);
  for (std::size_t k = 0; k < voxels.size(); ++k)
    if ((voxels[k].inCord && normalised[k] >= out.growThreshold &&
         within(voxels[k].where, o.growWithin)) ||
        edgeExcess[k] >= out.growThreshold)
      candidates->GetBufferPointer()[voxels[k].offset] = 1;
  using Labels = itk::Image<unsigned int, 3>;
  auto connected = itk::ConnectedComponentImageFilter<Mask, Labels>::New();
  connected->SetInput(candidates);
  connected->FullyConnectedOn();
  connected->Update();
  const unsigned int* component = connected->GetOutput()->GetBufferPointer();
  struct Extent {
    double top = 1e300, bottom = -1e300;
    bool seeded = false;
    std::vector<std::size_t> members;  // indices into voxels
  };
  std::map<unsigned int, Extent> components;
  for (std::size_t k = 0; k < voxels.size(); ++k) {
    const unsigned int c = component[voxels[k].offset];
    if (c == 0) continue;
    Extent& e = components[c];
    e.top = std::min(e.top, voxels[k].where.arcMm);
    e.bottom = std::max(e.bottom, voxels[k].where.arcMm);
    e.seeded = e.seeded || (normalised[k] >= out.seedThreshold && interior(voxels[k].where)) ||
               edgeExcess[k] >= out.seedThreshold;
    e.members.push_back(k);
  }

  // 5. One lesion per run of seeded components along the cord with gaps under joinGapMm.
  std::vector<Extent> seeded;
  for (auto& [id, e] : components)
    if (e.seeded) seeded.push_back(std::move(e));
  std::sort(seeded.begin(), seeded.end(),
            [](const Extent& a, const Extent& b) { return a.top < b.top; });
  std::vector<Extent> lesions;
  for (Extent& e : seeded) {
    if (!lesions.empty() && e.top <= lesions.back().bottom + o.joinGapMm) {
      Extent& l = lesions.back();
      l.bottom = std::max(l.bottom, e.bottom);
      l.members.insert(l.members.end(), e.members.begin(), e.members.end());
    } else {
      lesions.push_back(std::move(e));
    }
  }
  // 6. A lesion's ends are where its cross-section is still a lesion's: a tail of scattered
  // voxels along the cord's edge (partial volume with CSF where the outline runs a fraction of
  // a voxel wide, joined to a real lesion) is trimmed. The section area (pooled over +-1 mm)
  // must reach tailFraction of the lesion's median section area, and its brightest voxel half
  // the lesion's peak signal (over the cord's own level): the lesion's extent at half its
  // maximum, as a reader judges where a bright lesion fades into the cord.
  for (Extent& l : lesions) {
    std::map<long, double> members, brightest;  // per section
    for (std::size_t k : l.members) {
      const long section = static_cast<long>(voxels[k].where.section);
      members[section] += 1;
      brightest[section] =
          std::max(brightest.count(section) ? brightest[section] : -1e300, normalised[k]);
    }
    std::vector<double> peaks;
    for (const auto& [section, b] : brightest) peaks.push_back(b);
    const double halfPeak = o.halfMaximum * percentile(peaks, 0.9);
    const long reach = std::max(1L, static_cast<long>(std::lround(1.0 / step)));
    std::map<long, double> area;
    std::vector<double> areas;
    for (const auto& [section, n] : members) {
      double pooled = 0;
      for (long k = section - reach; k <= section + reach; ++k)
        if (const auto it = members.find(k); it != members.end()) pooled += it->second;
      area[section] = pooled * out.voxelVolumeMm3 / ((2 * reach + 1) * step);
      areas.push_back(area[section]);
    }
    const double floor = o.tailFraction * median(areas);
    long first = LONG_MAX, last = LONG_MIN;
    for (const auto& [section, a] : area) {
      double b = -1e300;  // brightest within the pooled section
      for (long k = section - reach; k <= section + reach; ++k)
        if (const auto it = brightest.find(k); it != brightest.end()) b = std::max(b, it->second);
      if (a >= floor && b >= halfPeak) {
        first = std::min(first, section);
        last = std::max(last, section);
      }
    }
    if (first > last) continue;
    std::vector<std::size_t> kept;
    for (std::size_t k : l.members) {
      const long section = static_cast<long>(voxels[k].where.section);
      if (section >= first - reach && section <= last + reach) kept.push_back(k);
    }
    if (kept.empty() || kept.size() == l.members.size()) continue;
    l.members = kept;
    l.top = 1e300;
    l.bottom = -1e300;
    for (std::size_t k : kept) {
      l.top = std::min(l.top, voxels[k].where.arcMm);
      l.bottom = std::max(l.bottom, voxels[k].where.arcMm);
    }
  }
  for (const Extent& l : lesions) {
    const double length = l.bottom - l.top + out.voxelExtentAlongCordMm;
    const double volumeMm3 = l.members.size() * out.voxelVolumeMm3;
    if (length < o.minLengthMm && volumeMm3 < o.minVolumeMm3) continue;
    if (out.lesions.size() >= 255) break;  // the mask holds ids up to 255
    const auto id = static_cast<unsigned char>(out.lesions.size() + 1);
    std::vector<LesionVoxel> members;
    for (std::size_t k : l.members) {
      out.mask->GetBufferPointer()[voxels[k].offset] = id;
      members.push_back({voxels[k].where, voxels[k].value, cordLevel[voxels[k].where.section]});
    }
    out.lesions.push_back(std::move(members));
  }
  out.faint = findFaintSignal(
      sections, step, lesionExtents(out.lesions), o,
      [&](auto&& visit) {
        for (std::size_t k = 0; k < voxels.size(); ++k)
          if (voxels[k].inCord && interior(voxels[k].where))
            visit(voxels[k].where, normalised[k] - centre);
      },
      spread);
  return out;
}

}  // namespace cordscope
