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

namespace atomic_file_internal {

inline bool WriteAll(int fd, std::string_view content) {
  for (size_t done = 0; done < content.size();) {
    ssize_t n = write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Creates `path` only if it does not exist yet, from an unnamed file
// (O_TMPFILE) that is linked in whole: one directory entry instead of a
// temporary name and a rename, which a server writing one report per
// session pays for every session. False when that is not possible here (an
// existing file, no O_TMPFILE support, no /proc): nothing was created and
// errno is meaningless.
inline bool CreateWhole(const std::filesystem::path& path,
                        std::string_view content, mode_t mode) {
#ifdef O_TMPFILE
  std::filesystem::path dir = path.parent_path();
  if (dir.empty()) dir = ".";
  int fd = open(dir.c_str(), O_TMPFILE | O_WRONLY | O_CLOEXEC, mode);
  if (fd < 0) return false;
  // open() applies the umask; the mode must not depend on it.
  bool ok = fchmod(fd, mode) == 0 && WriteAll(fd, content);
  if (ok) {
    std::string proc = "/proc/self/fd/" + std::to_string(fd);
    ok = linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, path.c_str(),
                AT_SYMLINK_FOLLOW) == 0;
  }
  // An unlinked O_TMPFILE file vanishes with its descriptor. A linked one
  // whose close() fails is removed again, and the caller retries the slow
  // way, which reports the error.
  if (close(fd) != 0 && ok) {
    unlink(path.c_str());
    ok = false;
  }
  return ok;
#else
  (void)path;
  (void)content;
  (void)mode;
  return false;
#endif
}

}  // namespace atomic_file_internal

// Writes what `produce` gives to a temporary file beside `path` with
// permissions `mode`, then renames it over `path`. `produce(put)` calls
// put(bytes) for each piece in order (false: the write failed, stop) and
// returns an error message, or an empty string when it gave everything; so
// a file larger than memory can be written whole or not at all. On failure
// `path` is untouched and the temporary file is removed; the error names the
// path and errno's text (or produce's message).
template <typename Produce>
[[nodiscard]] tl::expected<void, std::string> WriteFileAtomicallyFrom(
    const std::filesystem::path& path, Produce&& produce, mode_t mode = 0644) {
  std::string tmp = path.string() + ".tmp-XXXXXX";
  int fd = mkstemp(tmp.data());
  auto fail = [&](const std::string& what, bool with_errno = true) {
    std::string message = path.string() + ": " + what;
    if (with_errno) message += std::string(": ") + std::strerror(errno);
    if (fd >= 0) close(fd);
    unlink(tmp.c_str());
    return tl::unexpected(message);
  };
  if (fd < 0)
    return tl::unexpected(path.string() + ": " + std::strerror(errno));
  if (fchmod(fd, mode) != 0) return fail("chmod");
  bool written = true;
  std::string produced = produce([&](std::string_view piece) {
    written = written && atomic_file_internal::WriteAll(fd, piece);
    return written;
  });
  if (!written) return fail("write");
  if (!produced.empty()) return fail(produced, false);
  if (close(fd) != 0) {
    fd = -1;
    return fail("close");
  }
  fd = -1;
  if (rename(tmp.c_str(), path.c_str()) != 0) return fail("rename");
  return {};
}

// Writes `content` to a temporary file beside `path` with permissions `mode`,
// then renames it over `path`. On failure `path` is untouched and the
// temporary file is removed; the error names the path and errno's text.
[[nodiscard]] inline tl::expected<void, std::string> WriteFileAtomically(
    const std::filesystem::path& path, std::string_view content,
    mode_t mode = 0644) {
  return WriteFileAtomicallyFrom(
      path,
      [&](const auto& put) {
        put(content);
        return std::string();
      },
      mode);
}

// WriteFileAtomically() for a `path` that usually does not exist yet: it is
// then created from an unnamed temporary file (see CreateWhole), the same
// guarantee at less cost; otherwise (or if that fails) the same as
// WriteFileAtomically(), which then also reports the error.
[[nodiscard]] inline tl::expected<void, std::string> WriteNewFileAtomically(
    const std::filesystem::path& path, std::string_view content,
    mode_t mode = 0644) {
  if (atomic_file_internal::CreateWhole(path, content, mode)) return {};
  return WriteFileAtomically(path, content, mode);
}

}  // namespace starttls

#endif  // STARTTLS_COMMON_ATOMIC_FILE_H_
