#include "engine/imap_responder.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <span>

#include "common/ascii.h"
#include "engine/mailbox.h"
#include "engine/sasl_plain.h"
#include "protocol/protocol.h"

namespace starttls::server {
namespace {

constexpr size_t kMessages = std::size(kInbox);

// Capabilities whose commands the responder implements; it never offers
// any other (a scripted list may name more).
constexpr std::string_view kImplemented[] = {
    "IMAP4REV1", "STARTTLS", "LOGINDISABLED", "AUTH=PLAIN",
    "SASL-IR",   "ID",       "IDLE",          "NAMESPACE",
    "UNSELECT",  "LITERAL+", "ENABLE",        "CHILDREN"};

// The tag of a command line ("a1" of "a1 NOOP"), as the judge reads it.
std::string_view TagOf(std::string_view line) {
  return protocol::Imap().Tag(line);
}

std::string_view NextWord(std::string_view* rest) {
  size_t space = rest->find(' ');
  std::string_view word = rest->substr(0, space);
  *rest = space == std::string_view::npos ? std::string_view()
                                          : rest->substr(space + 1);
  return word;
}

// An astring (RFC 9051 section 9): an atom, a quoted string or a literal
// whose bytes follow inline (the session joins a literal's line with the
// rest). nullopt on a syntax error.
std::optional<std::string> NextAstring(std::string_view* rest) {
  std::string_view s = *rest;
  if (s.empty()) return std::nullopt;
  if (s.front() == '"') {
    std::string out;
    size_t i = 1;
    for (; i < s.size() && s[i] != '"'; ++i) {
      if (s[i] == '\\' && i + 1 < s.size()) ++i;
      out += s[i];
    }
    if (i >= s.size()) return std::nullopt;
    s.remove_prefix(i + 1);
    if (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    *rest = s;
    return out;
  }
  if (s.front() == '{') {
    size_t close = s.find('}');
    size_t n = 0;
    if (close == std::string_view::npos) return std::nullopt;
    std::string_view digits = s.substr(1, close - 1);
    if (digits.ends_with('+')) digits.remove_suffix(1);
    if (std::from_chars(digits.data(), digits.data() + digits.size(), n).ec !=
            std::errc() ||
        close + 1 + n > s.size()) {
      return std::nullopt;
    }
    std::string out(s.substr(close + 1, n));
    s.remove_prefix(close + 1 + n);
    if (!s.empty() && s.front() == ' ') s.remove_prefix(1);
    *rest = s;
    return out;
  }
  return std::string(NextWord(rest));
}

// The literal a command line ends with, "{n}" or "{n+}": its size, and
// whether the client waits for a continuation before sending it.
struct TrailingLiteral {
  size_t size;
  bool synchronizing;
};
std::optional<TrailingLiteral> LiteralAtEnd(std::string_view line) {
  if (!line.ends_with('}')) return std::nullopt;
  size_t open = line.rfind('{');
  if (open == std::string_view::npos) return std::nullopt;
  std::string_view digits = line.substr(open + 1, line.size() - open - 2);
  bool plus = digits.ends_with('+');
  if (plus) digits.remove_suffix(1);
  size_t n = 0;
  auto [end, ec] =
      std::from_chars(digits.data(), digits.data() + digits.size(), n);
  if (ec != std::errc() || end != digits.data() + digits.size()) {
    return std::nullopt;
  }
  return TrailingLiteral{n, !plus};
}

Responder::Response Tagged(std::string_view tag, std::string_view text,
                           Responder::Action action = Responder::Action::kNone,
                           std::string untagged = "") {
  return {fmt::format("{}{} {}\r\n", untagged, tag, text), action};
}

// A message set ("1", "1:2", "2:*", "*", "1,2") as the message numbers it
// names in an INBOX of kMessages; nullopt on a syntax error.
std::optional<std::vector<size_t>> MessageSet(std::string_view set) {
  std::vector<bool> chosen(kMessages + 1, false);
  auto number = [](std::string_view s) -> std::optional<size_t> {
    if (s == "*") return kMessages;
    size_t n = 0;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
    if (ec != std::errc() || end != s.data() + s.size() || n == 0) {
      return std::nullopt;
    }
    return n;
  };
  while (!set.empty()) {
    size_t comma = set.find(',');
    std::string_view range = set.substr(0, comma);
    set = comma == std::string_view::npos ? std::string_view()
                                          : set.substr(comma + 1);
    size_t colon = range.find(':');
    auto first = number(range.substr(0, colon));
    auto last = colon == std::string_view::npos
                    ? first
                    : number(range.substr(colon + 1));
    if (!first || !last) return std::nullopt;
    for (size_t n = std::min(*first, *last);
         n <= std::max(*first, *last) && n <= kMessages; ++n) {
      chosen[n] = true;
    }
  }
  std::vector<size_t> out;
  for (size_t n = 1; n <= kMessages; ++n) {
    if (chosen[n]) out.push_back(n);
  }
  return out;
}

// Splits a FETCH item list into items; brackets keep their contents
// ("BODY.PEEK[HEADER.FIELDS (FROM TO)]" is one item).
std::vector<std::string> FetchItems(std::string_view spec) {
  if (spec.starts_with('(') && spec.ends_with(')')) {
    spec = spec.substr(1, spec.size() - 2);
  }
  std::vector<std::string> items;
  std::string item;
  int depth = 0;
  for (char c : spec) {
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ' ' && depth == 0) {
      if (!item.empty()) items.push_back(std::move(item));
      item.clear();
      continue;
    }
    item += c;
  }
  if (!item.empty()) items.push_back(std::move(item));
  std::vector<std::string> out;
  for (std::string& i : items) {
    std::string upper = AsciiUpper(i);
    if (upper == "ALL" || upper == "FAST" || upper == "FULL") {
      for (std::string_view m : {"FLAGS", "INTERNALDATE", "RFC822.SIZE"}) {
        out.emplace_back(m);
      }
      if (upper != "FAST") out.emplace_back("ENVELOPE");
      if (upper == "FULL") out.emplace_back("BODY");
      continue;
    }
    out.push_back(std::move(i));
  }
  return out;
}

// The header lines of `header` whose names are in `fields` (upper-case),
// with the blank line; or those not in it when `negate`.
std::string HeaderFields(std::string_view header,
                         const std::vector<std::string>& fields, bool negate) {
  std::string out;
  while (!header.empty()) {
    size_t end = header.find("\r\n");
    std::string_view line = header.substr(0, end);
    header.remove_prefix(end + 2);
    if (line.empty()) break;
    std::string name = AsciiUpper(line.substr(0, line.find(':')));
    bool listed = std::find(fields.begin(), fields.end(), name) != fields.end();
    if (listed != negate) {
      out += line;
      out += "\r\n";
    }
  }
  return out + "\r\n";
}

// One FETCH data item for message `n` (1-based): "NAME value", or nullopt
// for an item the responder does not know.
std::optional<std::string> FetchItem(std::string_view item, size_t n) {
  const MailboxMessage& m = kInbox[n - 1];
  std::string whole = std::string(m.header) + std::string(m.text);
  std::string upper = AsciiUpper(item);
  auto literal = [](std::string_view name, std::string_view bytes) {
    return fmt::format("{} {{{}}}\r\n{}", name, bytes.size(), bytes);
  };
  if (upper == "FLAGS") return "FLAGS ()";
  if (upper == "UID") return fmt::format("UID {}", n);
  if (upper == "RFC822.SIZE")
    return fmt::format("RFC822.SIZE {}", whole.size());
  if (upper == "INTERNALDATE") {
    return fmt::format("INTERNALDATE \"{}\"", m.internal_date);
  }
  if (upper == "ENVELOPE") return fmt::format("ENVELOPE {}", m.envelope);
  if (upper == "BODY" || upper == "BODYSTRUCTURE") {
    size_t lines =
        static_cast<size_t>(std::count(m.text.begin(), m.text.end(), '\n'));
    return fmt::format(
        "{} (\"TEXT\" \"PLAIN\" (\"CHARSET\" \"US-ASCII\") NIL NIL \"7BIT\" "
        "{} {})",
        upper, m.text.size(), lines);
  }
  if (upper == "RFC822") return literal("RFC822", whole);
  if (upper == "RFC822.HEADER") return literal("RFC822.HEADER", m.header);
  if (upper == "RFC822.TEXT") return literal("RFC822.TEXT", m.text);
  if (!upper.starts_with("BODY[") && !upper.starts_with("BODY.PEEK[")) {
    return std::nullopt;
  }
  size_t open = upper.find('[');
  size_t close = upper.find(']');
  if (close == std::string::npos) return std::nullopt;
  std::string section = upper.substr(open + 1, close - open - 1);
  std::string_view partial = std::string_view(upper).substr(close + 1);
  std::string bytes;
  if (section.empty()) {
    bytes = whole;
  } else if (section == "HEADER") {
    bytes = std::string(m.header);
  } else if (section == "TEXT" || section == "1") {
    bytes = std::string(m.text);
  } else if (section.starts_with("HEADER.FIELDS")) {
    bool negate = section.starts_with("HEADER.FIELDS.NOT");
    size_t lp = section.find('(');
    size_t rp = section.find(')');
    if (lp == std::string::npos || rp == std::string::npos) return std::nullopt;
    std::vector<std::string> fields;
    std::string_view list =
        std::string_view(section).substr(lp + 1, rp - lp - 1);
    while (!list.empty()) fields.emplace_back(NextWord(&list));
    bytes = HeaderFields(m.header, fields, negate);
  } else {
    return std::nullopt;
  }
  // The response names the section without PEEK, and a partial by its start
  // (RFC 9051 section 7.5.2).
  std::string name = "BODY[" + section + "]";
  if (partial.starts_with('<') && partial.ends_with('>')) {
    std::string_view range = partial.substr(1, partial.size() - 2);
    size_t dot = range.find('.');
    size_t start = 0;
    size_t count = bytes.size();
    std::from_chars(range.data(), range.data() + range.substr(0, dot).size(),
                    start);
    if (dot != std::string_view::npos) {
      std::string_view c = range.substr(dot + 1);
      std::from_chars(c.data(), c.data() + c.size(), count);
    }
    bytes = start < bytes.size() ? bytes.substr(start, count) : "";
    name += fmt::format("<{}>", start);
  }
  return literal(name, bytes);
}

}  // namespace

ImapResponder::ImapResponder(ResponderConfig config)
    : config_(std::move(config)) {}

std::optional<std::vector<std::string>> ImapResponder::ScriptedCapabilities(
    std::span<const Step> steps) {
  std::optional<std::vector<std::string>> found;
  for (const Step& step : steps) {
    if (step.kind != Step::Kind::kSend) continue;
    if (auto caps = protocol::Imap().AnnouncedCapabilities(step.text)) {
      found = std::move(caps);
    }
  }
  return found;
}

std::vector<std::string> ImapResponder::DefaultCapabilities() {
  return {"IMAP4rev1", "STARTTLS", "LOGINDISABLED", "AUTH=PLAIN", "SASL-IR",
          "ID",        "IDLE",     "NAMESPACE",     "UNSELECT",   "LITERAL+"};
}

std::vector<std::string> ImapResponder::AdvertisedCapabilities() const {
  bool login_disabled = false;
  for (const std::string& cap : config_.capabilities) {
    if (AsciiUpper(cap) == "LOGINDISABLED") login_disabled = true;
  }
  std::vector<std::string> out;
  for (const std::string& cap : config_.capabilities) {
    std::string upper = AsciiUpper(cap);
    if (std::find(std::begin(kImplemented), std::end(kImplemented), upper) ==
        std::end(kImplemented)) {
      continue;
    }
    // After TLS there is nothing to start, and logging in is allowed.
    if (tls_active_ && (upper == "STARTTLS" || upper == "LOGINDISABLED")) {
      continue;
    }
    // A server that disables LOGIN before TLS offers no other way to log
    // in there either (RFC 9051 section 7.2.2).
    if (!tls_active_ && login_disabled && upper.starts_with("AUTH=")) continue;
    out.push_back(cap);
  }
  return out;
}

bool ImapResponder::Offers(std::string_view capability) const {
  auto caps = AdvertisedCapabilities();
  return std::any_of(caps.begin(), caps.end(), [&](const std::string& c) {
    return EqualsNoCase(c, capability);
  });
}

std::string ImapResponder::CapabilityList() const {
  return fmt::format("{}", fmt::join(AdvertisedCapabilities(), " "));
}

std::string ImapResponder::Greeting() const {
  return fmt::format(
      "* OK [CAPABILITY {}] {} IMAP4rev1 starttls-mock ready\r\n",
      CapabilityList(), config_.hostname);
}

std::string ImapResponder::LineTooLong() const {
  return "* BAD Line too long\r\n";
}

std::string ImapResponder::QuitReply(std::string_view line) const {
  std::string_view rest = line;
  std::string_view tag = NextWord(&rest);
  return fmt::format(
      "* BYE starttls-mock logging out\r\n{} OK LOGOUT "
      "completed\r\n",
      tag);
}

namespace {

// The tag after `tag` for a client that numbers its commands.
std::string NextTag(std::string_view tag) {
  std::string next(tag);
  size_t digits = next.size();
  while (digits > 0 && next[digits - 1] >= '0' && next[digits - 1] <= '9') {
    --digits;
  }
  if (digits == next.size()) return next + "1";
  for (size_t i = next.size(); i-- > digits;) {
    if (next[i] != '9') {
      ++next[i];
      return next;
    }
    next[i] = '0';
  }
  // Every digit carried: "a99" then "a100".
  return next.substr(0, digits) + '1' + next.substr(digits);
}

void ReplaceAll(std::string& text, std::string_view placeholder,
                std::string_view value) {
  for (size_t at = text.find(placeholder); at != std::string::npos;
       at = text.find(placeholder, at + value.size())) {
    text.replace(at, placeholder.size(), value);
  }
}

}  // namespace

std::string ImapResponder::ScriptText(std::string_view text) const {
  std::string out(text);
  if (last_tag_.empty()) return out;
  ReplaceAll(out, "$tag+1", NextTag(last_tag_));
  ReplaceAll(out, "$tag", last_tag_);
  return out;
}

bool ImapResponder::IsDetour(std::string_view line) const {
  if (authenticating_ || idling_ || !continued_.empty()) return false;
  std::string_view rest = line;
  (void)NextWord(&rest);  // the tag
  std::string verb = AsciiUpper(NextWord(&rest));
  return !TagOf(line).empty() && rest.empty() &&
         (verb == "CAPABILITY" || verb == "NOOP");
}

void ImapResponder::OnTlsStarted() {
  // The server behind TLS is the real one: nothing a man in the middle
  // answered before applies.
  scripted_answers_.clear();
  followed_.reset();
  authenticating_.reset();
  idling_.reset();
  continued_.clear();
  tls_active_ = true;
}

void ImapResponder::FollowScriptedLine(std::string_view line) {
  std::string_view rest = line;
  std::string_view tag = NextWord(&rest);
  Followed before{.tag = std::string(tag),
                  .verb = AsciiUpper(NextWord(&rest)),
                  .state = state_,
                  .logged_in = logged_in_,
                  .examined = examined_,
                  .opened_mailbox = opened_mailbox_};
  std::map<std::string, std::string> answers;
  answers.swap(scripted_answers_);
  (void)OnLine(line);
  answers.swap(scripted_answers_);
  if (!TagOf(line).empty()) followed_ = std::move(before);
}

void ImapResponder::ScriptLine(std::string_view line) {
  if (AsciiUpper(line).starts_with("* PREAUTH") && !tls_active_) {
    state_ = State::kAuthenticated;
  }
  if (!followed_) return;
  std::string_view rest = line;
  if (NextWord(&rest) != followed_->tag) return;
  Followed f = std::move(*followed_);
  followed_.reset();
  std::string status = AsciiUpper(NextWord(&rest));
  bool refused = status == "NO" || status == "BAD";
  if (refused) {
    state_ = f.state;
    logged_in_ = f.logged_in;
    examined_ = f.examined;
    opened_mailbox_ = f.opened_mailbox;
  } else if (status == "OK" &&
             (f.verb == "LOGIN" || f.verb == "AUTHENTICATE")) {
    // The script's OK is what the client saw, whatever this responder would
    // have answered (a recorded server's mechanisms, its credentials).
    authenticating_.reset();
    state_ = State::kAuthenticated;
    logged_in_ = true;
  }
  std::string_view answer = line.substr(f.tag.size() + 1);
  if (f.verb == "STARTTLS" && status != "OK") {
    scripted_answers_[f.verb] = std::string(answer);
  } else if (refused) {
    scripted_answers_[f.verb] = std::string(answer);
  } else {
    scripted_answers_.erase(f.verb);
  }
}

Responder::Response ImapResponder::OnLine(std::string_view line) {
  if (authenticating_) return AuthenticateResponse(line);
  if (idling_) {
    std::string tag = std::move(*idling_);
    idling_.reset();
    if (AsciiUpper(line) != "DONE") return Tagged(tag, "BAD Expected DONE");
    return Tagged(tag, "OK IDLE terminated");
  }
  std::string joined;
  if (!continued_.empty()) {
    // The literal's bytes begin this line (the session splits at CRLF).
    joined = std::move(continued_);
    continued_.clear();
    joined += line;
    line = joined;
  }
  std::string_view rest = line;
  std::string_view tag = NextWord(&rest);
  if (TagOf(line).empty()) return {"* BAD Missing or invalid tag\r\n"};
  last_tag_ = std::string(tag);
  std::string verb = AsciiUpper(NextWord(&rest));
  if (verb == "APPEND") {
    return Tagged(tag, "NO [CANNOT] APPEND is not supported here");
  }
  if (auto literal = LiteralAtEnd(line)) {
    // The rest of the command follows the literal on the next line.
    continued_ = std::string(line.substr(0, line.rfind('{'))) +
                 fmt::format("{{{}}}", literal->size);
    if (literal->synchronizing) return {"+ Ready for literal data\r\n"};
    return {};
  }
  if (auto scripted = scripted_answers_.find(verb);
      scripted != scripted_answers_.end()) {
    return Tagged(tag, scripted->second);
  }
  return Command(tag, verb, rest);
}

Responder::Response ImapResponder::Command(std::string_view tag,
                                           std::string_view verb,
                                           std::string_view args) {
  if (verb == "CAPABILITY") {
    return Tagged(tag, "OK CAPABILITY completed", Action::kNone,
                  fmt::format("* CAPABILITY {}\r\n", CapabilityList()));
  }
  if (verb == "NOOP" || verb == "CHECK") {
    return Tagged(tag, fmt::format("OK {} completed", verb));
  }
  if (verb == "LOGOUT") {
    state_ = State::kLogout;
    return {QuitReply(tag), Action::kClose};
  }
  if (verb == "ID") {
    return Tagged(tag, "OK ID completed", Action::kNone,
                  "* ID (\"name\" \"starttls-mock\")\r\n");
  }
  if (verb == "STARTTLS") {
    if (tls_active_) return Tagged(tag, "BAD TLS is already active");
    if (state_ != State::kNotAuthenticated) {
      // RFC 9051 section 6.2.1: only before logging in (or a PREAUTH).
      return Tagged(tag, "BAD STARTTLS is only valid before logging in");
    }
    if (!Offers("STARTTLS")) return Tagged(tag, "BAD STARTTLS is not offered");
    return Tagged(tag, "OK Begin TLS negotiation now", Action::kStartTls);
  }
  if (verb == "LOGIN") return Login(tag, args);
  if (verb == "AUTHENTICATE") return Authenticate(tag, args);
  if (state_ == State::kNotAuthenticated) {
    bool known = verb == "SELECT" || verb == "EXAMINE" || verb == "LIST" ||
                 verb == "LSUB" || verb == "STATUS" || verb == "FETCH" ||
                 verb == "UID" || verb == "SEARCH" || verb == "NAMESPACE" ||
                 verb == "ENABLE" || verb == "IDLE" || verb == "CLOSE" ||
                 verb == "UNSELECT" || verb == "EXPUNGE" || verb == "STORE";
    return Tagged(tag, known ? "BAD Log in first" : "BAD Unknown command");
  }
  if (verb == "SELECT" || verb == "EXAMINE") {
    return Select(tag, args, verb == "EXAMINE");
  }
  if (verb == "LIST" || verb == "LSUB") {
    std::string_view rest = args;
    (void)NextAstring(&rest);  // the reference name
    auto pattern = NextAstring(&rest);
    if (!pattern)
      return Tagged(tag, fmt::format("BAD {} needs a pattern", verb));
    std::string untagged =
        pattern->empty()
            ? fmt::format("* {} (\\Noselect) \"/\" \"\"\r\n", verb)
            : fmt::format("* {} (\\HasNoChildren) \"/\" INBOX\r\n", verb);
    return Tagged(tag, fmt::format("OK {} completed", verb), Action::kNone,
                  untagged);
  }
  if (verb == "STATUS") return Status(tag, args);
  if (verb == "NAMESPACE") {
    return Tagged(tag, "OK NAMESPACE completed", Action::kNone,
                  "* NAMESPACE ((\"\" \"/\")) NIL NIL\r\n");
  }
  if (verb == "ENABLE") {
    return Tagged(tag, "OK ENABLE completed", Action::kNone, "* ENABLED\r\n");
  }
  if (verb == "IDLE") {
    idling_ = std::string(tag);
    return {"+ idling\r\n"};
  }
  if (state_ != State::kSelected) {
    bool known = verb == "FETCH" || verb == "UID" || verb == "SEARCH" ||
                 verb == "CLOSE" || verb == "UNSELECT" || verb == "EXPUNGE" ||
                 verb == "STORE";
    return Tagged(tag,
                  known ? "BAD Select a mailbox first" : "BAD Unknown command");
  }
  if (verb == "FETCH") return Fetch(tag, args, false);
  if (verb == "SEARCH") return Search(tag, false);
  if (verb == "UID") {
    std::string_view rest = args;
    std::string sub = AsciiUpper(NextWord(&rest));
    if (sub == "FETCH") return Fetch(tag, rest, true);
    if (sub == "SEARCH") return Search(tag, true);
    if (sub == "STORE") return Tagged(tag, "OK UID STORE completed");
    return Tagged(tag, "BAD Unknown UID command");
  }
  if (verb == "STORE" || verb == "EXPUNGE") {
    return Tagged(tag, fmt::format("OK {} completed", verb));
  }
  if (verb == "CLOSE" || verb == "UNSELECT") {
    state_ = State::kAuthenticated;
    return Tagged(tag, fmt::format("OK {} completed", verb));
  }
  return Tagged(tag, "BAD Unknown command");
}

Responder::Response ImapResponder::LoggedIn(std::string_view tag,
                                            std::string_view what) {
  state_ = State::kAuthenticated;
  logged_in_ = true;
  return Tagged(tag, fmt::format("OK [CAPABILITY {}] {} completed",
                                 CapabilityList(), what));
}

Responder::Response ImapResponder::Login(std::string_view tag,
                                         std::string_view args) {
  if (state_ != State::kNotAuthenticated) {
    return Tagged(tag, "BAD Already logged in");
  }
  if (Offers("LOGINDISABLED")) {
    return Tagged(tag, "NO [PRIVACYREQUIRED] LOGIN is disabled before TLS");
  }
  auto user = NextAstring(&args);
  auto password = NextAstring(&args);
  if (!user || !password || user->empty() || !args.empty()) {
    return Tagged(tag, "BAD LOGIN needs a user name and a password");
  }
  return LoggedIn(tag, "LOGIN");
}

Responder::Response ImapResponder::Authenticate(std::string_view tag,
                                                std::string_view args) {
  if (state_ != State::kNotAuthenticated) {
    return Tagged(tag, "BAD Already logged in");
  }
  std::string mechanism = AsciiUpper(NextWord(&args));
  if (mechanism != "PLAIN" || !Offers("AUTH=PLAIN")) {
    return Tagged(tag, "NO [CANNOT] Unsupported authentication mechanism");
  }
  authenticating_ = std::string(tag);
  if (args.empty()) return {"+ \r\n"};
  // SASL-IR (RFC 4959): the initial response on the command line.
  return AuthenticateResponse(args);
}

Responder::Response ImapResponder::AuthenticateResponse(std::string_view line) {
  std::string tag = std::move(*authenticating_);
  authenticating_.reset();
  if (line == "*") return Tagged(tag, "BAD AUTHENTICATE cancelled");
  if (!IsPlainResponse(line)) return Tagged(tag, "BAD Invalid PLAIN response");
  return LoggedIn(tag, "AUTHENTICATE");
}

Responder::Response ImapResponder::Select(std::string_view tag,
                                          std::string_view args, bool examine) {
  auto mailbox = NextAstring(&args);
  std::string_view verb = examine ? "EXAMINE" : "SELECT";
  if (!mailbox || !EqualsNoCase(*mailbox, "INBOX")) {
    state_ = State::kAuthenticated;
    return Tagged(tag, fmt::format("NO {} failed: no such mailbox", verb));
  }
  state_ = State::kSelected;
  examined_ = examine;
  opened_mailbox_ = true;
  std::string untagged = fmt::format(
      "* {} EXISTS\r\n* 0 RECENT\r\n"
      "* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft)\r\n"
      "* OK [PERMANENTFLAGS ({})] Flags\r\n"
      "* OK [UIDVALIDITY 1] UIDs valid\r\n"
      "* OK [UIDNEXT {}] Predicted next UID\r\n",
      kMessages, examine ? "" : "\\Answered \\Flagged \\Deleted \\Seen \\Draft",
      kMessages + 1);
  return Tagged(tag,
                fmt::format("OK [{}] {} completed",
                            examine ? "READ-ONLY" : "READ-WRITE", verb),
                Action::kNone, untagged);
}

Responder::Response ImapResponder::Fetch(std::string_view tag,
                                         std::string_view args, bool uid) {
  std::string_view set = NextWord(&args);
  auto numbers = MessageSet(set);
  if (!numbers || args.empty()) {
    return Tagged(tag, "BAD FETCH needs a message set and items");
  }
  std::vector<std::string> items = FetchItems(args);
  if (uid && std::none_of(items.begin(), items.end(), [](const std::string& i) {
        return EqualsNoCase(i, "UID");
      })) {
    items.insert(items.begin(), "UID");
  }
  std::string untagged;
  for (size_t n : *numbers) {
    std::vector<std::string> values;
    for (const std::string& item : items) {
      auto value = FetchItem(item, n);
      if (!value) {
        return Tagged(tag, fmt::format("BAD Unknown FETCH item {}", item));
      }
      values.push_back(std::move(*value));
    }
    untagged += fmt::format("* {} FETCH ({})\r\n", n, fmt::join(values, " "));
  }
  return Tagged(tag, uid ? "OK UID FETCH completed" : "OK FETCH completed",
                Action::kNone, untagged);
}

Responder::Response ImapResponder::Search(std::string_view tag, bool uid) {
  std::string all;
  for (size_t n = 1; n <= kMessages; ++n) all += fmt::format(" {}", n);
  return Tagged(tag, uid ? "OK UID SEARCH completed" : "OK SEARCH completed",
                Action::kNone, fmt::format("* SEARCH{}\r\n", all));
}

Responder::Response ImapResponder::Status(std::string_view tag,
                                          std::string_view args) {
  auto mailbox = NextAstring(&args);
  if (!mailbox || !EqualsNoCase(*mailbox, "INBOX")) {
    return Tagged(tag, "NO STATUS failed: no such mailbox");
  }
  std::vector<std::string> values;
  for (const std::string& item : FetchItems(args)) {
    std::string upper = AsciiUpper(item);
    size_t value = 0;
    if (upper == "MESSAGES" || upper == "UNSEEN") {
      value = kMessages;
    } else if (upper == "UIDNEXT") {
      value = kMessages + 1;
    } else if (upper == "UIDVALIDITY") {
      value = 1;
    } else if (upper != "RECENT") {
      return Tagged(tag, fmt::format("BAD Unknown STATUS item {}", item));
    }
    values.push_back(fmt::format("{} {}", upper, value));
  }
  return Tagged(tag, "OK STATUS completed", Action::kNone,
                fmt::format("* STATUS INBOX ({})\r\n", fmt::join(values, " ")));
}

}  // namespace starttls::server
