// starttls-mock: a scriptable mock SMTP server for testing STARTTLS clients.
//
//   starttls-mock serve SCENARIO... [--listen ADDR:PORT] [--sessions N]
//                       [--report FILE] [--run-dir DIR]
//   starttls-mock certs --out DIR [--host NAME]... [--profile NAME]...
//   starttls-mock certs --list [--json]
//
// Exit status: 0 after a clean stop, 1 when the server could not run, 2 for
// bad usage or a malformed scenario (reported as file:line:col: message).
#include <CLI/CLI.hpp>
#include <iostream>

#include "certs/certs_command.h"
#include "server/scenario.h"
#include "server/server.h"

namespace {

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;

int Serve(const std::vector<std::string>& files,
          starttls::server::ServerOptions options) {
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
      ->check(CLI::PositiveNumber);
  serve->add_option("--report", report, "write all session reports to FILE");
  serve->add_option("--run-dir", run_dir,
                    "directory for certificates and session reports");

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

  try {
    app.parse(argc, argv);
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
  if (sessions > 0) options.sessions = sessions;
  if (!report.empty()) options.report = report;
  options.run_dir = run_dir;
  return Serve(files, std::move(options));
}
