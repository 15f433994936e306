// IMAP as the judge sees it: tagged commands ("a1 STARTTLS"), untagged
// ("* ...") and continuation ("+ ...") responses, each command ended by the
// tagged response with its own tag (RFC 9051 section 2.2.2); STARTTLS is
// answered with a tagged OK before the handshake (RFC 2595 section 3.1).
#include <algorithm>
#include <charconv>
#include <string>

#include "common/ascii.h"
#include "protocol/protocol.h"
#include "protocol/words.h"

namespace starttls::protocol {
namespace {

// The first word of a line and the rest after one space.

// A tag is any run of ASTRING-CHARs but "+" (RFC 9051 section 9); "*" and
// "+" begin untagged and continuation responses instead.
bool IsTag(std::string_view word) {
  return !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return c > 0x20 && c < 0x7f && c != '(' && c != ')' && c != '{' &&
           c != '%' && c != '*' && c != '"' && c != '\\' && c != '+';
  });
}

class ImapProtocol final : public Protocol {
 public:
  std::string_view name() const override { return "imap"; }
  std::string_view GoalVerb() const override { return "log-in"; }
  std::string_view GoalReached() const override { return "logged-in"; }
  std::string_view StartTlsRule() const override {
    return "RFC 2595 section 3.1 and RFC 9051 section 6.2.1";
  }
  std::string_view GreetingVerb() const override { return "CAPABILITY"; }

  // A command line is a tag, a space and the command; a line without a
  // space (an AUTHENTICATE response, IDLE's DONE) carries no tag.
  std::string_view Tag(std::string_view line) const override {
    std::string_view first = FirstWord(line);
    return IsTag(first) && first.size() < line.size() ? first
                                                      : std::string_view();
  }
  std::string_view CommandText(std::string_view line) const override {
    return Tag(line).empty() ? line : AfterFirstWord(line);
  }

  std::string Verb(std::string_view line) const override {
    if (!IsTag(FirstWord(line))) return "";
    return AsciiUpper(FirstWord(AfterFirstWord(line)));
  }

  Command Classify(std::string_view line) const override {
    // Every command of RFC 9051 and RFC 3501 and the common extensions a
    // mail reader sends; the mailbox commands work towards its goal.
    static constexpr VerbCommand kVerbs[] = {
        {"STARTTLS", Command::kStartTls},
        {"CAPABILITY", Command::kGreeting},
        {"LOGOUT", Command::kQuit},
        {"LOGIN", Command::kCredentials},
        {"AUTHENTICATE", Command::kCredentials},
        {"SELECT", Command::kTransaction},
        {"EXAMINE", Command::kTransaction},
        {"FETCH", Command::kTransaction},
        {"UID", Command::kTransaction},
        {"SEARCH", Command::kTransaction},
        {"STATUS", Command::kTransaction},
        {"LIST", Command::kTransaction},
        {"LSUB", Command::kTransaction},
        {"APPEND", Command::kTransaction},
        {"STORE", Command::kTransaction},
        {"COPY", Command::kTransaction},
        {"MOVE", Command::kTransaction},
        {"EXPUNGE", Command::kTransaction},
        {"CREATE", Command::kTransaction},
        {"DELETE", Command::kTransaction},
        {"RENAME", Command::kTransaction},
        {"SUBSCRIBE", Command::kTransaction},
        {"UNSUBSCRIBE", Command::kTransaction},
        {"CLOSE", Command::kTransaction},
        {"UNSELECT", Command::kTransaction},
        {"IDLE", Command::kTransaction},
        {"NOOP", Command::kOther},
        {"CHECK", Command::kOther},
        {"ENABLE", Command::kOther},
        {"ID", Command::kOther},
        {"NAMESPACE", Command::kOther},
    };
    return LookUpVerb(kVerbs, Verb(line));
  }

  bool IsCutShortQuit(std::string_view rest) const override {
    // "a9 LOGOUT\r\n" cut anywhere after the tag's space.
    if (!IsTag(FirstWord(rest)) || rest.find(' ') == std::string_view::npos) {
      return false;
    }
    return IsCutShort(AfterFirstWord(rest), "LOGOUT\r\n");
  }

  bool IsReplyLine(std::string_view line) const override {
    return line.starts_with("* ") || IsContinuation(line) || IsFinalReply(line);
  }
  std::string_view ReplyLineShape() const override {
    return "\"* \", \"+\" or a tag";
  }

  bool IsFinalReply(std::string_view line) const override {
    return IsTag(FirstWord(line)) && line.find(' ') != std::string_view::npos;
  }

  bool EndsReplyTo(std::string_view line,
                   std::string_view command) const override {
    return IsFinalReply(line) && FirstWord(line) == FirstWord(command);
  }

  // Untagged lines come before the tagged one that ends the response.
  std::optional<std::string_view> MultiLineAnswerEnd(
      std::string_view /*line*/, std::string_view /*command*/) const override {
    return std::nullopt;
  }
  std::string_view ReplyStatus(std::string_view final_line) const override {
    if (!IsFinalReply(final_line)) return {};
    return FirstWord(AfterFirstWord(final_line));
  }

  bool IsTlsGoAhead(std::string_view final_line) const override {
    return EqualsNoCase(ReplyStatus(final_line), "OK");
  }

  std::string_view TlsGoAheadStatus() const override { return "OK"; }

  // No IMAP command is kMessage: the judge's go-ahead for a message is
  // SMTP's DATA and 354. (APPEND's synchronizing literal, sent on a "+"
  // continuation, is not judged yet.)
  bool IsMessageGoAhead(std::string_view /*final_line*/) const override {
    return false;
  }

  std::optional<std::size_t> LiteralSize(std::string_view line) const override {
    if (line.empty() || line.back() != '}') return std::nullopt;
    size_t open = line.rfind('{');
    if (open == std::string_view::npos) return std::nullopt;
    std::string_view digits = line.substr(open + 1, line.size() - open - 2);
    if (!digits.empty() && digits.back() == '+') digits.remove_suffix(1);
    size_t size = 0;
    auto [end, ec] =
        std::from_chars(digits.data(), digits.data() + digits.size(), size);
    if (digits.empty() || ec != std::errc() ||
        end != digits.data() + digits.size()) {
      return std::nullopt;
    }
    return size;
  }

  bool IsContinuation(std::string_view line) const override {
    return line == "+" || line.starts_with("+ ");
  }

  bool MustGreetAfterTls() const override { return false; }

  // Each line of an IMAP response announces by itself: the last that does
  // is what the reply announces.
  std::optional<std::vector<std::string>> AnnouncedCapabilities(
      std::span<const std::string_view> reply,
      std::string_view /*command*/) const override {
    std::optional<std::vector<std::string>> last;
    for (std::string_view line : reply) {
      if (auto caps = LineCapabilities(line)) last = std::move(caps);
    }
    return last;
  }

  // RFC 9051 section 5.5: commands may be sent without waiting.
  bool MayPipeline() const override { return true; }

  // "* CAPABILITY a b" (RFC 9051 section 7.2.2), or the response code of a
  // status response: "* OK [CAPABILITY a b] ...", "a1 OK [CAPABILITY a b]".
  static std::optional<std::vector<std::string>> LineCapabilities(
      std::string_view line) {
    std::string upper = AsciiUpper(line);
    std::string_view list;
    if (upper.starts_with("* CAPABILITY ")) {
      list = line.substr(13);
    } else if (size_t open = upper.find("[CAPABILITY ");
               open != std::string::npos && open == upper.find('[')) {
      size_t close = upper.find(']', open);
      if (close == std::string::npos) return std::nullopt;
      list = line.substr(open + 12, close - open - 12);
    } else {
      return std::nullopt;
    }
    std::vector<std::string> caps;
    while (!list.empty()) {
      std::string_view word = FirstWord(list);
      if (!word.empty()) caps.emplace_back(word);
      list = word.size() < list.size() ? list.substr(word.size() + 1)
                                       : std::string_view();
    }
    return caps;
  }

  // Commands of the extensions a mail reader uses, each named by the
  // capability that announces it; the base commands of RFC 3501 need none.
  // LOGIN's user name, AUTHENTICATE's mechanism.
  int PublicCredentialArguments(std::string_view /*line*/) const override {
    return 1;
  }
  std::string RequiredCapability(std::string_view line) const override {
    std::string verb = Verb(line);
    // The capability names the argument: AUTH=PLAIN, COMPRESS=DEFLATE.
    if (verb == "AUTHENTICATE" || verb == "COMPRESS") {
      std::string argument =
          AsciiUpper(FirstWord(AfterFirstWord(AfterFirstWord(line))));
      if (argument.empty()) return {};
      return (verb == "AUTHENTICATE" ? "AUTH=" : "COMPRESS=") + argument;
    }
    static constexpr std::string_view kExtensions[] = {
        "IDLE", "ID", "ENABLE", "NAMESPACE", "UNSELECT", "MOVE"};
    for (std::string_view extension : kExtensions) {
      if (verb == extension) return verb;
    }
    return {};
  }

  std::string_view ForbiddingCapability(std::string_view line) const override {
    return Verb(line) == "LOGIN" ? "LOGINDISABLED" : std::string_view();
  }

  bool GreetingSkipsLogin(std::string_view line) const override {
    return AsciiUpper(line).starts_with("* PREAUTH");
  }
};

}  // namespace

const Protocol& Imap() {
  static const ImapProtocol imap;
  return imap;
}

}  // namespace starttls::protocol
