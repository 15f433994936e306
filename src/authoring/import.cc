#include "authoring/import.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <regex>
#include <sstream>

#include "authoring/answer_framer.h"
#include "common/ascii.h"

namespace starttls::server {
namespace {

using tl::unexpected;

std::string_view Verb(std::string_view line) {
  return line.substr(0, line.find(' '));
}

// A reply line: three digits, then a space, a '-' or the end of the line.
struct ReplyLine {
  int code = 0;
  bool final = true;
};

std::optional<ReplyLine> ParseReplyLine(std::string_view line) {
  if (line.size() < 3 ||
      !std::all_of(line.begin(), line.begin() + 3,
                   [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  if (line[0] < '1' || line[0] > '5') return std::nullopt;
  if (line.size() > 3 && line[3] != ' ' && line[3] != '-') return std::nullopt;
  return ReplyLine{
      .code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0'),
      .final = line.size() == 3 || line[3] == ' '};
}

bool StartsWithDigits(std::string_view line) {
  return line.size() >= 3 &&
         std::isdigit(static_cast<unsigned char>(line[0])) &&
         std::isdigit(static_cast<unsigned char>(line[1])) &&
         std::isdigit(static_cast<unsigned char>(line[2]));
}

// An SMTP command as typed: a verb of 4 to 8 letters, then a space or the end.
bool LooksLikeCommand(std::string_view line) {
  std::string_view verb = Verb(line);
  return verb.size() >= 4 && verb.size() <= 8 &&
         std::all_of(verb.begin(), verb.end(), [](char c) {
           return std::isalpha(static_cast<unsigned char>(c));
         });
}

// Splits text into lines without their endings (LF or CRLF); a last line
// without an ending counts too.
std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    if (nl == std::string_view::npos) break;
    text.remove_prefix(nl + 1);
  }
  return lines;
}

ImportError Error(int line, std::string message, int column = 1) {
  return ImportError{line, column, std::move(message)};
}

// Follows the dialogue while a parser feeds it lines, and builds the
// transcript: consecutive server lines form one segment, TLS starts after
// a final 220 line that answers STARTTLS.
class Builder {
 public:
  // bodies_shown: false when the source never shows the message (curl -v);
  // the transcript then ends at the 354 with kBodyUnknown.
  Builder(bool bodies_shown, const protocol::Protocol& protocol)
      : bodies_shown_(bodies_shown), p_(protocol), framer_(protocol) {}

  // One line the server sent. strict: it must be a reply line.
  tl::expected<void, ImportError> Server(std::string_view line, int n,
                                         bool strict) {
    if (done_) return {};
    if (data_ == Data::kBody) {
      return unexpected(Error(
          n, fmt::format("a server line inside the message begun on line {} "
                         "(the client's \".\" line is missing)",
                         body_line_)));
    }
    const AnswerFramer::Place place = framer_.Server(line);
    if (place == AnswerFramer::Place::kInside ||
        place == AnswerFramer::Place::kEnd) {
      // Inside a multi-line answer (POP3 CAPA, RETR): any line, up to the
      // one that ends it.
      if (segment_.empty()) segment_line_ = n;
      segment_ += line;
      segment_ += "\r\n";
      if (place == AnswerFramer::Place::kInside) return {};
      last_reply_line_ = n;
      if (outstanding_ > 0) --outstanding_;
      return {};
    }
    const bool is_reply = p_.IsReplyLine(line);
    if (!is_reply && strict) {
      return unexpected(Error(
          n, fmt::format("a server line without {}", p_.ReplyLineShape())));
    }
    // SMTP repeats a multi-line reply's code on every line.
    std::optional<ReplyLine> reply =
        is_reply ? ParseReplyLine(line) : std::nullopt;
    if (reply && open_code_ != 0 && reply->code != open_code_) {
      return unexpected(Error(
          n, fmt::format("reply code {} inside the multi-line {} reply begun "
                         "on line {}",
                         reply->code, open_code_, open_line_)));
    }
    if (!bodies_shown_ && p_.LiteralSize(line)) {
      // The source shows the response without its literal (curl -v): the
      // command it answers is left to the built-in responder, which
      // answers it whole.
      transcript_.items.resize(last_command_);
      segment_.clear();
      transcript_.items.push_back(
          {.kind = TranscriptItem::Kind::kBodyUnknown, .source_line = n});
      done_ = true;
      return {};
    }
    if (segment_.empty()) segment_line_ = n;
    segment_ += line;
    segment_ += "\r\n";
    if (!is_reply) return {};
    // A continuation request (IMAP "+") asks for the next client line.
    if (p_.IsContinuation(line)) awaiting_secret_ = true;
    if (!p_.IsFinalReply(line)) {
      if (reply) {
        if (open_code_ == 0) open_line_ = n;
        open_code_ = reply->code;
      }
      return {};
    }
    open_code_ = 0;
    if (place == AnswerFramer::Place::kOpened) {
      answer_line_ = n;
      return {};
    }
    last_reply_line_ = n;
    if (outstanding_ > 0) --outstanding_;
    awaiting_secret_ = p_.IsContinuation(line);
    if (starttls_pending_ && p_.EndsReplyTo(line, starttls_line_)) {
      starttls_pending_ = false;
      const bool go_ahead = p_.IsTlsGoAhead(line);
      if (go_ahead && tls_) {
        // A scenario upgrades a connection once (found by fuzz/).
        return unexpected(
            Error(n, fmt::format("a second TLS upgrade; TLS already started on "
                                 "line {}",
                                 tls_line_)));
      }
      if (go_ahead) {
        FlushSegment();
        transcript_.items.push_back(
            {.kind = TranscriptItem::Kind::kTls, .source_line = n});
        tls_ = true;
        tls_line_ = n;
        data_ = Data::kNone;
        awaiting_secret_ = false;
        return {};
      }
    }
    if (data_ == Data::kCommand) {
      data_ = p_.IsMessageGoAhead(line) ? Data::kBody : Data::kNone;
      body_line_ = n + 1;
      if (data_ == Data::kBody && !bodies_shown_) {
        FlushSegment();
        transcript_.items.push_back(
            {.kind = TranscriptItem::Kind::kBodyUnknown, .source_line = n});
        done_ = true;
      }
    }
    return {};
  }

  // One line the client sent.
  tl::expected<void, ImportError> Client(std::string_view line, int n) {
    if (done_) return {};
    if (framer_.open()) {
      if (bodies_shown_) {
        return unexpected(
            Error(n, fmt::format("a client line inside the answer over several "
                                 "lines begun on line {} (its \"{}\" line is "
                                 "missing)",
                                 answer_line_, framer_.end())));
      }
      // The source does not show the answer's lines (curl -v and a
      // message it retrieved): the command is left to the responder.
      LeaveAnswerToResponder(n);
      return {};
    }
    FlushSegment();
    if (data_ != Data::kBody && !awaiting_secret_) {
      last_command_ = transcript_.items.size();
    }
    transcript_.items.push_back({.kind = TranscriptItem::Kind::kClient,
                                 .bytes = std::string(line),
                                 .source_line = n});
    if (data_ == Data::kBody) {
      if (line == ".") {
        data_ = Data::kNone;
        ++outstanding_;
      }
      return {};
    }
    ++outstanding_;
    if (awaiting_secret_) {
      awaiting_secret_ = false;
      return {};
    }
    framer_.Command(line);
    switch (p_.Classify(line)) {
      case protocol::Command::kStartTls:
        starttls_pending_ = true;
        starttls_line_ = std::string(line);
        break;
      case protocol::Command::kMessage:
        data_ = Data::kCommand;
        break;
      default:
        break;
    }
    return {};
  }

  // The source shows the message was sent but not its lines.
  void BodyUnknown(int n) {
    if (done_) return;
    FlushSegment();
    transcript_.items.push_back(
        {.kind = TranscriptItem::Kind::kBodyUnknown, .source_line = n});
    done_ = true;
  }

  void ServerClosed(int n) {
    if (done_) return;
    FlushSegment();
    transcript_.items.push_back(
        {.kind = TranscriptItem::Kind::kServerClose, .source_line = n});
    done_ = true;
  }

  tl::expected<Transcript, ImportError> Finish(int last_line) {
    if (framer_.open() && !done_) {
      if (bodies_shown_) {
        return unexpected(Error(
            answer_line_,
            fmt::format("the answer over several lines begun here never ends "
                        "(no \"{}\" line)",
                        framer_.end())));
      }
      LeaveAnswerToResponder(answer_line_);
    }
    if (open_code_ != 0 && !done_) {
      return unexpected(Error(
          open_line_, fmt::format("the multi-line {} reply begun here never "
                                  "ends (no line with a space after the code)",
                                  open_code_)));
    }
    FlushSegment();
    bool any_server =
        std::any_of(transcript_.items.begin(), transcript_.items.end(),
                    [](const TranscriptItem& i) {
                      return i.kind == TranscriptItem::Kind::kServer;
                    });
    if (!any_server) {
      return unexpected(
          Error(std::max(last_line, 1),
                fmt::format("no server reply found: this is not an {} "
                            "session",
                            AsciiUpper(p_.name()))));
    }
    return std::move(transcript_);
  }

  bool done() const { return done_; }
  // True inside an answer over several lines (POP3 CAPA, RETR).
  bool answer_open() const { return framer_.open(); }
  int answer_line() const { return answer_line_; }
  bool tls() const { return tls_; }
  int tls_line() const { return tls_line_; }
  bool in_body() const { return data_ == Data::kBody; }
  bool awaiting_secret() const { return awaiting_secret_; }
  bool reply_open() const { return open_code_ != 0; }
  int open_line() const { return open_line_; }
  int outstanding() const { return outstanding_; }
  int last_reply_line() const { return last_reply_line_; }

 private:
  enum class Data { kNone, kCommand, kBody };

  // The command whose answer is open is left to the built-in responder,
  // which answers it whole: the transcript ends before it.
  void LeaveAnswerToResponder(int n) {
    transcript_.items.resize(last_command_);
    segment_.clear();
    framer_.Reset();
    transcript_.items.push_back(
        {.kind = TranscriptItem::Kind::kBodyUnknown, .source_line = n});
    done_ = true;
  }

  void FlushSegment() {
    if (segment_.empty()) return;
    transcript_.items.push_back({.kind = TranscriptItem::Kind::kServer,
                                 .bytes = std::move(segment_),
                                 .source_line = segment_line_});
    segment_.clear();
  }

  bool bodies_shown_;
  const protocol::Protocol& p_;
  std::string starttls_line_;  // the client's last STARTTLS
  // Index in transcript_.items of the client's last command.
  size_t last_command_ = 0;
  Transcript transcript_;
  std::string segment_;
  int segment_line_ = 0;
  int open_code_ = 0;  // the code of an unfinished multi-line reply
  int open_line_ = 0;
  int last_reply_line_ = 0;
  int outstanding_ = 1;  // replies owed: the greeting, then one per command
  // The commands not answered yet (secrets are no commands), and the
  // answer over several lines open now.
  AnswerFramer framer_;
  int answer_line_ = 0;  // where the open answer began
  bool awaiting_secret_ = false;
  bool starttls_pending_ = false;
  bool tls_ = false;
  int tls_line_ = 0;
  Data data_ = Data::kNone;
  int body_line_ = 0;
  bool done_ = false;
};

// --- telnet ----------------------------------------------------------------

bool IsTelnetChatter(std::string_view line) {
  static constexpr std::array kPrefixes = {
      "Trying ",   "Connected to ", "Escape character is", "telnet ",
      "$ telnet ", "telnet> ",      "Connection closed."};
  return std::any_of(kPrefixes.begin(), kPrefixes.end(),
                     [&](const char* p) { return line.starts_with(p); });
}

// A regular expression for the console prompt, if any, before a command a
// paste shows typed: "C:\Users\me>", ">", "$ ", "% ", "user@box:~$ ".
constexpr std::string_view kOptionalPrompt =
    R"(^(?:[A-Za-z]:\\[^>]*>|[^\s>$%#]*[>$%#] ?)?)";

// `command` (a regular expression) typed after an optional prompt.
std::regex TypedCommand(std::string_view command) {
  return std::regex(std::string(kOptionalPrompt) + std::string(command));
}

// The host of the console command that opened a pasted session, after any
// prompt: ">telnet smtp.live.com 587", "C:\>telnet ...", "$ telnet ...",
// "% nc -C host port", "user@box:~$ ncat host 25". Nullopt for any other
// line.
std::optional<std::string> ConsoleCommandHost(std::string_view line) {
  static const std::regex kCommand =
      TypedCommand(R"((?:telnet|nc|ncat|netcat)(?:\s+-\S+)*\s+(\S+)\s+\d{1,5}\s*$)");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_match(line.begin(), line.end(), m, kCommand)) {
    return std::nullopt;
  }
  return m[1].str();
}

// `text` with each no-break space (U+00A0, UTF-8 C2 A0) made a space: a web
// page shows a run of spaces as spaces and no-break spaces, and a paste
// from it keeps them.
std::string WithPlainSpaces(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\xC2' && i + 1 < text.size() && text[i + 1] == '\xA0') {
      out += ' ';
      ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

bool IsForeignHostClose(std::string_view line) {
  return line.starts_with("Connection closed by foreign host") ||
         (line.starts_with("Connection to ") &&
          line.find("closed by foreign host") != std::string_view::npos);
}

// The lines of a console session, where the server's replies are told from
// typed lines by their codes: telnet and nc, and openssl s_client's
// dialogue after its report.
class TypedSession {
 public:
  // `b` must outlive the session. shows_tls: the source goes on over TLS
  // (s_client); telnet cannot.
  TypedSession(Builder* b, bool shows_tls) : b_(*b), shows_tls_(shows_tls) {}

  // Says the greeting came already (s_client's, which it does not show).
  void Started() { started_ = true; }
  // The host of the console command the paste starts with, if any.
  std::string& host() { return host_; }

  tl::expected<void, ImportError> Line(std::string_view line, int n) {
    bool blank = line.find_first_not_of(" \t") == std::string_view::npos;
    if (closed_line_ != 0) {
      if (blank) return {};
      return unexpected(
          Error(n, fmt::format("text after the server closed the connection on "
                               "line {}",
                               closed_line_)));
    }
    if (IsForeignHostClose(line)) {
      Closed(n);
      return {};
    }
    if (b_.in_body()) {
      // Inside a message every line is the client's, digits or not.
      return b_.Client(line, n);
    }
    if (blank) return {};
    if (!started_ && host_.empty()) {
      if (auto named = ConsoleCommandHost(line)) {
        host_ = std::move(*named);
        return {};
      }
    }
    if (IsTelnetChatter(line)) return {};
    if (b_.tls() && !shows_tls_) {
      return unexpected(Error(
          n, fmt::format("telnet cannot show what follows the 220 reply to "
                         "STARTTLS on line {}: TLS starts there, so the "
                         "session must end there",
                         b_.tls_line())));
    }
    std::optional<ReplyLine> reply = ParseReplyLine(line);
    if (reply) {
      if (!b_.reply_open() && b_.outstanding() == 0) {
        return unexpected(Error(
            n, fmt::format("a second reply with no client line since the "
                           "reply that ended on line {}: was a typed line "
                           "left out?",
                           b_.last_reply_line())));
      }
      started_ = true;
      return b_.Server(line, n, true);
    }
    if (StartsWithDigits(line)) {
      return unexpected(
          Error(n,
                "starts with three digits but is not a reply line (the code "
                "must be followed by a space, '-' or the end of the line)",
                4));
    }
    if (!started_) {
      return unexpected(
          Error(n,
                "the session must start with the server's greeting (a line "
                "starting with a reply code), not a client line"));
    }
    if (b_.reply_open()) {
      return unexpected(Error(
          n, fmt::format("a client line inside the multi-line reply begun on "
                         "line {} (its last line, with a space after the "
                         "code, is missing)",
                         b_.open_line())));
    }
    if (!b_.awaiting_secret() && !LooksLikeCommand(line)) {
      return unexpected(Error(
          n,
          "neither a server reply (three digits, then a space or '-') nor "
          "an SMTP command (a verb of 4 to 8 letters)"));
    }
    return b_.Client(line, n);
  }

  // The server ended the connection at line `n`: only blank lines may
  // follow.
  void Closed(int n) {
    b_.ServerClosed(n);
    closed_line_ = n;
  }

 private:
  Builder& b_;
  const bool shows_tls_;
  bool started_ = false;
  std::string host_;
  int closed_line_ = 0;
};

tl::expected<Transcript, ImportError> ParseTelnet(std::string_view pasted) {
  Builder b(/*bodies_shown=*/true, protocol::Smtp());
  TypedSession session(&b, /*shows_tls=*/false);
  const std::string text = WithPlainSpaces(pasted);
  std::vector<std::string_view> lines = SplitLines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    if (auto r = session.Line(lines[i], static_cast<int>(i) + 1); !r) {
      return unexpected(r.error());
    }
  }
  auto transcript = b.Finish(static_cast<int>(lines.size()));
  if (transcript) transcript->host = std::move(session.host());
  return transcript;
}

// --- openssl s_client -starttls smtp ----------------------------------------

// The host of an `openssl s_client ... -connect HOST:PORT` command line,
// after any prompt, and its -starttls value in *starttls; nullopt for any
// other line.
std::optional<std::string> SClientCommandHost(std::string_view line,
                                              std::string* starttls) {
  static const std::regex kCommand =
      TypedCommand(R"(openssl\s+s_client(\s.*)?$)");
  std::match_results<std::string_view::const_iterator> m;
  if (!std::regex_match(line.begin(), line.end(), m, kCommand)) {
    return std::nullopt;
  }
  std::istringstream words(m[1].str());
  std::string word, host;
  while (words >> word) {
    std::string value;
    if (word == "-connect" && words >> value) {
      size_t colon = value.rfind(':');
      host = value.substr(0, colon);
      if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
      }
    } else if (word == "-starttls" && words >> value) {
      *starttls = value;
    }
  }
  return host;
}

// A line of s_client's handshake report worth keeping as a comment: the
// certificate chain, verification results and the handshake summary.
bool IsReportNote(std::string_view line) {
  static const std::regex kChain(R"( *\d+ s:.*|   i:.*)");
  static constexpr std::array kPrefixes = {
      "verify error:",       "Verification",           "New, ",
      "Verify return code:", "SSL handshake has read", "Server Temp Key:",
      "Peer signature type:"};
  return std::regex_match(line.begin(), line.end(), kChain) ||
         std::any_of(kPrefixes.begin(), kPrefixes.end(),
                     [&](const char* p) { return line.starts_with(p); });
}

// s_client's own lines in the dialogue, which nothing sent: what it reports
// of reads and renegotiations, OpenSSL's error lines, section rules.
bool IsSClientChatter(std::string_view line) {
  static const std::regex kError(R"([0-9A-F]+:error:.*)");
  return line == "read R BLOCK" || line == "RENEGOTIATING" ||
         line == "KEYUPDATE" || line == "---" ||
         std::regex_match(line.begin(), line.end(), kError);
}

tl::expected<Transcript, ImportError> ParseSClient(std::string_view pasted) {
  const std::string text = WithPlainSpaces(pasted);
  std::vector<std::string_view> lines = SplitLines(text);
  std::vector<std::string> notes;
  std::string host, starttls = "smtp";
  size_t i = 0;
  int connected = 0;  // the line of CONNECTED(...)
  bool verify_seen = false;
  // The report: up to the rule after "Verify return code:".
  for (; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    const int n = static_cast<int>(i) + 1;
    if (connected == 0 && host.empty()) {
      std::string asked;
      if (auto named = SClientCommandHost(line, &asked)) {
        host = std::move(*named);
        if (!asked.empty()) starttls = asked;
        if (starttls != "smtp") {
          return unexpected(Error(
              n, fmt::format("an s_client session with -starttls {}: this "
                             "format reads -starttls smtp sessions",
                             starttls)));
        }
        continue;
      }
    }
    if (line.starts_with("CONNECTED(")) connected = n;
    if (IsReportNote(line)) notes.push_back(std::string(line));
    if (line.starts_with("Verify return code:")) verify_seen = true;
    if (verify_seen && line == "---") break;
  }
  if (connected == 0 || i == lines.size()) {
    return unexpected(Error(
        std::max(1, connected),
        connected == 0
            ? std::string("no \"CONNECTED(\" line: this is not openssl "
                          "s_client output")
            : std::string("the handshake report never ends (no \"Verify "
                          "return code:\" line and \"---\" after it): did the "
                          "handshake fail?")));
  }
  // What s_client did before TLS without showing it (-starttls smtp): it
  // read the greeting, sent EHLO, found STARTTLS in the reply and sent it.
  // Of all that it shows, right after its report, only the EHLO reply's
  // last line.
  std::string ehlo_last = "250 STARTTLS";
  if (i + 1 < lines.size() && lines[i + 1].starts_with("250 ")) {
    ehlo_last = std::string(lines[++i]);
  }
  Builder b(/*bodies_shown=*/true, protocol::Smtp());
  const std::string name = IsHostName(host) ? host : "mail.example.test";
  std::vector<std::pair<bool, std::string>> plain = {
      {true, fmt::format("220 {} ESMTP", name)},
      {false, "EHLO openssl.client.net"},
      {true, fmt::format("250-{}", name)}};
  if (ehlo_last.find("STARTTLS") == std::string::npos) {
    plain.emplace_back(true, "250-STARTTLS");
  }
  plain.emplace_back(true, ehlo_last);
  plain.emplace_back(false, "STARTTLS");
  plain.emplace_back(true, "220 2.0.0 Ready to start TLS");
  for (const auto& [server, line] : plain) {
    auto r =
        server ? b.Server(line, connected, true) : b.Client(line, connected);
    if (!r) return unexpected(r.error());
  }
  TypedSession session(&b, /*shows_tls=*/true);
  session.Started();
  bool ticket = false;  // inside a "Post-Handshake New Session Ticket" block
  for (++i; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    const int n = static_cast<int>(i) + 1;
    if (ticket) {
      // The block's own lines are indented, blank or "SSL-Session:"; a
      // typed line can be echoed into its middle.
      if (line == "---") {
        ticket = false;
        continue;
      }
      if (line.empty() || line.front() == ' ' || line == "SSL-Session:") {
        continue;
      }
    }
    if (line.starts_with("Post-Handshake New Session Ticket arrived")) {
      ticket = true;
      continue;
    }
    if (!b.in_body() && IsSClientChatter(line)) continue;
    // A typed line that starts with R, K or k is s_client's own command
    // (without -nocommands): it renegotiates or updates keys instead of
    // sending the line ("RCPT TO:..."). The terminal shows the line, then
    // what s_client did.
    // So is one that starts with Q: s_client closes the connection instead
    // ("QUIT" typed shows as the line, then "DONE"), and the session ends.
    if (!b.in_body() && i + 1 < lines.size() &&
        (lines[i + 1] == "RENEGOTIATING" || lines[i + 1] == "KEYUPDATE" ||
         (lines[i + 1] == "DONE" && line.starts_with("Q")))) {
      notes.push_back(fmt::format(
          "line {} (\"{}\") was never sent: s_client took it as its {} "
          "command",
          n, line, line.substr(0, 1)));
      if (lines[++i] == "DONE") break;
      continue;
    }
    if (!b.in_body() && line == "closed") {
      session.Closed(n);
      continue;
    }
    if (!b.in_body() && line == "DONE") break;  // its input ended
    if (auto r = session.Line(line, n); !r) return unexpected(r.error());
  }
  auto transcript = b.Finish(static_cast<int>(lines.size()));
  if (!transcript) return transcript;
  transcript->host = host;
  transcript->notes.push_back(
      "openssl s_client -starttls smtp read the greeting, sent EHLO and "
      "STARTTLS itself and showed only the EHLO reply's last line: the "
      "plain-text lines before `tls` stand for the rest.");
  for (std::string& note : notes) {
    transcript->notes.push_back("s_client: " + std::move(note));
  }
  return transcript;
}

// --- S: and C: -------------------------------------------------------------

tl::expected<Transcript, ImportError> ParseScript(
    std::string_view text, const protocol::Protocol& protocol) {
  Builder b(/*bodies_shown=*/true, protocol);
  std::vector<std::string_view> lines = SplitLines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const int n = static_cast<int>(i) + 1;
    std::string_view line = lines[i];
    if (line.find_first_not_of(" \t") == std::string_view::npos ||
        line.front() == '#') {
      continue;
    }
    if (line.front() == ' ' || line.front() == '\t') {
      return unexpected(Error(
          n,
          "an indented line is an annotation or an elision, not something "
          "either side sent: write out every line with S: or C:"));
    }
    bool server = line.starts_with("S:");
    if (!server && !line.starts_with("C:")) {
      return unexpected(Error(n, "neither an S: nor a C: line"));
    }
    std::string_view content = line.substr(2);
    if (!content.empty() && content.front() == ' ') content.remove_prefix(1);
    if (server) {
      if (auto r = b.Server(content, n, false); !r)
        return unexpected(r.error());
    } else {
      if (auto r = b.Client(content, n); !r) return unexpected(r.error());
    }
  }
  return b.Finish(static_cast<int>(lines.size()));
}

// --- swaks -----------------------------------------------------------------

tl::expected<Transcript, ImportError> ParseSwaks(std::string_view text) {
  Builder b(/*bodies_shown=*/true, protocol::Smtp());
  std::vector<std::string_view> lines = SplitLines(text);
  bool first_body_line = false;
  for (size_t i = 0; i < lines.size() && !b.done(); ++i) {
    const int n = static_cast<int>(i) + 1;
    std::string_view line = lines[i];
    if (line.empty()) continue;
    std::string_view hint = line.substr(0, 3);
    std::string_view content = line.size() > 3 ? line.substr(3) : "";
    if (!content.empty() && content.front() == ' ') content.remove_prefix(1);
    if (hint == "===") {
      if (content.starts_with("TLS started") && !b.tls()) {
        return unexpected(Error(
            n, "TLS started, but no 220 reply to STARTTLS came before it"));
      }
      continue;
    }
    if (hint == "***") {
      if (content.find("Remote host closed connection") !=
          std::string_view::npos) {
        b.ServerClosed(n);
      }
      continue;
    }
    if (hint == "  >" || hint == "<  ") {
      return unexpected(
          Error(n,
                "raw text (--show-raw-text) is not supported: run swaks "
                "without it"));
    }
    bool server_plain = hint == "<- " || hint == "<**";
    bool server_tls = hint == "<~ " || hint == "<~*";
    bool client_plain = hint == " ->" || hint == "**>";
    bool client_tls = hint == " ~>" || hint == "*~>";
    if (!server_plain && !server_tls && !client_plain && !client_tls) {
      return unexpected(Error(
          n,
          "not a line of swaks output (lines start with ===, ***, <-, ->, "
          "<~, ~>, <** or **>)"));
    }
    if ((server_tls || client_tls) != b.tls()) {
      return unexpected(Error(
          n, b.tls() ? fmt::format("a plain-text line after TLS started on "
                                   "line {}",
                                   b.tls_line())
                     : std::string("a TLS line (~) before TLS started")));
    }
    if (server_plain || server_tls) {
      if (auto r = b.Server(content, n, true); !r) return unexpected(r.error());
      first_body_line = b.in_body();
      continue;
    }
    static const std::regex kSummary(R"(\d+ lines sent)");
    if (b.in_body() && first_body_line &&
        std::regex_match(content.begin(), content.end(), kSummary) &&
        i + 1 < lines.size() &&
        (lines[i + 1].starts_with("<") || lines[i + 1].empty())) {
      // --suppress-data: swaks says how many lines it sent, not which.
      b.BodyUnknown(n);
      continue;
    }
    first_body_line = false;
    if (auto r = b.Client(content, n); !r) return unexpected(r.error());
  }
  return b.Finish(static_cast<int>(lines.size()));
}

// --- curl -v ---------------------------------------------------------------

bool IsProgressMeter(std::string_view line) {
  std::string_view t =
      line.substr(std::min(line.find_first_not_of(' '), line.size()));
  return line.starts_with(" ") &&
         (t.starts_with("% Total") || t.starts_with("Dload") ||
          std::all_of(t.begin(), t.end(), [](char c) {
            return std::isdigit(static_cast<unsigned char>(c)) ||
                   std::strchr(" :-.kMG\r", c) != nullptr;
          }));
}

tl::expected<Transcript, ImportError> ParseCurl(
    std::string_view text, const protocol::Protocol& protocol) {
  Builder b(/*bodies_shown=*/false, protocol);
  std::vector<std::string_view> lines = SplitLines(text);
  for (size_t i = 0; i < lines.size() && !b.done(); ++i) {
    const int n = static_cast<int>(i) + 1;
    std::string_view line = lines[i];
    if (line.empty() || IsProgressMeter(line)) continue;
    // The progress meter redraws itself with CRs on the same line.
    if (size_t cr = line.rfind('\r'); cr != std::string_view::npos) {
      line = line.substr(cr + 1);
      if (line.empty()) continue;
    }
    char marker = line.front();
    if (marker == '*' || marker == '{' || marker == '}') continue;
    if ((marker != '<' && marker != '>') ||
        (line.size() > 1 && line[1] != ' ')) {
      return unexpected(Error(
          n,
          "not a line of curl -v output (lines start with \"* \", \"< \", "
          "\"> \", \"{ \" or \"} \")"));
    }
    std::string_view content = line.size() > 2 ? line.substr(2) : "";
    if (marker == '<') {
      if (auto r = b.Server(content, n, true); !r) return unexpected(r.error());
    } else {
      if (auto r = b.Client(content, n); !r) return unexpected(r.error());
    }
  }
  return b.Finish(static_cast<int>(lines.size()));
}

ImportFormat Detect(std::string_view pasted) {
  const std::string text = WithPlainSpaces(pasted);
  for (std::string_view line : SplitLines(text)) {
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    // A console command line ("C:\>telnet" would read as a C: line).
    if (ConsoleCommandHost(line)) return ImportFormat::kTelnet;
    std::string starttls;
    if (SClientCommandHost(line, &starttls) || line.starts_with("CONNECTED(") ||
        line.starts_with("depth=")) {
      return ImportFormat::kSClient;
    }
    if (line.starts_with("S:") || line.starts_with("C:") ||
        line.starts_with("#")) {
      return ImportFormat::kScript;
    }
    static constexpr std::array kSwaks = {"=== ", "*** ", "<-  ", " -> ",
                                          "<~  ", " ~> ", "<** ", "**> "};
    if (std::any_of(kSwaks.begin(), kSwaks.end(),
                    [&](const char* p) { return line.starts_with(p); })) {
      return ImportFormat::kSwaks;
    }
    if (line.starts_with("* ") || line.starts_with("< ") ||
        line.starts_with("> ")) {
      return ImportFormat::kCurl;
    }
    return ImportFormat::kTelnet;
  }
  return ImportFormat::kTelnet;
}

// --- writing ---------------------------------------------------------------

std::string Escape(std::string_view bytes) {
  std::string out;
  for (char ch : bytes) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (ch) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20 || c >= 0x7f) {
          out += fmt::format("\\x{:02x}", c);
        } else {
          out += ch;
        }
    }
  }
  return out;
}

// True when `line` (without CRLF) can be an `S:` line byte for byte.
bool Printable(std::string_view line) {
  return std::all_of(line.begin(), line.end(), [](char ch) {
    unsigned char c = static_cast<unsigned char>(ch);
    return (c >= 0x20 && c < 0x7f) || c == '\t';
  });
}

// Appends the steps that queue `bytes`: S: for whole printable lines, send
// for anything else.
// Queues `bytes` as S: lines; a line tagged with `tag` (non-empty) starts
// with `$tag` instead.
void QueueSteps(std::string_view bytes, std::string_view tag,
                std::string* out) {
  while (!bytes.empty()) {
    size_t end = bytes.find("\r\n");
    std::string_view line = bytes.substr(0, end);
    if (end != std::string_view::npos && Printable(line)) {
      if (!tag.empty() && line.size() > tag.size() && line.starts_with(tag) &&
          line[tag.size()] == ' ') {
        *out += fmt::format("S: $tag{}\n", line.substr(tag.size()));
      } else {
        *out += fmt::format("S: {}\n", line);
      }
      bytes.remove_prefix(end + 2);
      continue;
    }
    // Up to and including the next CRLF (or the end) as raw bytes.
    size_t take = end == std::string_view::npos ? bytes.size() : end + 2;
    *out += fmt::format("send data=\"{}\"\n", Escape(bytes.substr(0, take)));
    bytes.remove_prefix(take);
  }
}

std::string OneLine(std::string_view s) {
  std::string out(s);
  std::replace_if(
      out.begin(), out.end(), [](char c) { return c == '\n' || c == '\r'; },
      ' ');
  return out;
}

// Follows the server's replies to know what the client's next line is.
class ReplyTracker {
 public:
  explicit ReplyTracker(const protocol::Protocol& protocol)
      : protocol_(&protocol) {}

  // Feeds server bytes; returns nothing, updates the context.
  void Server(std::string_view bytes, ClientLineContext* ctx) {
    carry_ += bytes;
    size_t end;
    while ((end = carry_.find("\r\n")) != std::string::npos) {
      std::string line = carry_.substr(0, end);
      carry_.erase(0, end + 2);
      // A line of an answer over several lines says nothing, whatever it
      // looks like.
      if (framer_.Server(line) != AnswerFramer::Place::kOwn) continue;
      if (protocol_->IsContinuation(line)) ctx->auth_secret = true;
      if (!protocol_->IsFinalReply(line)) continue;
      ctx->auth_secret = protocol_->IsContinuation(line);
      if (message_command_) ctx->in_data = protocol_->IsMessageGoAhead(line);
      message_command_ = false;
    }
  }
  void Client(std::string_view line, ClientLineContext* ctx) {
    if (ctx->in_data) {
      if (line == ".") ctx->in_data = false;
      return;
    }
    if (ctx->auth_secret) {
      ctx->auth_secret = false;
      return;
    }
    message_command_ = protocol_->Classify(line) == protocol::Command::kMessage;
    framer_.Command(line);
    if (std::string_view tag = protocol_->Tag(line); !tag.empty()) {
      last_tag_ = std::string(tag);
    }
  }
  void Tls(ClientLineContext* ctx) {
    *ctx = {};
    carry_.clear();
    message_command_ = false;
    framer_.Reset();
  }
  // The tag of the client's last command; empty for a protocol without
  // tags.
  const std::string& last_tag() const { return last_tag_; }

 private:
  const protocol::Protocol* protocol_;
  std::string carry_;
  bool message_command_ = false;
  std::string last_tag_;
  AnswerFramer framer_{*protocol_};
};

std::string ReplaceDates(std::string line) {
  static const std::regex kDate(
      R"(((Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?\d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) \d{4} \d\d:\d\d(:\d\d)?( ([+-]\d{4}|[A-Z]{1,5}))?( \([A-Za-z ]+\))?)");
  return std::regex_replace(line, kDate, "*");
}

}  // namespace

std::string ClientPattern(std::string_view line,
                          const ClientLineContext& context, bool* secret,
                          const protocol::Protocol& protocol) {
  if (secret != nullptr) *secret = false;
  if (context.auth_secret) {
    if (secret != nullptr) *secret = !line.empty();
    return "*";
  }
  if (line.empty()) return "*";
  if (context.in_data) {
    static constexpr std::array kVolatileHeaders = {
        "Date:", "Message-Id:", "Received:"};
    for (const char* header : kVolatileHeaders) {
      if (StartsWithNoCase(line, header)) {
        return fmt::format("{} *", line.substr(0, std::strlen(header)));
      }
    }
    return ReplaceDates(std::string(line));
  }
  // A C: pattern matches the command without its tag.
  std::string_view command = protocol.CommandText(line);
  if (command.empty()) return "*";
  std::string_view verb = Verb(command);
  switch (protocol.Classify(line)) {
    case protocol::Command::kGreeting:
      // Its argument is the client's own name (EHLO, HELO, LHLO); the
      // pattern matches the bare verb too (IMAP's CAPABILITY).
      return fmt::format("{} *", verb);
    case protocol::Command::kCredentials: {
      // VERB [PUBLIC...] [SECRET...]: the mechanism (AUTH, AUTHENTICATE)
      // or the user name (IMAP LOGIN, POP3 USER and APOP) stays, as the
      // protocol says; what follows is a secret (all of POP3 PASS's).
      const int shown = protocol.PublicCredentialArguments(line);
      std::string_view rest = command.substr(verb.size());
      std::string out(verb);
      for (int k = 0;; ++k) {
        size_t first = rest.find_first_not_of(' ');
        if (first == std::string_view::npos) return out;
        rest.remove_prefix(first);
        if (k == shown) break;
        size_t end = std::min(rest.find(' '), rest.size());
        out += fmt::format(" {}", rest.substr(0, end));
        rest.remove_prefix(end);
      }
      if (secret != nullptr) *secret = true;
      return out + " *";
    }
    case protocol::Command::kTransaction: {
      static const std::regex kNumericParam(R"(( [A-Za-z-]+=)\d+(?= |$))");
      return std::regex_replace(std::string(command), kNumericParam, "$1*");
    }
    default:
      return std::string(command);
  }
}

std::string WriteScenario(const Transcript& transcript,
                          const WriteScenarioOptions& options) {
  std::string out;
  for (const std::string& c : options.comment) {
    out += c.empty() ? "#\n" : fmt::format("# {}\n", OneLine(c));
  }
  const auto& items = transcript.items;
  auto last_connection =
      std::find_if(items.rbegin(), items.rend(), [](const auto& i) {
        return i.kind == TranscriptItem::Kind::kConnection;
      }).base();
  bool tls = std::any_of(last_connection, items.end(), [](const auto& i) {
    return i.kind == TranscriptItem::Kind::kTls;
  });
  Expectation expect = options.expect.value_or(tls ? Expectation::kDeliver
                                                   : Expectation::kRefuse);
  std::string summary = OneLine(options.summary);
  if (summary.find_first_not_of(' ') == std::string::npos) summary = "imported";
  const protocol::Protocol& protocol = *options.protocol;
  out += fmt::format("Summary: {}\nHost: {}\n", summary, options.host);
  if (&protocol != &protocol::Smtp()) {
    out += fmt::format("Protocol: {}\n", protocol.name());
  }
  out += fmt::format("Expect: {}\n\n", ExpectationName(expect, protocol));

  ClientLineContext ctx;
  ReplyTracker tracker(protocol);
  bool last_was_tls = false;
  bool any_step = false;
  bool ended = false;
  for (size_t i = 0; i < items.size(); ++i) {
    const TranscriptItem& item = items[i];
    if (item.kind == TranscriptItem::Kind::kConnection) {
      if (last_was_tls || !any_step) out += "serve\n";
      out += "connection\n";
      ctx = ClientLineContext{};
      tracker = ReplyTracker(protocol);
      last_was_tls = false;
      any_step = false;
      ended = false;
      continue;
    }
    if (ended) continue;
    last_was_tls = false;
    any_step = true;
    switch (item.kind) {
      case TranscriptItem::Kind::kServer: {
        QueueSteps(item.bytes, tracker.last_tag(), &out);
        tracker.Server(item.bytes, &ctx);
        bool next_is_server =
            i + 1 < items.size() &&
            items[i + 1].kind == TranscriptItem::Kind::kServer;
        // The delay belongs before the segment goes out: `write delay=`
        // waits, then writes what is queued.
        auto delay = std::min(item.delay, std::chrono::milliseconds(3600000));
        if (options.min_delay && delay >= *options.min_delay &&
            delay.count() > 0) {
          out += fmt::format("write delay={}ms\n", delay.count());
        } else if (next_is_server) {
          out += "write\n";
        }
        break;
      }
      case TranscriptItem::Kind::kClient: {
        bool secret = false;
        std::string pattern = ClientPattern(item.bytes, ctx, &secret, protocol);
        // A pattern cannot hold control characters (the scenario parser
        // refuses them); the wildcard matches them (found by fuzz/).
        for (char& c : pattern) {
          if (static_cast<unsigned char>(c) < 0x20 && c != '\t') c = '*';
        }
        // Nor hold " | ", which separates alternatives: the wildcard stands
        // for the bar, so the pattern still matches this line and no other
        // alternative appears (found by fuzz/).
        for (size_t bar = pattern.find(" | "); bar != std::string::npos;
             bar = pattern.find(" | ", bar + 1)) {
          pattern[bar + 1] = '*';
        }
        // Nor be only blanks.
        if (pattern.find_first_not_of(" \t") == std::string::npos) {
          // Not `= "*"`: g++ 12 -O3 warns falsely there (-Wrestrict).
          pattern.assign(1, '*');
        }
        if (secret) out += "# a secret was sent here; it is not recorded\n";
        out += fmt::format("C: {}\n", pattern);
        tracker.Client(item.bytes, &ctx);
        break;
      }
      case TranscriptItem::Kind::kTls:
        out += "tls\n";
        tracker.Tls(&ctx);
        last_was_tls = true;
        break;
      case TranscriptItem::Kind::kServerClose:
        out += "close\n";
        ended = true;
        break;
      case TranscriptItem::Kind::kBodyUnknown:
        out +=
            "# The source does not show the message: the built-in responder "
            "takes over.\nserve\n";
        ended = true;
        break;
      case TranscriptItem::Kind::kConnection:
        break;  // handled above
    }
  }
  if (last_was_tls || !any_step) out += "serve\n";
  return out;
}

std::optional<ImportFormat> ParseImportFormat(std::string_view name) {
  if (name == "auto") return ImportFormat::kAuto;
  if (name == "telnet") return ImportFormat::kTelnet;
  if (name == "script") return ImportFormat::kScript;
  if (name == "swaks") return ImportFormat::kSwaks;
  if (name == "curl") return ImportFormat::kCurl;
  if (name == "s_client") return ImportFormat::kSClient;
  return std::nullopt;
}

std::string_view ImportFormatName(ImportFormat format) {
  switch (format) {
    case ImportFormat::kAuto:
      return "auto";
    case ImportFormat::kTelnet:
      return "telnet";
    case ImportFormat::kScript:
      return "script";
    case ImportFormat::kSwaks:
      return "swaks";
    case ImportFormat::kCurl:
      return "curl";
    case ImportFormat::kSClient:
      return "s_client";
  }
  return "?";
}

tl::expected<Transcript, ImportError> ParseTranscript(
    std::string_view text, ImportFormat format,
    const protocol::Protocol& protocol) {
  if (format == ImportFormat::kAuto) format = Detect(text);
  const bool smtp = &protocol == &protocol::Smtp();
  switch (format) {
    case ImportFormat::kTelnet:
    case ImportFormat::kAuto:
    case ImportFormat::kSwaks:
    case ImportFormat::kSClient:
      // Telnet lines tell replies from typed commands by their SMTP reply
      // codes, swaks speaks SMTP only, and s_client's plain-text part here
      // is SMTP's.
      if (!smtp) {
        return unexpected(Error(
            1, fmt::format("the {} format reads SMTP sessions only; give a {} "
                           "session as S:/C: lines (--format script) or "
                           "curl -v output (--format curl)",
                           ImportFormatName(format), protocol.name())));
      }
      if (format == ImportFormat::kSClient) return ParseSClient(text);
      return format == ImportFormat::kSwaks ? ParseSwaks(text)
                                            : ParseTelnet(text);
    case ImportFormat::kScript:
      return ParseScript(text, protocol);
    case ImportFormat::kCurl:
      return ParseCurl(text, protocol);
  }
  return unexpected(Error(1, "unknown format"));
}

tl::expected<std::string, ImportError> ImportTranscript(
    std::string_view text, const ImportOptions& options) {
  ImportFormat format =
      options.format == ImportFormat::kAuto ? Detect(text) : options.format;
  auto transcript = ParseTranscript(text, format, *options.protocol);
  if (!transcript) return unexpected(transcript.error());
  std::string host = options.host.value_or("");
  std::vector<std::string> comment = {
      fmt::format("Imported by `starttls-mock import` from {} ({} format).",
                  options.source_name, ImportFormatName(format)),
      "Client lines are patterns: volatile parts are `*`, secrets were not "
      "copied."};
  if (!options.host) {
    if (IsHostName(transcript->host)) {
      host = transcript->host;
      comment.push_back("Host: the host the pasted command line connected to.");
    } else {
      host = "mail.example.test";
    }
  }
  comment.insert(comment.end(), transcript->notes.begin(),
                 transcript->notes.end());
  WriteScenarioOptions write{
      .comment = std::move(comment),
      .summary = options.summary.empty()
                     ? fmt::format("imported from {}", options.source_name)
                     : options.summary,
      .host = host,
      .expect = options.expect,
      .protocol = options.protocol};
  return WriteScenario(*transcript, write);
}

}  // namespace starttls::server
