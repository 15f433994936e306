#include "engine/smtp_responder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "common/ascii.h"

namespace starttls::server {
namespace {

constexpr size_t kMaxRecipients = 100;

// Extensions whose keyword the responder must not offer: it does not
// implement their commands.
constexpr std::string_view kUnimplemented[] = {"CHUNKING", "BINARYMIME", "AUTH",
                                               "TURN", "ETRN"};

std::string_view Keyword(std::string_view capability) {
  return capability.substr(0, capability.find(' '));
}

bool KeywordIs(std::string_view capability, std::string_view keyword) {
  return AsciiUpper(Keyword(capability)) == keyword;
}

// Parses "<path>" with optional ESMTP parameters after it, as in
// "FROM:<a@b> SIZE=10". Returns false on a syntax error.
bool ParsePath(std::string_view arg, std::string_view prefix, std::string* path,
               std::string_view* params) {
  if (arg.size() < prefix.size() ||
      AsciiUpper(arg.substr(0, prefix.size())) != prefix) {
    return false;
  }
  arg.remove_prefix(prefix.size());
  while (!arg.empty() && arg.front() == ' ') arg.remove_prefix(1);
  if (arg.empty() || arg.front() != '<') return false;
  size_t close = arg.find('>');
  if (close == std::string_view::npos) return false;
  *path = std::string(arg.substr(1, close - 1));
  if (path->find_first_of(" <") != std::string::npos) return false;
  *params = arg.substr(close + 1);
  return params->empty() || params->front() == ' ';
}

Responder::Response Reply(std::string text,
                          Responder::Action action = Responder::Action::kNone) {
  return {std::move(text) + "\r\n", action};
}

}  // namespace

std::string SmtpResponder::Greeting() const {
  return fmt::format("220 {} ESMTP starttls-mock\r\n", config_.hostname);
}

std::string SmtpResponder::LineTooLong() const {
  return "500 5.5.2 Line too long\r\n";
}

std::string SmtpResponder::QuitReply(std::string_view /*line*/) const {
  return "221 2.0.0 Bye\r\n";
}

std::optional<std::vector<std::string>> SmtpResponder::ScriptedCapabilities(
    std::span<const Step> steps) {
  std::optional<std::vector<std::string>> found;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].kind != Step::Kind::kExpect ||
        !AsciiLower(steps[i].text).starts_with("ehlo")) {
      continue;
    }
    std::vector<std::string> keywords;
    bool first = true;
    for (size_t j = i + 1;
         j < steps.size() && steps[j].kind == Step::Kind::kSend &&
         steps[j].text.starts_with("250");
         ++j) {
      std::string_view text = steps[j].text;
      if (!first && text.size() > 4) keywords.emplace_back(text.substr(4));
      first = false;
      if (text.size() < 4 || text[3] != '-') break;
    }
    if (!first) {
      found = std::move(keywords);
    } else if (i + 1 < steps.size() && steps[i + 1].kind == Step::Kind::kSend) {
      // EHLO refused: the server advertised nothing, STARTTLS included.
      found = std::vector<std::string>{};
    }
  }
  // A scripted one-line EHLO reply means "no extensions", STARTTLS included.
  return found;
}

std::vector<std::string> SmtpResponder::DefaultCapabilities() {
  return {"PIPELINING", "SIZE 10485760", "8BITMIME", "ENHANCEDSTATUSCODES",
          "STARTTLS"};
}

SmtpResponder::SmtpResponder(ResponderConfig config)
    : config_(std::move(config)) {
  for (const std::string& cap : config_.capabilities) {
    if (!KeywordIs(cap, "SIZE")) continue;
    std::string_view n =
        std::string_view(cap).substr(std::min<size_t>(5, cap.size()));
    size_t size = 0;
    if (std::from_chars(n.data(), n.data() + n.size(), size).ec ==
            std::errc() &&
        size > 0) {
      config_.max_message_size = size;
    }
  }
}

std::vector<std::string> SmtpResponder::AdvertisedCapabilities() const {
  std::vector<std::string> out;
  for (const std::string& cap : config_.capabilities) {
    std::string keyword = AsciiUpper(Keyword(cap));
    if (tls_active_ && keyword == "STARTTLS") continue;
    if (std::find(std::begin(kUnimplemented), std::end(kUnimplemented),
                  keyword) != std::end(kUnimplemented)) {
      continue;
    }
    out.push_back(cap);
  }
  return out;
}

bool SmtpResponder::Offers(std::string_view keyword) const {
  auto caps = AdvertisedCapabilities();
  return std::any_of(caps.begin(), caps.end(), [&](const std::string& c) {
    return KeywordIs(c, keyword);
  });
}

void SmtpResponder::ResetTransaction() {
  current_ = ReceivedMessage{};
  data_size_ = 0;
  if (state_ != State::kInitial) state_ = State::kGreeted;
}

void SmtpResponder::FollowScriptedLine(std::string_view line) {
  Followed before{.verb = AsciiUpper(line.substr(0, line.find(' '))),
                  .state = state_,
                  .current = current_,
                  .data_size = data_size_,
                  .messages = messages_.size()};
  if (state_ == State::kData) {
    (void)DataLine(line);
    // Only the end of the message is answered.
    if (line == ".") {
      before.verb.clear();
      before.reply_code = "250";
      followed_ = std::move(before);
    }
    return;
  }
  // The responder's own answer, so the script's can be compared with it.
  std::map<std::string, std::string> answers;
  answers.swap(scripted_answers_);
  Response own = OnLine(line);
  answers.swap(scripted_answers_);
  before.reply_code = own.reply.substr(0, 3);
  before.action = own.action;
  followed_ = std::move(before);
}

void SmtpResponder::ScriptLine(std::string_view line) {
  if (!followed_) return;
  bool final_line = line.size() >= 3 &&
                    std::isdigit(static_cast<unsigned char>(line[0])) &&
                    std::isdigit(static_cast<unsigned char>(line[1])) &&
                    std::isdigit(static_cast<unsigned char>(line[2])) &&
                    (line.size() == 3 || line[3] == ' ');
  if (!final_line) return;
  Followed f = std::move(*followed_);
  followed_.reset();
  std::string_view code = line.substr(0, 3);
  bool refused = code[0] == '4' || code[0] == '5';
  if (refused) {
    // A message the script did not accept was not delivered.
    messages_.resize(f.messages);
  }
  if (f.verb.empty()) return;  // the end of a message: the transaction is over
  if (refused) {
    state_ = f.state;
    current_ = std::move(f.current);
    data_size_ = f.data_size;
  }
  bool not_granted = f.action == Action::kStartTls && code != "220";
  if ((refused && code != f.reply_code) || not_granted) {
    scripted_answers_[f.verb] = std::string(line) + "\r\n";
  } else if (!refused) {
    scripted_answers_.erase(f.verb);
  }
}

bool SmtpResponder::IsMessageContent(std::string_view line) const {
  return state_ == State::kData && line != ".";
}

bool SmtpResponder::IsDetour(std::string_view line) const {
  if (state_ == State::kData) return false;
  std::string verb = AsciiUpper(line.substr(0, line.find(' ')));
  return verb == "EHLO" || verb == "HELO" || verb == "NOOP" || verb == "RSET";
}

void SmtpResponder::OnTlsStarted() {
  // The server behind TLS is the real one: nothing a man in the middle
  // answered before applies.
  scripted_answers_.clear();
  followed_.reset();
  tls_active_ = true;
  state_ = State::kInitial;
  ResetTransaction();
}

Responder::Response SmtpResponder::OnLine(std::string_view line) {
  if (state_ == State::kData) return DataLine(line);

  size_t space = line.find(' ');
  std::string verb = AsciiUpper(line.substr(0, space));
  std::string_view arg = space == std::string_view::npos
                             ? std::string_view()
                             : line.substr(space + 1);

  if (auto scripted = scripted_answers_.find(verb);
      scripted != scripted_answers_.end()) {
    return {scripted->second, Action::kNone};
  }
  if (verb == "EHLO" || verb == "HELO") return Ehlo(arg, verb == "EHLO");
  if (verb == "MAIL") return Mail(arg);
  if (verb == "RCPT") return Rcpt(arg);
  if (verb == "DATA") {
    if (!arg.empty()) return Reply("501 5.5.4 DATA takes no argument");
    if (state_ == State::kMail) return Reply("554 5.5.1 No valid recipients");
    if (state_ != State::kRcpt) return Reply("503 5.5.1 MAIL and RCPT first");
    state_ = State::kData;
    return Reply("354 Start mail input; end with <CRLF>.<CRLF>");
  }
  if (verb == "RSET") {
    ResetTransaction();
    return Reply("250 2.0.0 OK");
  }
  if (verb == "NOOP") return Reply("250 2.0.0 OK");
  if (verb == "QUIT") return Reply("221 2.0.0 Bye", Action::kClose);
  if (verb == "VRFY") return Reply("252 2.5.2 Cannot VRFY user");
  if (verb == "STARTTLS") {
    if (tls_active_) return Reply("503 5.5.1 TLS already active");
    if (!arg.empty()) return Reply("501 5.5.4 STARTTLS takes no argument");
    if (!Offers("STARTTLS")) return Reply("502 5.5.1 STARTTLS not offered");
    return Reply("220 2.0.0 Ready to start TLS", Action::kStartTls);
  }
  return Reply("500 5.5.2 Command unrecognized");
}

Responder::Response SmtpResponder::Ehlo(std::string_view arg, bool extended) {
  if (arg.empty() || arg.find(' ') != std::string_view::npos) {
    return Reply(
        fmt::format("501 5.5.4 Syntax: {} domain", extended ? "EHLO" : "HELO"));
  }
  state_ = State::kGreeted;
  ResetTransaction();
  if (!extended) return Reply(fmt::format("250 {}", config_.hostname));
  std::vector<std::string> lines = {config_.hostname + " Hello " +
                                    std::string(arg)};
  for (std::string& cap : AdvertisedCapabilities())
    lines.push_back(std::move(cap));
  std::string reply;
  for (size_t i = 0; i < lines.size(); ++i) {
    reply +=
        fmt::format("250{}{}\r\n", i + 1 == lines.size() ? ' ' : '-', lines[i]);
  }
  return {reply, Action::kNone};
}

Responder::Response SmtpResponder::Mail(std::string_view arg) {
  if (state_ == State::kInitial) return Reply("503 5.5.1 EHLO or HELO first");
  if (state_ != State::kGreeted) return Reply("503 5.5.1 Nested MAIL command");
  std::string path;
  std::string_view params;
  if (!ParsePath(arg, "FROM:", &path, &params)) {
    return Reply("501 5.5.4 Syntax: MAIL FROM:<address>");
  }
  // SIZE=n (RFC 1870): refuse up front what could never be accepted.
  std::string upper = AsciiUpper(params);
  if (size_t at = upper.find(" SIZE="); at != std::string::npos) {
    size_t size = 0;
    const char* begin = upper.data() + at + 6;
    auto [end, ec] = std::from_chars(begin, upper.data() + upper.size(), size);
    if (ec != std::errc() && ec != std::errc::result_out_of_range) {
      return Reply("501 5.5.4 Bad SIZE parameter");
    }
    if (ec == std::errc::result_out_of_range ||
        size > config_.max_message_size) {
      return Reply("552 5.3.4 Message size exceeds fixed limit");
    }
  }
  current_.mail_from = path;
  state_ = State::kMail;
  return Reply("250 2.1.0 Sender OK");
}

Responder::Response SmtpResponder::Rcpt(std::string_view arg) {
  if (state_ != State::kMail && state_ != State::kRcpt) {
    return Reply("503 5.5.1 MAIL first");
  }
  std::string path;
  std::string_view params;
  if (!ParsePath(arg, "TO:", &path, &params) || path.empty()) {
    return Reply("501 5.5.4 Syntax: RCPT TO:<address>");
  }
  if (current_.rcpt_to.size() >= kMaxRecipients) {
    return Reply("452 4.5.3 Too many recipients");
  }
  current_.rcpt_to.push_back(path);
  state_ = State::kRcpt;
  return Reply("250 2.1.5 Recipient OK");
}

Responder::Response SmtpResponder::DataLine(std::string_view line) {
  if (line == ".") {
    bool too_big = data_size_ > config_.max_message_size;
    if (!too_big) {
      current_.over_tls = tls_active_;
      messages_.push_back(std::move(current_));
    }
    state_ = State::kGreeted;
    ResetTransaction();
    if (too_big) return Reply("552 5.3.4 Message size exceeds fixed limit");
    return Reply(
        fmt::format("250 2.0.0 Message {} accepted", messages_.size()));
  }
  if (line.starts_with('.')) line.remove_prefix(1);  // RFC 5321 4.5.2
  data_size_ += line.size() + 2;
  if (data_size_ <= config_.max_message_size) {
    current_.data.append(line);
    current_.data.append("\r\n");
  }
  return {};
}

}  // namespace starttls::server
