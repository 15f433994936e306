#include "starttls/imap_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <optional>
#include <utility>
#include <vector>

#include "common/ascii.h"
#include "conversation.h"
#include "quote.h"
#include "sasl.h"
#include "starttls/imap_response_reader.h"

namespace starttls::client {
namespace {

bool Has(const std::vector<std::string>& caps, std::string_view capability) {
  return std::any_of(caps.begin(), caps.end(), [&](const std::string& c) {
    return EqualsNoCase(c, capability);
  });
}

// A command's answer: the untagged responses that came before its tagged
// status response, and that response.
struct Answer {
  std::vector<ImapResponse> untagged;
  ImapResponse tagged;
};

class Session {
 public:
  Session(Transport& transport, const ImapSessionOptions& options)
      : conversation_(transport, options.timeouts, options.session_deadline,
                      options.log),
        options_(options) {}

  tl::expected<LoginResult, Error> Run();

  // Sends LOGOUT and reads its answer, ignoring failures: the outcome is
  // already decided. Only while the server waits for a command on a
  // connection still worth talking over.
  void LogoutIfAllowed();

 private:
  void Log(std::string_view line) const { conversation_.Log(line); }

  tl::expected<void, Error> Send(std::string_view line,
                                 std::string_view shown = {}) {
    can_logout_ = false;
    return conversation_.Send(line, shown);
  }
  // Reads one complete response within `bound` (default: the reply
  // timeout); `what` names it in error messages.
  tl::expected<ImapResponse, Error> Read(
      std::string_view what,
      std::optional<std::chrono::milliseconds> bound = std::nullopt);
  // Sends `command` with the next tag and reads up to its tagged response.
  // A continuation request is answered with `continuation` (shown in the
  // transcript as `continuation_shown`) when given, else it is a protocol
  // error. An untagged BYE ends the session (kConnectionLost) unless the
  // command is LOGOUT.
  tl::expected<Answer, Error> Command(std::string_view command,
                                      std::string_view shown = {},
                                      std::string continuation = {},
                                      std::string_view continuation_shown = {});
  tl::expected<std::vector<std::string>, Error> Capabilities();
  tl::expected<TlsInfo, Error> StartTls();
  tl::expected<void, Error> Authenticate(const std::vector<std::string>& caps);

  Conversation conversation_;
  const ImapSessionOptions& options_;
  ImapResponseReader reader_;
  int next_tag_ = 1;
  bool can_logout_ = false;
};

tl::expected<ImapResponse, Error> Session::Read(
    std::string_view what, std::optional<std::chrono::milliseconds> bound) {
  can_logout_ = false;
  auto response = conversation_.Read(reader_, what, "response", bound);
  if (response) Log(fmt::format("S: {}", response->text));
  return response;
}

tl::expected<Answer, Error> Session::Command(
    std::string_view command, std::string_view shown, std::string continuation,
    std::string_view continuation_shown) {
  const std::string tag = fmt::format("A{:03}", next_tag_++);
  std::string line = fmt::format("{} {}", tag, command);
  const std::string shown_line =
      shown.empty() ? std::string() : fmt::format("{} {}", tag, shown);
  auto sent = Send(line, shown_line);
  if (!shown.empty()) Wipe(line);
  if (!sent) return tl::unexpected(sent.error());
  const std::string verb = AsciiUpper(command.substr(0, command.find(' ')));
  const std::string what = fmt::format("answer to {}", verb);
  Answer answer;
  while (true) {
    auto response = Read(what);
    if (!response) return tl::unexpected(response.error());
    switch (response->kind) {
      case ImapResponse::Kind::kTagged:
        if (response->tag != tag) {
          return Fail(ErrorCode::kProtocol,
                      fmt::format("{}: tagged response for another command: "
                                  "{}",
                                  what, Quote(response->text)));
        }
        answer.tagged = std::move(*response);
        can_logout_ = true;
        return answer;
      case ImapResponse::Kind::kContinuation: {
        if (continuation.empty()) {
          return Fail(ErrorCode::kProtocol,
                      fmt::format("{}: unexpected continuation request: {}",
                                  what, Quote(response->text)));
        }
        auto written = Send(continuation, continuation_shown);
        Wipe(continuation);
        if (!written) return tl::unexpected(written.error());
        break;
      }
      case ImapResponse::Kind::kUntagged:
        if (response->status == "BYE" && verb != "LOGOUT") {
          return Fail(ErrorCode::kConnectionLost,
                      fmt::format("{}: the server ends the session: {}", what,
                                  Quote(response->text)));
        }
        answer.untagged.push_back(std::move(*response));
        break;
    }
  }
}

tl::expected<std::vector<std::string>, Error> Session::Capabilities() {
  auto answer = Command("CAPABILITY");
  if (!answer) return tl::unexpected(answer.error());
  if (answer->tagged.status != "OK") {
    return Fail(ErrorCode::kProtocol, fmt::format("CAPABILITY refused: {}",
                                                  Quote(answer->tagged.text)));
  }
  std::vector<std::string> caps;
  for (const ImapResponse& r : answer->untagged) {
    if (r.status == "CAPABILITY" && r.capabilities) caps = *r.capabilities;
  }
  if (answer->tagged.capabilities) caps = *answer->tagged.capabilities;
  return caps;
}

tl::expected<TlsInfo, Error> Session::StartTls() {
  auto answer = Command("STARTTLS");
  if (!answer) return tl::unexpected(answer.error());
  if (answer->tagged.status != "OK") {
    return Fail(ErrorCode::kTlsUnavailable,
                fmt::format("server answered STARTTLS with {}",
                            Quote(answer->tagged.text)));
  }
  // The server now expects a ClientHello, not a LOGOUT.
  can_logout_ = false;
  return conversation_.UpgradeAfterGoAhead(reader_.buffered(),
                                           "its OK to STARTTLS", options_.tls,
                                           options_.timeouts.handshake);
}

tl::expected<void, Error> Session::Authenticate(
    const std::vector<std::string>& caps) {
  const Credentials& credentials = options_.credentials;
  const bool plain =
      credentials.mechanism != AuthMechanism::kLogin && Has(caps, "AUTH=PLAIN");
  const bool login = credentials.mechanism != AuthMechanism::kPlain &&
                     !Has(caps, "LOGINDISABLED");
  tl::expected<Answer, Error> answer;
  std::string_view step;
  if (plain) {
    step = "AUTHENTICATE PLAIN";
    std::string token = PlainToken(credentials.user, credentials.password);
    if (Has(caps, "SASL-IR")) {
      // RFC 4959: the initial response on the command line.
      std::string command = "AUTHENTICATE PLAIN " + token;
      Wipe(token);
      answer = Command(command, "AUTHENTICATE PLAIN <credentials hidden>");
      Wipe(command);
    } else {
      answer = Command("AUTHENTICATE PLAIN", {}, std::move(token),
                       "<credentials hidden>");
    }
  } else if (login) {
    step = "LOGIN";
    std::string command =
        fmt::format("LOGIN {} {}", ImapQuoted(credentials.user),
                    ImapQuoted(credentials.password));
    answer = Command(command, fmt::format("LOGIN {} <password hidden>",
                                          ImapQuoted(credentials.user)));
    Wipe(command);
  } else {
    return Fail(ErrorCode::kAuth,
                fmt::format("no way to log in over TLS: the capabilities "
                            "are {}",
                            Quote(fmt::format("{}", fmt::join(caps, " ")))));
  }
  if (!answer) return tl::unexpected(answer.error());
  if (answer->tagged.status != "OK") {
    return Fail(ErrorCode::kAuth, fmt::format("{} refused: {}", step,
                                              Quote(answer->tagged.text)));
  }
  return {};
}

tl::expected<LoginResult, Error> Session::Run() {
  LoginResult result;
  auto greeting = Read("greeting", options_.timeouts.greeting);
  if (!greeting) return tl::unexpected(greeting.error());
  if (greeting->kind != ImapResponse::Kind::kUntagged) {
    return Fail(ErrorCode::kProtocol,
                fmt::format("not an IMAP greeting: {}", Quote(greeting->text)));
  }
  if (greeting->status == "PREAUTH") {
    // RFC 9051 section 6.2.1: STARTTLS only before logging in; a session
    // authenticated in plain text can never be protected.
    return Fail(ErrorCode::kTlsUnavailable,
                fmt::format("PREAUTH greeting: no STARTTLS is possible on an "
                            "authenticated session: {}",
                            Quote(greeting->text)));
  }
  if (greeting->status != "OK") {
    return Fail(
        ErrorCode::kProtocol,
        fmt::format("server refused the session: {}", Quote(greeting->text)));
  }
  can_logout_ = true;
  std::vector<std::string> caps;
  if (greeting->capabilities) {
    caps = *greeting->capabilities;
  } else {
    auto asked = Capabilities();
    if (!asked) return tl::unexpected(asked.error());
    caps = std::move(*asked);
  }
  if (!Has(caps, "STARTTLS")) {
    return Fail(ErrorCode::kTlsUnavailable,
                "server does not offer STARTTLS and TLS is required");
  }
  auto info = StartTls();
  if (!info) return tl::unexpected(info.error());
  result.tls_info = std::move(*info);
  // RFC 9051 section 6.2.1: discard what was learned before TLS; only the
  // capabilities announced over TLS count. `caps` is replaced, not merged.
  auto fresh = Capabilities();
  if (!fresh) return tl::unexpected(fresh.error());
  caps = std::move(*fresh);
  if (auto ok = Authenticate(caps); !ok) return tl::unexpected(ok.error());

  auto selected =
      Command(fmt::format("SELECT {}", ImapQuoted(options_.mailbox)));
  if (!selected) return tl::unexpected(selected.error());
  if (selected->tagged.status != "OK") {
    return Fail(ErrorCode::kRejected,
                fmt::format("SELECT {} refused: {}", options_.mailbox,
                            Quote(selected->tagged.text)));
  }
  result.mailbox = options_.mailbox;
  for (const ImapResponse& r : selected->untagged) {
    if (r.status != "EXISTS") continue;
    std::string_view number = std::string_view(r.text).substr(2);
    number = number.substr(0, number.find(' '));
    std::from_chars(number.data(), number.data() + number.size(),
                    result.exists);
  }
  return result;
}

void Session::LogoutIfAllowed() {
  if (!can_logout_) return;
  if (auto answer = Command("LOGOUT"); !answer) {
    Log(fmt::format("-- ignored: {} --", answer.error().message));
  }
}

bool Printable(std::string_view text) {
  return text.find_first_of(std::string_view("\r\n\0", 3)) ==
         std::string_view::npos;
}

}  // namespace

std::string ImapQuoted(std::string_view text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  out += '"';
  return out;
}

tl::expected<LoginResult, Error> LogIn(Transport& transport,
                                       const ImapSessionOptions& options) {
  const Credentials& credentials = options.credentials;
  if (credentials.user.empty()) {
    return Fail(ErrorCode::kUsage, "IMAP needs a user name to log in");
  }
  // A line break would smuggle commands; PLAIN separates fields with NUL.
  for (const auto& [what, value] :
       {std::pair<std::string_view, std::string_view>{"user name",
                                                      credentials.user},
        {"password", credentials.password},
        {"mailbox", options.mailbox}}) {
    if (!Printable(value)) {
      return Fail(ErrorCode::kUsage,
                  fmt::format("the {} contains CR, LF or NUL", what));
    }
  }
  Session session(transport, options);
  auto result = session.Run();
  session.LogoutIfAllowed();
  return result;
}

}  // namespace starttls::client
