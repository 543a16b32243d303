#include "Nifti.h"

#include <itkCastImageFilter.h>
#include <itkImageFileReader.h>
#include <itkImageFileWriter.h>
#include <itkImageIOFactory.h>
#include <itkNiftiImageIO.h>
#include <sys/mman.h>
#include <sys/statvfs.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "Error.h"
#include "OutputFile.h"

namespace cordscope {
namespace {

// What niftilib prints on stderr while it works ("** ERROR: NWAD: wrote only 65184 of 2400000
// bytes to file"): caught in a memory file for the duration of one read or write, so that
// cordscope's one line is all the user sees, with the library's words folded into it when the
// operation fails. Only the calling thread runs niftilib meanwhile (ITK's NIfTI IO is serial).
class StderrCapture {
 public:
  StderrCapture() {
    std::fflush(stderr);
    memory_ = ::memfd_create("cordscope-stderr", MFD_CLOEXEC);
    saved_ = memory_ >= 0 ? ::dup(STDERR_FILENO) : -1;
    if (saved_ >= 0) ::dup2(memory_, STDERR_FILENO);
  }
  ~StderrCapture() { release(); }
  StderrCapture(const StderrCapture&) = delete;
  StderrCapture& operator=(const StderrCapture&) = delete;
  // Stops capturing; the library's first line, without its "** ERROR: " prefix ("" if silent).
  std::string release() {
    std::string text;
    if (saved_ >= 0) {
      std::fflush(stderr);
      ::dup2(saved_, STDERR_FILENO);
      ::close(saved_);
      saved_ = -1;
      char buffer[512];
      const ssize_t n = ::pread(memory_, buffer, sizeof buffer - 1, 0);
      if (n > 0) text.assign(buffer, static_cast<std::size_t>(n));
    }
    if (memory_ >= 0) ::close(memory_);
    memory_ = -1;
    text = text.substr(0, text.find('\n'));
    // "** ERROR: x" and "** ERROR (function): x" -> "x".
    if (text.rfind("** ", 0) == 0) text = text.substr(3);
    if (text.rfind("ERROR: ", 0) == 0) text = text.substr(7);
    if (text.rfind("ERROR (", 0) == 0 && text.find("): ") != std::string::npos)
      text = text.substr(text.find("): ") + 3);
    return text;
  }

 private:
  int memory_ = -1, saved_ = -1;
};

// Why a written file came out short (`missing` bytes) or was not created (0): the file
// system's own reason when it is full (of bytes or of inodes).
std::string shortWriteReason(const std::string& path, std::uintmax_t missing) {
  struct statvfs fs {};
  const std::string folder = std::filesystem::path(path).parent_path().string();
  if (::statvfs(folder.empty() ? "." : folder.c_str(), &fs) == 0 &&
      (static_cast<std::uintmax_t>(fs.f_bavail) * fs.f_frsize < missing ||
       (fs.f_files > 0 && fs.f_favail == 0)))
    return std::strerror(ENOSPC);
  return missing == 0 ? "the file was not created" : "the file came out short";
}

bool endsWith(const std::string& s, const std::string& suffix) {
  if (s.size() < suffix.size()) return false;
  std::string tail = s.substr(s.size() - suffix.size());
  std::transform(tail.begin(), tail.end(), tail.begin(), ::tolower);
  return tail == suffix;
}

std::string stripNiftiExtension(const std::string& path) {
  if (endsWith(path, ".nii.gz")) return path.substr(0, path.size() - 7);
  if (endsWith(path, ".nii")) return path.substr(0, path.size() - 4);
  return path;
}

// The BIDS / dcm2niix sidecar keys cordscope reads and writes: one table for both directions.
// Times are seconds in BIDS and milliseconds in SeriesMetadata.
struct TextKey {
  const char* key;
  std::string SeriesMetadata::*field;
};
struct NumberKey {
  const char* key;
  std::optional<double> SeriesMetadata::*field;
  double metadataPerSidecarUnit;
};
constexpr TextKey kTextKeys[] = {{"Modality", &SeriesMetadata::modality},
                                 {"Manufacturer", &SeriesMetadata::manufacturer},
                                 {"SeriesDescription", &SeriesMetadata::seriesDescription},
                                 {"ProtocolName", &SeriesMetadata::protocolName},
                                 {"SeriesInstanceUID", &SeriesMetadata::seriesInstanceUid},
                                 {"StudyInstanceUID", &SeriesMetadata::studyInstanceUid},
                                 {"PatientSex", &SeriesMetadata::patientSex}};
constexpr NumberKey kNumberKeys[] = {
    {"EchoTime", &SeriesMetadata::echoTimeMs, 1000.0},
    {"RepetitionTime", &SeriesMetadata::repetitionTimeMs, 1000.0},
    {"SliceThickness", &SeriesMetadata::sliceThicknessMm, 1.0},
    {"MagneticFieldStrength", &SeriesMetadata::magneticFieldStrengthT, 1.0}};

void readSidecar(const std::string& niftiPath, SeriesMetadata& meta) {
  std::ifstream in(stripNiftiExtension(niftiPath) + ".json");
  if (!in) return;
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return;
  for (const TextKey& k : kTextKeys)
    if (j.contains(k.key) && j[k.key].is_string()) meta.*k.field = j[k.key].get<std::string>();
  for (const NumberKey& k : kNumberKeys)
    if (j.contains(k.key) && j[k.key].is_number())
      meta.*k.field = j[k.key].get<double>() * k.metadataPerSidecarUnit;
  if (j.contains("SeriesNumber") && j["SeriesNumber"].is_number_integer())
    meta.seriesNumber = j["SeriesNumber"].get<int>();
  if (j.contains("ImageType") && j["ImageType"].is_array())
    for (const auto& part : j["ImageType"])
      if (part.is_string())
        meta.imageType += (meta.imageType.empty() ? "" : "\\") + part.get<std::string>();
  if (j.contains("PatientAge") && j["PatientAge"].is_string())
    meta.patientAgeYears = parsePatientAge(j["PatientAge"].get<std::string>(), "", "");
}

// The NIfTI-1 header read before ITK sees the file, so that a file that lies about itself is
// refused with a clear message instead of crashing a reader (a NaN in the geometry aborts in
// VNL) or allocating gigabytes for voxels that are not there (a 1.5 MB .nii.gz declaring
// 1600 x 1600 x 300). NIfTI-2 and other headers are left to ITK. Returns what the reader
// should be told about a file that can honestly be used (no orientation in it).
std::vector<std::string> checkNiftiHeader(const std::string& path) {
  std::vector<std::string> notes;
  if (!std::filesystem::is_regular_file(path)) throw InputError(path + ": not a regular file");
  unsigned char h[348];
  gzFile in = gzopen(path.c_str(), "rb");
  if (!in) throw InputError(path + ": cannot be opened");
  const int got = gzread(in, h, sizeof h);
  gzclose(in);
  if (got != static_cast<int>(sizeof h)) throw InputError(path + ": too short for a NIfTI header");
  std::int32_t size;
  std::memcpy(&size, h, 4);
  bool swap = false;
  const std::uint32_t u = static_cast<std::uint32_t>(size);
  if (size != 348) {
    swap = ((u >> 24) | ((u >> 8) & 0xFF00) | ((u << 8) & 0xFF0000) | (u << 24)) == 348;
    if (!swap) {
      // Anything else reached ITK's reader unchecked: a 397-byte file declaring 400 x 400 x 24591
      // voxels made it allocate 2 GB (found by fuzz_nifti). NIfTI-2 (540) is not read by ITK 5.2.
      const bool nifti2 = size == 540 || u == 0x1C020000u;
      throw InputError(
          path + (nifti2 ? ": a NIfTI-2 header, which this build does not read; save it as NIfTI-1 "
                           "(e.g. nibabel's Nifti1Image)"
                         : ": not a NIfTI file (its header size is not 348)"));
    }
  }
  // ITK reads a 348-byte header without the NIfTI magic as Analyze 7.5, whose orientation it
  // guesses: the left-right of the result is then anyone's guess.
  if (std::memcmp(h + 344, "n+1", 4) != 0 && std::memcmp(h + 344, "ni1", 4) != 0)
    throw InputError(path +
                     ": not a NIfTI-1 file (no 'n+1' magic): an Analyze 7.5 header, which holds no "
                     "orientation; convert the original with its orientation (dcm2niix)");
  const auto read = [&](std::size_t offset, std::size_t bytes, void* out) {
    unsigned char b[8];
    for (std::size_t k = 0; k < bytes; ++k) b[k] = h[offset + (swap ? bytes - 1 - k : k)];
    std::memcpy(out, b, bytes);
  };
  const auto i16 = [&](std::size_t o) {
    std::int16_t v;
    read(o, 2, &v);
    return v;
  };
  const auto f32 = [&](std::size_t o) {
    float v;
    read(o, 4, &v);
    return static_cast<double>(v);
  };
  const int rank = i16(40);
  if (rank < 1 || rank > 7)
    throw InputError(path + ": NIfTI header declares " + std::to_string(rank) +
                     " dimensions (1 to 7 allowed)");
  double voxels = 1;
  for (int d = 1; d <= rank; ++d) {
    const int n = i16(40 + 2 * d);
    if (n < 1)
      throw InputError(path + ": NIfTI header declares dimension " + std::to_string(d) +
                       " of size " + std::to_string(n));
    voxels *= n;
  }
  const int bitpix = i16(72);
  if (bitpix <= 0 || bitpix % 8 != 0)
    throw InputError(path + ": NIfTI header declares " + std::to_string(bitpix) +
                     " bits per voxel");
  // Geometry no scanner writes: a voxel of 0 or more than 10 m, a corner a kilometre away, a
  // matrix that squashes space. ITK would replace a 0 voxel size by 1 mm, and its SVD of an
  // sform like (6e12, 1e-38, ...) never returns (found by fuzz_nifti: a 361-byte file hung it).
  constexpr double kMaxVoxelMm = 1e4, kMinVoxelMm = 1e-4, kMaxOffsetMm = 1e6;
  const auto g = [](double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    return std::string(text);
  };
  for (int d = 1; d <= std::min(rank, 3); ++d) {
    const double pixdim = f32(76 + 4 * d);
    if (!std::isfinite(pixdim))
      throw InputError(path + ": NIfTI voxel size (pixdim) is not a number");
    if (std::abs(pixdim) < kMinVoxelMm || std::abs(pixdim) > kMaxVoxelMm)
      throw InputError(path + ": NIfTI voxel size (pixdim[" + std::to_string(d) + "]) is " +
                       g(pixdim) + " mm, not a voxel size");
  }
  const bool qform = i16(252) > 0, sform = i16(254) > 0;
  if (!qform && !sform)
    notes.push_back(
        "no orientation in the NIfTI header (qform and sform codes 0): the voxel axes were taken "
        "to point right, anterior and superior (NIfTI's fallback), so left and right, the plane "
        "and the direction of the levels may be wrong");
  if (qform)
    for (std::size_t o : {256u, 260u, 264u, 268u, 272u, 276u, 76u})
      if (!std::isfinite(f32(o)))
        throw InputError(path + ": NIfTI orientation (qform) holds a value that is not a number");
  if (qform) {
    for (std::size_t o : {256u, 260u, 264u})
      if (std::abs(f32(o)) > 1.0 + 1e-3)
        throw InputError(path +
                         ": NIfTI orientation (qform) is not a rotation (quaternion component " +
                         g(f32(o)) + ")");
    for (std::size_t o : {268u, 272u, 276u})
      if (std::abs(f32(o)) > kMaxOffsetMm)
        throw InputError(path + ": NIfTI position (qoffset) is more than a kilometre away");
  }
  if (sform) {
    for (std::size_t o = 280; o < 328; o += 4)
      if (!std::isfinite(f32(o)))
        throw InputError(path + ": NIfTI orientation (sform) holds a value that is not a number");
    // Columns: the voxel axes in mm; last column: the position of the first voxel.
    double m[3][3];
    for (int r = 0; r < 3; ++r) {
      for (int c = 0; c < 3; ++c) m[r][c] = f32(280 + 16 * r + 4 * c);
      if (std::abs(f32(280 + 16 * r + 12)) > kMaxOffsetMm)
        throw InputError(path + ": NIfTI position (sform) is more than a kilometre away");
    }
    double product = 1;
    for (int c = 0; c < 3; ++c) {
      const double length = std::sqrt(m[0][c] * m[0][c] + m[1][c] * m[1][c] + m[2][c] * m[2][c]);
      if (length < kMinVoxelMm || length > kMaxVoxelMm)
        throw InputError(path + ": NIfTI orientation (sform) makes a voxel edge " + g(length) +
                         " mm long");
      product *= length;
    }
    const double det = m[0][0] * (m[1][1] * m[2][2] - m[1][2] * m[2][1]) -
                       m[0][1] * (m[1][0] * m[2][2] - m[1][2] * m[2][0]) +
                       m[0][2] * (m[1][0] * m[2][1] - m[1][1] * m[2][0]);
    // |det| = the voxel's volume; against the product of its edges it is the sine of how far the
    // axes are from lying in one plane.
    if (std::abs(det) < 1e-3 * product)
      throw InputError(path +
                       ": NIfTI orientation (sform) puts the voxel axes (nearly) in one plane");
  }
  const double offset = std::max(348.0, f32(108));
  const double needed = offset + voxels * (bitpix / 8);
  const auto fileBytes = static_cast<double>(std::filesystem::file_size(path));
  const auto mb = [](double bytes) {
    const char* unit = bytes >= 1e9   ? " GB"
                       : bytes >= 1e6 ? " MB"
                       : bytes >= 1e3 ? " kB"
                                      : " bytes";
    const double scaled = bytes >= 1e9   ? bytes / 1e9
                          : bytes >= 1e6 ? bytes / 1e6
                          : bytes >= 1e3 ? bytes / 1e3
                                         : bytes;
    char text[32];
    std::snprintf(text, sizeof text, scaled < 10 && bytes >= 1e3 ? "%.1f" : "%.0f", scaled);
    return std::string(text) + unit;
  };
  if (endsWith(path, ".gz")) {
    // Deflate cannot expand more than about 1032:1, and the gzip trailer holds the uncompressed
    // size (modulo 2^32).
    if (needed > 1032.0 * fileBytes)
      throw InputError(path + ": NIfTI header declares " + mb(needed) + " of data, more than a " +
                       mb(fileBytes) +
                       " gzip file can hold: the header is wrong or the file is cut short");
    // The stream itself must hold the declared data: a .nii.gz cut short reads without error in
    // ITK, the missing voxels silently zero. Decompressing once more costs a few tens of ms on
    // a clinical volume.
    gzFile stream = gzopen(path.c_str(), "rb");
    if (!stream) throw InputError(path + ": cannot be opened");
    gzbuffer(stream, 1 << 17);
    std::vector<char> chunk(1 << 20);
    double total = 0;
    int n = 0;
    while (total < needed &&
           (n = gzread(stream, chunk.data(), static_cast<unsigned>(chunk.size()))) > 0)
      total += n;
    int code = Z_OK;
    gzerror(stream, &code);
    gzclose(stream);
    if (total < needed)
      throw InputError(path + ": truncated: the NIfTI header declares " + mb(needed) +
                       " of data, the gzip stream holds " + mb(total) +
                       (code != Z_OK && code != Z_STREAM_END ? " before it breaks off" : ""));
  } else if (fileBytes < needed) {
    throw InputError(path + ": truncated: the NIfTI header declares " + mb(needed) +
                     " of data, the file holds " + mb(fileBytes));
  }
  return notes;
}

// `checked`: checkNiftiHeader already ran on this path (it decompresses a .nii.gz once).
itk::NiftiImageIO::Pointer openHeader(const std::string& path, bool checked = false) {
  if (!std::filesystem::exists(path)) throw InputError(path + ": no such file");
  // ITK's warnings ("... is Analyze file and it's deprecated", qform/sform disagreements) are
  // library chatter on stderr before or instead of cordscope's one line: what matters in them is
  // checked by checkNiftiHeader and said in cordscope's words.
  itk::Object::GlobalWarningDisplayOff();
  if (!checked) checkNiftiHeader(path);
  auto io = itk::NiftiImageIO::New();
  StderrCapture chatter;
  if (!io->CanReadFile(path.c_str())) throw InputError(path + ": not a readable NIfTI file");
  io->SetFileName(path);
  try {
    io->ReadImageInformation();
  } catch (const itk::ExceptionObject& e) {
    const std::string library = chatter.release();
    throw InputError(path + ": cannot read the NIfTI header (" +
                     (library.empty() ? std::string(e.GetDescription()) : library) + ")");
  }
  return io;
}

template <typename TImage>
typename TImage::Pointer readAs(const std::string& path, bool checked = false) {
  auto io = openHeader(path, checked);
  auto reader = itk::ImageFileReader<TImage>::New();
  reader->SetImageIO(io);
  reader->SetFileName(path);
  StderrCapture chatter;
  try {
    reader->Update();
  } catch (const itk::ExceptionObject& e) {
    if (const std::string library = chatter.release(); !library.empty())
      throw InputError(path + ": cannot read the NIfTI image (" + library + ")");
    throw InputError(path + ": cannot read the NIfTI image (" + std::string(e.GetDescription()) +
                     ")");
  }
  return reader->GetOutput();
}

// gzip `from` into `to` at zlib's fastest level. ITK 5.2's NIfTI writer compresses at zlib's
// default level (6), which made `convert` slower than dcm2niix on a 400 x 400 x 15 series
// (0.45 of its 0.61 s went to deflate); level 1 writes 2.5 times faster for files about 10 %
// larger (bench/results.md).
void gzipFile(const std::string& from, const std::string& to) {
  // Into a temporary beside the target, renamed only when complete: a failed write never
  // leaves a truncated file under the real name.
  const std::string partial = to + kPartialSuffix;
  std::ifstream in(from, std::ios::binary);
  errno = 0;
  gzFile out = gzopen(partial.c_str(), "wb1");
  const auto fail = [&](const std::string& why) {
    const int error = errno;
    if (out) gzclose(out);
    std::error_code ignored;
    std::filesystem::remove(partial, ignored);
    throw OutputError(to + ": cannot write the image (" + (error ? std::strerror(error) : why) +
                      ")");
  };
  if (!in || !out) fail("cannot open it");
  std::vector<char> buffer(1 << 20);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    const auto n = static_cast<unsigned>(in.gcount());
    if (n > 0 && gzwrite(out, buffer.data(), n) != static_cast<int>(n)) fail("compression failed");
  }
  if (in.bad()) fail("cannot read back the NIfTI written before compression");
  errno = 0;
  const int closed = gzclose(out);
  out = nullptr;
  if (closed != Z_OK) fail("cannot finish the compressed stream");
  commitPartial(partial, to, "the image");
}

template <typename TImage>
void writeAs(const TImage* image, const std::string& path) {
  // Written plain into a temporary beside the target, checked to be whole (niftilib reports a
  // short write only on stderr, and ITK does not notice), then renamed over the target or, for
  // .nii.gz, compressed into it: a failed write never leaves a truncated file under the real name.
  const bool compressed = endsWith(path, ".gz");
  const std::string plain = stripNiftiExtension(path) + ".cordscope-tmp.nii";
  const auto discard = [&] {
    std::error_code ignored;
    std::filesystem::remove(plain, ignored);
  };
  auto writer = itk::ImageFileWriter<TImage>::New();
  writer->SetImageIO(itk::NiftiImageIO::New());
  writer->SetFileName(plain);
  writer->SetInput(image);
  writer->SetUseCompression(false);
  StderrCapture chatter;
  try {
    writer->Update();
  } catch (const itk::ExceptionObject& e) {
    discard();
    const std::string library = chatter.release();
    throw OutputError(path + ": cannot write the image (" +
                      (library.empty() ? std::string(e.GetDescription()) : library) + ")");
  }
  const std::string library = chatter.release();
  // The voxels begin at vox_offset (bytes 108-111 of the header, a float).
  std::uintmax_t expected = 0;
  {
    std::ifstream in(plain, std::ios::binary);
    float offset = 0;
    in.seekg(108);
    in.read(reinterpret_cast<char*>(&offset), sizeof offset);
    if (in && std::isfinite(offset) && offset >= 348)
      expected = static_cast<std::uintmax_t>(offset) +
                 image->GetLargestPossibleRegion().GetNumberOfPixels() *
                     sizeof(typename TImage::PixelType);
  }
  std::error_code ec;
  const std::uintmax_t actual = std::filesystem::file_size(plain, ec);
  if (ec || expected == 0 || actual < expected) {
    discard();
    const std::uintmax_t missing = ec ? 0 : expected > actual ? expected - actual : 1;
    throw OutputError(path + ": cannot write the image (" + shortWriteReason(path, missing) +
                      (library.empty() ? "" : "; " + library) + ")");
  }
  try {
    if (compressed) {
      gzipFile(plain, path);
      discard();
    } else {
      commitPartial(plain, path, "the image");
    }
  } catch (...) {
    discard();
    throw;
  }
}

template <typename TOut>
void writeCast(const Image* image, const std::string& path) {
  using OutImage = itk::Image<TOut, 3>;
  auto cast = itk::CastImageFilter<Image, OutImage>::New();
  cast->SetInput(image);
  cast->Update();
  writeAs<OutImage>(cast->GetOutput(), path);
}

}  // namespace

void writeSidecar(const SeriesMetadata& meta, const std::string& niftiPath) {
  nlohmann::json j;
  for (const TextKey& k : kTextKeys)
    if (!(meta.*k.field).empty()) j[k.key] = meta.*k.field;
  for (const NumberKey& k : kNumberKeys)
    if (meta.*k.field) j[k.key] = *(meta.*k.field) / k.metadataPerSidecarUnit;
  if (meta.seriesNumber) j["SeriesNumber"] = meta.seriesNumber;
  j["ConversionSoftware"] = "cordscope";
  const std::string path = stripNiftiExtension(niftiPath) + ".json";
  std::ostringstream out;
  out << j.dump(2) << "\n";
  writeFileAtomically(path, out.str(), "the sidecar");
}

bool isNiftiPath(const std::string& path) {
  return endsWith(path, ".nii") || endsWith(path, ".nii.gz");
}

SeriesEntry scanNifti(const std::string& path) {
  if (!std::filesystem::exists(path)) throw InputError(path + ": no such file");
  const std::vector<std::string> notes = checkNiftiHeader(path);
  auto io = openHeader(path, true);
  SeriesEntry entry;
  entry.notes = notes;
  entry.id = path;
  entry.kind = "nifti";
  entry.fileCount = 1;
  entry.meta.modality = "MR";
  readSidecar(path, entry.meta);
  if (entry.meta.seriesDescription.empty())
    entry.meta.seriesDescription =
        std::filesystem::path(stripNiftiExtension(path)).filename().string();
  const unsigned dims = io->GetNumberOfDimensions();
  for (unsigned d = 3; d < dims; ++d)
    if (io->GetDimensions(d) > 1) entry.volumeCount *= io->GetDimensions(d);
  if (dims < 3 || io->GetDimensions(2) < 2)
    entry.problems.push_back("a single 2D slice, not a 3D volume");
  if (entry.volumeCount > 1)
    entry.problems.push_back("4D NIfTI with " + std::to_string(entry.volumeCount) +
                             " volumes; extract one 3D volume first");
  if (io->GetNumberOfComponents() != 1)
    entry.problems.push_back("vector image (" + std::to_string(io->GetNumberOfComponents()) +
                             " components)");
  for (unsigned a = 0; a < 3; ++a) {
    entry.size[a] = a < dims ? io->GetDimensions(a) : 1;
    entry.spacing[a] = a < dims ? io->GetSpacing(a) : 1.0;
    entry.origin[a] = a < dims ? io->GetOrigin(a) : 0.0;
    const auto column = io->GetDirection(std::min(a, dims - 1));
    for (unsigned r = 0; r < 3; ++r)
      entry.direction[r][a] = r < column.size() ? column[r] : (r == a);
  }
  entry.orientation = classifyOrientation(entry.direction);
  return entry;
}

Volume readNifti(const std::string& path) {
  const SeriesEntry entry = scanNifti(path);
  if (!entry.loadable()) throw InputError(path + ": " + entry.problems.front());
  Volume volume;
  volume.image = readAs<Image>(path, true);  // scanNifti checked it
  volume.meta = entry.meta;
  volume.sourcePath = path;
  volume.sourceKind = "nifti";
  volume.warnings = entry.notes;
  return volume;
}

void writeNifti(const Image* image, const std::string& path, NiftiStorage storage) {
  if (storage == NiftiStorage::Auto) {
    const float* values = image->GetBufferPointer();
    const std::size_t count = image->GetBufferedRegion().GetNumberOfPixels();
    bool whole = true;
    float lo = std::numeric_limits<float>::max(), hi = std::numeric_limits<float>::lowest();
    for (std::size_t i = 0; i < count && whole; ++i) {
      whole = values[i] == std::nearbyint(values[i]);
      lo = std::min(lo, values[i]);
      hi = std::max(hi, values[i]);
    }
    if (whole && lo >= -32768 && hi <= 32767) return writeCast<std::int16_t>(image, path);
    if (whole && lo >= 0 && hi <= 65535) return writeCast<std::uint16_t>(image, path);
  }
  writeAs<Image>(image, path);
}

void writeNifti(const Mask* mask, const std::string& path) {
  writeAs<Mask>(mask, path);
}
void writeNifti(const LabelImage* labels, const std::string& path) {
  writeAs<LabelImage>(labels, path);
}

namespace {

// A mask or label map read through float and converted here, not by ITK's reader: its cast of an
// out-of-range or NaN value is undefined behaviour (found by fuzz_discs: 1.6e29 into a mask),
// and a label 300 in a mask must not silently become 44. Values are rounded to the nearest
// integer (a float mask of 0.0/1.0 as before; a soft mask's 0.7 counts as in).
template <typename TImage>
typename TImage::Pointer readLabelled(const std::string& path, const char* what) {
  using Pixel = typename TImage::PixelType;
  const Image::Pointer values = readAs<Image>(path);
  auto out = TImage::New();
  out->CopyInformation(values);
  out->SetRegions(values->GetLargestPossibleRegion());
  out->Allocate();
  const float* in = values->GetBufferPointer();
  Pixel* to = out->GetBufferPointer();
  const std::size_t n = values->GetLargestPossibleRegion().GetNumberOfPixels();
  const double top = static_cast<double>(std::numeric_limits<Pixel>::max());
  for (std::size_t i = 0; i < n; ++i) {
    const double v = std::nearbyint(static_cast<double>(in[i]));
    if (!(v >= 0 && v <= top))
      throw InputError(path + ": not a " + what + ": a voxel holds " + std::to_string(in[i]) +
                       " (expected whole numbers 0-" + std::to_string(static_cast<long>(top)) +
                       ")");
    to[i] = static_cast<Pixel>(v);
  }
  return out;
}

}  // namespace

Mask::Pointer readMask(const std::string& path) {
  return readLabelled<Mask>(path, "mask");
}
LabelImage::Pointer readLabels(const std::string& path) {
  return readLabelled<LabelImage>(path, "label image");
}

}  // namespace cordscope
