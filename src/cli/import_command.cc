// starttls-mock import [FILE|-] [--format F] [--protocol smtp|imap|pop3]
//     [--out FILE.smtp] [--summary TEXT] [--host NAME] [--expect E]
#include <fmt/format.h>

#include <fstream>
#include <iostream>
#include <iterator>
#include <memory>
#include <string>

#include "authoring/import.h"
#include "cli/command.h"
#include "common/atomic_file.h"
#include "protocol/protocol.h"
#include "scenario/scenario.h"

namespace starttls::cli {
namespace {

struct ImportArgs {
  std::string input = "-";
  std::string format = "auto";
  std::string out;
  std::string summary;
  std::string host;  // empty: as the paste says, else mail.example.test
  std::string expect;
  std::string protocol = "smtp";
};

// Reads a transcript (a file, or stdin for "-"), writes the scenario to
// --out (whole or not at all) or stdout.
int Import(const ImportArgs& args) {
  std::string text;
  std::string name = args.input == "-" ? "<stdin>" : args.input;
  if (args.input == "-") {
    text.assign(std::istreambuf_iterator<char>(std::cin), {});
  } else {
    std::ifstream in(args.input, std::ios::binary);
    if (!in) {
      std::cerr << "starttls-mock: " << args.input << ": cannot read\n";
      return kExitUsage;
    }
    text.assign(std::istreambuf_iterator<char>(in), {});
  }
  server::ImportOptions options{.source_name = name, .summary = args.summary};
  if (!args.host.empty()) options.host = args.host;
  auto format = server::ParseImportFormat(args.format);
  if (!format) {
    std::cerr << "starttls-mock: --format must be auto, telnet, script, "
                 "swaks, curl or s_client, not \""
              << args.format << "\"\n";
    return kExitUsage;
  }
  options.format = *format;
  options.protocol = protocol::FindProtocol(args.protocol);
  if (options.protocol == nullptr) {
    std::cerr << "starttls-mock: --protocol must be one of "
              << fmt::format("{}", fmt::join(protocol::ProtocolNames(), ", "))
              << ", not \"" << args.protocol << "\"\n";
    return kExitUsage;
  }
  if (!args.expect.empty()) {
    auto expect = server::ParseExpectation(args.expect, *options.protocol);
    if (!expect) {
      const std::string goal(options.protocol->GoalVerb());
      std::cerr << "starttls-mock: --expect must be " << goal << ", refuse or "
                << goal << "-or-refuse, not \"" << args.expect << "\"\n";
      return kExitUsage;
    }
    options.expect = *expect;
  }
  auto scenario = server::ImportTranscript(text, options);
  if (!scenario) {
    std::cerr << name << ":" << scenario.error().line << ":"
              << scenario.error().column << ": " << scenario.error().message
              << "\n";
    return kExitUsage;
  }
  // What was written must be a scenario the server accepts.
  if (auto parsed = server::ParseScenario(
          *scenario, args.out.empty() ? "imported." + args.protocol : args.out);
      !parsed) {
    std::cerr << "starttls-mock: internal error: the imported scenario does "
                 "not parse: "
              << parsed.error().ToString() << "\n";
    return kExitFailure;
  }
  if (args.out.empty()) {
    std::cout << *scenario;
    return 0;
  }
  if (auto w = WriteFileAtomically(args.out, *scenario); !w) {
    std::cerr << "starttls-mock: " << w.error() << "\n";
    return kExitFailure;
  }
  return 0;
}

}  // namespace

Runner AddImport(CLI::App* sub) {
  auto args = std::make_shared<ImportArgs>();
  sub->add_option("transcript", args->input,
                  "telnet session, S:/C: transcript, swaks or curl -v "
                  "output; - for stdin")
      ->capture_default_str();
  sub->add_option("--format", args->format,
                  "auto, telnet, script, swaks, curl or s_client")
      ->capture_default_str();
  sub->add_option("--out", args->out,
                  "write the scenario here (default: stdout)");
  sub->add_option("--summary", args->summary,
                  "the scenario's Summary (default: imported from FILE)");
  sub->add_option("--host", args->host,
                  "the scenario's Host (default: the host the paste's "
                  "command line names, else mail.example.test)");
  sub->add_option("--protocol", args->protocol,
                  "the session's protocol: smtp, or imap or pop3 (these two "
                  "from the script and curl formats)")
      ->capture_default_str();
  sub->add_option("--expect", args->expect,
                  "deliver (IMAP: log-in), refuse or deliver-or-refuse "
                  "(default: the goal when the session upgraded to TLS, "
                  "else refuse)");
  return [args] { return Import(*args); };
}

}  // namespace starttls::cli
