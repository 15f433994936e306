// starttls-client: delivers one message over SMTP after upgrading the
// connection with STARTTLS. The reference client of starttls-mock: every
// scenario's expected outcome is validated against it.
//
//   starttls-client --host H --port P [--cafile FILE] [--servername NAME]
//                   [--require-tls] [--timeout SECONDS] [--from ADDR]
//                   [--to ADDR] [--message FILE] [--ehlo NAME] [--verbose]
//
// Without --require-tls the policy is opportunistic: plain text only when the
// server does not offer STARTTLS. --servername defaults to --host, --cafile
// to the system trust store, --timeout to 10 s per reply, per connect and
// for the handshake; the whole session gets 4x --timeout.
//
// On success, one line on stdout:
//   delivered: TLSv1.3 TLS_AES_256_GCM_SHA384: 250 2.0.0 queued
// On failure, one line on stderr:
//   starttls-client: certificate-rejected: certificate rejected: ...
//
// Exit codes (stable; the orchestration depends on them):
//    0                        message accepted
//    2  usage-error           bad command line or unreadable input file
//    3  connect-failed        no TCP connection
//    4  protocol-error        malformed, unexpected or non-220 greeting reply
//    5  tls-unavailable       STARTTLS not offered (with --require-tls) or
//                             answered with anything but 220
//    6  unexpected-plaintext  bytes after the 220 reply to STARTTLS
//    7  certificate-rejected  chain or name verification failed
//    8  handshake-failed      any other TLS handshake failure
//    9  timeout               a reply, connect or handshake deadline expired
//   10  connection-lost       EOF or reset mid-session, even mid-reply
//   11  message-rejected      4xx/5xx to MAIL, RCPT, DATA or end of data

#include <fmt/format.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <ctime>
#include <fstream>
#include <iterator>
#include <string>

#include "starttls/error.h"
#include "starttls/smtp_client.h"
#include "starttls/socket_transport.h"

namespace starttls::client {
namespace {

struct CommandLine {
  std::string host;
  int port = 0;
  std::string cafile;
  std::string servername;
  bool require_tls = false;
  double timeout_seconds = 10;
  std::string from = "sender@example.test";
  std::string to = "recipient@example.test";
  std::string message_file;
  std::string ehlo = "localhost";
  bool verbose = false;
};

int Report(const Error& error) {
  std::string message = error.message;
  std::replace(message.begin(), message.end(), '\n', ' ');
  fmt::print(stderr, "starttls-client: {}: {}\n", ErrorName(error.code),
             message);
  return ExitCode(error.code);
}

std::string DefaultMessage(const CommandLine& cli) {
  const auto now = std::chrono::system_clock::now();
  const std::time_t t = std::chrono::system_clock::to_time_t(now);
  std::tm utc;
  gmtime_r(&t, &utc);
  char date[64];
  // The process never calls setlocale, so names are the C locale's English.
  std::strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &utc);
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(
                          now.time_since_epoch())
                          .count();
  return fmt::format(
      "Date: {}\r\n"
      "From: <{}>\r\n"
      "To: <{}>\r\n"
      "Subject: starttls-mock test\r\n"
      "Message-ID: <{}.{}@starttls-mock.test>\r\n"
      "\r\n"
      "This message was sent by starttls-client, the starttls-mock reference "
      "client.\r\n",
      date, cli.from, cli.to, micros, getpid());
}

[[nodiscard]] tl::expected<std::string, Error> ReadFile(
    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string text{std::istreambuf_iterator<char>(in),
                   std::istreambuf_iterator<char>()};
  if (!in.good() && !in.eof()) {
    return tl::unexpected(
        Error{ErrorCode::kUsage, fmt::format("cannot read {}", path)});
  }
  return text;
}

[[nodiscard]] tl::expected<DeliveryResult, Error> Run(const CommandLine& cli) {
  const auto timeout = std::chrono::milliseconds(
      static_cast<long long>(std::ceil(cli.timeout_seconds * 1000)));
  const Deadline session_deadline = Clock::now() + 4 * timeout;

  SessionOptions options;
  options.require_tls = cli.require_tls;
  options.ehlo_name = cli.ehlo;
  options.from = cli.from;
  options.to = cli.to;
  options.tls.cafile = cli.cafile;
  options.tls.servername = cli.servername.empty() ? cli.host : cli.servername;
  options.reply_timeout = timeout;
  options.session_deadline = session_deadline;
  if (cli.verbose) {
    options.log = [](std::string_view line) {
      fmt::print(stderr, "{}\n", line);
    };
  }
  if (cli.message_file.empty()) {
    options.message = DefaultMessage(cli);
  } else {
    auto text = ReadFile(cli.message_file);
    if (!text) return tl::unexpected(text.error());
    options.message = std::move(*text);
  }

  auto transport = SocketTransport::Connect(
      cli.host, static_cast<std::uint16_t>(cli.port),
      std::min(Clock::now() + timeout, session_deadline));
  if (!transport) return tl::unexpected(transport.error());
  if (options.log)
    options.log(fmt::format("-- connected to {} --", (*transport)->peer()));
  auto result = Deliver(**transport, options);
  (*transport)->Close();
  return result;
}

}  // namespace
}  // namespace starttls::client

int main(int argc, char** argv) {
  using namespace starttls::client;
  // A peer that vanishes must surface as a failed write, not kill us.
  std::signal(SIGPIPE, SIG_IGN);

  CommandLine cli;
  CLI::App app{"Delivers one message over SMTP with STARTTLS.",
               "starttls-client"};
  app.add_option("--host", cli.host, "Server host name or address")->required();
  app.add_option("--port", cli.port, "Server port")
      ->required()
      ->check(CLI::Range(1, 65535));
  app.add_option("--cafile", cli.cafile,
                 "PEM file of trusted CAs (default: system store)")
      ->check(CLI::ExistingFile);
  app.add_option("--servername", cli.servername,
                 "Name to verify and send as SNI (default: --host)");
  app.add_flag("--require-tls", cli.require_tls,
               "Fail unless STARTTLS succeeds (default: opportunistic)");
  app.add_option("--timeout", cli.timeout_seconds,
                 "Seconds per reply, connect and handshake; the session "
                 "gets 4x")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--from", cli.from, "Envelope sender")->capture_default_str();
  app.add_option("--to", cli.to, "Envelope recipient")->capture_default_str();
  app.add_option("--message", cli.message_file,
                 "RFC 5322 message file (default: a generated one)")
      ->check(CLI::ExistingFile);
  app.add_option("--ehlo", cli.ehlo, "EHLO name")->capture_default_str();
  app.add_flag("--verbose", cli.verbose, "Print the transcript on stderr");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help
    return Report(Error{ErrorCode::kUsage, e.what()});
  }

  auto result = Run(cli);
  if (!result) return Report(result.error());
  fmt::print("delivered: {}: {}\n",
             result->tls ? fmt::format("{} {}", result->tls_info.version,
                                       result->tls_info.cipher)
                         : "plaintext",
             Summarize(result->final_reply));
  return kExitDelivered;
}
