#include "measurement/CraniocervicalMetrics.h"

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "core/ImageSampler.h"

namespace cordscope {
namespace {

double distance(const Vec3& a, const Vec3& b) {
  return norm(a - b);
}

// A direction's component in the mid-sagittal plane (the angles are defined there).
Vec3 inPlane(const Vec3& d, const CraniocervicalLandmarks& l) {
  return normalized(dot(d, l.caudal) * l.caudal + dot(d, l.anterior) * l.anterior);
}

// The section nearest `arcMm` among those measured (not interpolated), within 3 mm.
const CrossSection* sectionAt(const std::vector<CrossSection>& sections, double arcMm) {
  const CrossSection* best = nullptr;
  for (const CrossSection& s : sections)
    if (s.measured && std::abs(s.arcMm - arcMm) <= 3 &&
        (!best || std::abs(s.arcMm - arcMm) < std::abs(best->arcMm - arcMm)))
      best = &s;
  return best;
}

// Where the line p + t u meets the line q + s w (both in the plane): the point on the first.
std::optional<Vec3> intersect(const Vec3& p, const Vec3& u, const Vec3& q, const Vec3& w,
                              const CraniocervicalLandmarks& l) {
  const double pu[2] = {dot(u, l.caudal), dot(u, l.anterior)};
  const double pw[2] = {dot(w, l.caudal), dot(w, l.anterior)};
  const Vec3 d = q - p;
  const double pd[2] = {dot(d, l.caudal), dot(d, l.anterior)};
  const double det = pu[0] * -pw[1] - pu[1] * -pw[0];
  if (std::abs(det) < 1e-6) return std::nullopt;
  const double t = (pd[0] * -pw[1] - pd[1] * -pw[0]) / det;
  return p + t * u;
}

}  // namespace

CraniocervicalMeasures measureCraniocervical(const CraniocervicalLandmarks& l,
                                             const CordSegmentation& cord,
                                             const VertebralLabels& vertebrae,
                                             const std::string& sex,
                                             const CraniocervicalRules& rules) {
  CraniocervicalMeasures m;
  m.landmarks = l;
  m.warnings = l.warnings;
  m.sex = sex == "F" || sex == "M" ? sex : "";
  m.adiCutoffMm = rules.femaleAdiCutoff && m.sex == "F" ? rules.adiFemaleMm : rules.adiMm;
  m.ranawatCutoffMm = m.sex == "F" ? rules.ranawatFemaleMm : rules.ranawatMaleMm;
  m.measured = l.found;
  if (!l.found) return m;
  {
    const std::vector<std::pair<const char*, bool>> landmarks = {
        {"C1 anterior arch", l.c1AnteriorArchPosteriorCortex.has_value()},
        {"dens", l.densAnteriorCortex.has_value()},
        {"dens tip", l.densTip.has_value()},
        {"dens base", l.densBase.has_value()},
        {"C1 posterior arch", l.c1PosteriorArchAnteriorMargin.has_value()},
        {"basion", l.basion.has_value()},
        {"opisthion", l.opisthion.has_value()}};
    std::string missing;
    int found = 0;
    for (const auto& [name, present] : landmarks) {
      if (present)
        ++found;
      else
        missing += (missing.empty() ? "" : ", ") + std::string(name);
    }
    m.quality =
        std::to_string(found) + " of " + std::to_string(landmarks.size()) +
        " landmark groups found" + (missing.empty() ? "" : " (not found: " + missing + ")") +
        "; atlantodental joint seen over " +
        std::to_string(static_cast<int>(std::lround(l.atlasRowsMm))) + " mm" +
        (l.lowContrast ? ", in low bone contrast (read by valleys and peaks: less sure)" : "") +
        "; automatic, on the plane of the upper cord's course: check the lines on the sagittal "
        "picture";
  }

  if (l.c1AnteriorArchPosteriorCortex && l.densAnteriorCortex) {
    m.adiMm = distance(*l.c1AnteriorArchPosteriorCortex, *l.densAnteriorCortex);
    m.flags["aas_anterior"] = *m.adiMm > m.adiCutoffMm;
    m.flags["aas_over_6mm"] = *m.adiMm > 6;
    m.flags["aas_over_9mm"] = *m.adiMm > 9;
  }
  if (l.densPosteriorCortex && l.c1PosteriorArchAnteriorMargin) {
    m.padiMm = distance(*l.densPosteriorCortex, *l.c1PosteriorArchAnteriorMargin);
    m.flags["padi_below_14mm"] = *m.padiMm < rules.padiRiskMm;
    m.flags["padi_below_10mm"] = *m.padiMm < rules.padiCriticalMm;
  } else {
    m.warnings.push_back("craniocervical: the C1 posterior arch was not found; PADI not measured");
  }

  if (const CrossSection* s = sectionAt(cord.sections, l.atlasArcMm)) {
    m.cordApMm = s->apMm;
    m.cordRlMm = s->rlMm;
    if (s->rlMm > 0) m.compressionRatio = s->apMm / s->rlMm;
    if (s->canalApMm > 0) m.canalApMm = s->canalApMm;
  }
  if (l.canalAnteriorAtC1 && l.canalPosteriorAtC1) {
    m.sacSoftTissueMm = distance(*l.canalAnteriorAtC1, *l.canalPosteriorAtC1);
    m.flags["sac_at_most_13mm"] = *m.sacSoftTissueMm <= rules.sacCompressionMm;
    if (m.cordApMm) m.csfReserveMm = *m.sacSoftTissueMm - *m.cordApMm;
  }

  // Cervicomedullary angle: between the brainstem's axis (the trimmed medulla's course) and the
  // upper cord's (its first 20 mm), in the mid-sagittal plane. This uses the axes rather than
  // the anterior surfaces of the classic drawing; both give 180 degrees for a straight junction.
  if (!cord.sections.empty() && cord.medulla.size() >= 2 &&
      distance(cord.medulla.front(), cord.sections.front().centre) >= 5) {
    const Vec3 medullaAxis = inPlane(cord.sections.front().centre - cord.medulla.front(), l);
    const CrossSection* below = &cord.sections.front();
    for (const CrossSection& s : cord.sections)
      if (s.arcMm <= 20) below = &s;
    const Vec3 cordAxis = inPlane(below->centre - cord.sections.front().centre, l);
    const double bend = std::acos(std::clamp(dot(medullaAxis, cordAxis), -1.0, 1.0)) * 180 / kPi;
    m.cervicomedullaryAngleDeg = 180 - bend;
    m.flags["cervicomedullary_angle_below_135"] =
        *m.cervicomedullaryAngleDeg < rules.cervicomedullaryAngleDeg;
  } else {
    m.warnings.push_back(
        "craniocervical: the medulla is not distinct above the cord in view; cervicomedullary "
        "angle "
        "not measured");
  }

  // McRae's line (basion-opisthion): the dens tip's signed distance below it in the plane.
  if (l.basion && l.opisthion && l.densTip) {
    const Vec3 along = inPlane(*l.opisthion - *l.basion, l);
    Vec3 normal = cross(l.lateral, along);
    if (dot(normal, l.caudal) < 0) normal = -1.0 * normal;
    m.densTipBelowMcRaeMm = dot(*l.densTip - *l.basion, normal);
    m.flags["cranial_settling_mcrae"] = *m.densTipBelowMcRaeMm < 0;
  } else {
    m.warnings.push_back(std::string("craniocervical: ") +
                         (!l.densTip  ? "the dens tip"
                          : !l.basion ? "the basion"
                                      : "the opisthion") +
                         " was not found; McRae's line not measured");
  }

  // Ranawat: from the C2 pedicles' centre to the atlas's transverse axis, along the dens's axis.
  // The pedicles are lateral to the mid-sagittal plane; their centre is taken on the dens's axis
  // half-way between the dens's base and the C2-C3 disc (an approximation, stated in the docs).
  const auto c2c3 = std::find_if(vertebrae.discs.begin(), vertebrae.discs.end(),
                                 [](const Disc& d) { return d.lowerVertebra == 3; });
  if (l.c1AnteriorArchCentre && l.c1PosteriorArchCentre && l.densBase && l.densAxis &&
      c2c3 != vertebrae.discs.end()) {
    const Vec3 axis = inPlane(*l.densAxis, l);
    const double toDisc = dot(c2c3->position - *l.densBase, axis);
    const Vec3 pedicles = *l.densBase + 0.5 * toDisc * axis;
    const Vec3 atlasAxis = inPlane(*l.c1AnteriorArchCentre - *l.c1PosteriorArchCentre, l);
    if (toDisc > 0)
      if (auto meet = intersect(pedicles, axis, *l.c1PosteriorArchCentre, atlasAxis, l)) {
        m.ranawatMm = distance(pedicles, *meet);
        m.flags["ranawat_low"] = *m.ranawatMm < m.ranawatCutoffMm;
      }
  }
  if (!m.ranawatMm)
    m.warnings.push_back(
        "craniocervical: Ranawat not measured (needs both C1 arches, the dens base and the C2-C3 "
        "disc)");
  return m;
}

void to_json(nlohmann::json& j, const CraniocervicalMeasures& m) {
  const auto value = [](const std::optional<double>& v) {
    return v ? nlohmann::json(std::round(*v * 100) / 100) : nlohmann::json(nullptr);
  };
  const auto point = [](const std::optional<Vec3>& p) {
    if (!p) return nlohmann::json(nullptr);
    const Vec3 r = rasFromLps(*p);
    return nlohmann::json{std::round(r[0] * 100) / 100, std::round(r[1] * 100) / 100,
                          std::round(r[2] * 100) / 100};
  };
  const CraniocervicalLandmarks& l = m.landmarks;
  j = {{"measured", m.measured},
       {"adi_mm", value(m.adiMm)},
       {"padi_mm", value(m.padiMm)},
       {"padi_bone_mm", value(m.padiMm)},
       {"sac_soft_tissue_mm", value(m.sacSoftTissueMm)},
       {"csf_reserve_mm", value(m.csfReserveMm)},
       {"cord_ap_mm", value(m.cordApMm)},
       {"cord_rl_mm", value(m.cordRlMm)},
       {"canal_ap_mm", value(m.canalApMm)},
       {"compression_ratio", m.compressionRatio
                                 ? nlohmann::json(std::round(*m.compressionRatio * 1000) / 1000)
                                 : nlohmann::json(nullptr)},
       {"cervicomedullary_angle_deg", value(m.cervicomedullaryAngleDeg)},
       {"dens_tip_below_mcrae_mm", value(m.densTipBelowMcRaeMm)},
       {"ranawat_mm", value(m.ranawatMm)},
       {"flags", m.flags},
       {"thresholds",
        {{"aas_anterior_adi_mm", m.adiCutoffMm},
         {"ranawat_low_mm", m.ranawatCutoffMm},
         {"sex_used", m.sex.empty() ? nlohmann::json(nullptr) : nlohmann::json(m.sex)}}},
       {"landmarks_ras_mm",
        {{"c1_anterior_arch_posterior_cortex", point(l.c1AnteriorArchPosteriorCortex)},
         {"c1_anterior_arch_centre", point(l.c1AnteriorArchCentre)},
         {"dens_anterior_cortex", point(l.densAnteriorCortex)},
         {"dens_posterior_cortex", point(l.densPosteriorCortex)},
         {"dens_tip", point(l.densTip)},
         {"dens_base", point(l.densBase)},
         {"c1_posterior_arch_anterior_margin", point(l.c1PosteriorArchAnteriorMargin)},
         {"c1_posterior_arch_centre", point(l.c1PosteriorArchCentre)},
         {"basion", point(l.basion)},
         {"opisthion", point(l.opisthion)},
         {"canal_anterior_at_c1", point(l.canalAnteriorAtC1)},
         {"canal_posterior_at_c1", point(l.canalPosteriorAtC1)}}},
       {"mid_sagittal_plane",
        {{"origin_ras_mm", point(l.origin)},
         {"caudal_ras", nlohmann::json{-l.caudal[0], -l.caudal[1], l.caudal[2]}},
         {"anterior_ras", nlohmann::json{-l.anterior[0], -l.anterior[1], l.anterior[2]}}}},
       {"dens_cortex_mm", l.found ? nlohmann::json(std::round(l.corticalThicknessMm * 100) / 100)
                                  : nlohmann::json(nullptr)},
       {"quality", m.quality},
       {"warnings", m.warnings}};
}

}  // namespace cordscope
