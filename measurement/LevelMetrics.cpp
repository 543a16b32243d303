#include "measurement/LevelMetrics.h"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "data/Error.h"
#include "data/Levels.h"
#include "data/OutputFile.h"

namespace cordscope {

const char* const kNormativeCitation =
    "Valosek, Bedard et al., A database of the healthy human spinal cord morphometry in the PAM50 "
    "template space, Imaging Neuroscience 2 (2024) 1-15, doi:10.1162/imag_a_00075 (203 healthy "
    "adults, T2w)";

const std::vector<NormativeRow>& normativeCord() {
  static const std::vector<NormativeRow> rows = {
      {1, 203, 74.0, 7.3, 8.27, 0.55, 11.36, 0.71}, {2, 203, 71.7, 6.9, 7.76, 0.52, 11.73, 0.71},
      {3, 203, 72.5, 7.1, 7.59, 0.51, 12.14, 0.75}, {4, 203, 77.3, 7.5, 7.62, 0.49, 12.93, 0.81},
      {5, 203, 76.4, 7.7, 7.47, 0.51, 13.03, 0.82}, {6, 203, 69.1, 7.8, 7.07, 0.50, 12.44, 0.83},
      {7, 203, 56.8, 7.2, 6.56, 0.44, 10.94, 0.90}, {8, 203, 46.8, 5.5, 6.29, 0.43, 9.41, 0.67},
      {9, 201, 41.8, 5.2, 6.06, 0.45, 8.69, 0.63}};
  return rows;
}

const std::vector<NormativeRow>& normativeCanal() {
  static const std::vector<NormativeRow> rows = {{1, 203, 293.7, 51.5, 16.08, 1.63, 23.23, 2.29},
                                                 {2, 203, 251.9, 41.2, 14.50, 1.40, 22.24, 1.98},
                                                 {3, 203, 210.3, 29.4, 13.06, 1.17, 20.84, 1.64},
                                                 {4, 203, 206.0, 27.6, 12.80, 1.18, 20.97, 1.47},
                                                 {5, 203, 207.7, 29.1, 12.78, 1.17, 21.17, 1.55},
                                                 {6, 203, 200.0, 30.0, 12.58, 1.18, 20.68, 1.63},
                                                 {7, 203, 194.8, 32.3, 12.76, 1.25, 19.74, 1.71},
                                                 {8, 203, 181.9, 32.2, 12.90, 1.19, 18.00, 1.81},
                                                 {9, 201, 160.8, 28.9, 12.69, 1.22, 16.08, 1.58}};
  return rows;
}

namespace {

const NormativeRow* normativeFor(const std::vector<NormativeRow>& rows, int level) {
  for (const NormativeRow& r : rows)
    if (r.level == level) return &r;
  return nullptr;
}

}  // namespace

std::vector<LevelMetrics> measureLevels(const CordSegmentation& cord,
                                        const VertebralLabels& vertebrae,
                                        const std::vector<Lesion>& lesions) {
  std::vector<LevelMetrics> out;
  if (!cord.found || !vertebrae.named || vertebrae.discs.empty()) return out;
  std::vector<Disc> named;
  for (const Disc& d : vertebrae.discs)
    if (d.lowerVertebra > 0) named.push_back(d);
  if (named.empty()) return out;
  struct Sums {
    int n = 0;
    double area = 0, area2 = 0, ap = 0, rl = 0, canalArea = 0, canalAp = 0, canalRl = 0;
    double first = 1e9, last = -1e9;
  };
  std::map<int, Sums> sums;
  for (const CrossSection& s : cord.sections) {
    const int level = levelAtArc(named, s.arcMm);
    if (level < 1) continue;
    Sums& t = sums[level];
    t.first = std::min(t.first, s.arcMm);
    t.last = std::max(t.last, s.arcMm);
    if (!s.measured) continue;
    ++t.n;
    t.area += s.areaMm2;
    t.area2 += s.areaMm2 * s.areaMm2;
    t.ap += s.apMm;
    t.rl += s.rlMm;
    t.canalArea += s.canalAreaMm2;
    t.canalAp += s.canalApMm;
    t.canalRl += s.canalRlMm;
  }
  const double step =
      cord.sections.size() > 1 ? cord.sections[1].arcMm - cord.sections[0].arcMm : 1.0;
  for (const auto& [level, t] : sums) {
    if (t.n == 0) continue;
    LevelMetrics m;
    m.level = level;
    m.sections = t.n;
    m.lengthMm = t.last - t.first + step;
    m.csaMm2 = t.area / t.n;
    m.csaSdMm2 = std::sqrt(std::max(0.0, t.area2 / t.n - m.csaMm2 * m.csaMm2));
    m.apMm = t.ap / t.n;
    m.rlMm = t.rl / t.n;
    m.canalAreaMm2 = t.canalArea / t.n;
    m.canalApMm = t.canalAp / t.n;
    m.canalRlMm = t.canalRl / t.n;
    if (m.rlMm > 0) m.compressionRatio = m.apMm / m.rlMm;
    const auto hasDisc = [&](int lower) {
      return std::any_of(named.begin(), named.end(),
                         [&](const Disc& d) { return d.lowerVertebra == lower; });
    };
    m.bounded = hasDisc(level + 1) && (level == 1 || hasDisc(level));
    if (!m.bounded) {
      // fall through to the lesion coverage: no z-scores for a partial level
    } else if (const NormativeRow* n = normativeFor(normativeCord(), level)) {
      m.csaZ = (m.csaMm2 - n->areaMean) / n->areaSd;
      m.apZ = (m.apMm - n->apMean) / n->apSd;
      m.rlZ = (m.rlMm - n->rlMean) / n->rlSd;
    }
    if (const NormativeRow* n = m.bounded ? normativeFor(normativeCanal(), level) : nullptr) {
      m.canalAreaZ = (m.canalAreaMm2 - n->areaMean) / n->areaSd;
      m.canalApZ = (m.canalApMm - n->apMean) / n->apSd;
    }
    for (const Lesion& l : lesions)
      for (const LevelCoverage& c : l.perLevel)
        if (c.level == level) m.lesionMm += c.mm;
    m.lesionMm = std::min(m.lesionMm, m.lengthMm);
    m.lesionPercent = m.lengthMm > 0 ? 100 * m.lesionMm / m.lengthMm : 0;
    out.push_back(m);
  }
  return out;
}

void to_json(nlohmann::json& j, const LevelMetrics& m) {
  const auto r2 = [](double v) { return std::round(v * 100) / 100; };
  const auto z = [&](const std::optional<double>& v) {
    return v ? nlohmann::json(r2(*v)) : nlohmann::json(nullptr);
  };
  j = {{"level", levelName(m.level)},
       {"sections", m.sections},
       {"bounded", m.bounded},
       {"length_mm", r2(m.lengthMm)},
       {"csa_mm2", r2(m.csaMm2)},
       {"csa_sd_mm2", r2(m.csaSdMm2)},
       {"ap_mm", r2(m.apMm)},
       {"rl_mm", r2(m.rlMm)},
       {"compression_ratio", std::round(m.compressionRatio * 1000) / 1000},
       {"csa_z", z(m.csaZ)},
       {"ap_z", z(m.apZ)},
       {"rl_z", z(m.rlZ)},
       {"canal_area_mm2", r2(m.canalAreaMm2)},
       {"canal_ap_mm", r2(m.canalApMm)},
       {"canal_rl_mm", r2(m.canalRlMm)},
       {"canal_area_z", z(m.canalAreaZ)},
       {"canal_ap_z", z(m.canalApZ)},
       {"lesion_mm", r2(m.lesionMm)},
       {"lesion_percent", std::round(m.lesionPercent * 10) / 10}};
}

void writeLevelMetricsCsv(const std::vector<LevelMetrics>& levels, const std::string& path) {
  std::ostringstream out;
  out << "VertLevel,level,MEAN(area),STD(area),MEAN(diameter_AP),MEAN(diameter_RL),"
         "compression_ratio,csa_z,ap_z,rl_z,canal_area_mm2,canal_ap_mm,canal_rl_mm,canal_area_z,"
         "canal_ap_z,length_mm,n_sections,lesion_mm,lesion_percent\n";
  const auto num = [](double v, int decimals) {
    char text[32];
    std::snprintf(text, sizeof text, "%.*f", decimals, v);
    return std::string(text);
  };
  const auto opt = [&](const std::optional<double>& v) { return v ? num(*v, 2) : std::string(); };
  for (const LevelMetrics& m : levels)
    out << m.level << "," << levelName(m.level) << "," << num(m.csaMm2, 2) << ","
        << num(m.csaSdMm2, 2) << "," << num(m.apMm, 2) << "," << num(m.rlMm, 2) << ","
        << num(m.compressionRatio, 3) << "," << opt(m.csaZ) << "," << opt(m.apZ) << ","
        << opt(m.rlZ) << "," << num(m.canalAreaMm2, 2) << "," << num(m.canalApMm, 2) << ","
        << num(m.canalRlMm, 2) << "," << opt(m.canalAreaZ) << "," << opt(m.canalApZ) << ","
        << num(m.lengthMm, 1) << "," << m.sections << "," << num(m.lesionMm, 1) << ","
        << num(m.lesionPercent, 1) << "\n";
  writeFileAtomically(path, out.str(), "the per-level metrics");
}

}  // namespace cordscope
