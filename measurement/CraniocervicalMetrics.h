// Craniocervical measurements from the junction's landmarks (CLINICAL.md, "Atlantoaxial
// subluxation"): the atlantodental intervals, the space available for the cord at C1, the cord
// and canal there, the cervicomedullary angle, and cranial settling (McRae, Ranawat), each with
// the flags the literature attaches to it. Values are absent (null in JSON) when a landmark was
// not found or is out of view; the flag that needs the value is then absent too.
#pragma once
#include <map>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "segmentation/Craniocervical.h"
#include "segmentation/Vertebrae.h"

namespace cordscope {

struct CraniocervicalRules {
  double adiMm = 3.0;            // aas_anterior: ADI above this (adults, men)
  double adiFemaleMm = 2.5;      // ... and this for women, when femaleAdiCutoff is set
  bool femaleAdiCutoff = false;  // use adiFemaleMm when the patient's sex is F
  double ranawatMaleMm = 15, ranawatFemaleMm = 13;  // ranawat_low below these
  double padiRiskMm = 14, padiCriticalMm = 10;      // Boden 1993
  double sacCompressionMm = 13;                     // SAC <= 13 mm: cord compression in RA
  double cervicomedullaryAngleDeg = 135;            // below: brainstem compression
};

struct CraniocervicalMeasures {
  bool measured = false;  // the C1-C2 complex was found
  std::optional<double> adiMm, padiMm, sacSoftTissueMm, csfReserveMm;
  std::optional<double> cordApMm, cordRlMm, canalApMm, compressionRatio;
  std::optional<double> cervicomedullaryAngleDeg;
  std::optional<double> densTipBelowMcRaeMm;  // signed: positive when the tip is below the line
  std::optional<double> ranawatMm;
  std::map<std::string, bool> flags;               // only the flags whose value could be measured
  double adiCutoffMm = 3.0, ranawatCutoffMm = 15;  // the cut-offs applied
  std::string sex;                                 // as used for the cut-offs ("F", "M" or empty)
  std::vector<std::string> warnings;
  std::string quality;
  CraniocervicalLandmarks landmarks;
};

// `sex` is the DICOM PatientSex ("F", "M", "O" or empty).
CraniocervicalMeasures measureCraniocervical(const CraniocervicalLandmarks& landmarks,
                                             const CordSegmentation& cord,
                                             const VertebralLabels& vertebrae,
                                             const std::string& sex,
                                             const CraniocervicalRules& rules = {});

// The report's "craniocervical" block: values (mm, degrees), `flags`, `thresholds`,
// `landmarks_ras_mm`, `quality`, `warnings`.
void to_json(nlohmann::json& j, const CraniocervicalMeasures& measures);

}  // namespace cordscope
