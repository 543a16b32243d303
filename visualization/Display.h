// An X display for VTK. Debian's VTK 9.1 renders only through X and aborts the whole process
// when it cannot open a display, so a render is only attempted once a display is known to open:
// the user's ($DISPLAY) when it works, else a private Xvfb started for the render and stopped
// (killed and reaped) when this object goes. When neither can be had, `available()` is false and
// `why()` says so: the caller skips the picture with a warning.
#pragma once
#include <sys/types.h>

#include <memory>
#include <string>

namespace cordscope {

class RenderDisplay {
 public:
  RenderDisplay();
  ~RenderDisplay();
  RenderDisplay(const RenderDisplay&) = delete;
  RenderDisplay& operator=(const RenderDisplay&) = delete;

  bool available() const { return available_; }
  const std::string& why() const { return why_; }
  bool privateServer() const { return server_ > 0; }

 private:
  bool available_ = false;
  std::string why_;
  pid_t server_ = -1;
  std::string previousDisplay_;
  bool hadDisplay_ = false;
};

}  // namespace cordscope
