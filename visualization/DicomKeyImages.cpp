// Key images (DicomObjects.h): a PNG as a Secondary Capture image (RGB, 8 bits), in the source's
// patient and study, so that a viewer that knows nothing of cordscope shows the annotated pictures.
#include <png.h>

#include <vector>

#include "data/Error.h"
#include "visualization/DicomObjects.h"

namespace cordscope::dicomout {

RgbImage readPng(const std::string& path) {
  png_image image{};
  image.version = PNG_IMAGE_VERSION;
  if (!png_image_begin_read_from_file(&image, path.c_str()))
    throw OutputError(path + ": cannot read the picture for its DICOM key image (" + image.message +
                      ")");
  image.format = PNG_FORMAT_RGB;
  RgbImage rgb;
  rgb.width = image.width;
  rgb.height = image.height;
  if (rgb.width == 0 || rgb.height == 0 || rgb.width > 65535 || rgb.height > 65535) {
    png_image_free(&image);
    throw OutputError(path + ": the picture is too large or empty for a DICOM key image");
  }
  rgb.pixels.resize(PNG_IMAGE_SIZE(image));
  // A transparent picture is shown on black, as a viewer's background is.
  const png_color black{0, 0, 0};
  if (!png_image_finish_read(&image, &black, rgb.pixels.data(), 0, nullptr))
    throw OutputError(path + ": cannot read the picture for its DICOM key image (" + image.message +
                      ")");
  return rgb;
}

void writeKeyImage(const RgbImage& rgb, const std::string& description, const SourceImages& source,
                   const DicomExportOptions& options, const std::string& seriesUid, int number,
                   const std::string& path) {
  DcmFileFormat file;
  DcmDataset& ds = *file.getDataset();
  copyPatientAndStudy(*source.header->getDataset(), ds);
  put(ds, DCM_SOPClassUID, UID_SecondaryCaptureImageStorage, path);
  put(ds, DCM_SOPInstanceUID, newUid(), path);
  // General Series: a new series of derived pictures in the source's study.
  put(ds, DCM_Modality, "OT", path);
  put(ds, DCM_SeriesInstanceUID, seriesUid, path);
  put(ds, DCM_SeriesNumber, std::to_string(options.seriesNumberBase + 2), path);
  put(ds, DCM_SeriesDescription, "cordscope key images", path);
  // Laterality (Type 2C) is for paired body parts: with the source's BodyPartExamined (the spine,
  // unpaired) it stays absent; without one, empty says "not known" to a checker.
  OFString bodyPart;
  if (source.header->getDataset()->findAndGetOFString(DCM_BodyPartExamined, bodyPart).good() &&
      !bodyPart.empty())
    put(ds, DCM_BodyPartExamined, bodyPart.c_str(), path);
  else
    put(ds, DCM_Laterality, "", path);
  // SC Equipment and General Equipment: a workstation made them.
  put(ds, DCM_ConversionType, "WSD", path);
  put(ds, DCM_Manufacturer, "cordscope", path);
  put(ds, DCM_SecondaryCaptureDeviceManufacturer, "cordscope", path);
  put(ds, DCM_SecondaryCaptureDeviceManufacturerModelName, "cordscope", path);
  put(ds, DCM_SecondaryCaptureDeviceSoftwareVersions, options.softwareVersion, path);
  // General Image: a picture, not a plane in the patient (no orientation to give).
  put(ds, DCM_InstanceNumber, std::to_string(number), path);
  put(ds, DCM_PatientOrientation, "", path);
  put(ds, DCM_ImageType, "DERIVED\\SECONDARY", path);
  put(ds, DCM_DerivationDescription, description, path);
  put(ds, DCM_ImageComments, description, path);
  put(ds, DCM_BurnedInAnnotation, "YES", path);  // levels, lesions and measures drawn in
  stampCreation(ds);
  // Image Pixel: RGB, 8 bits, interleaved (the PNG's own order).
  ds.putAndInsertUint16(DCM_SamplesPerPixel, 3);
  put(ds, DCM_PhotometricInterpretation, "RGB", path);
  ds.putAndInsertUint16(DCM_PlanarConfiguration, 0);
  ds.putAndInsertUint16(DCM_Rows, static_cast<Uint16>(rgb.height));
  ds.putAndInsertUint16(DCM_Columns, static_cast<Uint16>(rgb.width));
  ds.putAndInsertUint16(DCM_BitsAllocated, 8);
  ds.putAndInsertUint16(DCM_BitsStored, 8);
  ds.putAndInsertUint16(DCM_HighBit, 7);
  ds.putAndInsertUint16(DCM_PixelRepresentation, 0);
  check(ds.putAndInsertUint8Array(DCM_PixelData, rgb.pixels.data(),
                                  static_cast<unsigned long>(rgb.pixels.size())),
        path, "key image pixels");
  saveAtomically(file, path, "DICOM key image");
}

}  // namespace cordscope::dicomout
