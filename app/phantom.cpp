// cordscope phantom: synthetic cervical spine studies with exact ground truth (issue 3).
#include "Command.h"
#include "data/Error.h"

namespace cordscope::app {

Command phantomCommand() {
  Command c;
  c.name = "phantom";
  c.summary = "write a synthetic cervical spine study with exact ground truth";
  c.usage = "cordscope phantom -o OUTDIR [options]";
  c.declare = [](po::options_description& o, po::positional_options_description&) {
    o.add_options()("output,o", po::value<std::string>()->required(), "output folder");
  };
  c.run = [](const po::variables_map&) -> int { throw UsageError("phantom is not available yet"); };
  return c;
}

}  // namespace cordscope::app
