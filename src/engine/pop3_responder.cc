#include "engine/pop3_responder.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "common/ascii.h"
#include "engine/mailbox.h"
#include "engine/sasl_plain.h"

namespace starttls::server {
namespace {

constexpr size_t kMessages = std::size(kInbox);

// Capability keywords whose commands the responder implements (RFC 2449
// section 6); it never offers any other, and of SASL only PLAIN.
constexpr std::string_view kImplemented[] = {
    "STLS", "USER",       "SASL",           "TOP",
    "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "IMPLEMENTATION"};

std::string_view NextWord(std::string_view* rest) {
  size_t space = rest->find(' ');
  std::string_view word = rest->substr(0, space);
  *rest = space == std::string_view::npos ? std::string_view()
                                          : rest->substr(space + 1);
  return word;
}

std::string_view Keyword(std::string_view capability) {
  return capability.substr(0, capability.find(' '));
}

std::optional<size_t> Number(std::string_view s) {
  size_t n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (s.empty() || ec != std::errc() || end != s.data() + s.size()) {
    return std::nullopt;
  }
  return n;
}

size_t Octets(const MailboxMessage& m) {
  return m.header.size() + m.text.size();
}

// A message's lines as RFC 1939 section 3 sends them: a line that begins
// with "." gets another, and the answer ends with ".".
std::string Stuffed(std::string_view text) {
  std::string out;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find("\r\n", start);
    end = end == std::string_view::npos ? text.size() : end + 2;
    std::string_view line = text.substr(start, end - start);
    if (line.starts_with('.')) out += '.';
    out += line;
    start = end;
  }
  if (!out.empty() && !out.ends_with("\r\n")) out += "\r\n";
  return out + ".\r\n";
}

Responder::Response Ok(std::string_view text,
                       Responder::Action action = Responder::Action::kNone) {
  return {
      text.empty() ? std::string("+OK\r\n") : fmt::format("+OK {}\r\n", text),
      action};
}
Responder::Response Err(std::string_view text) {
  return {fmt::format("-ERR {}\r\n", text)};
}

}  // namespace

Pop3Responder::Pop3Responder(ResponderConfig config)
    : config_(std::move(config)), deleted_(kMessages, false) {}

std::optional<std::vector<std::string>> Pop3Responder::ScriptedCapabilities(
    std::span<const Step> steps) {
  std::optional<std::vector<std::string>> found;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].kind != Step::Kind::kExpect ||
        AsciiUpper(steps[i].text) != "CAPA") {
      continue;
    }
    size_t j = i + 1;
    if (j >= steps.size() || steps[j].kind != Step::Kind::kSend) continue;
    if (!StartsWithNoCase(steps[j].text, "+OK")) {
      // CAPA refused: the server advertised nothing, STLS included.
      found = std::vector<std::string>{};
      continue;
    }
    std::vector<std::string> lines;
    for (++j; j < steps.size() && steps[j].kind == Step::Kind::kSend &&
              steps[j].text != ".";
         ++j) {
      lines.push_back(steps[j].text);
    }
    found = std::move(lines);
  }
  return found;
}

std::vector<std::string> Pop3Responder::DefaultCapabilities() {
  return {
      "STLS", "USER",       "SASL PLAIN",     "TOP",
      "UIDL", "RESP-CODES", "AUTH-RESP-CODE", "IMPLEMENTATION starttls-mock"};
}

std::vector<std::string> Pop3Responder::AdvertisedCapabilities() const {
  std::vector<std::string> out;
  for (const std::string& cap : config_.capabilities) {
    std::string keyword = AsciiUpper(Keyword(cap));
    if (std::find(std::begin(kImplemented), std::end(kImplemented), keyword) ==
        std::end(kImplemented)) {
      continue;
    }
    // After TLS there is nothing to start (RFC 2595 section 4).
    if (tls_active_ && keyword == "STLS") continue;
    if (keyword == "SASL") {
      // Only the mechanisms implemented here.
      std::string_view rest = cap;
      (void)NextWord(&rest);
      bool plain = false;
      while (!rest.empty()) plain |= EqualsNoCase(NextWord(&rest), "PLAIN");
      if (!plain) continue;
      out.push_back(std::string(Keyword(cap)) + " PLAIN");
      continue;
    }
    out.push_back(cap);
  }
  return out;
}

bool Pop3Responder::Offers(std::string_view keyword) const {
  auto caps = AdvertisedCapabilities();
  return std::any_of(caps.begin(), caps.end(), [&](const std::string& c) {
    return EqualsNoCase(Keyword(c), keyword);
  });
}

bool Pop3Responder::OffersMechanism(std::string_view mechanism) const {
  return EqualsNoCase(mechanism, "PLAIN") && Offers("SASL");
}

std::string Pop3Responder::Greeting() const {
  return fmt::format("+OK {} POP3 starttls-mock ready <1.1@{}>\r\n",
                     config_.hostname, config_.hostname);
}

std::string Pop3Responder::LineTooLong() const {
  return "-ERR Line too long\r\n";
}

std::string Pop3Responder::QuitReply(std::string_view /*line*/) const {
  return "+OK starttls-mock signing off\r\n";
}

bool Pop3Responder::IsDetour(std::string_view line) const {
  if (authenticating_) return false;
  std::string verb = AsciiUpper(line);
  return verb == "CAPA" || verb == "NOOP";
}

void Pop3Responder::OnTlsStarted() {
  // The server behind TLS is the real one: nothing a man in the middle
  // answered before applies, and a user named in plain text is forgotten.
  scripted_answers_.clear();
  followed_.reset();
  authenticating_ = false;
  user_.reset();
  tls_active_ = true;
}

void Pop3Responder::FollowScriptedLine(std::string_view line) {
  std::string_view rest = line;
  // A response to a SASL challenge belongs to its AUTH.
  Followed before{.verb = authenticating_ ? std::string("AUTH")
                                          : AsciiUpper(NextWord(&rest)),
                  .state = state_,
                  .logged_in = logged_in_,
                  .user = user_,
                  .deleted = deleted_};
  std::map<std::string, std::string> answers;
  answers.swap(scripted_answers_);
  (void)OnLine(line);
  answers.swap(scripted_answers_);
  followed_ = std::move(before);
}

void Pop3Responder::ScriptLine(std::string_view line) {
  if (!followed_) return;
  bool ok = StartsWithNoCase(line, "+OK");
  bool err = StartsWithNoCase(line, "-ERR");
  if (!ok && !err) return;  // a line inside a multi-line answer
  Followed f = std::move(*followed_);
  followed_.reset();
  if (err) {
    state_ = f.state;
    logged_in_ = f.logged_in;
    user_ = std::move(f.user);
    deleted_ = std::move(f.deleted);
    scripted_answers_[f.verb] = std::string(line);
    return;
  }
  scripted_answers_.erase(f.verb);
  if (f.verb == "PASS" || f.verb == "APOP" || f.verb == "AUTH") {
    // The script's +OK is what the client saw, whatever this responder would
    // have answered (a recorded server's mechanisms, its credentials).
    authenticating_ = false;
    state_ = State::kTransaction;
    logged_in_ = true;
  }
}

Responder::Response Pop3Responder::OnLine(std::string_view line) {
  if (authenticating_) return AuthResponse(line);
  std::string_view rest = line;
  std::string verb = AsciiUpper(NextWord(&rest));
  if (auto scripted = scripted_answers_.find(verb);
      scripted != scripted_answers_.end()) {
    return {scripted->second + "\r\n"};
  }
  return Command(verb, rest);
}

Responder::Response Pop3Responder::Command(std::string_view verb,
                                           std::string_view args) {
  if (verb == "CAPA") {
    std::string reply = "+OK Capability list follows\r\n";
    for (const std::string& cap : AdvertisedCapabilities()) {
      reply += cap + "\r\n";
    }
    return {reply + ".\r\n"};
  }
  if (verb == "NOOP") return Ok("");
  if (verb == "QUIT") {
    if (state_ == State::kTransaction) state_ = State::kUpdate;
    return {QuitReply(""), Action::kClose};
  }
  if (state_ == State::kAuthorization) return Authorization(verb, args);
  return Transaction(verb, args);
}

Responder::Response Pop3Responder::Authorization(std::string_view verb,
                                                 std::string_view args) {
  if (verb == "STLS") {
    if (tls_active_) return Err("Command not permitted when TLS active");
    if (!Offers("STLS")) return Err("STLS not available");
    return Ok("Begin TLS negotiation now", Action::kStartTls);
  }
  if (verb == "USER") {
    if (!Offers("USER")) return Err("[AUTH] USER not available");
    if (args.empty()) return Err("USER needs a name");
    user_ = std::string(args);
    return Ok("send PASS");
  }
  if (verb == "PASS") {
    if (!user_) return Err("USER first");
    if (args.empty()) return Err("PASS needs a password");
    return LoggedIn();
  }
  if (verb == "APOP") {
    // RFC 1939 section 7: a name and the MD5 digest, 32 hex digits, of the
    // greeting's timestamp and the secret. The mock accepts any digest.
    std::string_view name = NextWord(&args);
    bool hex =
        args.size() == 32 && std::all_of(args.begin(), args.end(), [](char c) {
          return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        });
    if (name.empty() || !hex) return Err("APOP needs a name and a digest");
    return LoggedIn();
  }
  if (verb == "AUTH") return Auth(args);
  if (verb == "STAT" || verb == "LIST" || verb == "RETR" || verb == "TOP" ||
      verb == "UIDL" || verb == "DELE" || verb == "RSET") {
    return Err("Not logged in");
  }
  return Err("Unknown command");
}

Responder::Response Pop3Responder::Auth(std::string_view args) {
  std::string mechanism = AsciiUpper(NextWord(&args));
  if (mechanism.empty()) {
    // RFC 1734's form: the mechanisms, one a line.
    std::string reply = "+OK\r\n";
    if (Offers("SASL")) reply += "PLAIN\r\n";
    return {reply + ".\r\n"};
  }
  if (!OffersMechanism(mechanism)) {
    return Err("[AUTH] Unsupported authentication mechanism");
  }
  authenticating_ = true;
  if (args.empty()) return {"+ \r\n"};
  return AuthResponse(args);
}

Responder::Response Pop3Responder::AuthResponse(std::string_view line) {
  authenticating_ = false;
  if (line == "*") return Err("Authentication cancelled");
  // RFC 5034 section 4: "=" is an empty initial response.
  if (!IsPlainResponse(line)) return Err("[AUTH] Invalid PLAIN response");
  return LoggedIn();
}

Responder::Response Pop3Responder::LoggedIn() {
  user_.reset();
  logged_in_ = true;
  state_ = State::kTransaction;
  return Ok("Logged in, maildrop locked and ready");
}

std::optional<size_t> Pop3Responder::Message(std::string_view arg) const {
  auto n = Number(arg);
  if (!n || *n == 0 || *n > kMessages || deleted_[*n - 1]) return std::nullopt;
  return *n;
}

Responder::Response Pop3Responder::Transaction(std::string_view verb,
                                               std::string_view args) {
  if (state_ != State::kTransaction) return Err("Session is over");
  std::string_view first = NextWord(&args);
  if (verb == "STAT") {
    size_t count = 0;
    size_t octets = 0;
    for (size_t n = 1; n <= kMessages; ++n) {
      if (deleted_[n - 1]) continue;
      ++count;
      octets += Octets(kInbox[n - 1]);
    }
    return Ok(fmt::format("{} {}", count, octets));
  }
  if (verb == "LIST" || verb == "UIDL") {
    auto value = [&](size_t n) {
      return verb == "LIST" ? fmt::format("{} {}", n, Octets(kInbox[n - 1]))
                            : fmt::format("{} {}", n, n);
    };
    if (!first.empty()) {
      auto n = Message(first);
      if (!n) return Err("No such message");
      return Ok(value(*n));
    }
    std::string reply = "+OK\r\n";
    for (size_t n = 1; n <= kMessages; ++n) {
      if (!deleted_[n - 1]) reply += value(n) + "\r\n";
    }
    return {reply + ".\r\n"};
  }
  if (verb == "RETR" || verb == "TOP") {
    auto n = Message(first);
    if (!n) return Err("No such message");
    const MailboxMessage& m = kInbox[*n - 1];
    std::string text = std::string(m.header) + std::string(m.text);
    if (verb == "TOP") {
      auto lines = Number(NextWord(&args));
      if (!lines) return Err("TOP needs a message and a line count");
      text = std::string(m.header);
      std::string_view body = m.text;
      for (size_t k = 0; k < *lines && !body.empty(); ++k) {
        size_t end = body.find("\r\n");
        end = end == std::string_view::npos ? body.size() : end + 2;
        text += body.substr(0, end);
        body.remove_prefix(end);
      }
    }
    return {fmt::format("+OK {} octets\r\n{}", Octets(m), Stuffed(text))};
  }
  if (verb == "DELE") {
    auto n = Message(first);
    if (!n) return Err("No such message");
    deleted_[*n - 1] = true;
    return Ok(fmt::format("message {} deleted", *n));
  }
  if (verb == "RSET") {
    std::fill(deleted_.begin(), deleted_.end(), false);
    return Ok("");
  }
  if (verb == "STLS" || verb == "USER" || verb == "PASS" || verb == "APOP" ||
      verb == "AUTH") {
    return Err("Already logged in");
  }
  return Err("Unknown command");
}

}  // namespace starttls::server
