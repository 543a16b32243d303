// Moved to core/ImageSampler.h (geometry is floor 0); kept until open branches are merged.
#pragma once
#include "core/ImageSampler.h"
