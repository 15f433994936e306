// starttls-mock serve SCENARIO... [--listen ADDR:PORT] [--sessions N]
//     [--report FILE] [--run-dir DIR] [--threads N] [--session-timeout D]
//     [--run-timeout D]
#include <algorithm>
#include <chrono>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "cli/command.h"
#include "scenario/scenario.h"
#include "server/server.h"

namespace starttls::cli {
namespace {

// A --*-timeout value: a duration such as 30s or 250ms, not zero.
std::optional<std::chrono::milliseconds> TimeoutOption(
    std::string_view name, const std::string& value) {
  if (value.empty()) return std::nullopt;
  auto d = server::ParseDuration(value);
  if (!d || d->count() == 0) {
    throw CLI::ValidationError(
        std::string(name),
        "must be a duration such as 30s or 250ms, not \"" + value + "\"");
  }
  return d;
}

struct ServeArgs {
  server::ServerOptions options;
  std::vector<std::string> files;
  std::string report;
  std::string run_dir;
  int sessions = 0;
  std::string session_timeout;
  std::string run_timeout;
};

int Serve(ServeArgs& args) {
  server::ServerOptions& options = args.options;
  if (args.sessions > 0) options.sessions = args.sessions;
  if (!args.report.empty()) options.report = args.report;
  options.run_dir = args.run_dir;
  if (auto ok = server::CheckListenAddress(options.listen); !ok) {
    std::cerr << "starttls-mock: " << ok.error() << "\n";
    return kExitUsage;
  }
  auto loaded = LoadScenarioArguments(args.files);
  if (!loaded) {
    std::cerr << loaded.error().ToString() << "\n";
    return kExitUsage;
  }
  options.scenarios = std::move(*loaded);
  auto result = server::RunServer(options, &std::cout);
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

}  // namespace

Runner AddServe(CLI::App* sub) {
  auto args = std::make_shared<ServeArgs>();
  AddScenarioArgument(sub, &args->files)->required();
  sub->add_option("--listen", args->options.listen, "ADDR:PORT to listen on")
      ->capture_default_str();
  sub->add_option("--sessions", args->sessions, "stop after N sessions")
      ->check(CLI::Range(1, 100'000'000));
  sub->add_option("--session-timeout", args->session_timeout,
                  "no session lasts longer than this (e.g. 30s), whatever "
                  "its scenario's Session-Timeout");
  sub->add_option("--run-timeout", args->run_timeout,
                  "end the whole run this long after READY, aborting the "
                  "sessions in progress; exit status 3");
  sub->add_option("--report", args->report,
                  "write all session reports to FILE at the end, in "
                  "connection order (while running: sessions.jsonl in the "
                  "run directory, one line per ended session)");
  sub->add_option("--run-dir", args->run_dir,
                  "directory for certificates and session reports "
                  "(sessions.jsonl, one line per ended session)");
  sub->add_flag("--session-files", args->options.session_files,
                "also write each session's report to a file of its own, "
                "sessions/NNNN-<scenario>.json in the run directory");
  args->options.threads =
      static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  sub->add_option("--threads", args->options.threads,
                  "threads serving sessions (default: one per core)")
      ->check(CLI::Range(1, 1024))
      ->capture_default_str();
  sub->callback([args] {
    args->options.session_timeout =
        TimeoutOption("--session-timeout", args->session_timeout);
    args->options.run_timeout =
        TimeoutOption("--run-timeout", args->run_timeout);
  });
  return [args] { return Serve(*args); };
}

}  // namespace starttls::cli
