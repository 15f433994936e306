// Scenarios by catalogue name: `starttls-mock serve control/hotmail-2009`
// from any directory, with the catalogue found where the binary is installed
// (or, for a binary run from its build tree, in the checkout it was built
// from), so no configuration is needed.
#ifndef STARTTLS_SCENARIO_CATALOGUE_H_
#define STARTTLS_SCENARIO_CATALOGUE_H_

#include <filesystem>
#include <optional>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "scenario/scenario.h"

namespace starttls::server {

// The environment variable that names a catalogue directory instead of the
// installed one.
inline constexpr const char* kCatalogueEnv = "STARTTLS_MOCK_SCENARIOS";

// The catalogue directory: $STARTTLS_MOCK_SCENARIOS when set and not empty
// (even if it does not exist: a wrong setting must not fall back silently);
// else <directory of the running executable>/../share/starttls-mock/scenarios
// when it exists (an install, wherever its prefix was moved); else, for an
// executable inside this build's tree, the scenarios/ directory of the
// source tree it was configured from. nullopt when there is none.
[[nodiscard]] std::optional<std::filesystem::path> CatalogueDir();

// The path a command-line scenario argument stands for:
//  - the argument itself when something is there from the current directory,
//    or it is a family's member as LoadScenarios() takes it;
//  - else, for a relative argument, the same path in `catalogue`, where the
//    extension may be left out: "control/hotmail-2009" is
//    control/hotmail-2009.smtp when that is the only one of .scenario,
//    .smtp, .imap and .pop3 there (a family file wins over its members).
// An argument found nowhere is an error naming where it was looked for.
[[nodiscard]] tl::expected<std::filesystem::path, ParseError> ResolveScenario(
    const std::filesystem::path& arg,
    const std::optional<std::filesystem::path>& catalogue);

// Every scenario file of a catalogue (all but its .md documentation), sorted.
// A catalogue that is no directory, or any entry that cannot be read, is an
// error ("path: cannot read the catalogue: reason"), never a partial list.
[[nodiscard]] tl::expected<std::vector<std::filesystem::path>, std::string>
CatalogueFiles(const std::filesystem::path& catalogue);

}  // namespace starttls::server

#endif  // STARTTLS_SCENARIO_CATALOGUE_H_
