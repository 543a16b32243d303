// report.html: one self-contained page (pictures embedded as data URIs, no script, no external
// resource) that opens offline. Built from the report JSON itself, so the page and report.json
// never disagree: key findings first in a radiologist's words, then the pictures, the tables,
// and the method and conventions used.
#pragma once
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

namespace cordscope {

struct EmbeddedPicture {
  std::string title;
  std::string pngPath;  // skipped when the file does not exist
};

// The sentences at the top of the page (also the console's summary lines), each with its topic:
// "cord", "lesion", "prognosis", "craniocervical" or "levels".
struct Finding {
  std::string topic, text;
};
std::vector<Finding> keyFindings(const nlohmann::json& report);

std::string renderHtmlReport(const nlohmann::json& report,
                             const std::vector<EmbeddedPicture>& pictures);

// Helpers other pages share: HTML-escaped text; a PNG file as a data URI (empty when absent).
std::string htmlEscape(const std::string& text);
std::string pngDataUri(const std::string& path);

void writeHtmlReport(const nlohmann::json& report, const std::vector<EmbeddedPicture>& pictures,
                     const std::string& path);

}  // namespace cordscope
