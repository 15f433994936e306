// starttls-mock record --upstream HOST:PORT --out FILE.smtp [--listen ...]
//     [--protocol smtp|imap|pop3] [--upstream-cafile F]
//     [--upstream-servername NAME] [--sessions N] [--timeout D]
#include <fmt/format.h>

#include <iostream>
#include <memory>
#include <string>

#include "authoring/record.h"
#include "cli/command.h"
#include "protocol/protocol.h"
#include "scenario/scenario.h"

namespace starttls::cli {
namespace {

struct RecordArgs {
  server::RecordOptions options;
  std::string protocol = "smtp";
  std::string delays;  // keep delays of at least this long
  std::string timeout = "60s";
};

int Record(RecordArgs args) {
  args.options.protocol = protocol::FindProtocol(args.protocol);
  if (args.options.protocol == nullptr) {
    std::cerr << "starttls-mock: --protocol must be one of "
              << fmt::format("{}", fmt::join(protocol::ProtocolNames(), ", "))
              << ", not \"" << args.protocol << "\"\n";
    return kExitUsage;
  }
  if (!args.delays.empty()) {
    args.options.min_delay = server::ParseDuration(args.delays);
    if (!args.options.min_delay) {
      std::cerr << "starttls-mock: --delays must be a duration such as 20ms, "
                   "not \""
                << args.delays << "\"\n";
      return kExitUsage;
    }
  }
  auto timeout = server::ParseDuration(args.timeout);
  if (!timeout || timeout->count() == 0) {
    std::cerr << "starttls-mock: --timeout must be a duration such as 60s, "
                 "not \""
              << args.timeout << "\"\n";
    return kExitUsage;
  }
  args.options.timeout = *timeout;
  if (auto ok = server::CheckRecordOptions(args.options); !ok) {
    std::cerr << "starttls-mock: " << ok.error() << "\n";
    return kExitUsage;
  }
  auto result = server::RunRecorder(args.options, &std::cout);
  if (!result) {
    std::cerr << "starttls-mock: " << result.error() << "\n";
    return kExitFailure;
  }
  return 0;
}

}  // namespace

Runner AddRecord(CLI::App* sub) {
  auto args = std::make_shared<RecordArgs>();
  server::RecordOptions& o = args->options;
  sub->add_option("--listen", o.listen, "ADDR:PORT to listen on")
      ->capture_default_str();
  sub->add_option("--protocol", args->protocol,
                  "the protocol the session speaks: smtp, imap or pop3")
      ->capture_default_str();
  sub->add_option("--upstream", o.upstream,
                  "HOST:PORT of the real SMTP, IMAP or POP3 server")
      ->required();
  sub->add_option("--out", o.out, "the scenario to write")->required();
  sub->add_option("--upstream-cafile", o.upstream_cafile,
                  "CA file for the upstream's certificate (default: the "
                  "system's trust store)");
  sub->add_option("--upstream-servername", o.upstream_servername,
                  "name the upstream's certificate must prove, sent as "
                  "SNI (default: the upstream host)");
  sub->add_option("--host", o.host,
                  "the name the recorder's certificate proves and the "
                  "scenario's Host")
      ->capture_default_str();
  sub->add_option("--summary", o.summary, "the scenario's Summary");
  sub->add_option("--delays", args->delays,
                  "keep the server's delays of at least this long (e.g. "
                  "20ms) as write delay=");
  sub->add_option("--timeout", args->timeout,
                  "give up when a session takes longer")
      ->capture_default_str();
  sub->add_option("--sessions", o.sessions,
                  "record this many sessions in turn (a client that "
                  "retries), one connection each")
      ->capture_default_str()
      ->check(CLI::Range(1, 100));
  sub->add_option("--run-dir", o.run_dir, "directory for the certificates");
  return [args] { return Record(*args); };
}

}  // namespace starttls::cli
