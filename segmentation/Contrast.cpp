#include "segmentation/Contrast.h"

#include <algorithm>
#include <cctype>

#include "data/Error.h"

namespace cordscope {

std::string toString(Contrast contrast) {
  switch (contrast) {
    case Contrast::T1:
      return "t1";
    case Contrast::T2:
      return "t2";
    case Contrast::T2star:
      return "t2s";
    case Contrast::Auto:
      break;
  }
  return "auto";
}

Contrast parseContrast(const std::string& text) {
  std::string t = text;
  std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
  if (t == "auto") return Contrast::Auto;
  if (t == "t1") return Contrast::T1;
  if (t == "t2") return Contrast::T2;
  if (t == "t2s" || t == "t2*" || t == "t2star") return Contrast::T2star;
  throw UsageError("unknown contrast '" + text + "': use auto, t1, t2 or t2s");
}

int csfSign(Contrast contrast) {
  return contrast == Contrast::T1 ? -1 : +1;
}

Contrast nameContrast(int sign, const SeriesMetadata& meta) {
  if (sign < 0) return Contrast::T1;
  const Contrast hinted = contrastFromMetadata(meta);
  if (hinted == Contrast::T2star) return Contrast::T2star;
  // Bright CSF with a short TE and TR can only be a gradient echo.
  if (hinted != Contrast::T2 && meta.echoTimeMs && meta.repetitionTimeMs && *meta.echoTimeMs < 30 &&
      *meta.repetitionTimeMs < 1000)
    return Contrast::T2star;
  return Contrast::T2;
}

Contrast contrastFromMetadata(const SeriesMetadata& meta) {
  std::string text = meta.seriesDescription + " " + meta.protocolName;
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return std::toupper(c); });
  // "MT" before a weighting's name is magnetisation transfer ("MT1", "MT0": the MT-on and MT-off
  // images of a gradient echo), not that weighting.
  const auto has = [&](const char* word) {
    for (std::size_t at = text.find(word); at != std::string::npos; at = text.find(word, at + 1))
      if (!(word[0] == 'T' && at > 0 && text[at - 1] == 'M')) return true;
    return false;
  };
  if (has("T2*") || has("T2STAR") || has("T2_STAR") || has("MEDIC") || has("MERGE") || has("FFE") ||
      has("GRE"))
    return Contrast::T2star;
  if (has("T1")) return Contrast::T1;
  if (has("T2")) return Contrast::T2;
  if (meta.echoTimeMs && meta.repetitionTimeMs) {
    const double te = *meta.echoTimeMs, tr = *meta.repetitionTimeMs;
    if (tr >= 1500 && te >= 60) return Contrast::T2;
    // Short TE and TR is T1 spin echo or a T2* gradient echo: only the image can tell.
  }
  return Contrast::Auto;
}

}  // namespace cordscope
