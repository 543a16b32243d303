// A walk over a DICOM file's element structure that reads no values, for what the parsers cannot
// be trusted with. DCMTK and GDCM parse nested sequences by recursion, one stack frame chain per
// level: a file nested 10,000 deep (a few hundred kilobytes) overflows the stack and kills the
// process - in `batch` the parent that scans a whole archive. Real objects nest a few levels (an
// enhanced MR's functional groups 3, a structured report's content tree rarely 20), so the walk
// stops at a limit and the file is skipped with its defect before any parser sees it.
#pragma once
#include <cstddef>
#include <filesystem>

namespace cordscope::dicom {

// The deepest sequence nesting in the file's dataset (0: no sequences), counted up to `limit` + 1
// (it stops there). Reads tags and lengths only, seeking over values, up to the top-level pixel
// data. Explicit and implicit VR, little and big endian; implicit VR sequences of defined length
// are recognised by DCMTK's data dictionary; encapsulated pixel data items are skipped, not
// entered. A file that is not DICOM or ends early gives the depth reached so far (the parsers
// then refuse it with their own reason). Deflated datasets are not walked (0).
std::size_t sequenceNestingDepth(const std::filesystem::path& file, std::size_t limit);

// Deeper than any real DICOM object; far below what overflows the parsers' stacks (about 10,000).
constexpr std::size_t kMaxSequenceNesting = 64;

}  // namespace cordscope::dicom
