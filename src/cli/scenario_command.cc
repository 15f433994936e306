// starttls-mock scenario [FILE...] [--catalogue] [--json]: what other tools
// need to know of a scenario, read by the one parser (the Python plugin takes
// its deadlines and the catalogue's documentation is checked from it, instead
// of either reading scenario files itself).
#include <chrono>
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli/command.h"
#include "scenario/catalogue.h"
#include "scenario/scenario.h"

namespace starttls::cli {
namespace {

double Seconds(std::chrono::milliseconds d) {
  return static_cast<double>(d.count()) / 1000.0;
}

nlohmann::json Describe(const server::Scenario& s) {
  nlohmann::json certificates = nlohmann::json::array();
  for (int n = 1; n <= server::ConnectionCount(s); ++n) {
    certificates.push_back(server::ConnectionCertificate(s, n));
  }
  return {
      {"path", s.path},
      {"source", s.source},
      {"name", s.name},
      {"summary", s.summary},
      {"protocol", s.protocol->name()},
      {"host", s.host},
      {"expect", server::ExpectationName(s.expect, *s.protocol)},
      {"certificate", s.certificate},
      {"certificates", certificates},
      {"connections", server::ConnectionCount(s)},
      {"timeout_s", Seconds(s.timeout)},
      {"session_timeout_s", Seconds(server::SessionTimeout(s))},
      {"scripted_pauses_s", Seconds(server::ScriptedPauses(s))},
      {"stalls", server::Stalls(s)},
  };
}

struct ScenarioArgs {
  std::vector<std::string> files;
  bool catalogue = false;
  bool json = false;
};

// Every file is parsed before anything is printed: a malformed one is its
// one line (file:line:col) and exit status 2, with nothing on stdout.
int Run(const ScenarioArgs& args) {
  std::vector<std::string> files = args.files;
  if (args.catalogue) {
    auto dir = server::CatalogueDir();
    if (!dir) {
      std::cerr << "starttls-mock: no catalogue found (set "
                << server::kCatalogueEnv << " to one)\n";
      return kExitUsage;
    }
    auto listed = server::CatalogueFiles(*dir);
    if (!listed) {
      std::cerr << "starttls-mock: " << listed.error() << "\n";
      return kExitUsage;
    }
    for (const auto& f : *listed) files.push_back(f.string());
  }
  if (files.empty()) {
    std::cerr << "starttls-mock: name a scenario, or give --catalogue\n";
    return kExitUsage;
  }
  auto loaded = LoadScenarioArguments(files);
  if (!loaded) {
    std::cerr << loaded.error().ToString() << "\n";
    return kExitUsage;
  }
  const std::vector<server::Scenario>& scenarios = *loaded;
  if (args.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto& s : scenarios) out.push_back(Describe(s));
    std::cout << out.dump(1) << "\n";
    return 0;
  }
  for (const auto& s : scenarios) {
    std::cout << s.path << ": expect "
              << server::ExpectationName(s.expect, *s.protocol) << ", host "
              << s.host << ", certificate " << s.certificate << ", timeout "
              << s.timeout.count() << "ms, holds the client "
              << server::ScriptedPauses(s).count() << "ms; " << s.summary
              << "\n";
  }
  return 0;
}

}  // namespace

Runner AddScenario(CLI::App* sub) {
  auto args = std::make_shared<ScenarioArgs>();
  AddScenarioArgument(sub, &args->files);
  sub->add_flag("--catalogue", args->catalogue,
                "also every scenario of the catalogue, after those named");
  sub->add_flag(
      "--json", args->json,
      "print a JSON array, one object per file: path, name, "
      "summary, protocol, host, expect, certificate, certificates (one "
      "per connection), connections, "
      "timeout_s, session_timeout_s, scripted_pauses_s, stalls");
  return [args] { return Run(*args); };
}

}  // namespace starttls::cli
