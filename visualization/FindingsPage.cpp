// The one-page findings key image (DicomObjects.h): what report.html opens with - the quality
// verdict, the key findings, the lesions - as a picture any DICOM viewer shows. No names or IDs on
// it: the object's header carries the patient.
#include <nlohmann/json.hpp>
#include <opencv2/imgproc.hpp>
#include <sstream>

#include "visualization/DicomObjects.h"
#include "visualization/HtmlReport.h"

namespace cordscope::dicomout {
namespace {

constexpr int kWidth = 1400, kMargin = 48;
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

// OpenCV's Hershey fonts draw ASCII only: the report's few other characters in ASCII words.
std::string ascii(const std::string& text) {
  static const std::pair<const char*, const char*> replacements[] = {
      {"\u2265", ">="}, {"\u2264", "<="}, {"\u00b2", "2"},    {"\u00b3", "3"}, {"\u2013", "-"},
      {"\u2014", "-"},  {"\u00d7", "x"},  {"\u00b0", " deg"}, {"\u2019", "'"}, {"\u00b1", "+-"}};
  std::string out = text;
  for (const auto& [from, to] : replacements)
    for (std::size_t at; (at = out.find(from)) != std::string::npos;)
      out.replace(at, std::string(from).size(), to);
  std::string plain;
  for (std::size_t i = 0; i < out.size(); ++i) {
    const auto c = static_cast<unsigned char>(out[i]);
    if (c < 0x80) {
      plain += out[i];
    } else if ((c & 0xC0) != 0x80) {
      plain += '?';  // the first byte of a character without an ASCII word
    }
  }
  return plain;
}

struct Line {
  std::string text;
  double scale = 0.7;
  int thickness = 1;
  cv::Scalar colour{20, 20, 20};
  int gapBefore = 0;
};

// `text` broken into lines that fit the page at `scale`, the first after `gapBefore` pixels.
void addWrapped(std::vector<Line>& lines, const std::string& text, Line style) {
  std::istringstream words(ascii(text));
  std::string line, word;
  int baseline = 0;
  while (words >> word) {
    const std::string candidate = line.empty() ? word : line + " " + word;
    if (!line.empty() &&
        cv::getTextSize(candidate, kFont, style.scale, style.thickness, &baseline).width >
            kWidth - 2 * kMargin) {
      style.text = line;
      lines.push_back(style);
      style.gapBefore = 0;
      line = word;
    } else {
      line = candidate;
    }
  }
  style.text = line;
  lines.push_back(style);
}

std::string fixed(const nlohmann::json& value, int decimals) {
  if (!value.is_number()) return "-";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.*f", decimals, value.get<double>());
  return buffer;
}

std::string lesionLine(const nlohmann::json& l) {
  std::string text =
      "Lesion " + std::to_string(l.value("id", 0)) + ": " + fixed(l["length_mm"], 1) + " mm";
  if (l["top_level"].is_string())
    text += ", " + l["top_level"].get<std::string>() + "-" + l["bottom_level"].get<std::string>();
  if (l["segments_spanned"].is_number())
    text += ", " + std::to_string(l["segments_spanned"].get<int>()) + " segments spanned (" +
            fixed(l["segments_equivalent"], 1) + " equivalent)";
  text += ", " + l.value("pattern", std::string("?")) + " pattern";
  return text;
}

std::vector<Line> layout(const nlohmann::json& report) {
  std::vector<Line> lines;
  lines.push_back({"cordscope findings", 1.3, 2, {0, 0, 0}, 0});
  const nlohmann::json& input = report.value("input", nlohmann::json::object());
  addWrapped(lines,
             "Series: " + input.value("series_description", std::string("")) + " (" +
                 input.value("orientation", std::string("")) + ")",
             {"", 0.65, 1, {90, 90, 90}, 10});
  const nlohmann::json& quality = report.value("quality", nlohmann::json::object());
  const std::string verdict = quality.value("verdict", std::string("?"));
  addWrapped(
      lines, "Quality control: " + verdict,
      {"", 0.85, 2, verdict == "pass" ? cv::Scalar(40, 120, 40) : cv::Scalar(0, 90, 200), 24});
  for (const auto& reason : quality.value("reasons", nlohmann::json::array()))
    addWrapped(lines, "- " + reason.value("message", std::string("")),
               {"", 0.6, 1, {60, 60, 60}, 4});
  lines.push_back({"Key findings", 0.9, 2, {0, 0, 0}, 28});
  for (const Finding& f : keyFindings(report))
    addWrapped(lines, "- " + f.text, {"", 0.7, 1, {20, 20, 20}, 8});
  const nlohmann::json& lesions = report.value("lesions", nlohmann::json::array());
  if (!lesions.empty()) {
    lines.push_back({"Lesions", 0.9, 2, {0, 0, 0}, 28});
    for (const auto& l : lesions) addWrapped(lines, lesionLine(l), {"", 0.7, 1, {20, 20, 20}, 8});
  }
  addWrapped(lines,
             "cordscope " + report.value("tool", nlohmann::json::object()).value("version", "") +
                 " reports measurements and the thresholds they cross; it does not diagnose.",
             {"", 0.55, 1, {110, 110, 110}, 36});
  return lines;
}

}  // namespace

RgbImage findingsPage(const nlohmann::json& report) {
  const std::vector<Line> lines = layout(report);
  int height = kMargin, baseline = 0;
  for (const Line& l : lines)
    height += l.gapBefore + cv::getTextSize("Ag", kFont, l.scale, l.thickness, &baseline).height +
              baseline + 10;
  height += kMargin;
  cv::Mat page(height, kWidth, CV_8UC3, cv::Scalar(255, 255, 255));
  int y = kMargin;
  for (const Line& l : lines) {
    const cv::Size size = cv::getTextSize("Ag", kFont, l.scale, l.thickness, &baseline);
    y += l.gapBefore + size.height;
    cv::putText(page, l.text, {kMargin, y}, kFont, l.scale, l.colour, l.thickness, cv::LINE_AA);
    y += baseline + 10;
  }
  RgbImage rgb;
  rgb.width = static_cast<unsigned>(page.cols);
  rgb.height = static_cast<unsigned>(page.rows);
  rgb.pixels.reserve(static_cast<std::size_t>(page.total()) * 3);
  for (int r = 0; r < page.rows; ++r)
    for (int c = 0; c < page.cols; ++c) {
      const cv::Vec3b bgr = page.at<cv::Vec3b>(r, c);
      rgb.pixels.insert(rgb.pixels.end(), {bgr[2], bgr[1], bgr[0]});
    }
  return rgb;
}

}  // namespace cordscope::dicomout
