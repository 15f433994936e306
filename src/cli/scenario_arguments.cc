#include <string>
#include <vector>

#include "cli/command.h"
#include "scenario/catalogue.h"

namespace starttls::cli {

CLI::Option* AddScenarioArgument(CLI::App* sub,
                                 std::vector<std::string>* files) {
  return sub->add_option(
      "scenario", *files,
      "scenario files (.smtp, .imap, .pop3; a .scenario family file plays "
      "all its members), or catalogue names such as control/hotmail-2009");
}

tl::expected<std::vector<server::Scenario>, server::ParseError>
LoadScenarioArguments(const std::vector<std::string>& files) {
  const auto catalogue = server::CatalogueDir();
  std::vector<server::Scenario> scenarios;
  for (const std::string& file : files) {
    auto path = server::ResolveScenario(file, catalogue);
    if (!path) return tl::unexpected(path.error());
    auto loaded = server::LoadScenarios(*path);
    if (!loaded) return tl::unexpected(loaded.error());
    for (auto& scenario : *loaded) scenarios.push_back(std::move(scenario));
  }
  return scenarios;
}

}  // namespace starttls::cli
