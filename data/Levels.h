// Vertebral level names and numbers, the Spinal Cord Toolbox convention (CLINICAL.md):
// 1 = C1 ... 7 = C7, 8 = T1, 9 = T2, ... A disc is named by the vertebrae it separates ("C2-C3");
// in label images disc value N marks the disc at the top of vertebra N (3 = C2-C3).
#pragma once
#include <string>

namespace cordscope {

std::string levelName(int level);         // 3 -> "C3", 8 -> "T1", 21 -> "L1"
int parseLevel(const std::string& name);  // "C3" / "c3" -> 3; throws UsageError when not a level
std::string discName(int lowerVertebra);  // 3 -> "C2-C3", 8 -> "C7-T1"

}  // namespace cordscope
