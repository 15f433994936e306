// starttls-mock: a scriptable mock SMTP, IMAP and POP3 server for testing
// STARTTLS clients.
// Each subcommand lives in its own file (<name>_command.cc); `starttls-mock
// --help` and `starttls-mock SUBCOMMAND --help` list their options, and
// docs/command-line.md describes them.
//
// Exit status: 0 after a clean stop, 1 when the command could not do its
// job, 2 for bad usage or malformed input (a scenario as file:line:col:
// message), 3 when serve's --run-timeout passed (every report is written all
// the same).
#include <CLI/CLI.hpp>
#include <iostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "cli/command.h"
#include "common/version.h"

namespace starttls::cli {

std::span<const Command> Commands() {
  static constexpr Command kCommands[] = {
      {"serve", "serve scenarios to clients", AddServe},
      {"certs", "issue the test certificate catalogue, or list it", AddCerts},
      {"import", "turn a pasted transcript into a scenario", AddImport},
      {"record", "relay sessions to a real server and write them as a scenario",
       AddRecord},
      {"oracles", "list the oracles: the ids reports use and their rules",
       AddOracles},
      {"scenario", "parse scenarios and say what they ask of a client",
       AddScenario},
  };
  return kCommands;
}

}  // namespace starttls::cli

int main(int argc, char** argv) {
  namespace cli = starttls::cli;
  CLI::App app{
      "starttls-mock: a scriptable mock SMTP, IMAP and POP3 server for "
      "STARTTLS clients"};
  app.set_version_flag("--version", std::string(starttls::kVersion));
  app.require_subcommand(1);

  std::vector<std::pair<CLI::App*, cli::Runner>> runners;
  std::string names;
  for (const cli::Command& command : cli::Commands()) {
    CLI::App* sub = app.add_subcommand(std::string(command.name),
                                       std::string(command.description));
    runners.emplace_back(sub, command.add(sub));
    names += names.empty() ? "" : ", ";
    names += command.name;
  }

  // CLI11 would only say that a subcommand is required.
  auto known = [](std::string_view name) {
    for (const cli::Command& command : cli::Commands()) {
      if (command.name == name) return true;
    }
    return false;
  };
  if (argc > 1 && argv[1][0] != '-' && !known(argv[1])) {
    std::cerr << "starttls-mock: unknown subcommand \"" << argv[1]
              << "\" (subcommands: " << names << ")\n";
    return cli::kExitUsage;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& e) {  // --help or --version
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "starttls-mock: " << e.what() << "\n";
    return cli::kExitUsage;
  }
  for (auto& [sub, run] : runners) {
    if (sub->parsed()) return run();
  }
  return cli::kExitUsage;  // unreachable: a subcommand is required
}
