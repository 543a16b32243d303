#include "TestSupport.h"

#include <itkImageRegionConstIteratorWithIndex.h>
#include <itkRegionOfInterestImageFilter.h>
#include <sys/wait.h>

#include <array>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>

#include "data/Nifti.h"

namespace cordscope::test {

namespace fs = std::filesystem;

std::optional<fs::path> sharedData() {
  const char* env = std::getenv("CORDSCOPE_SHARED_DATA");
  const fs::path candidate = env && *env ? fs::path(env) : fs::path(CORDSCOPE_SHARED_DATA_DEFAULT);
  if (fs::is_directory(candidate / "real")) return fs::canonical(candidate);
  return std::nullopt;
}

nlohmann::json readJson(const fs::path& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

bool runningInCi() {
  const char* env = std::getenv("CORDSCOPE_CI");
  return env && *env && std::string(env) != "0";
}

std::string quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

CommandResult runShell(const std::string& command) {
  TempDir scratch;
  const std::string out = scratch / "stdout", err = scratch / "stderr";
  const int status =
      std::system((command + " >" + quote(out) + " 2>" + quote(err) + " </dev/null").c_str());
  CommandResult result;
  result.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  auto slurp = [](const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  };
  result.out = slurp(out);
  result.err = slurp(err);
  return result;
}

CommandResult runCordscope(const std::string& args) {
  return runShell(quote(CORDSCOPE_BINARY) + " " + args);
}

TempDir::TempDir() {
  std::random_device device;
  path_ = fs::temp_directory_path() /
          ("cordscope-test-" + std::to_string(device()) + std::to_string(device()));
  fs::create_directories(path_);
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

std::string compareInWorld(const Image* a, const Image* b, double tolMm, double valueTol) {
  const auto sizeA = a->GetLargestPossibleRegion().GetSize();
  const auto sizeB = b->GetLargestPossibleRegion().GetSize();
  if (sizeA[0] * sizeA[1] * sizeA[2] != sizeB[0] * sizeB[1] * sizeB[2])
    return "different voxel counts";
  std::size_t compared = 0;
  for (itk::ImageRegionConstIteratorWithIndex<Image> it(a, a->GetLargestPossibleRegion());
       !it.IsAtEnd(); ++it) {
    Image::PointType point;
    a->TransformIndexToPhysicalPoint(it.GetIndex(), point);
    itk::ContinuousIndex<double, 3> continuous;
    b->TransformPhysicalPointToContinuousIndex(point, continuous);
    Image::IndexType index;
    for (int d = 0; d < 3; ++d) {
      index[d] = std::lround(continuous[d]);
      if (std::abs(continuous[d] - index[d]) * b->GetSpacing()[d] > tolMm) {
        std::ostringstream s;
        s << "voxel " << it.GetIndex() << " at " << point
          << " falls between voxels of the other image (" << continuous << ")";
        return s.str();
      }
    }
    if (!b->GetLargestPossibleRegion().IsInside(index)) return "voxel outside the other image";
    if (std::abs(it.Get() - b->GetPixel(index)) > valueTol) {
      std::ostringstream s;
      s << "value differs at " << it.GetIndex() << ": " << it.Get() << " vs " << b->GetPixel(index);
      return s.str();
    }
    ++compared;
  }
  return compared > 0 ? "" : "no voxels";
}

fs::path runDcm2niix(const fs::path& dicomFolder, const TempDir& scratch) {
  const fs::path out = scratch.path() / "dcm2niix";
  fs::create_directories(out);
  const CommandResult r = runShell("dcm2niix -z y -f ref -o " + quote(out.string()) + " " +
                                   quote(dicomFolder.string()));
  EXPECT_EQ(r.exitCode, 0) << r.out << r.err;
  for (const auto& entry : fs::directory_iterator(out))
    if (entry.path().string().size() > 7 &&
        entry.path().string().substr(entry.path().string().size() - 7) == ".nii.gz")
      return entry.path();
  ADD_FAILURE() << "dcm2niix wrote no NIfTI for " << dicomFolder << ": " << r.out;
  return {};
}

double dice(const Mask* a, const Mask* b) {
  const std::size_t n = a->GetBufferedRegion().GetNumberOfPixels();
  if (n != b->GetBufferedRegion().GetNumberOfPixels()) return -1;
  std::size_t both = 0, inA = 0, inB = 0;
  const auto* pa = a->GetBufferPointer();
  const auto* pb = b->GetBufferPointer();
  for (std::size_t i = 0; i < n; ++i) {
    inA += pa[i] != 0;
    inB += pb[i] != 0;
    both += pa[i] != 0 && pb[i] != 0;
  }
  return inA + inB ? 2.0 * both / (inA + inB) : 1.0;
}

CroppedPhantom writePhantomWithoutJunction(const fs::path& dir, unsigned seed, double marginMm) {
  CroppedPhantom out;
  const fs::path phantom = dir / "phantom", full = dir / "full.nii.gz";
  const auto made =
      runCordscope("phantom -o " + quote(phantom.string()) + " --seed " + std::to_string(seed));
  EXPECT_EQ(made.exitCode, 0) << made.err;
  const auto converted = runCordscope("convert " + quote((phantom / "dicom").string()) + " -o " +
                                      quote(full.string()));
  EXPECT_EQ(converted.exitCode, 0) << converted.err;
  std::ifstream in(phantom / "truth.json");
  out.truth = nlohmann::json::parse(in);
  double cutZ = NAN;  // superior coordinate (RAS z = LPS z) of the cut
  for (const auto& disc : out.truth["discs"])
    if (disc["name"] == "C2-C3") cutZ = disc["position_ras_mm"][2].get<double>() + marginMm;
  EXPECT_TRUE(std::isfinite(cutZ)) << "no C2-C3 disc in the phantom's truth";
  for (const auto& disc : out.truth["discs"])
    out.discsInView += disc["position_ras_mm"][2].get<double>() < cutZ;

  const Volume volume = readNifti(full.string());
  const Image* image = volume.image.GetPointer();
  // The grid axis closest to superior, and the voxels along it at or below the cut.
  const auto direction = image->GetDirection();
  int axis = 0;
  for (int a = 1; a < 3; ++a)
    if (std::abs(direction[2][a]) > std::abs(direction[2][axis])) axis = a;
  Image::RegionType region = image->GetLargestPossibleRegion();
  const long size = static_cast<long>(region.GetSize()[axis]);
  long first = size, last = -1;
  for (long i = 0; i < size; ++i) {
    Image::IndexType index = region.GetIndex();
    index[axis] = i;
    Image::PointType point;
    image->TransformIndexToPhysicalPoint(index, point);
    if (point[2] <= cutZ) {
      first = std::min(first, i);
      last = std::max(last, i);
    }
  }
  EXPECT_LT(first, last) << "the cut leaves nothing";
  region.SetIndex(axis, first);
  region.SetSize(axis, static_cast<std::size_t>(last - first + 1));
  auto crop = itk::RegionOfInterestImageFilter<Image, Image>::New();
  crop->SetInput(image);
  crop->SetRegionOfInterest(region);
  crop->Update();
  out.nifti = dir / "cropped.nii.gz";
  writeNifti(crop->GetOutput(), out.nifti.string());
  writeSidecar(volume.meta, out.nifti.string());
  return out;
}

void nestSequences(const std::filesystem::path& file, std::size_t depth, bool undefined) {
  std::ifstream in(file, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  in.close();
  const std::string pixelTag("\xE0\x7F\x10\x00", 4);
  const std::size_t at = bytes.rfind(pixelTag);
  if (at == std::string::npos)
    throw std::runtime_error("nestSequences: no pixel data in " + file.string());
  const auto u32 = [](std::uint32_t v) {
    return std::string{static_cast<char>(v & 0xFF), static_cast<char>(v >> 8 & 0xFF),
                       static_cast<char>(v >> 16 & 0xFF), static_cast<char>(v >> 24 & 0xFF)};
  };
  const std::string sequenceTag("\x40\x00\x30\xA7SQ\0\0", 8), itemTag("\xFE\xFF\x00\xE0", 4);
  std::string nested;
  if (undefined) {
    std::string open, close;
    for (std::size_t i = 0; i < depth; ++i) {
      open += sequenceTag + u32(0xFFFFFFFFu) + itemTag + u32(0xFFFFFFFFu);
      close += std::string("\xFE\xFF\x0D\xE0\0\0\0\0\xFE\xFF\xDD\xE0\0\0\0\0", 16);
    }
    nested = open + close;
  } else {
    for (std::size_t i = 0; i < depth; ++i) {  // from the inside out
      const std::string item = itemTag + u32(static_cast<std::uint32_t>(nested.size())) + nested;
      nested = sequenceTag + u32(static_cast<std::uint32_t>(item.size())) + item;
    }
  }
  bytes.insert(at, nested);
  std::ofstream(file, std::ios::binary | std::ios::trunc) << bytes;
}

}  // namespace cordscope::test
