#include "data/OutputFile.h"

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "data/Error.h"

namespace cordscope {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what, int error,
                       const std::string& partial) {
  std::remove(partial.c_str());
  throw OutputError(path + ": cannot write " + what + " (" +
                    (error ? std::strerror(error) : "unknown error") + ")");
}

}  // namespace

void writeFileAtomically(const std::string& path, const std::string& bytes,
                         const std::string& what) {
  const std::string partial = path + kPartialSuffix;
  errno = 0;
  std::FILE* file = std::fopen(partial.c_str(), "wb");
  if (!file) fail(path, what, errno, partial);
  const bool written =
      bytes.empty() || std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size();
  int error = written ? 0 : errno;
  // fflush and fclose report what the buffered writes could not do (ENOSPC, EDQUOT, EIO).
  if (std::fflush(file) != 0 && !error) error = errno ? errno : EIO;
  if (std::fclose(file) != 0 && !error) error = errno ? errno : EIO;
  if (!written || error) fail(path, what, error ? error : EIO, partial);
  commitPartial(partial, path, what);
}

void commitPartial(const std::string& partial, const std::string& path, const std::string& what) {
  if (std::rename(partial.c_str(), path.c_str()) != 0) fail(path, what, errno, partial);
}

}  // namespace cordscope
