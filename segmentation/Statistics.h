// Moved to core/Statistics.h; kept until open branches are merged.
#pragma once
#include "core/Statistics.h"
