#include "scenario/catalogue.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstdlib>
#include <string_view>
#include <system_error>
#include <vector>

#include "protocol/protocol.h"

namespace starttls::server {
namespace {

namespace fs = std::filesystem;

bool IsDirectory(const fs::path& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

// True when LoadScenarios() would find something to read at `p`: the file,
// or the family file of a member named by its protocol's extension.
bool NamesScenario(const fs::path& p) {
  std::error_code ec;
  if (fs::is_regular_file(p, ec)) return true;
  if (!p.has_extension() ||
      protocol::FindProtocol(p.extension().string().substr(1)) == nullptr) {
    return false;
  }
  return fs::is_regular_file(fs::path(p).replace_extension(kFamilyExtension),
                             ec);
}

}  // namespace

std::optional<fs::path> CatalogueDir() {
  if (const char* env = std::getenv(kCatalogueEnv);
      env != nullptr && *env != '\0') {
    return fs::path(env);
  }
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return std::nullopt;
  fs::path installed =
      exe.parent_path().parent_path() / "share/starttls-mock/scenarios";
  if (IsDirectory(installed)) return installed;
#if defined(STARTTLS_SOURCE_SCENARIOS) && defined(STARTTLS_BINARY_DIR)
  // Only for a binary in the build tree: an installed one whose share/ is
  // missing must not find the checkout of the machine that built it.
  const fs::path build_tree = STARTTLS_BINARY_DIR;
  auto [end, _] = std::mismatch(build_tree.begin(), build_tree.end(),
                                exe.begin(), exe.end());
  if (end == build_tree.end() && IsDirectory(STARTTLS_SOURCE_SCENARIOS)) {
    return fs::path(STARTTLS_SOURCE_SCENARIOS);
  }
#endif
  return std::nullopt;
}

tl::expected<fs::path, ParseError> ResolveScenario(
    const fs::path& arg, const std::optional<fs::path>& catalogue) {
  // Something there, even a directory, is what was meant; the loader says
  // what is wrong with it.
  std::error_code ec;
  if (fs::exists(arg, ec) || NamesScenario(arg)) return arg;
  auto not_found = [&](std::string why) {
    return tl::unexpected(ParseError{arg.string(), 0, 0, std::move(why)});
  };
  if (arg.is_absolute()) return not_found("no such file");
  if (!catalogue) {
    return not_found("no such file, and no catalogue to look in (" +
                     std::string(kCatalogueEnv) + " is not set)");
  }
  fs::path in_catalogue = *catalogue / arg;
  if (NamesScenario(in_catalogue)) return in_catalogue;
  if (!arg.has_extension()) {
    fs::path family = fs::path(in_catalogue).concat(kFamilyExtension);
    if (NamesScenario(family)) return family;
    std::vector<fs::path> found;
    for (std::string_view name : protocol::ProtocolNames()) {
      fs::path candidate = in_catalogue;
      candidate += '.';
      candidate += name;
      if (NamesScenario(candidate)) found.push_back(candidate);
    }
    if (found.size() == 1) return found.front();
    if (found.size() > 1) {
      std::vector<std::string> names;
      for (const fs::path& f : found) names.push_back(f.filename().string());
      return not_found(fmt::format(
          "names several scenarios in the catalogue ({}); give the extension",
          fmt::join(names, ", ")));
    }
  }
  return not_found(fmt::format("no such file, here or in the catalogue ({})",
                               catalogue->string()));
}

tl::expected<std::vector<fs::path>, std::string> CatalogueFiles(
    const fs::path& catalogue) {
  std::vector<fs::path> files;
  std::error_code ec;
  auto fail = [&](const fs::path& where) {
    return tl::unexpected(fmt::format("{}: cannot read the catalogue: {}",
                                      where.string(), ec.message()));
  };
  if (!fs::is_directory(catalogue, ec)) {
    if (!ec) ec = std::make_error_code(std::errc::not_a_directory);
    return fail(catalogue);
  }
  fs::recursive_directory_iterator it(catalogue, ec);
  for (; !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    const bool regular = it->is_regular_file(ec);
    if (ec) return fail(it->path());
    if (regular && it->path().extension() != ".md") {
      files.push_back(it->path());
    }
  }
  if (ec) return fail(catalogue);
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace starttls::server
