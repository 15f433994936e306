// Writes a whole file or nothing: readers never see a half-written file.
#ifndef STARTTLS_COMMON_ATOMIC_FILE_H_
#define STARTTLS_COMMON_ATOMIC_FILE_H_

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace starttls {

// Writes `content` to a temporary file beside `path` with permissions `mode`,
// then renames it over `path`. On failure `path` is untouched and the
// temporary file is removed; the error names the path and errno's text.
[[nodiscard]] inline tl::expected<void, std::string> WriteFileAtomically(
    const std::filesystem::path& path, std::string_view content,
    mode_t mode = 0644) {
  std::string tmp = path.string() + ".tmp-XXXXXX";
  int fd = mkstemp(tmp.data());
  auto fail = [&](const char* what) {
    std::string message =
        path.string() + ": " + what + ": " + std::strerror(errno);
    if (fd >= 0) close(fd);
    unlink(tmp.c_str());
    return tl::unexpected(message);
  };
  if (fd < 0)
    return tl::unexpected(path.string() + ": " + std::strerror(errno));
  if (fchmod(fd, mode) != 0) return fail("chmod");
  for (size_t done = 0; done < content.size();) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("write");
    done += static_cast<size_t>(n);
  }
  if (close(fd) != 0) {
    fd = -1;
    return fail("close");
  }
  fd = -1;
  if (rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
  return {};
}

}  // namespace starttls

#endif  // STARTTLS_COMMON_ATOMIC_FILE_H_
