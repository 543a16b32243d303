#include "DicomStructure.h"

#include <dcmtk/dcmdata/dctag.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

namespace cordscope::dicom {
namespace {

constexpr std::uint32_t kUndefined = 0xFFFFFFFFu;

// Sequential reads with seeks over values; every read is checked, so a short file just ends.
class Reader {
 public:
  explicit Reader(const std::filesystem::path& path)
      : file_(std::fopen(path.c_str(), "rb"), &std::fclose) {
    if (file_) {
      std::fseek(file_.get(), 0, SEEK_END);
      size_ = static_cast<std::uint64_t>(std::max(0L, std::ftell(file_.get())));
      std::fseek(file_.get(), 0, SEEK_SET);
    }
  }
  bool ok() const { return file_ != nullptr; }
  std::uint64_t position() const { return position_; }
  bool atEnd() const { return position_ >= size_; }
  bool read(void* out, std::size_t n) {
    if (position_ + n > size_ || std::fread(out, 1, n, file_.get()) != n) {
      position_ = size_;
      return false;
    }
    position_ += n;
    return true;
  }
  bool seek(std::uint64_t to) {
    if (to > size_ || fseeko(file_.get(), static_cast<off_t>(to), SEEK_SET) != 0) {
      position_ = size_;
      return false;
    }
    position_ = to;
    return true;
  }
  std::uint16_t u16(bool big) {
    unsigned char b[2] = {0, 0};
    read(b, 2);
    return big ? static_cast<std::uint16_t>(b[0] << 8 | b[1])
               : static_cast<std::uint16_t>(b[1] << 8 | b[0]);
  }
  std::uint32_t u32(bool big) {
    unsigned char b[4] = {0, 0, 0, 0};
    read(b, 4);
    return big ? (std::uint32_t{b[0]} << 24 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 8 |
                  b[3])
               : (std::uint32_t{b[3]} << 24 | std::uint32_t{b[2]} << 16 | std::uint32_t{b[1]} << 8 |
                  b[0]);
  }

 private:
  std::unique_ptr<std::FILE, decltype(&std::fclose)> file_;
  std::uint64_t size_ = 0, position_ = 0;
};

// VRs whose explicit-VR header has two reserved bytes and a 32-bit length.
bool hasLongLength(const char vr[2]) {
  static const char* const kLong[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                      "SV", "UC", "UN", "UR", "UT", "UV"};
  for (const char* v : kLong)
    if (vr[0] == v[0] && vr[1] == v[1]) return true;
  return false;
}

enum class Kind { Sequence, Item, Fragments };
struct Container {
  Kind kind;
  bool undefinedLength;
  std::uint64_t end;  // when defined
};

}  // namespace

std::size_t sequenceNestingDepth(const std::filesystem::path& path, std::size_t limit) {
  Reader in(path);
  if (!in.ok()) return 0;
  // Preamble and the file meta group (always explicit VR little endian).
  char magic[4] = {0, 0, 0, 0};
  bool explicitVr = true, bigEndian = false;
  if (in.seek(128) && in.read(magic, 4) && std::memcmp(magic, "DICM", 4) == 0) {
    std::string syntax;
    while (!in.atEnd()) {
      const std::uint64_t at = in.position();
      if (in.u16(false) != 0x0002) {
        in.seek(at);
        break;
      }
      const std::uint16_t element = in.u16(false);
      char vr[2] = {0, 0};
      in.read(vr, 2);
      std::uint32_t length = in.u16(false);
      if (hasLongLength(vr)) length = in.u32(false);
      if (length == kUndefined) return 0;  // not a meta group DCMTK accepts either
      if (element == 0x0010 && length < 256) {
        syntax.resize(length);
        in.read(syntax.data(), length);
        while (!syntax.empty() && (syntax.back() == '\0' || syntax.back() == ' '))
          syntax.pop_back();
      } else {
        in.seek(in.position() + length);
      }
    }
    if (syntax == "1.2.840.10008.1.2.1.99") return 0;  // deflated: the dataset is a zlib stream
    explicitVr = syntax != "1.2.840.10008.1.2";
    bigEndian = syntax == "1.2.840.10008.1.2.2";
  } else {
    // No preamble: a raw dataset; explicit VR when bytes 4-5 look like a VR.
    in.seek(0);
    unsigned char head[6] = {0, 0, 0, 0, 0, 0};
    in.read(head, 6);
    explicitVr = head[4] >= 'A' && head[4] <= 'Z' && head[5] >= 'A' && head[5] <= 'Z';
    in.seek(0);
  }

  std::vector<Container> open;
  std::size_t depth = 0, deepest = 0;
  const auto push = [&](Kind kind, std::uint32_t length) {
    open.push_back({kind, length == kUndefined, length == kUndefined ? 0 : in.position() + length});
    if (kind != Kind::Item) deepest = std::max(deepest, ++depth);
  };
  const auto pop = [&] {
    if (open.back().kind != Kind::Item) --depth;
    open.pop_back();
  };
  while (deepest <= limit) {
    while (!open.empty() && !open.back().undefinedLength && in.position() >= open.back().end) pop();
    if (in.atEnd()) break;
    const std::uint16_t group = in.u16(bigEndian), element = in.u16(bigEndian);
    if (group == 0xFFFE) {  // items and delimiters: no VR in any syntax
      const std::uint32_t length = in.u32(bigEndian);
      if (element == 0xE000) {
        if (!open.empty() && open.back().kind == Kind::Fragments) {
          if (length == kUndefined) break;  // a fragment has a length: damaged
          in.seek(in.position() + length);
        } else {
          push(Kind::Item, length);
        }
      } else if (element == 0xE00D) {  // item delimitation
        while (!open.empty() && open.back().kind != Kind::Item) pop();
        if (!open.empty()) pop();
      } else if (element == 0xE0DD) {  // sequence delimitation
        while (!open.empty() && open.back().kind == Kind::Item) pop();
        if (!open.empty()) pop();
      }
      continue;
    }
    if (open.empty() && group == 0x7FE0 && element == 0x0010)
      break;  // pixel data: the end of the header
    char vr[2] = {0, 0};
    std::uint32_t length = 0;
    bool sequence = false;
    if (explicitVr) {
      in.read(vr, 2);
      length = hasLongLength(vr) ? (in.u16(bigEndian), in.u32(bigEndian)) : in.u16(bigEndian);
      sequence = vr[0] == 'S' && vr[1] == 'Q';
      // DCMTK reads UN of undefined length as an implicit VR sequence.
      if (vr[0] == 'U' && vr[1] == 'N' && length == kUndefined) sequence = true;
    } else {
      length = in.u32(bigEndian);
      sequence = DcmTag(group, element).getEVR() == EVR_SQ;
    }
    if (sequence) {
      push(Kind::Sequence, length);
    } else if (length == kUndefined) {
      // Encapsulated pixel data (an icon's, inside a sequence): items of fragments; or, in
      // implicit VR, an unknown element read as a sequence.
      const bool pixels = explicitVr && (vr[0] == 'O');
      push(pixels ? Kind::Fragments : Kind::Sequence, length);
    } else {
      in.seek(in.position() + length);
    }
  }
  return deepest;
}

}  // namespace cordscope::dicom
