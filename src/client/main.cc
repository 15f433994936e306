// starttls-client: delivers one message over SMTP, logs in over IMAP and
// opens a mailbox, or logs in over POP3 and downloads the maildrop, after
// upgrading the connection with STARTTLS (STLS in POP3). The
// reference client of starttls-mock: every scenario's expected outcome is
// validated against it, and it is usable as a real tool:
//
//   starttls-client --host smtp.example.org --port 587
//       --cafile /etc/ssl/certs/ca-certificates.crt --from me@example.org
//       --to you@example.org --auth-user me --auth-password-file pw.txt
//   starttls-client --protocol imap --host imap.example.org --port 143
//       --auth-user me --auth-password-file pw.txt [--mailbox INBOX]
//   starttls-client --protocol pop3 --host pop.example.org --port 110
//       --auth-user me --auth-password-file pw.txt
//
// IMAP always requires TLS and needs the credentials (AUTHENTICATE PLAIN
// when offered over TLS, else LOGIN unless LOGINDISABLED); --auth-mechanism
// plain or login picks one. So does POP3 (AUTH PLAIN when CAPA offers SASL
// PLAIN over TLS, else USER and PASS; login picks USER and PASS).
//
// Options (docs/reference-client.md has the full table):
//   --policy require-tls|opportunistic   default require-tls; --require-tls
//                                        is the same as its default
//   --cafile FILE, --capath DIR          trust anchors (default: system)
//   --servername NAME                    name to verify and SNI (default
//                                        --host; an IP literal is verified
//                                        as an iPAddress SAN, without SNI)
//   --crl FILE                           check revocation of the whole chain
//   --min-tls 1.2|1.3                    lowest TLS version (default 1.2)
//   --auth-user U + --auth-password P | --auth-password-file FILE
//                                        AUTH PLAIN or LOGIN, over TLS only
//   --timeout S                          connect, greeting, each reply and
//                                        the handshake get S seconds each,
//                                        the whole session 4*S (default 10);
//   --connect-timeout, --greeting-timeout, --reply-timeout,
//   --handshake-timeout, --session-timeout  override one of them
//   --from, --to, --message FILE, --ehlo NAME, --verbose
//
// On success, one line on stdout:
//   delivered: TLSv1.3 TLS_AES_256_GCM_SHA384: 250 2.0.0 queued
//   logged-in: TLSv1.3 TLS_AES_256_GCM_SHA384: INBOX, 2 messages
//   logged-in: TLSv1.3 TLS_AES_256_GCM_SHA384: 2 messages, 398 octets,
//              2 retrieved
// On failure, one line on stderr:
//   starttls-client: certificate-rejected: certificate rejected: ...
// Neither, nor the --verbose transcript, ever contains the credentials.
//
// Exit codes (stable; the orchestration depends on them; IMAP's in
// brackets where they differ):
//    0                        message accepted [logged in, mailbox open]
//    2  usage-error           bad command line or unusable local input
//                             (unreadable file, CA or CRL file)
//    3  connect-failed        no TCP connection
//    4  protocol-error        malformed, unexpected or truncated reply;
//                             greeting other than 220 [other than OK]
//    5  tls-unavailable       STARTTLS not offered (require-tls, or AUTH
//                             wanted) or answered with anything but 220
//                             [a tagged OK; or a PREAUTH greeting]
//    6  unexpected-plaintext  bytes after the 220 reply to STARTTLS
//                             [after the tagged OK]
//    7  certificate-rejected  chain, revocation or name verification failed
//    8  handshake-failed      any other TLS handshake failure
//    9  timeout               a connect, greeting, reply, handshake or
//                             session deadline expired
//   10  connection-lost       EOF or reset between replies [or a BYE]
//   11  message-rejected      4xx/5xx to MAIL, RCPT, DATA or end of data
//                             [SELECT refused]
//   12  auth-failed           AUTH refused, or no usable mechanism over TLS
//                             [AUTHENTICATE or LOGIN refused, or
//                             LOGINDISABLED and no AUTH=PLAIN over TLS]
// POP3's are IMAP's, with a greeting other than +OK (4); CAPA refused or
// without STLS, or STLS answered -ERR (5); bytes after the +OK to STLS (6);
// STAT or RETR refused (11); AUTH, USER or PASS refused (12).

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <ctime>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <string>

#include "common/version.h"
#include "starttls/error.h"
#include "starttls/imap_client.h"
#include "starttls/pop3_client.h"
#include "starttls/smtp_client.h"
#include "starttls/socket_transport.h"

namespace starttls::client {
namespace {

enum class Protocol { kSmtp, kImap, kPop3 };

struct CommandLine {
  Protocol protocol = Protocol::kSmtp;
  std::string mailbox = "INBOX";
  std::string save_messages;  // POP3: a directory for what RETR returned
  std::string host;
  int port = 0;
  std::string cafile;
  std::string capath;
  std::string servername;
  std::string crlfile;
  TlsPolicy policy = TlsPolicy::kRequireTls;
  bool require_tls = false;
  TlsVersion min_tls = TlsVersion::k1_2;
  std::string auth_user;
  std::string auth_password;
  std::string auth_password_file;
  AuthMechanism auth_mechanism = AuthMechanism::kAny;
  double timeout_seconds = 10;
  std::optional<double> connect_seconds;
  std::optional<double> greeting_seconds;
  std::optional<double> reply_seconds;
  std::optional<double> handshake_seconds;
  std::optional<double> session_seconds;
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

std::chrono::milliseconds Millis(double seconds) {
  return std::chrono::milliseconds(
      static_cast<long long>(std::ceil(seconds * 1000)));
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

// The password: --auth-password, or the first line of --auth-password-file
// without its line ending. The file's contents never reach a message.
[[nodiscard]] tl::expected<std::string, Error> Password(
    const CommandLine& cli) {
  if (cli.auth_password_file.empty()) return cli.auth_password;
  auto text = ReadFile(cli.auth_password_file);
  if (!text) return text;
  text->resize(std::min(text->size(), text->find_first_of("\r\n")));
  return text;
}

// What a successful session prints on stdout.
using Outcome = tl::expected<std::string, Error>;

[[nodiscard]] Outcome Run(const CommandLine& cli) {
  const auto timeout = Millis(cli.timeout_seconds);
  const Deadline session_deadline =
      Clock::now() +
      (cli.session_seconds ? Millis(*cli.session_seconds) : 4 * timeout);

  SessionOptions options;
  options.policy = cli.require_tls ? TlsPolicy::kRequireTls : cli.policy;
  options.ehlo_name = cli.ehlo;
  options.from = cli.from;
  options.to = cli.to;
  options.tls.cafile = cli.cafile;
  options.tls.cadir = cli.capath;
  options.tls.crlfile = cli.crlfile;
  options.tls.min_version = cli.min_tls;
  options.tls.servername = cli.servername.empty() ? cli.host : cli.servername;
  options.timeouts.greeting =
      cli.greeting_seconds ? Millis(*cli.greeting_seconds) : timeout;
  options.timeouts.reply =
      cli.reply_seconds ? Millis(*cli.reply_seconds) : timeout;
  options.timeouts.handshake =
      cli.handshake_seconds ? Millis(*cli.handshake_seconds) : timeout;
  options.session_deadline = session_deadline;
  if (!cli.auth_user.empty()) {
    auto password = Password(cli);
    if (!password) return tl::unexpected(password.error());
    options.auth =
        Credentials{cli.auth_user, std::move(*password), cli.auth_mechanism};
  }
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

  const auto connect_timeout =
      cli.connect_seconds ? Millis(*cli.connect_seconds) : timeout;
  auto transport = SocketTransport::Connect(
      cli.host, static_cast<std::uint16_t>(cli.port),
      std::min(Clock::now() + connect_timeout, session_deadline));
  if (!transport) return tl::unexpected(transport.error());
  if (options.log)
    options.log(fmt::format("-- connected to {} --", (*transport)->peer()));
  Outcome outcome;
  if (cli.protocol == Protocol::kPop3) {
    Pop3SessionOptions pop3;
    pop3.credentials = *options.auth;
    pop3.tls = options.tls;
    pop3.timeouts = options.timeouts;
    pop3.session_deadline = options.session_deadline;
    pop3.log = options.log;
    auto result = RetrieveMail(**transport, pop3);
    OPENSSL_cleanse(pop3.credentials.password.data(),
                    pop3.credentials.password.size());
    for (std::size_t i = 0;
         result && !cli.save_messages.empty() && i < result->retrieved.size();
         ++i) {
      std::string path = fmt::format("{}/{}.eml", cli.save_messages, i + 1);
      std::ofstream out(path, std::ios::binary);
      out << result->retrieved[i];
      out.close();
      if (!out) {
        return tl::unexpected(
            Error{ErrorCode::kUsage, fmt::format("cannot write {}", path)});
      }
    }
    if (result) {
      outcome = fmt::format(
          "logged-in: {} {}: {} messages, {} octets, {} "
          "retrieved",
          result->tls_info.version, result->tls_info.cipher, result->messages,
          result->octets, result->retrieved.size());
    } else {
      outcome = tl::unexpected(result.error());
    }
  } else if (cli.protocol == Protocol::kImap) {
    ImapSessionOptions imap;
    imap.credentials = *options.auth;
    imap.mailbox = cli.mailbox;
    imap.tls = options.tls;
    imap.timeouts = options.timeouts;
    imap.session_deadline = options.session_deadline;
    imap.log = options.log;
    auto result = LogIn(**transport, imap);
    OPENSSL_cleanse(imap.credentials.password.data(),
                    imap.credentials.password.size());
    if (result) {
      outcome = fmt::format("logged-in: {} {}: {}, {} messages",
                            result->tls_info.version, result->tls_info.cipher,
                            result->mailbox, result->exists);
    } else {
      outcome = tl::unexpected(result.error());
    }
  } else {
    auto result = Deliver(**transport, options);
    if (result) {
      outcome = fmt::format("delivered: {}: {}",
                            result->tls
                                ? fmt::format("{} {}", result->tls_info.version,
                                              result->tls_info.cipher)
                                : "plaintext",
                            Summarize(result->final_reply));
    } else {
      outcome = tl::unexpected(result.error());
    }
  }
  (*transport)->Close();
  if (options.auth) {
    OPENSSL_cleanse(options.auth->password.data(),
                    options.auth->password.size());
  }
  return outcome;
}

}  // namespace
}  // namespace starttls::client

int main(int argc, char** argv) {
  using namespace starttls::client;
  // A peer that vanishes must surface as a failed write, not kill us.
  std::signal(SIGPIPE, SIG_IGN);

  CommandLine cli;
  CLI::App app{
      "Delivers one message over SMTP, or logs in over IMAP or POP3, with "
      "STARTTLS.",
      "starttls-client"};
  app.add_option("--protocol", cli.protocol,
                 "smtp (default): deliver a message; imap: log in (needs "
                 "--auth-user) and open --mailbox; pop3: log in (needs "
                 "--auth-user) and download every message")
      ->transform(CLI::CheckedTransformer(
          std::map<std::string, Protocol>{{"smtp", Protocol::kSmtp},
                                          {"imap", Protocol::kImap},
                                          {"pop3", Protocol::kPop3}}));
  app.add_option("--mailbox", cli.mailbox, "IMAP mailbox to open")
      ->capture_default_str();
  app.add_option("--save-messages", cli.save_messages,
                 "POP3: write each message retrieved to DIR/N.eml")
      ->check(CLI::ExistingDirectory);
  app.add_option("--host", cli.host, "Server host name or address")->required();
  app.add_option("--port", cli.port, "Server port")
      ->required()
      ->check(CLI::Range(1, 65535));
  app.add_option("--cafile", cli.cafile,
                 "PEM file of trusted CAs (default: system store)")
      ->check(CLI::ExistingFile);
  app.add_option("--capath,--cadir", cli.capath,
                 "Directory of trusted CAs, hashed (openssl rehash)")
      ->check(CLI::ExistingDirectory);
  app.add_option("--servername", cli.servername,
                 "DNS name or IP address to verify; DNS names are sent as "
                 "SNI (default: --host)");
  app.add_option("--crl", cli.crlfile,
                 "PEM file of CRLs; checks revocation of the whole chain")
      ->check(CLI::ExistingFile);
  app.add_option("--min-tls", cli.min_tls, "Lowest TLS version: 1.2 or 1.3")
      ->transform(CLI::CheckedTransformer(std::map<std::string, TlsVersion>{
          {"1.2", TlsVersion::k1_2}, {"1.3", TlsVersion::k1_3}}));
  auto* policy =
      app.add_option("--policy", cli.policy,
                     "require-tls (default): no STARTTLS, no session; "
                     "opportunistic: plain text only when STARTTLS is not "
                     "offered")
          ->transform(CLI::CheckedTransformer(std::map<std::string, TlsPolicy>{
              {"require-tls", TlsPolicy::kRequireTls},
              {"opportunistic", TlsPolicy::kOpportunistic}}));
  app.add_flag("--require-tls", cli.require_tls, "Same as --policy require-tls")
      ->excludes(policy);
  auto* user = app.add_option("--auth-user,--user", cli.auth_user,
                              "AUTH user name (AUTH only over TLS)");
  auto* password =
      app.add_option("--auth-password,--password", cli.auth_password,
                     "AUTH password (visible to ps; prefer "
                     "--auth-password-file)");
  auto* password_file =
      app.add_option("--auth-password-file,--password-file",
                     cli.auth_password_file,
                     "File whose first line is the AUTH password")
          ->check(CLI::ExistingFile);
  password->excludes(password_file)->needs(user);
  password_file->needs(user);
  app.add_option("--auth-mechanism", cli.auth_mechanism,
                 "any (PLAIN, else LOGIN), plain or login")
      ->needs(user)
      ->transform(CLI::CheckedTransformer(std::map<std::string, AuthMechanism>{
          {"any", AuthMechanism::kAny},
          {"plain", AuthMechanism::kPlain},
          {"login", AuthMechanism::kLogin}}));
  app.add_option("--timeout", cli.timeout_seconds,
                 "Seconds for the connect, the greeting, each reply and the "
                 "handshake; the session gets 4x")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--connect-timeout", cli.connect_seconds,
                 "Seconds for the TCP connect (default: --timeout)")
      ->check(CLI::PositiveNumber);
  app.add_option("--greeting-timeout", cli.greeting_seconds,
                 "Seconds for the 220 greeting (default: --timeout)")
      ->check(CLI::PositiveNumber);
  app.add_option("--reply-timeout", cli.reply_seconds,
                 "Seconds for each later reply (default: --timeout)")
      ->check(CLI::PositiveNumber);
  app.add_option("--handshake-timeout", cli.handshake_seconds,
                 "Seconds for the TLS handshake (default: --timeout)")
      ->check(CLI::PositiveNumber);
  app.add_option("--session-timeout", cli.session_seconds,
                 "Seconds for the whole session (default: 4x --timeout)")
      ->check(CLI::PositiveNumber);
  app.add_option("--from", cli.from, "Envelope sender")->capture_default_str();
  app.add_option("--to", cli.to, "Envelope recipient")->capture_default_str();
  app.add_option("--message", cli.message_file,
                 "RFC 5322 message file (default: a generated one)")
      ->check(CLI::ExistingFile);
  app.add_option("--ehlo", cli.ehlo, "EHLO name")->capture_default_str();
  app.add_flag("--verbose", cli.verbose,
               "Print the transcript on stderr, marking where TLS begins");
  app.set_version_flag("--version", std::string(starttls::kVersion));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return Report(Error{ErrorCode::kUsage, e.what()});
  }
  if (!cli.auth_user.empty() && cli.auth_password_file.empty() &&
      cli.auth_password.empty()) {
    return Report(Error{ErrorCode::kUsage,
                        "--auth-user needs --auth-password or "
                        "--auth-password-file"});
  }

  if (cli.protocol != Protocol::kSmtp && cli.auth_user.empty()) {
    return Report(
        Error{ErrorCode::kUsage,
              fmt::format("--protocol {} needs --auth-user and a "
                          "password",
                          cli.protocol == Protocol::kImap ? "imap" : "pop3")});
  }
  auto outcome = Run(cli);
  if (!outcome) return Report(outcome.error());
  fmt::print("{}\n", *outcome);
  return kExitDelivered;
}
