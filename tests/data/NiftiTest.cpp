#include <gtest/gtest.h>
#include <zlib.h>

#include <array>
#include <cstring>
#include <fstream>
#include <limits>

#include "TestSupport.h"
#include "data/Error.h"
#include "data/Nifti.h"

namespace cordscope {
namespace {

struct NiftiHeader {
  short qformCode = 0, sformCode = 0;
  std::array<short, 8> dim{};
  std::array<float, 12> srow{};
};

NiftiHeader readHeader(const std::string& path) {
  gzFile file = gzopen(path.c_str(), "rb");
  char raw[348] = {};
  const int got = gzread(file, raw, sizeof raw);
  gzclose(file);
  EXPECT_EQ(got, 348);
  NiftiHeader h;
  std::memcpy(h.dim.data(), raw + 40, sizeof h.dim);
  std::memcpy(&h.qformCode, raw + 252, 2);
  std::memcpy(&h.sformCode, raw + 254, 2);
  std::memcpy(h.srow.data(), raw + 280, sizeof h.srow);
  return h;
}

// A mask written on a NIfTI input's grid has its shape and affine, with qform and sform both set,
// so that it can be compared voxel by voxel with the expert masks.
TEST(Nifti, MaskOnInputGridKeepsShapeAndAffine) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  for (const char* name : {"real/sct-t2/t2.nii.gz", "real/pam50-small/PAM50_small_t2.nii.gz",
                           "real/sct-t2-lesion/t2_lesion.nii.gz"}) {
    const std::string input = (data / name).string();
    const Volume volume = readNifti(input);
    auto mask = Mask::New();
    mask->CopyInformation(volume.image);
    mask->SetRegions(volume.image->GetLargestPossibleRegion());
    mask->Allocate(true);
    test::TempDir dir;
    writeNifti(mask.GetPointer(), dir / "mask.nii.gz");
    const NiftiHeader in = readHeader(input), out = readHeader(dir / "mask.nii.gz");
    EXPECT_GT(out.qformCode, 0) << name;
    EXPECT_GT(out.sformCode, 0) << name;
    for (int i = 1; i <= 3; ++i) EXPECT_EQ(in.dim[i], out.dim[i]) << name;
    if (in.sformCode > 0) {
      for (int i = 0; i < 12; ++i)
        EXPECT_NEAR(in.srow[i], out.srow[i], 1e-4) << name << " srow " << i;
    }
  }
}

// Masks and label maps are converted by cordscope, not by ITK's cast: a value no mask can hold
// (1.6e29, found by fuzz_discs; 300; -2) is refused with the file named, a float mask 0/1 reads
// as before, a soft mask's 0.7 counts as in.
TEST(Nifti, MaskValuesOutOfRangeAreRefused) {
  test::TempDir dir;
  auto image = Image::New();
  image->SetRegions(Image::SizeType{{4, 4, 4}});
  image->Allocate(true);
  image->GetBufferPointer()[5] = 1.0f;
  image->GetBufferPointer()[6] = 0.7f;
  writeNifti(image.GetPointer(), dir / "soft.nii.gz");
  const Mask::Pointer soft = readMask(dir / "soft.nii.gz");
  EXPECT_EQ(soft->GetBufferPointer()[5], 1);
  EXPECT_EQ(soft->GetBufferPointer()[6], 1);
  EXPECT_EQ(soft->GetBufferPointer()[7], 0);
  for (const float bad : {1.6e29f, 300.0f, -2.0f}) {
    image->GetBufferPointer()[9] = bad;
    writeNifti(image.GetPointer(), dir / "bad.nii.gz");
    try {
      readMask(dir / "bad.nii.gz");
      ADD_FAILURE() << bad << " was read as a mask";
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find("bad.nii.gz: not a mask: a voxel holds"),
                std::string::npos)
          << e.what();
    }
  }
  image->GetBufferPointer()[9] = 300.0f;
  writeNifti(image.GetPointer(), dir / "bad.nii.gz");
  EXPECT_EQ(readLabels(dir / "bad.nii.gz")->GetBufferPointer()[9], 300);
}

// A header without the NIfTI magic (ITK would read it as Analyze 7.5, orientation guessed) is
// refused; one without any orientation (qform and sform codes 0) is read with a warning that
// says so - both were silent (issue 23).
TEST(Nifti, MissingMagicIsRefusedMissingOrientationIsSaid) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  test::TempDir dir;
  const Volume real = readNifti((data / "real/sct-mt-axial/mt0.nii.gz").string());
  EXPECT_TRUE(real.warnings.empty());
  writeNifti(real.image.GetPointer(), dir / "plain.nii", NiftiStorage::Float32);
  std::string bytes;
  {
    std::ifstream in(dir / "plain.nii", std::ios::binary);
    bytes.assign((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  }
  ASSERT_GT(bytes.size(), 348u);
  std::string noMagic = bytes;
  noMagic.replace(344, 4, std::string("xx1\0", 4));
  std::ofstream(dir / "nomagic.nii", std::ios::binary) << noMagic;
  try {
    readNifti(dir / "nomagic.nii");
    ADD_FAILURE() << "a file without the NIfTI magic was read";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("nomagic.nii: not a NIfTI-1 file"), std::string::npos)
        << e.what();
  }
  // Header sizes other than NIfTI-1's went to ITK unchecked (fuzz_nifti: 2 GB for a 397-byte
  // file); NIfTI-2 is said to be NIfTI-2.
  for (const auto& [sizeBytes, expected] :
       {std::pair{std::string("\x00\x5c\x01\x5c", 4),
                  "not a NIfTI file (its header size is not 348)"},
        std::pair{std::string("\x1c\x02\x00\x00", 4),
                  "a NIfTI-2 header, which this build does not read"}}) {
    std::string other = bytes;
    other.replace(0, 4, sizeBytes);
    std::ofstream(dir / "other.nii", std::ios::binary | std::ios::trunc) << other;
    try {
      readNifti(dir / "other.nii");
      ADD_FAILURE() << expected;
    } catch (const InputError& e) {
      EXPECT_NE(std::string(e.what()).find(expected), std::string::npos) << e.what();
    }
  }
  std::string noForm = bytes;
  noForm[252] = noForm[253] = noForm[254] = noForm[255] = 0;  // qform_code, sform_code
  std::ofstream(dir / "noform.nii", std::ios::binary) << noForm;
  const Volume unoriented = readNifti(dir / "noform.nii");
  ASSERT_EQ(unoriented.warnings.size(), 1u);
  EXPECT_NE(unoriented.warnings[0].find("no orientation in the NIfTI header"), std::string::npos);
}

TEST(Nifti, ImageRoundTripKeepsValuesAndWholeNumbersStayIntegers) {
  CORDSCOPE_REQUIRE_SHARED_DATA(data);
  const Volume volume = readNifti((data / "real/sct-t2/t2.nii.gz").string());
  test::TempDir dir;
  writeNifti(volume.image.GetPointer(), dir / "copy.nii.gz");
  const Volume back = readNifti(dir / "copy.nii.gz");
  EXPECT_EQ(test::compareInWorld(volume.image.GetPointer(), back.image.GetPointer(), 1e-4, 1e-3),
            "");
}

TEST(Nifti, UnreadableFilesAreInputErrors) {
  test::TempDir dir;
  std::ofstream(dir / "junk.nii.gz") << "junk";
  EXPECT_THROW(readNifti(dir / "junk.nii.gz"), InputError);
  EXPECT_THROW(readNifti(dir / "absent.nii"), InputError);
}

// Files that lie about themselves are refused with a message naming the defect, before any reader
// allocates or crashes: NaN in the orientation (VNL aborted), voxels declared that the file does
// not hold (a tiny .nii.gz declaring gigabytes, a truncated .nii or gzip stream).
TEST(Nifti, HeadersThatLieAreRefusedBeforeReading) {
  test::TempDir dir;
  auto image = Image::New();
  Image::RegionType region;
  region.SetSize({20, 24, 8});
  image->SetRegions(region);
  image->Allocate();
  image->FillBuffer(7.5f);
  writeNifti(image.GetPointer(), dir / "good.nii.gz");
  std::string bytes;
  {
    gzFile in = gzopen((dir / "good.nii.gz").c_str(), "rb");
    char buffer[65536];
    for (int n; (n = gzread(in, buffer, sizeof buffer)) > 0;) bytes.append(buffer, n);
    gzclose(in);
  }
  ASSERT_GT(bytes.size(), 352u);
  const auto plain = [&](const std::string& name, const std::string& content) {
    std::ofstream(dir / name, std::ios::binary) << content;
    return std::string(dir / name);
  };
  const auto gzipped = [&](const std::string& name, const std::string& content) {
    gzFile out = gzopen((dir / name).c_str(), "wb");
    gzwrite(out, content.data(), static_cast<unsigned>(content.size()));
    gzclose(out);
    return std::string(dir / name);
  };
  const auto refusal = [](const std::string& path) {
    try {
      readNifti(path);
    } catch (const InputError& e) {
      return std::string(e.what());
    }
    return std::string("(read)");
  };
  EXPECT_EQ(refusal(plain("good.nii", bytes)), "(read)");

  std::string nanSform = bytes;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  std::memcpy(&nanSform[280], &nan, 4);
  EXPECT_NE(refusal(gzipped("nan.nii.gz", nanSform)).find("not a number"), std::string::npos);

  EXPECT_NE(refusal(plain("cut.nii", bytes.substr(0, bytes.size() * 6 / 10))).find("truncated"),
            std::string::npos);

  std::string huge = bytes;
  const short dims[3] = {1600, 1600, 300};
  std::memcpy(&huge[42], dims, sizeof dims);
  const std::string message = refusal(gzipped("huge.nii.gz", huge));
  EXPECT_NE(message.find("GB of data"), std::string::npos) << message;

  std::ifstream compressed(dir / "good.nii.gz", std::ios::binary);
  const std::string gz((std::istreambuf_iterator<char>(compressed)),
                       std::istreambuf_iterator<char>());
  EXPECT_NE(refusal(plain("cutgz.nii.gz", gz.substr(0, gz.size() * 6 / 10))), "(read)");
}

}  // namespace
}  // namespace cordscope
