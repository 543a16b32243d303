#include "Volume.h"

#include <cmath>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "core/Geometry.h"

namespace cordscope {

std::string toString(Orientation orientation) {
  switch (orientation) {
    case Orientation::Sagittal:
      return "sagittal";
    case Orientation::Coronal:
      return "coronal";
    case Orientation::Axial:
      return "axial";
    case Orientation::Oblique:
      return "oblique";
  }
  return "oblique";
}

Orientation classifyOrientation(const Image::DirectionType& direction) {
  // LPS axes: x = left-right (sagittal normal), y = anterior-posterior (coronal normal),
  // z = inferior-superior (axial normal).
  const double cos30 = std::cos(30.0 * kPi / 180.0);
  int best = 0;
  double bestAbs = 0.0;
  for (int axis = 0; axis < 3; ++axis) {
    const double c = std::abs(direction[axis][2]);
    if (c > bestAbs) {
      bestAbs = c;
      best = axis;
    }
  }
  if (bestAbs < cos30) return Orientation::Oblique;
  return best == 0 ? Orientation::Sagittal : best == 1 ? Orientation::Coronal : Orientation::Axial;
}

std::string axisCode(const Image::DirectionType& direction) {
  static const char positive[3] = {'L', 'P', 'S'};
  static const char negative[3] = {'R', 'A', 'I'};
  std::string code;
  for (int column = 0; column < 3; ++column) {
    int best = 0;
    for (int row = 1; row < 3; ++row)
      if (std::abs(direction[row][column]) > std::abs(direction[best][column])) best = row;
    code += direction[best][column] >= 0 ? positive[best] : negative[best];
  }
  return code;
}

namespace {
// Days since a fixed epoch for a proleptic Gregorian date (Howard Hinnant's algorithm).
std::optional<long> daysFromDate(const std::string& yyyymmdd) {
  if (yyyymmdd.size() < 8) return std::nullopt;
  try {
    int y = std::stoi(yyyymmdd.substr(0, 4));
    const unsigned m = std::stoi(yyyymmdd.substr(4, 2));
    const unsigned d = std::stoi(yyyymmdd.substr(6, 2));
    if (m < 1 || m > 12 || d < 1 || d > 31) return std::nullopt;
    y -= m <= 2;
    const long era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<long>(doe);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}
}  // namespace

namespace {
constexpr double kOldestAgeYears = 130;  // beyond the oldest person ever documented (122 years)
}

std::optional<double> parsePatientAge(const std::string& patientAge, const std::string& birthDate,
                                      const std::string& studyDate) {
  if (patientAge.size() >= 2) {
    try {
      size_t used = 0;
      const double value = std::stod(patientAge, &used);
      const char unit = used < patientAge.size() ? patientAge[used] : 'Y';
      double years = NAN;
      switch (unit) {
        case 'Y':
        case 'y':
          years = value;
          break;
        case 'M':
        case 'm':
          years = value / 12.0;
          break;
        case 'W':
        case 'w':
          years = value * 7.0 / 365.25;
          break;
        case 'D':
        case 'd':
          years = value / 365.25;
          break;
        default:
          break;
      }
      // "999Y" is valid DICOM syntax and no one's age: an age is 0-130 years or unknown (then
      // the dates may still tell).
      if (years >= 0 && years <= kOldestAgeYears) return years;
    } catch (const std::exception&) {
    }
  }
  const auto born = daysFromDate(birthDate);
  const auto studied = daysFromDate(studyDate);
  if (born && studied && *studied >= *born && (*studied - *born) / 365.25 <= kOldestAgeYears)
    return (*studied - *born) / 365.25;
  return std::nullopt;
}

void to_json(nlohmann::json& j, const SeriesMetadata& m) {
  auto optional = [](const std::optional<double>& v) {
    return v ? nlohmann::json(*v) : nlohmann::json(nullptr);
  };
  j = nlohmann::json{{"patient_name", m.patientName},
                     {"patient_id", m.patientId},
                     {"patient_sex", m.patientSex},
                     {"patient_age_years", optional(m.patientAgeYears)},
                     {"study_instance_uid", m.studyInstanceUid},
                     {"series_instance_uid", m.seriesInstanceUid},
                     {"study_date", m.studyDate},
                     {"series_description", m.seriesDescription},
                     {"protocol_name", m.protocolName},
                     {"series_number", m.seriesNumber},
                     {"modality", m.modality},
                     {"manufacturer", m.manufacturer},
                     {"image_type", m.imageType},
                     {"echo_time_ms", optional(m.echoTimeMs)},
                     {"repetition_time_ms", optional(m.repetitionTimeMs)},
                     {"slice_thickness_mm", optional(m.sliceThicknessMm)},
                     {"magnetic_field_strength_t", optional(m.magneticFieldStrengthT)}};
}

std::string formatPersonName(const std::string& pn) {
  // The alphabetic representation only (ideographic and phonetic groups follow '=').
  const std::string alphabetic = pn.substr(0, pn.find('='));
  std::vector<std::string> parts;
  std::size_t from = 0;
  for (std::size_t at; (at = alphabetic.find('^', from)) != std::string::npos; from = at + 1)
    parts.push_back(alphabetic.substr(from, at - from));
  parts.push_back(alphabetic.substr(from));
  parts.resize(5);
  const auto trim = [](std::string t) {
    while (!t.empty() && t.back() == ' ') t.pop_back();
    while (!t.empty() && t.front() == ' ') t.erase(t.begin());
    return t;
  };
  for (std::string& part : parts) part = trim(part);
  const std::string given = trim(parts[1] + " " + parts[2]);
  std::string name = parts[0];
  if (!parts[3].empty()) name = trim(parts[3] + " " + name);
  if (!given.empty()) name += (name.empty() ? "" : ", ") + given;
  if (!parts[4].empty()) name += " " + parts[4];
  return name;
}

std::size_t distinctValuesUpTo17(const Image& image) {
  const float* p = image.GetBufferPointer();
  const std::size_t n = image.GetBufferedRegion().GetNumberOfPixels();
  std::set<float> values;
  for (std::size_t i = 0; i < n && values.size() <= kMaxLabelValues; i += 7) values.insert(p[i]);
  return values.size();
}

}  // namespace cordscope
