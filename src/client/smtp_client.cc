#include "starttls/smtp_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "common/ascii.h"
#include "conversation.h"
#include "quote.h"
#include "sasl.h"

namespace starttls::client {
namespace {

bool HasLineBreak(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

// The parameters of the extension `keyword` in an EHLO reply, or nullopt if
// it is not listed. The first line is the greeting, not an extension.
std::optional<std::string_view> Extension(const Reply& ehlo,
                                          std::string_view keyword) {
  for (std::size_t i = 1; i < ehlo.lines.size(); ++i) {
    std::string_view line = ehlo.lines[i];
    const std::size_t space = line.find(' ');
    if (EqualsNoCase(line.substr(0, space), keyword)) {
      return space == std::string_view::npos ? std::string_view()
                                             : line.substr(space + 1);
    }
  }
  return std::nullopt;
}

bool Offers(const Reply& ehlo, std::string_view keyword) {
  return Extension(ehlo, keyword).has_value();
}

// True if `mechanism` is among the space-separated SASL mechanisms.
bool ListsMechanism(std::string_view mechanisms, std::string_view mechanism) {
  while (!mechanisms.empty()) {
    const std::size_t space = mechanisms.find(' ');
    if (EqualsNoCase(mechanisms.substr(0, space), mechanism)) return true;
    if (space == std::string_view::npos) break;
    mechanisms.remove_prefix(space + 1);
  }
  return false;
}

// Checks the reply to a mail transaction step (MAIL, RCPT, DATA, end of
// data): 4xx and 5xx are the server refusing the message, any other
// unexpected code is a protocol error.
tl::expected<void, Error> CheckTransactionReply(const Reply& reply,
                                                int expected_class,
                                                std::string_view step) {
  if (reply.code / 100 == expected_class) return {};
  if (reply.code >= 400) {
    return Fail(ErrorCode::kRejected,
                fmt::format("{} rejected: {}", step, Summarize(reply)));
  }
  return Fail(ErrorCode::kProtocol, fmt::format("unexpected reply to {}: {}",
                                                step, Summarize(reply)));
}

class Session {
 public:
  Session(Transport& transport, const SessionOptions& options)
      : conversation_(transport, options.timeouts, options.session_deadline,
                      options.log),
        options_(options) {}

  tl::expected<DeliveryResult, Error> Run();

  // Sends QUIT and waits for its reply, ignoring failures: the outcome of
  // the session is already decided. Only when the server is waiting for a
  // command on a connection still worth talking over.
  void QuitIfAllowed();

 private:
  Deadline PhaseDeadline(std::chrono::milliseconds bound) const {
    return conversation_.PhaseDeadline(bound);
  }
  void Log(std::string_view line) const { conversation_.Log(line); }

  // Writes `line` and CRLF; the transcript shows `shown` instead when given
  // (for lines carrying secrets).
  tl::expected<void, Error> Send(std::string_view line,
                                 std::string_view shown = {});
  // Reads one complete reply, waiting at most `bound` (default: the reply
  // timeout). `what` names the reply in error messages.
  tl::expected<Reply, Error> ReadReply(
      std::string_view what,
      std::optional<std::chrono::milliseconds> bound = std::nullopt);
  tl::expected<Reply, Error> Command(std::string_view line,
                                     std::string_view verb,
                                     std::string_view shown = {}) {
    if (auto sent = Send(line, shown); !sent) {
      return tl::unexpected(sent.error());
    }
    return ReadReply(fmt::format("reply to {}", verb));
  }
  tl::expected<Reply, Error> Ehlo();
  tl::expected<TlsInfo, Error> StartTls();
  // AUTH with the mechanism chosen from `ehlo`, the EHLO reply received
  // over TLS. Precondition: tls_.
  tl::expected<void, Error> Authenticate(const Reply& ehlo);
  // 235 is success; 4xx/5xx a refusal (kAuth); anything else a protocol
  // error after which the SASL exchange is in an unknown state.
  tl::expected<void, Error> CheckAuthReply(const Reply& reply,
                                           int expected_code,
                                           std::string_view step);

  Conversation conversation_;
  const SessionOptions& options_;
  ReplyParser parser_;
  // True once DoHandshake() succeeded on this connection.
  bool tls_ = false;
  // True while the server is waiting for a command on a connection we still
  // trust, i.e. while a QUIT would be understood.
  bool can_quit_ = false;
  bool noted_bare_lf_ = false;
};

tl::expected<void, Error> Session::Send(std::string_view line,
                                        std::string_view shown) {
  can_quit_ = false;
  return conversation_.Send(line, shown);
}

tl::expected<Reply, Error> Session::ReadReply(
    std::string_view what, std::optional<std::chrono::milliseconds> bound) {
  can_quit_ = false;
  auto reply = conversation_.Read(parser_, what, "reply", bound);
  if (!reply) return reply;
  for (std::size_t i = 0; i < reply->lines.size(); ++i) {
    Log(fmt::format("S: {}{}{}", reply->code,
                    i + 1 < reply->lines.size() ? '-' : ' ', reply->lines[i]));
  }
  if (parser_.saw_bare_lf() && !noted_bare_lf_) {
    noted_bare_lf_ = true;
    Log("-- note: server ends lines with a bare LF instead of CRLF --");
  }
  can_quit_ = true;
  return reply;
}

tl::expected<Reply, Error> Session::Ehlo() {
  auto reply = Command(fmt::format("EHLO {}", options_.ehlo_name), "EHLO");
  if (reply && reply->code != 250) {
    return Fail(ErrorCode::kProtocol,
                fmt::format("EHLO refused: {}", Summarize(*reply)));
  }
  return reply;
}

tl::expected<TlsInfo, Error> Session::StartTls() {
  // A reply already waiting would be taken as the answer to STARTTLS, and
  // the handshake would start before the server's real 220.
  if (!parser_.buffered().empty()) {
    can_quit_ = false;
    return Fail(ErrorCode::kUnexpectedPlaintext,
                fmt::format("server sent a reply nobody asked for before "
                            "STARTTLS: {}",
                            Quote(parser_.buffered())));
  }
  auto reply = Command("STARTTLS", "STARTTLS");
  if (!reply) return tl::unexpected(reply.error());
  if (reply->code != 220) {
    return Fail(
        ErrorCode::kTlsUnavailable,
        fmt::format("server answered STARTTLS with {}", Summarize(*reply)));
  }
  // From here until the handshake succeeds the connection is in limbo: the
  // server expects a ClientHello, not a QUIT.
  can_quit_ = false;
  // Anything already received after the 220 was sent in plaintext: the
  // classic STARTTLS response injection.
  auto info = conversation_.UpgradeAfterGoAhead(
      parser_.buffered(), "its 220 reply to STARTTLS", options_.tls,
      options_.timeouts.handshake);
  if (info) tls_ = true;
  return info;
}

tl::expected<void, Error> Session::CheckAuthReply(const Reply& reply,
                                                  int expected_code,
                                                  std::string_view step) {
  if (reply.code == expected_code) return {};
  if (reply.code >= 400) {
    return Fail(ErrorCode::kAuth,
                fmt::format("{} refused: {}", step, Summarize(reply)));
  }
  // The server may still be waiting for a SASL response; a QUIT would be
  // taken as one.
  can_quit_ = false;
  return Fail(ErrorCode::kProtocol, fmt::format("unexpected reply to {}: {}",
                                                step, Summarize(reply)));
}

tl::expected<void, Error> Session::Authenticate(const Reply& ehlo) {
  const Credentials& credentials = *options_.auth;
  if (!tls_) {
    return Fail(ErrorCode::kTlsUnavailable,
                "credentials are only ever sent over TLS");
  }
  const auto offered = Extension(ehlo, "AUTH");
  if (!offered) {
    return Fail(ErrorCode::kAuth, "server does not offer AUTH over TLS");
  }
  const bool plain = credentials.mechanism != AuthMechanism::kLogin &&
                     ListsMechanism(*offered, "PLAIN");
  const bool login = credentials.mechanism != AuthMechanism::kPlain &&
                     ListsMechanism(*offered, "LOGIN");
  if (plain) {
    std::string token = PlainToken(credentials.user, credentials.password);
    std::string line = "AUTH PLAIN " + token;
    Wipe(token);
    auto reply = Command(line, "AUTH PLAIN", "AUTH PLAIN <credentials hidden>");
    Wipe(line);
    if (!reply) return tl::unexpected(reply.error());
    return CheckAuthReply(*reply, 235, "AUTH PLAIN");
  }
  if (login) {
    auto reply = Command("AUTH LOGIN", "AUTH LOGIN");
    if (!reply) return tl::unexpected(reply.error());
    if (auto ok = CheckAuthReply(*reply, 334, "AUTH LOGIN"); !ok) return ok;
    std::string user = Base64(credentials.user);
    reply = Command(user, "AUTH LOGIN user name", "<user name hidden>");
    Wipe(user);
    if (!reply) return tl::unexpected(reply.error());
    if (auto ok = CheckAuthReply(*reply, 334, "AUTH LOGIN user name"); !ok) {
      return ok;
    }
    std::string password = Base64(credentials.password);
    reply = Command(password, "AUTH LOGIN password", "<password hidden>");
    Wipe(password);
    if (!reply) return tl::unexpected(reply.error());
    return CheckAuthReply(*reply, 235, "AUTH LOGIN");
  }
  return Fail(
      ErrorCode::kAuth,
      fmt::format(
          "server offers AUTH {} over TLS, none of them {}", Quote(*offered),
          credentials.mechanism == AuthMechanism::kPlain   ? "PLAIN"
          : credentials.mechanism == AuthMechanism::kLogin ? "LOGIN"
                                                           : "PLAIN or LOGIN"));
}

tl::expected<DeliveryResult, Error> Session::Run() {
  DeliveryResult result;

  auto greeting = ReadReply("greeting", options_.timeouts.greeting);
  if (!greeting) return tl::unexpected(greeting.error());
  if (greeting->code != 220) {
    return Fail(
        ErrorCode::kProtocol,
        fmt::format("server refused the session: {}", Summarize(*greeting)));
  }

  auto ehlo = Ehlo();
  if (!ehlo) return tl::unexpected(ehlo.error());
  if (Offers(*ehlo, "STARTTLS")) {
    auto info = StartTls();
    if (!info) return tl::unexpected(info.error());
    result.tls = true;
    result.tls_info = std::move(*info);
    // RFC 3207 section 4.2: forget everything learned before TLS; only the
    // capabilities announced over TLS count. `ehlo` is replaced, never
    // merged.
    ehlo = Ehlo();
    if (!ehlo) return tl::unexpected(ehlo.error());
  } else if (options_.policy == TlsPolicy::kRequireTls) {
    return Fail(ErrorCode::kTlsUnavailable,
                "server does not offer STARTTLS and TLS is required");
  } else if (options_.auth) {
    return Fail(ErrorCode::kTlsUnavailable,
                "server does not offer STARTTLS, and credentials are only "
                "ever sent over TLS");
  } else {
    Log("-- STARTTLS not offered; continuing in plain text --");
  }

  if (options_.auth) {
    if (auto ok = Authenticate(*ehlo); !ok) return tl::unexpected(ok.error());
  }

  auto mail =
      Command(fmt::format("MAIL FROM:<{}>", options_.from), "MAIL FROM");
  if (!mail) return tl::unexpected(mail.error());
  if (auto ok = CheckTransactionReply(*mail, 2, "MAIL FROM"); !ok) {
    return tl::unexpected(ok.error());
  }
  auto rcpt = Command(fmt::format("RCPT TO:<{}>", options_.to), "RCPT TO");
  if (!rcpt) return tl::unexpected(rcpt.error());
  if (auto ok = CheckTransactionReply(*rcpt, 2, "RCPT TO"); !ok) {
    return tl::unexpected(ok.error());
  }
  auto data = Command("DATA", "DATA");
  if (!data) return tl::unexpected(data.error());
  if (auto ok = CheckTransactionReply(*data, 3, "DATA"); !ok) {
    return tl::unexpected(ok.error());
  }

  // The server now reads message text; a QUIT would become part of it.
  can_quit_ = false;
  const std::string payload = EncodeData(options_.message);
  Log(fmt::format("C: <message: {} bytes, dot-stuffed, then \".\">",
                  payload.size()));
  if (auto sent = conversation_.transport().Write(
          payload, PhaseDeadline(options_.timeouts.reply));
      !sent) {
    return tl::unexpected(sent.error());
  }
  auto accepted = ReadReply("reply to end of data");
  if (!accepted) return tl::unexpected(accepted.error());
  if (auto ok = CheckTransactionReply(*accepted, 2, "end of data"); !ok) {
    return tl::unexpected(ok.error());
  }
  result.final_reply = std::move(*accepted);
  return result;
}

void Session::QuitIfAllowed() {
  if (!can_quit_) return;
  if (auto sent = Send("QUIT"); !sent) return;
  if (auto reply = ReadReply("reply to QUIT"); !reply) {
    Log(fmt::format("-- ignored: {} --", reply.error().message));
  }
}

}  // namespace

tl::expected<DeliveryResult, Error> Deliver(Transport& transport,
                                            const SessionOptions& options) {
  // A line break in any of these would smuggle extra commands.
  for (const auto& [what, value] :
       {std::pair<std::string_view, std::string_view>{"EHLO name",
                                                      options.ehlo_name},
        {"sender", options.from},
        {"recipient", options.to}}) {
    if (HasLineBreak(value)) {
      return Fail(ErrorCode::kUsage, fmt::format("{} contains a line break: {}",
                                                 what, Quote(value)));
    }
  }
  if (options.auth) {
    const Credentials& credentials = *options.auth;
    // PLAIN separates its fields with NUL; LOGIN's are sent as lines.
    if (credentials.user.empty() ||
        credentials.user.find('\0') != std::string::npos ||
        credentials.password.find('\0') != std::string::npos) {
      return Fail(ErrorCode::kUsage,
                  "the AUTH user name is empty, or a credential contains a "
                  "NUL byte");
    }
  }
  Session session(transport, options);
  auto result = session.Run();
  session.QuitIfAllowed();
  return result;
}

std::string EncodeData(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 16 + 5);
  bool line_start = true;
  for (std::size_t i = 0; i < message.size(); ++i) {
    const char c = message[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < message.size() && message[i + 1] == '\n') ++i;
      out += "\r\n";
      line_start = true;
      continue;
    }
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = false;
  }
  if (!line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

}  // namespace starttls::client
