// CSV output shared by the tables cordscope writes (RFC 4180 quoting).
#pragma once
#include <string>

namespace cordscope {

// The field as written in a CSV row: quoted when it holds a comma, a quote or a line break.
inline std::string csvField(const std::string& value) {
  if (value.find_first_of(",\"\n\r") == std::string::npos) return value;
  std::string out = "\"";
  for (const char c : value) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace cordscope
