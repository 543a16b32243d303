#include "Levels.h"

#include <cctype>

#include "Error.h"

namespace cordscope {

std::string levelName(int level) {
  if (level >= 1 && level <= 7) return "C" + std::to_string(level);
  if (level >= 8 && level <= 19) return "T" + std::to_string(level - 7);
  if (level >= 20 && level <= 24) return "L" + std::to_string(level - 19);
  return "?" + std::to_string(level);
}

int parseLevel(const std::string& name) {
  if (name.size() >= 2) {
    const char region = static_cast<char>(std::toupper(static_cast<unsigned char>(name[0])));
    try {
      std::size_t used = 0;
      const int n = std::stoi(name.substr(1), &used);
      if (used == name.size() - 1) {
        if (region == 'C' && n >= 1 && n <= 7) return n;
        if (region == 'T' && n >= 1 && n <= 12) return n + 7;
        if (region == 'L' && n >= 1 && n <= 5) return n + 19;
      }
    } catch (const std::exception&) {
    }
  }
  throw UsageError("'" + name + "' is not a vertebral level (C1..C7, T1..T12, L1..L5)");
}

std::string discName(int lowerVertebra) {
  return levelName(lowerVertebra - 1) + "-" + levelName(lowerVertebra);
}

}  // namespace cordscope
