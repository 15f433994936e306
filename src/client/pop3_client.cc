#include "starttls/pop3_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>

#include "common/ascii.h"
#include "conversation.h"
#include "quote.h"
#include "sasl.h"
#include "starttls/pop3_reply_reader.h"

namespace starttls::client {
namespace {

std::string_view Keyword(std::string_view capability) {
  return capability.substr(0, capability.find(' '));
}

bool Has(const std::vector<std::string>& caps, std::string_view keyword) {
  return std::any_of(caps.begin(), caps.end(), [&](const std::string& c) {
    return EqualsNoCase(Keyword(c), keyword);
  });
}

// True when a "SASL ..." line names `mechanism` (RFC 2449 section 6.3).
bool OffersMechanism(const std::vector<std::string>& caps,
                     std::string_view mechanism) {
  for (std::string_view cap : caps) {
    if (!EqualsNoCase(Keyword(cap), "SASL")) continue;
    while (cap.find(' ') != std::string_view::npos) {
      cap.remove_prefix(cap.find(' ') + 1);
      if (EqualsNoCase(Keyword(cap), mechanism)) return true;
    }
  }
  return false;
}

std::uint64_t NumberAt(std::string_view text, std::size_t word) {
  for (std::size_t i = 0; i < word && text.find(' ') != std::string_view::npos;
       ++i) {
    text.remove_prefix(text.find(' ') + 1);
  }
  std::uint64_t n = 0;
  std::from_chars(text.data(), text.data() + text.size(), n);
  return n;
}

class Session {
 public:
  Session(Transport& transport, const Pop3SessionOptions& options)
      : conversation_(transport, options.timeouts, options.session_deadline,
                      options.log),
        options_(options) {}

  tl::expected<MaildropResult, Error> Run();

  // Sends QUIT and reads its answer, ignoring failures: the outcome is
  // already decided. Only while the server waits for a command on a
  // connection still worth talking over.
  void QuitIfAllowed();

 private:
  void Log(std::string_view line) const { conversation_.Log(line); }

  // Reads one complete reply, multi-line when `multi_line` and it is +OK,
  // within `bound` (default: the reply timeout).
  tl::expected<Pop3Reply, Error> Read(
      std::string_view what, bool multi_line,
      std::optional<std::chrono::milliseconds> bound = std::nullopt);
  // Sends `command` (shown as `shown` when given) and reads its reply; a
  // SASL challenge is answered with `response` (shown as `response_shown`)
  // when given, else it is a protocol error.
  tl::expected<Pop3Reply, Error> Command(std::string_view command,
                                         bool multi_line,
                                         std::string_view shown = {},
                                         std::string response = {},
                                         std::string_view response_shown = {});
  // CAPA's lines; nullopt when the server refused CAPA.
  tl::expected<std::optional<std::vector<std::string>>, Error> Capabilities();
  tl::expected<TlsInfo, Error> StartTls();
  tl::expected<void, Error> Authenticate(
      const std::optional<std::vector<std::string>>& caps);

  Conversation conversation_;
  const Pop3SessionOptions& options_;
  Pop3ReplyReader reader_;
  bool can_quit_ = false;
};

tl::expected<Pop3Reply, Error> Session::Read(
    std::string_view what, bool multi_line,
    std::optional<std::chrono::milliseconds> bound) {
  can_quit_ = false;
  reader_.ExpectMultiLine(multi_line);
  auto reply = conversation_.Read(reader_, what, "reply", bound);
  if (reply) {
    Log(fmt::format("S: {}", reply->status_line));
    if (!reply->lines.empty()) {
      Log(fmt::format("S: ({} more lines)", reply->lines.size()));
    }
  }
  return reply;
}

tl::expected<Pop3Reply, Error> Session::Command(
    std::string_view command, bool multi_line, std::string_view shown,
    std::string response, std::string_view response_shown) {
  auto sent = conversation_.Send(command, shown);
  can_quit_ = false;
  if (!sent) return tl::unexpected(sent.error());
  const std::string verb = AsciiUpper(command.substr(0, command.find(' ')));
  const std::string what = fmt::format("reply to {}", verb);
  while (true) {
    auto reply = Read(what, multi_line);
    if (!reply) return tl::unexpected(reply.error());
    if (reply->kind != Pop3Reply::Kind::kChallenge) {
      can_quit_ = true;
      return reply;
    }
    if (response.empty()) {
      return Fail(ErrorCode::kProtocol,
                  fmt::format("{}: unexpected challenge: {}", what,
                              Quote(reply->status_line)));
    }
    auto written = conversation_.Send(response, response_shown);
    Wipe(response);
    response.clear();
    if (!written) return tl::unexpected(written.error());
  }
}

tl::expected<std::optional<std::vector<std::string>>, Error>
Session::Capabilities() {
  auto reply = Command("CAPA", /*multi_line=*/true);
  if (!reply) return tl::unexpected(reply.error());
  if (reply->kind != Pop3Reply::Kind::kOk) {
    return std::optional<std::vector<std::string>>();
  }
  return std::optional(std::move(reply->lines));
}

tl::expected<TlsInfo, Error> Session::StartTls() {
  auto reply = Command("STLS", /*multi_line=*/false);
  if (!reply) return tl::unexpected(reply.error());
  if (reply->kind != Pop3Reply::Kind::kOk) {
    return Fail(
        ErrorCode::kTlsUnavailable,
        fmt::format("server answered STLS with {}", Quote(reply->status_line)));
  }
  // The server now expects a ClientHello, not a QUIT.
  can_quit_ = false;
  return conversation_.UpgradeAfterGoAhead(reader_.buffered(),
                                           "its +OK to STLS", options_.tls,
                                           options_.timeouts.handshake);
}

tl::expected<void, Error> Session::Authenticate(
    const std::optional<std::vector<std::string>>& caps) {
  const Credentials& credentials = options_.credentials;
  const bool plain = credentials.mechanism != AuthMechanism::kLogin && caps &&
                     OffersMechanism(*caps, "PLAIN");
  // USER and PASS are RFC 1939's own; a server that answers CAPA says
  // whether it takes them (RFC 2449 section 6.2).
  const bool user = credentials.mechanism != AuthMechanism::kPlain &&
                    (!caps || Has(*caps, "USER"));
  if (plain) {
    // RFC 5034 section 4: the initial response on the command line.
    std::string token = PlainToken(credentials.user, credentials.password);
    std::string command = "AUTH PLAIN " + token;
    Wipe(token);
    auto reply = Command(command, false, "AUTH PLAIN <credentials hidden>");
    Wipe(command);
    if (!reply) return tl::unexpected(reply.error());
    if (reply->kind != Pop3Reply::Kind::kOk) {
      return Fail(ErrorCode::kAuth, fmt::format("AUTH PLAIN refused: {}",
                                                Quote(reply->status_line)));
    }
    return {};
  }
  if (!user) {
    return Fail(
        ErrorCode::kAuth,
        fmt::format(
            "no way to log in over TLS: the capabilities "
            "are {}",
            Quote(fmt::format(
                "{}",
                fmt::join(caps.value_or(std::vector<std::string>{}), ", ")))));
  }
  auto named = Command(fmt::format("USER {}", credentials.user), false);
  if (!named) return tl::unexpected(named.error());
  if (named->kind != Pop3Reply::Kind::kOk) {
    return Fail(ErrorCode::kAuth,
                fmt::format("USER refused: {}", Quote(named->status_line)));
  }
  std::string command = fmt::format("PASS {}", credentials.password);
  auto reply = Command(command, false, "PASS <password hidden>");
  Wipe(command);
  if (!reply) return tl::unexpected(reply.error());
  if (reply->kind != Pop3Reply::Kind::kOk) {
    return Fail(ErrorCode::kAuth,
                fmt::format("PASS refused: {}", Quote(reply->status_line)));
  }
  return {};
}

tl::expected<MaildropResult, Error> Session::Run() {
  MaildropResult result;
  auto greeting = Read("greeting", false, options_.timeouts.greeting);
  if (!greeting) return tl::unexpected(greeting.error());
  if (greeting->kind != Pop3Reply::Kind::kOk) {
    return Fail(ErrorCode::kProtocol,
                fmt::format("server refused the session: {}",
                            Quote(greeting->status_line)));
  }
  can_quit_ = true;
  auto caps = Capabilities();
  if (!caps) return tl::unexpected(caps.error());
  // Without CAPA there is no knowing whether STLS is offered (curl
  // CVE-2021-22946 went on in plain text there).
  if (!*caps) {
    return Fail(ErrorCode::kTlsUnavailable,
                "server refused CAPA, so STLS cannot be known to be offered "
                "and TLS is required");
  }
  if (!Has(**caps, "STLS")) {
    return Fail(ErrorCode::kTlsUnavailable,
                "server does not offer STLS and TLS is required");
  }
  auto info = StartTls();
  if (!info) return tl::unexpected(info.error());
  result.tls_info = std::move(*info);
  // RFC 2595 section 4: discard what was learned before TLS; only what CAPA
  // says over TLS counts. `caps` is replaced, not merged.
  auto fresh = Capabilities();
  if (!fresh) return tl::unexpected(fresh.error());
  if (auto ok = Authenticate(*fresh); !ok) return tl::unexpected(ok.error());

  auto stat = Command("STAT", false);
  if (!stat) return tl::unexpected(stat.error());
  if (stat->kind != Pop3Reply::Kind::kOk) {
    return Fail(ErrorCode::kRejected,
                fmt::format("STAT refused: {}", Quote(stat->status_line)));
  }
  result.messages = NumberAt(stat->status_line, 1);
  result.octets = NumberAt(stat->status_line, 2);
  if (!options_.retrieve) return result;
  for (std::uint64_t n = 1; n <= result.messages; ++n) {
    auto message = Command(fmt::format("RETR {}", n), true);
    if (!message) return tl::unexpected(message.error());
    if (message->kind != Pop3Reply::Kind::kOk) {
      return Fail(
          ErrorCode::kRejected,
          fmt::format("RETR {} refused: {}", n, Quote(message->status_line)));
    }
    std::string text;
    for (const std::string& line : message->lines) text += line + "\r\n";
    result.retrieved.push_back(std::move(text));
  }
  return result;
}

void Session::QuitIfAllowed() {
  if (!can_quit_) return;
  if (auto reply = Command("QUIT", false); !reply) {
    Log(fmt::format("-- ignored: {} --", reply.error().message));
  }
}

bool Printable(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) ==
         std::string_view::npos;
}

}  // namespace

tl::expected<MaildropResult, Error> RetrieveMail(
    Transport& transport, const Pop3SessionOptions& options) {
  const Credentials& credentials = options.credentials;
  if (credentials.user.empty()) {
    return Fail(ErrorCode::kUsage, "POP3 needs a user name to log in");
  }
  // A line break would smuggle commands; PLAIN separates fields with NUL; a
  // space would end USER's argument.
  if (!Printable(credentials.user) || !Printable(credentials.password) ||
      credentials.user.find(' ') != std::string::npos) {
    return Fail(ErrorCode::kUsage,
                "the user name or password contains CR, LF or NUL, or the "
                "user name a space");
  }
  Session session(transport, options);
  auto result = session.Run();
  session.QuitIfAllowed();
  return result;
}

}  // namespace starttls::client
