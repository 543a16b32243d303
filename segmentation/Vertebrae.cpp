#include "segmentation/Vertebrae.h"

#include <itkImageRegionConstIteratorWithIndex.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/ImageSampler.h"
#include "core/Statistics.h"
#include "data/Error.h"
#include "data/Levels.h"
#include "data/Nifti.h"

namespace cordscope {
namespace {

constexpr double kNegInf = -std::numeric_limits<double>::infinity();

// Mean intensity of the column band in front of the canal at each section; NaN where the band
// is outside the image.
std::vector<double> columnProfile(const ImageSampler& sampler,
                                  const std::vector<CrossSection>& sections,
                                  const VertebraeOptions& o) {
  std::vector<double> profile(sections.size(), std::numeric_limits<double>::quiet_NaN());
  for (std::size_t i = 0; i < sections.size(); ++i) {
    const CrossSection& s = sections[i];
    const Vec3 lateral = normalized(cross(s.tangent, s.anterior));
    double sum = 0;
    int count = 0;
    for (double d = s.canalAnteriorMm + o.bandNearMm; d <= s.canalAnteriorMm + o.bandFarMm + 1e-9;
         d += 1.0)
      for (double w = -o.bandHalfWidthMm; w <= o.bandHalfWidthMm + 1e-9; w += 1.5)
        if (const auto v = sampler.at(s.centre + d * s.anterior + w * lateral)) {
          sum += *v;
          ++count;
        }
    if (count > 0) profile[i] = sum / count;
  }
  // Gaps (band outside the image) take the nearest measured value: flat, so no disc there.
  fillGapsWithNearest(profile);
  for (double& v : profile)
    if (std::isnan(v)) v = 0;
  return profile;
}

// Convolution with a sampled kernel, ends replicated.
std::vector<double> convolve(const std::vector<double>& x, const std::vector<double>& kernel) {
  const long n = static_cast<long>(x.size()), r = static_cast<long>(kernel.size() / 2);
  std::vector<double> out(x.size(), 0.0);
  for (long i = 0; i < n; ++i) {
    double sum = 0;
    for (long k = -r; k <= r; ++k) sum += kernel[k + r] * x[std::clamp(i + k, 0L, n - 1)];
    out[i] = sum;
  }
  return out;
}

std::vector<double> gaussianKernel(double sigma, int derivative) {
  const long r = std::max(1L, static_cast<long>(std::ceil(4 * sigma)));
  std::vector<double> k(2 * r + 1);
  double norm0 = 0;
  for (long i = -r; i <= r; ++i) norm0 += std::exp(-0.5 * i * i / (sigma * sigma));
  for (long i = -r; i <= r; ++i) {
    const double g = std::exp(-0.5 * i * i / (sigma * sigma)) / norm0;
    // Second derivative, scale-normalised (x sigma^2) so its size does not depend on sigma.
    k[i + r] = derivative == 2 ? (i * i / (sigma * sigma) - 1.0) * g : g;
  }
  if (derivative == 2) {  // zero sum: a flat profile answers nothing
    double mean = 0;
    for (double v : k) mean += v;
    mean /= k.size();
    for (double& v : k) v -= mean;
  }
  return k;
}

struct Likeness {
  std::vector<double> strength;    // line strength (scale-normalised |LoG|, merged over a disc)
  std::vector<double> normalised;  // strength over its local maximum: about 1 at each disc
};

// Disc-likeness per section.
Likeness discLikeness(const std::vector<double>& profile, double stepMm,
                      const VertebraeOptions& o) {
  std::vector<double> line = convolve(profile, gaussianKernel(o.lineSigmaMm / stepMm, 2));
  for (double& v : line) v = std::abs(v);
  std::vector<double> merged = convolve(line, gaussianKernel(o.mergeSigmaMm / stepMm, 0));
  const long n = static_cast<long>(merged.size());
  const long window = static_cast<long>(std::lround(o.localWindowMm / stepMm));
  std::vector<double> local(merged.size());
  for (long i = 0; i < n; ++i) {
    double m = 0;
    for (long k = std::max(0L, i - window); k <= std::min(n - 1, i + window); ++k)
      m = std::max(m, merged[k]);
    local[i] = m;
  }
  local = convolve(local, gaussianKernel(0.5 * window, 0));
  double global = 0;
  for (double v : merged) global = std::max(global, v);
  Likeness out{merged, std::vector<double>(merged.size(), 0.0)};
  for (long i = 0; i < n; ++i)
    out.normalised[i] = merged[i] / std::max(local[i], 1e-6 * std::max(global, 1e-30));
  return out;
}

// The chain of discs (section indices, cranial first) maximising sum(likeness - presence) minus
// spacingChange x (relative change of spacing)^2 between consecutive spacings.
std::vector<std::size_t> discChain(const std::vector<double>& likeness, double stepMm,
                                   const VertebraeOptions& o) {
  const long n = static_cast<long>(likeness.size());
  const long gMin = static_cast<long>(std::lround(o.minSpacingMm / stepMm));
  const long gMax = static_cast<long>(std::lround(o.maxSpacingMm / stepMm));
  if (n <= gMin) return {};
  const long gCount = gMax + 1;
  std::vector<double> best(static_cast<std::size_t>(n * gCount), kNegInf);
  std::vector<long> back(static_cast<std::size_t>(n * gCount), -1);  // previous spacing, -1: start
  const auto at = [&](long i, long g) { return static_cast<std::size_t>(i * gCount + g); };
  double top = kNegInf;
  long topI = -1, topG = -1;
  for (long i = 0; i < n; ++i) {
    const double gain = likeness[i] - o.presence;
    for (long g = gMin; g <= std::min(gMax, i); ++g) {
      const long j = i - g;
      double value = likeness[j] - o.presence;  // j starts the chain
      long from = -1;
      for (long h = gMin; h <= gMax; ++h) {
        const double previous = best[at(j, h)];
        if (previous == kNegInf) continue;
        const double change = static_cast<double>(g - h) / h;
        const double candidate = previous - o.spacingChange * change * change;
        if (candidate > value) {
          value = candidate;
          from = h;
        }
      }
      best[at(i, g)] = value + gain;
      back[at(i, g)] = from;
      if (best[at(i, g)] > top) {
        top = best[at(i, g)];
        topI = i;
        topG = g;
      }
    }
  }
  std::vector<std::size_t> chain;
  if (topI < 0 || top <= 0) return chain;
  long i = topI, g = topG;
  chain.push_back(static_cast<std::size_t>(i));
  while (g > 0) {
    const long j = i - g;
    chain.push_back(static_cast<std::size_t>(j));
    const long previous = back[at(i, g)];
    i = j;
    g = previous;
  }
  std::reverse(chain.begin(), chain.end());
  return chain;
}

double arcOf(const std::vector<CrossSection>& sections, const Vec3& point) {
  std::size_t hint = sections.size();  // no hint: start from the nearest centre
  return locateOnCord(sections, point, hint).arcMm;
}

// Level of the cord at arc a, from named discs (sorted by arc): the vertebra below the last disc
// above it; above the first disc, the vertebra above that disc.
int levelAt(const std::vector<Disc>& named, double arc) {
  int level = named.front().lowerVertebra - 1;
  for (const Disc& d : named)
    if (d.arcMm <= arc) level = d.lowerVertebra;
  return level;
}

Mask::Pointer levelMapOf(const CordSegmentation& cord, const std::vector<Disc>& named) {
  auto map = Mask::New();
  map->CopyInformation(cord.cord);
  map->SetRegions(cord.cord->GetLargestPossibleRegion());
  map->Allocate();
  map->FillBuffer(0);
  if (named.empty() || cord.sections.empty()) return map;
  std::size_t hint = cord.sections.size();
  itk::ImageRegionConstIteratorWithIndex<Mask> it(cord.cord, cord.cord->GetBufferedRegion());
  for (; !it.IsAtEnd(); ++it) {
    if (!it.Get()) continue;
    Mask::PointType physical;
    cord.cord->TransformIndexToPhysicalPoint(it.GetIndex(), physical);
    const double arc =
        locateOnCord(cord.sections, {physical[0], physical[1], physical[2]}, hint).arcMm;
    const int level = std::clamp(levelAt(named, arc), 1, 255);
    map->SetPixel(it.GetIndex(), static_cast<unsigned char>(level));
  }
  return map;
}

// The patient's cervical level height: the median spacing between consecutive chain discs in
// the upper reachMm of the cord (the neck; thoracic levels are a third taller and would inflate
// it in a whole-spine series).
double levelHeight(const std::vector<Disc>& chain, const VertebraeOptions& o, double reachMm) {
  std::vector<double> spacings;
  for (std::size_t k = 1; k < chain.size() && chain[k].arcMm <= reachMm; ++k) {
    const double d = chain[k].arcMm - chain[k - 1].arcMm;
    if (d >= o.minSpacingMm && d <= o.maxSpacingMm) spacings.push_back(d);
  }
  return spacings.empty() ? 0.5 * (o.minSpacingMm + o.maxSpacingMm) : median(spacings);
}

// Which chain disc is C2-C3: every anchor found predicts its arc (VertebraeOptions); each chain
// disc is scored by the sum of the anchors' Gaussian log-likelihoods, and the posterior of the
// best (over the chain discs) is the naming confidence. Anchors whose own best disc differs are
// doubts. Empty when no anchor is available or no chain disc lies near their prediction.
std::optional<double> chooseC2C3(const std::vector<Disc>& chain,
                                 const std::vector<CrossSection>& sections,
                                 const CordSegmentation& cord, const VertebraeOptions& o,
                                 VertebralLabels& out) {
  if (chain.empty()) return std::nullopt;
  const double h = levelHeight(chain, o, o.cervicalReachMm);
  std::vector<NamingAnchor> anchors;
  const auto add = [&](const std::string& name, double fromArc, const double(&rule)[2]) {
    anchors.push_back({name, fromArc + rule[0] * h, rule[1] * h, "", true});
  };
  if (o.densBase) add("dens base", arcOf(sections, *o.densBase), o.c2c3BelowDensBase);
  if (o.densTip) add("dens tip", arcOf(sections, *o.densTip), o.c2c3BelowDensTip);
  if (cord.topIsJunction) add("foramen magnum", 0.0, o.c2c3BelowJunction);
  if (anchors.empty()) return std::nullopt;
  // Log-likelihood of each chain disc under each anchor.
  std::vector<double> total(chain.size(), 0.0);
  for (NamingAnchor& a : anchors) {
    std::size_t own = 0;
    for (std::size_t k = 0; k < chain.size(); ++k) {
      const double z = (chain[k].arcMm - a.predictedArcMm) / a.sdMm;
      total[k] += -0.5 * z * z;
      if (std::abs(chain[k].arcMm - a.predictedArcMm) <
          std::abs(chain[own].arcMm - a.predictedArcMm))
        own = k;
    }
    a.points = std::to_string(own);  // replaced by a name below
  }
  const std::size_t best =
      static_cast<std::size_t>(std::max_element(total.begin(), total.end()) - total.begin());
  // The chosen disc must lie within 2.5 sd of every anchor's prediction taken together: a chain
  // that misses C2-C3 altogether is not named.
  double combinedSd = 0, combinedMean = 0, weights = 0;
  for (const NamingAnchor& a : anchors) {
    weights += 1 / (a.sdMm * a.sdMm);
    combinedMean += a.predictedArcMm / (a.sdMm * a.sdMm);
  }
  combinedMean /= weights;
  combinedSd = 1 / std::sqrt(weights);
  if (std::abs(chain[best].arcMm - combinedMean) > 2.5 * std::max(combinedSd, 0.25 * h))
    return std::nullopt;
  double sum = 0;
  for (double t : total) sum += std::exp(t - total[best]);
  out.namingConfidence = 1.0 / sum;
  for (NamingAnchor& a : anchors) {
    const long own = std::stol(a.points);
    a.agrees = static_cast<std::size_t>(own) == best;
    const long offset = own - static_cast<long>(best);
    a.points = discName(3 + static_cast<int>(offset) >= 2 ? 3 + static_cast<int>(offset) : 2);
  }
  // The anchor named in the report: the most precise one that agrees.
  for (const char* name : {"dens base", "dens tip", "foramen magnum"})
    for (const NamingAnchor& a : anchors)
      if (out.anchor.empty() && a.name == name && a.agrees) out.anchor = name;
  for (const NamingAnchor& a : anchors)
    if (!a.agrees)
      out.doubts.push_back("the " + a.name + " points to the disc named " + a.points + " as C2-C3");
  if (anchors.size() == 1) {
    out.doubts.push_back("the level names rest on one anchor only (the " + anchors.front().name +
                         ")");
    out.namingConfidence = std::min(out.namingConfidence, o.singleAnchorConfidence);
  }
  if (out.namingConfidence < o.confidentNaming) {
    char text[160];
    std::snprintf(text, sizeof text, "naming confidence %.2f: the levels may be off by one",
                  out.namingConfidence);
    out.doubts.push_back(text);
  }
  out.anchors = anchors;
  for (const std::string& d : out.doubts) out.warnings.push_back("vertebral levels: " + d);
  return chain[best].arcMm;
}

}  // namespace

void anchorOnLandmarks(VertebraeOptions& options, const CraniocervicalLandmarks& landmarks) {
  if (options.c2c3 || !options.manualDiscs.empty()) return;
  options.densBase = landmarks.densBase;
  options.densTip = landmarks.densTip;
}

int levelAtArc(const std::vector<Disc>& named, double arcMm) {
  return named.empty() ? 0 : levelAt(named, arcMm);
}

double arcAlongCord(const std::vector<CrossSection>& sections, const Vec3& point) {
  return sections.empty() ? 0.0 : arcOf(sections, point);
}

std::vector<std::pair<int, Vec3>> readDiscs(const std::string& path) {
  std::vector<std::pair<int, Vec3>> discs;
  const bool csv = path.size() >= 4 && path.substr(path.size() - 4) == ".csv";
  if (csv) {
    std::ifstream in(path);
    if (!in) throw InputError(path + ": cannot read the disc list");
    std::string line;
    int row = 0;
    while (std::getline(in, line)) {
      ++row;
      if (line.empty() || line[0] == '#') continue;
      std::stringstream fields(line);
      std::string name, x, y, z;
      std::getline(fields, name, ',');
      std::getline(fields, x, ',');
      std::getline(fields, y, ',');
      std::getline(fields, z, ',');
      if (name == "name") continue;  // header
      const auto dash = name.find('-');
      try {
        if (dash == std::string::npos) throw UsageError("no dash");
        const int lower = parseLevel(name.substr(dash + 1));
        const Vec3 ras{std::stod(x), std::stod(y), std::stod(z)};
        // NaN or inf would become a disc nowhere that still names the levels.
        if (!std::isfinite(ras[0]) || !std::isfinite(ras[1]) || !std::isfinite(ras[2]))
          throw UsageError("not finite");
        discs.emplace_back(lower, lpsFromRas(ras));
      } catch (const std::exception&) {
        throw InputError(path + ": line " + std::to_string(row) +
                         ": expected name,x_ras_mm,y_ras_mm,z_ras_mm with a disc name such as "
                         "C2-C3, got '" +
                         line + "'");
      }
    }
  } else {
    const Mask::Pointer labels = readMask(path);
    std::map<int, std::pair<Vec3, int>> sums;
    itk::ImageRegionConstIteratorWithIndex<Mask> it(labels, labels->GetBufferedRegion());
    for (; !it.IsAtEnd(); ++it) {
      if (!it.Get()) continue;
      Mask::PointType p;
      labels->TransformIndexToPhysicalPoint(it.GetIndex(), p);
      auto& [sum, count] = sums[it.Get()];
      sum = sum + Vec3{p[0], p[1], p[2]};
      ++count;
    }
    for (const auto& [label, entry] : sums)
      discs.emplace_back(label, (1.0 / entry.second) * entry.first);
  }
  if (discs.empty()) throw InputError(path + ": no disc labels in it");
  std::sort(discs.begin(), discs.end(),
            [](const auto& a, const auto& b) { return a.first < b.first; });
  return discs;
}

namespace {

// A disc's centre lies 15-20 mm in front of the cord's (the cord's radius, the CSF, half the
// disc); a point given as a disc or as C2-C3 more than twice that from every cross-section's
// centre is not a disc of this image.
constexpr double kGivenPointFromCordMm = 40.0;

double distanceFromCord(const std::vector<CrossSection>& sections, const Vec3& point) {
  double nearest = std::numeric_limits<double>::infinity();
  for (const CrossSection& s : sections) nearest = std::min(nearest, norm(point - s.centre));
  return nearest;
}

}  // namespace

VertebralLabels labelVertebrae(const Volume& volume, const CordSegmentation& cord,
                               const VertebraeOptions& options) {
  VertebralLabels out;
  const auto& sections = cord.sections;
  if (!cord.found || sections.size() < 3) {
    out.levelMap = levelMapOf(cord, {});
    out.warnings.push_back("vertebral levels: no cord, so no discs were looked for");
    return out;
  }
  const double step = sections.size() > 1 ? sections[1].arcMm - sections[0].arcMm : 0.5;
  const ImageSampler sampler(volume.image.GetPointer());

  if (!options.manualDiscs.empty()) {
    // Given discs: vertebral discs only (Spinal Cord Toolbox files may also hold 49/50, the
    // pontomedullary landmarks), one per label, in cranio-caudal order along the cord.
    std::vector<Disc> given;
    for (const auto& [label, position] : options.manualDiscs) {
      if (label < 2 || label > 25) {
        out.warnings.push_back("vertebral levels: given disc label " + std::to_string(label) +
                               " is not an intervertebral disc (2-25); ignored");
        continue;
      }
      const double fromCord = distanceFromCord(sections, position);
      if (fromCord > kGivenPointFromCordMm) {
        out.warnings.push_back(
            "vertebral levels: given disc " + discName(label) + " lies " +
            std::to_string(static_cast<int>(std::lround(fromCord))) +
            " mm from the cord, so it is not a disc of this image (a discs file of "
            "another image or subject, or not in RAS millimetres?); ignored");
        continue;
      }
      Disc d;
      d.lowerVertebra = label;
      d.name = discName(label);
      d.position = position;
      d.arcMm = arcOf(sections, position);
      d.confidence = 1;
      d.manual = true;
      given.push_back(d);
    }
    std::sort(given.begin(), given.end(),
              [](const Disc& a, const Disc& b) { return a.lowerVertebra < b.lowerVertebra; });
    for (const Disc& d : given) {
      if (!out.discs.empty() && d.arcMm < out.discs.back().arcMm + 5.0) {
        out.warnings.push_back("vertebral levels: given disc " + d.name +
                               " is not at least 5 mm below " + out.discs.back().name +
                               " along the cord; ignored");
        continue;
      }
      out.discs.push_back(d);
    }
    out.named = !out.discs.empty();
    out.anchor = out.named ? "discs given" : "";
    out.namingConfidence = out.named ? 1.0 : 0.0;
  } else {
    const std::vector<double> profile = columnProfile(sampler, sections, options);
    const Likeness likeness = discLikeness(profile, step, options);
    const std::vector<std::size_t> chain = discChain(likeness.normalised, step, options);
    std::vector<Disc> found;
    for (std::size_t i : chain) {
      const CrossSection& s = sections[i];
      Disc d;
      d.arcMm = s.arcMm;
      d.position = s.centre + (s.canalAnteriorMm + 0.5 * (options.bandNearMm + options.bandFarMm)) *
                                  s.anterior;
      d.confidence = std::clamp(likeness.normalised[i], 0.0, 1.0);
      found.push_back(d);
    }
    // The anchor: the arc of C2-C3, and whether a chain disc sits on it.
    std::optional<double> anchorArc;
    if (options.c2c3) {
      anchorArc = arcOf(sections, *options.c2c3);
      out.anchor = "c2c3 given";
      out.namingConfidence = 1.0;
      const double nearest = distanceFromCord(sections, *options.c2c3);
      if (nearest > kGivenPointFromCordMm)
        out.warnings.push_back("vertebral levels: the given C2-C3 point lies " +
                               std::to_string(static_cast<int>(std::lround(nearest))) +
                               " mm from the cord; check that it is in RAS millimetres");
    } else {
      anchorArc = chooseC2C3(found, sections, cord, options, out);
      if (!anchorArc) {
        if (cord.topIsJunction || options.densBase || options.densTip)
          out.warnings.push_back(
              "vertebral levels: no disc found near C2-C3 below the foramen magnum; discs are not "
              "named (give --c2c3 X,Y,Z or --discs FILE)");
        else
          out.warnings.push_back(
              "vertebral levels: the field of view does not reach the foramen magnum, so C2-C3 "
              "cannot be recognised; discs are found but not named (give --c2c3 X,Y,Z in RAS mm or "
              "--discs FILE)");
      }
    }
    if (anchorArc) {
      // Spacing of the chain near the anchor: what "the next disc" means.
      const double tolerance = 0.4 * options.minSpacingMm;
      std::size_t at = found.size();
      for (std::size_t k = 0; k < found.size(); ++k)
        if (std::abs(found[k].arcMm - *anchorArc) <= tolerance &&
            (at == found.size() ||
             std::abs(found[k].arcMm - *anchorArc) < std::abs(found[at].arcMm - *anchorArc)))
          at = k;
      std::vector<Disc> named;
      Disc anchor;
      if (at < found.size()) {
        anchor = found[at];
      } else {  // the given point is not on the chain: it is a disc of its own
        anchor.arcMm = *anchorArc;
        anchor.position = *options.c2c3;
        anchor.confidence = 1;
        anchor.manual = true;
      }
      anchor.lowerVertebra = 3;
      named.push_back(anchor);
      // Below: consecutive chain discs, one vertebra each.
      double previous = anchor.arcMm;
      int label = 3;
      for (const Disc& d : found) {
        if (d.arcMm <= anchor.arcMm + tolerance) continue;
        const double gap = d.arcMm - previous;
        if (gap < options.minSpacingMm - tolerance) continue;
        if (gap > options.maxSpacingMm + tolerance) break;
        Disc n = d;
        n.lowerVertebra = ++label;
        named.push_back(n);
        previous = d.arcMm;
      }
      // Above: the C1/C2 junction at the dens base: where it was found (and agrees), else when
      // the chain has a line one vertebra up.
      bool densBaseAgrees = false;
      for (const NamingAnchor& a : out.anchors)
        densBaseAgrees = densBaseAgrees || (a.name == "dens base" && a.agrees);
      if (densBaseAgrees) {
        Disc junction;
        junction.arcMm = arcOf(sections, *options.densBase);
        junction.position = *options.densBase;
        junction.confidence = 1;
        junction.lowerVertebra = 2;
        named.insert(named.begin(), junction);
      }
      for (auto it = found.rbegin(); it != found.rend() && !densBaseAgrees; ++it) {
        const double gap = anchor.arcMm - it->arcMm;
        if (gap >= options.minSpacingMm - tolerance && gap <= options.maxSpacingMm + tolerance) {
          Disc n = *it;
          n.lowerVertebra = 2;
          named.insert(named.begin(), n);
          break;
        }
      }
      // A disc's confidence: that it is a disc, and that its name is right.
      for (Disc& d : named) {
        d.name = discName(d.lowerVertebra);
        if (!d.manual) d.confidence = std::min(d.confidence, out.namingConfidence);
      }
      out.discs = named;
      out.named = true;
    } else {
      out.discs = found;  // positions without names
    }
  }
  std::sort(out.discs.begin(), out.discs.end(),
            [](const Disc& a, const Disc& b) { return a.arcMm < b.arcMm; });
  if (out.named && !out.discs.empty()) {
    int previous = 0;
    for (const CrossSection& s : sections) {
      const int level = levelAt(out.discs, s.arcMm);
      if (level != previous && level >= 1) out.levels.push_back(level);
      previous = level;
    }
  }
  out.levelMap = levelMapOf(cord, out.named ? out.discs : std::vector<Disc>{});
  return out;
}

void to_json(nlohmann::json& j, const VertebralLabels& labels) {
  nlohmann::json discs = nlohmann::json::array();
  for (const Disc& d : labels.discs) {
    const Vec3 ras = rasFromLps(d.position);
    discs.push_back({{"name", d.name.empty() ? nlohmann::json() : nlohmann::json(d.name)},
                     {"position_ras_mm", {ras[0], ras[1], ras[2]}},
                     {"arc_mm", d.arcMm},
                     {"confidence", d.confidence},
                     {"given", d.manual}});
  }
  nlohmann::json levels = nlohmann::json::array();
  for (int level : labels.levels) levels.push_back(levelName(level));
  nlohmann::json anchors = nlohmann::json::array();
  for (const NamingAnchor& a : labels.anchors)
    anchors.push_back({{"name", a.name},
                       {"predicted_c2c3_arc_mm", a.predictedArcMm},
                       {"sd_mm", a.sdMm},
                       {"points_to", a.points},
                       {"agrees", a.agrees}});
  j = nlohmann::json{
      {"named", labels.named},
      {"anchor", labels.anchor.empty() ? nlohmann::json() : nlohmann::json(labels.anchor)},
      {"naming_confidence", labels.namingConfidence},
      {"anchors", anchors},
      {"doubts", labels.doubts},
      {"discs", discs},
      {"levels", levels}};
}

}  // namespace cordscope
