// render3d.png: a VTK 3D view of the study from three viewpoints (left lateral, anterior,
// oblique): the cord's surface (translucent), lesions in red, the discs as translucent markers
// with their level names, and the key measurements as text. Surfaces come from the masks on the
// input grid, placed in patient space (RAS, as viewers show) from the grid's geometry.
#pragma once
#include <string>

#include "visualization/Pictures.h"

namespace cordscope {

struct Render3DResult {
  bool written = false;
  std::string skipped;          // why not, when not (no X display could be had)
  bool privateDisplay = false;  // rendered under a private Xvfb
};

// Renders under the user's X display, or a private Xvfb started and stopped here.
Render3DResult writeRender3D(const StudyFindings& findings, const std::string& path,
                             int width = 1500, int height = 700);

}  // namespace cordscope
