// NIfTI in and out through ITK's NiftiImageIO. NIfTI stores RAS; ITK images are LPS: ITK does the
// flip of the first two axes on read and write, so a mask written here on a volume's grid has the
// same shape and affine (qform and sform both set) as the file the volume came from.
#pragma once
#include <string>

#include "Input.h"
#include "Volume.h"

namespace cordscope {

bool isNiftiPath(const std::string& path);

// Header-only look at a NIfTI file for the inventory (size, spacing, geometry, BIDS sidecar).
SeriesEntry scanNifti(const std::string& path);

// Reads a 3D NIfTI volume as float. Throws InputError (4D with more than one volume included).
Volume readNifti(const std::string& path);

// How voxel values are stored on disk. Auto keeps integers as int16/uint16 when every value is a
// whole number in range (as scanners store them), and float32 otherwise.
enum class NiftiStorage { Auto, Float32 };

void writeNifti(const Image* image, const std::string& path,
                NiftiStorage storage = NiftiStorage::Auto);
void writeNifti(const Mask* mask, const std::string& path);
void writeNifti(const LabelImage* labels, const std::string& path);

// BIDS-style sidecar (OUT.json beside OUT.nii.gz, times in seconds), the keys readSidecar() reads.
void writeSidecar(const SeriesMetadata& meta, const std::string& niftiPath);

// Masks and label maps, e.g. expert segmentations, read on their own grid.
Mask::Pointer readMask(const std::string& path);
LabelImage::Pointer readLabels(const std::string& path);

}  // namespace cordscope
