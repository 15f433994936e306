// The subcommands of starttls-mock, one file each. A subcommand registers
// its options on the CLI11 app and hands back what runs it once the command
// line has parsed; main.cc knows only the table of them.
#ifndef STARTTLS_CLI_COMMAND_H_
#define STARTTLS_CLI_COMMAND_H_

#include <CLI/CLI.hpp>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "scenario/scenario.h"

namespace starttls::cli {

// Exit statuses, the same for every subcommand.
inline constexpr int kExitFailure = 1;      // the command could not do its job
inline constexpr int kExitUsage = 2;        // bad usage or malformed input
inline constexpr int kExitRunDeadline = 3;  // serve's --run-timeout passed

// Runs a parsed subcommand and gives its exit status. What it needs from
// the command line is captured when it is made; CLI11 fills that storage
// during parsing, so the function must only be called after a parse.
using Runner = std::function<int()>;

struct Command {
  std::string_view name;
  std::string_view description;
  // Adds the options to `sub` (named `name`) and returns its runner.
  // Validation that needs several options may throw CLI::ValidationError
  // from a callback set on `sub`.
  Runner (*add)(CLI::App* sub);
};

// Every subcommand, in the order `--help` lists them.
[[nodiscard]] std::span<const Command> Commands();

// The positional `scenario...` of serve and scenario: files, or names in the
// catalogue (server::ResolveScenario: "control/hotmail-2009" from anywhere).
// `*files` must outlive the parse.
CLI::Option* AddScenarioArgument(CLI::App* sub,
                                 std::vector<std::string>* files);

// Every scenario the arguments name, in their order (a family file gives its
// members). The first that cannot be found or parsed is the error.
[[nodiscard]] tl::expected<std::vector<server::Scenario>, server::ParseError>
LoadScenarioArguments(const std::vector<std::string>& files);

Runner AddServe(CLI::App* sub);
Runner AddCerts(CLI::App* sub);
Runner AddImport(CLI::App* sub);
Runner AddRecord(CLI::App* sub);
Runner AddOracles(CLI::App* sub);
Runner AddScenario(CLI::App* sub);

}  // namespace starttls::cli

#endif  // STARTTLS_CLI_COMMAND_H_
