// The image types every floor shares: ITK images in LPS patient space (origin, spacing and
// direction exact), float intensities, uint8 masks, uint16 label maps.
#pragma once
#include <itkImage.h>

namespace cordscope {

using Image = itk::Image<float, 3>;
using Mask = itk::Image<unsigned char, 3>;
using LabelImage = itk::Image<unsigned short, 3>;

}  // namespace cordscope
