// starttls-mock: a scriptable mock SMTP server for testing STARTTLS clients.
//
//   starttls-mock serve SCENARIO... [--listen ADDR:PORT] [--sessions N]
//                       [--report FILE] [--run-dir DIR] [--threads N]
//                       [--session-timeout D] [--run-timeout D]
//   starttls-mock certs --out DIR [--host NAME]... [--profile NAME]...
//   starttls-mock certs --list [--json]
//   starttls-mock import [FILE|-] [--format F] [--out FILE.smtp]
//                        [--summary TEXT] [--host NAME] [--expect E]
//   starttls-mock record --upstream HOST:PORT --out FILE.smtp [--listen ...]
//                        [--upstream-cafile F] [--upstream-servername NAME]
//                        [--sessions N] [--timeout D]
//
// Exit status: 0 after a clean stop, 1 when the server could not run, 2 for
// bad usage or a malformed scenario (reported as file:line:col: message), 3
// when serve's --run-timeout passed (every report is written all the same).
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>
#include <thread>

#include "certs/certs_command.h"
#include "common/atomic_file.h"
#include "server/import.h"
#include "server/oracles.h"
#include "server/record.h"
#include "server/scenario.h"
#include "server/server.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitRunDeadline = 3;

constexpr std::string_view kSubcommands[] = {"serve", "certs", "import",
                                             "record", "oracles"};

// A --*-timeout value: a duration such as 30s or 250ms, not zero.
std::optional<std::chrono::milliseconds> TimeoutOption(
    std::string_view name, const std::string& value) {
  if (value.empty()) return std::nullopt;
  auto d = starttls::server::ParseDuration(value);
  if (!d || d->count() == 0) {
    throw CLI::ValidationError(
        std::string(name),
        "must be a duration such as 30s or 250ms, not \"" + value + "\"");
  }
  return d;
}

int Serve(const std::vector<std::string>& files,
          starttls::server::ServerOptions options) {
  if (auto ok = starttls::server::CheckListenAddress(options.listen); !ok) {
    std::cerr << "starttls-mock: " << ok.error() << "\n";
    return kExitUsage;
  }
  for (const std::string& file : files) {
    auto scenario = starttls::server::LoadScenario(file);
    if (!scenario) {
      std::cerr << scenario.error().ToString() << "\n";
      return kExitUsage;
    }
    options.scenarios.push_back(std::move(*scenario));
  }
  auto result = starttls::server::RunServer(options, &std::cout);
  if (!result) {
    std::cerr << "starttls-mock: " << result.error() << "\n";
    return kExitFailure;
  }
  if (result->run_deadline_passed) {
    std::cerr << "starttls-mock: the run deadline (--run-timeout "
              << options.run_timeout->count() << "ms) passed after "
              << result->sessions << " sessions; " << result->sessions_cut
              << " in progress were cut short and reported as interrupted\n";
    return kExitRunDeadline;
  }
  return 0;
}

struct ImportArgs {
  std::string input = "-";
  std::string format = "auto";
  std::string out;
  std::string summary;
  std::string host = "mail.example.test";
  std::string expect;
};

// Reads a transcript (a file, or stdin for "-"), writes the scenario to
// --out (whole or not at all) or stdout.
int Import(const ImportArgs& args) {
  namespace srv = starttls::server;
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
  srv::ImportOptions options{
      .source_name = name, .summary = args.summary, .host = args.host};
  auto format = srv::ParseImportFormat(args.format);
  if (!format) {
    std::cerr << "starttls-mock: --format must be auto, telnet, script, "
                 "swaks or curl, not \""
              << args.format << "\"\n";
    return kExitUsage;
  }
  options.format = *format;
  if (!args.expect.empty()) {
    if (args.expect == "deliver") {
      options.expect = srv::Expectation::kDeliver;
    } else if (args.expect == "refuse") {
      options.expect = srv::Expectation::kRefuse;
    } else if (args.expect == "deliver-or-refuse") {
      options.expect = srv::Expectation::kDeliverOrRefuse;
    } else {
      std::cerr << "starttls-mock: --expect must be deliver, refuse or "
                   "deliver-or-refuse, not \""
                << args.expect << "\"\n";
      return kExitUsage;
    }
  }
  auto scenario = srv::ImportTranscript(text, options);
  if (!scenario) {
    std::cerr << name << ":" << scenario.error().line << ":"
              << scenario.error().column << ": " << scenario.error().message
              << "\n";
    return kExitUsage;
  }
  // What was written must be a scenario the server accepts.
  if (auto parsed = srv::ParseScenario(
          *scenario, args.out.empty() ? "imported.smtp" : args.out);
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
  if (auto w = starttls::WriteFileAtomically(args.out, *scenario); !w) {
    std::cerr << "starttls-mock: " << w.error() << "\n";
    return kExitFailure;
  }
  return 0;
}

struct RecordArgs {
  starttls::server::RecordOptions options;
  std::string delays;  // keep delays of at least this long
  std::string timeout = "60s";
};

int Record(RecordArgs args) {
  namespace srv = starttls::server;
  if (!args.delays.empty()) {
    args.options.min_delay = srv::ParseDuration(args.delays);
    if (!args.options.min_delay) {
      std::cerr << "starttls-mock: --delays must be a duration such as 20ms, "
                   "not \""
                << args.delays << "\"\n";
      return kExitUsage;
    }
  }
  auto timeout = srv::ParseDuration(args.timeout);
  if (!timeout || timeout->count() == 0) {
    std::cerr << "starttls-mock: --timeout must be a duration such as 60s, "
                 "not \""
              << args.timeout << "\"\n";
    return kExitUsage;
  }
  args.options.timeout = *timeout;
  if (auto ok = srv::CheckRecordOptions(args.options); !ok) {
    std::cerr << "starttls-mock: " << ok.error() << "\n";
    return kExitUsage;
  }
  auto result = srv::RunRecorder(args.options, &std::cout);
  if (!result) {
    std::cerr << "starttls-mock: " << result.error() << "\n";
    return kExitFailure;
  }
  return 0;
}

// The one list of oracle ids and rules, for people and for the Python
// plugin, which reads it instead of keeping its own.
int ListOracles(bool as_json) {
  if (as_json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& o : starttls::server::Oracles()) {
      out.push_back({{"id", o.id}, {"rule", o.rule}});
    }
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  for (const auto& o : starttls::server::Oracles()) {
    std::cout << o.id << "\t" << o.rule << "\n";
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "starttls-mock: a scriptable mock SMTP server for STARTTLS clients"};
  app.require_subcommand(1);

  starttls::server::ServerOptions options;
  std::vector<std::string> files;
  std::string report;
  std::string run_dir;
  int sessions = 0;
  CLI::App* serve = app.add_subcommand("serve", "serve scenarios to clients");
  serve->add_option("scenario", files, "scenario files (.smtp)")->required();
  serve->add_option("--listen", options.listen, "ADDR:PORT to listen on")
      ->capture_default_str();
  serve->add_option("--sessions", sessions, "stop after N sessions")
      ->check(CLI::Range(1, 100'000'000));
  std::string session_timeout;
  std::string run_timeout;
  serve->add_option("--session-timeout", session_timeout,
                    "no session lasts longer than this (e.g. 30s), whatever "
                    "its scenario's Session-Timeout");
  serve->add_option("--run-timeout", run_timeout,
                    "end the whole run this long after READY, aborting the "
                    "sessions in progress; exit status 3");
  serve->add_option("--report", report, "write all session reports to FILE");
  serve->add_option("--run-dir", run_dir,
                    "directory for certificates and session reports");
  options.threads =
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  serve
      ->add_option("--threads", options.threads,
                   "threads serving sessions (default: one per core)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();

  starttls::certs::CertsOptions certs_options;
  CLI::App* certs = app.add_subcommand(
      "certs", "issue the test certificate catalogue, or list it");
  CLI::Option* out = certs->add_option(
      "--out", certs_options.out, "directory to create (must not exist yet)");
  certs->add_option("--host", certs_options.hosts,
                    "DNS name or IP address to certify (repeatable; default " +
                        std::string(starttls::certs::kDefaultHost) + ")");
  certs->add_option("--profile", certs_options.profiles,
                    "profile to issue (repeatable; default: all)");
  CLI::Option* list = certs->add_flag("--list", certs_options.list,
                                      "print the profiles instead of issuing");
  certs->add_flag("--json", certs_options.json, "with --list: print JSON")
      ->needs(list);
  out->excludes(list);
  certs->callback([&] {
    if (!certs_options.list && certs_options.out.empty()) {
      throw CLI::RequiredError("--out or --list");
    }
  });

  ImportArgs import_args;
  CLI::App* import =
      app.add_subcommand("import", "turn a pasted transcript into a scenario");
  import
      ->add_option("transcript", import_args.input,
                   "telnet session, S:/C: transcript, swaks or curl -v "
                   "output; - for stdin")
      ->capture_default_str();
  import
      ->add_option("--format", import_args.format,
                   "auto, telnet, script, swaks or curl")
      ->capture_default_str();
  import->add_option("--out", import_args.out,
                     "write the scenario here (default: stdout)");
  import->add_option("--summary", import_args.summary,
                     "the scenario's Summary (default: imported from FILE)");
  import->add_option("--host", import_args.host, "the scenario's Host")
      ->capture_default_str();
  import->add_option("--expect", import_args.expect,
                     "deliver, refuse or deliver-or-refuse (default: deliver "
                     "when the session upgraded to TLS, else refuse)");

  RecordArgs record_args;
  CLI::App* record =
      app.add_subcommand("record",
                         "relay sessions to a real server and write them as a "
                         "scenario");
  record
      ->add_option("--listen", record_args.options.listen,
                   "ADDR:PORT to listen on")
      ->capture_default_str();
  record
      ->add_option("--upstream", record_args.options.upstream,
                   "HOST:PORT of the real SMTP server")
      ->required();
  record->add_option("--out", record_args.options.out, "the scenario to write")
      ->required();
  record->add_option("--upstream-cafile", record_args.options.upstream_cafile,
                     "CA file for the upstream's certificate (default: the "
                     "system's trust store)");
  record->add_option("--upstream-servername",
                     record_args.options.upstream_servername,
                     "name the upstream's certificate must prove, sent as "
                     "SNI (default: the upstream host)");
  record
      ->add_option("--host", record_args.options.host,
                   "the name the recorder's certificate proves and the "
                   "scenario's Host")
      ->capture_default_str();
  record->add_option("--summary", record_args.options.summary,
                     "the scenario's Summary");
  record->add_option("--delays", record_args.delays,
                     "keep the server's delays of at least this long (e.g. "
                     "20ms) as write delay=");
  record
      ->add_option("--timeout", record_args.timeout,
                   "give up when a session takes longer")
      ->capture_default_str();
  record
      ->add_option("--sessions", record_args.options.sessions,
                   "record this many sessions in turn (a client that "
                   "retries), one connection each")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  record->add_option("--run-dir", record_args.options.run_dir,
                     "directory for the certificates");

  bool oracles_json = false;
  CLI::App* oracles = app.add_subcommand(
      "oracles", "list the oracles: the ids reports use and their rules");
  oracles->add_flag("--json", oracles_json, "print JSON");

  // CLI11 would only say that a subcommand is required.
  if (argc > 1 && argv[1][0] != '-' &&
      std::find(std::begin(kSubcommands), std::end(kSubcommands),
                std::string_view(argv[1])) == std::end(kSubcommands)) {
    std::cerr << "starttls-mock: unknown subcommand \"" << argv[1]
              << "\" (subcommands: serve, certs, import, record, oracles)\n";
    return kExitUsage;
  }
  try {
    app.parse(argc, argv);
    options.session_timeout =
        TimeoutOption("--session-timeout", session_timeout);
    options.run_timeout = TimeoutOption("--run-timeout", run_timeout);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "starttls-mock: " << e.what() << "\n";
    return kExitUsage;
  }
  if (certs->parsed()) {
    return starttls::certs::RunCertsCommand(certs_options, std::cout,
                                            std::cerr);
  }
  if (oracles->parsed()) return ListOracles(oracles_json);
  if (import->parsed()) return Import(import_args);
  if (record->parsed()) return Record(std::move(record_args));
  if (sessions > 0) options.sessions = sessions;
  if (!report.empty()) options.report = report;
  options.run_dir = run_dir;
  return Serve(files, std::move(options));
}
