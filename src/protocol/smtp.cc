// SMTP as the judge sees it: RFC 5321 commands and three-digit replies,
// STARTTLS answered 220 (RFC 3207), DATA answered 354.
#include <algorithm>
#include <cctype>

#include "common/ascii.h"
#include "protocol/protocol.h"
#include "protocol/words.h"

namespace starttls::protocol {
namespace {

bool StartsWithCode(std::string_view line) {
  return line.size() >= 3 &&
         std::isdigit(static_cast<unsigned char>(line[0])) &&
         std::isdigit(static_cast<unsigned char>(line[1])) &&
         std::isdigit(static_cast<unsigned char>(line[2]));
}

class SmtpProtocol final : public Protocol {
 public:
  std::string_view name() const override { return "smtp"; }
  std::string_view GoalVerb() const override { return "deliver"; }
  std::string_view GoalReached() const override { return "delivered"; }
  std::string_view StartTlsRule() const override {
    return "RFC 3207 section 4.2";
  }
  std::string_view GreetingVerb() const override { return "EHLO"; }

  std::string_view Tag(std::string_view /*line*/) const override { return {}; }
  std::string_view CommandText(std::string_view line) const override {
    return line;
  }

  std::string Verb(std::string_view line) const override {
    return AsciiUpper(FirstWord(line));
  }

  Command Classify(std::string_view line) const override {
    static constexpr VerbCommand kVerbs[] = {
        {"STARTTLS", Command::kStartTls}, {"EHLO", Command::kGreeting},
        {"HELO", Command::kGreeting},     {"LHLO", Command::kGreeting},
        {"QUIT", Command::kQuit},         {"AUTH", Command::kCredentials},
        {"MAIL", Command::kTransaction},  {"RCPT", Command::kTransaction},
        {"BDAT", Command::kTransaction},  {"DATA", Command::kMessage},
        {"RSET", Command::kOther},        {"NOOP", Command::kOther},
        {"VRFY", Command::kOther},        {"EXPN", Command::kOther},
        {"HELP", Command::kOther},
    };
    return LookUpVerb(kVerbs, Verb(line));
  }

  bool IsCutShortQuit(std::string_view rest) const override {
    return IsCutShort(rest, "QUIT\r\n");
  }

  bool IsReplyLine(std::string_view line) const override {
    return StartsWithCode(line) && line[0] >= '1' && line[0] <= '5' &&
           (line.size() == 3 || line[3] == ' ' || line[3] == '-');
  }
  std::string_view ReplyLineShape() const override {
    return "a reply code (three digits, then a space or '-')";
  }

  bool IsFinalReply(std::string_view line) const override {
    return StartsWithCode(line) && (line.size() == 3 || line[3] == ' ');
  }

  bool EndsReplyTo(std::string_view line,
                   std::string_view /*command*/) const override {
    return IsFinalReply(line);
  }

  // Every line of a multi-line reply repeats its code with a hyphen.
  std::optional<std::string_view> MultiLineAnswerEnd(
      std::string_view /*line*/, std::string_view /*command*/) const override {
    return std::nullopt;
  }
  std::string_view ReplyStatus(std::string_view final_line) const override {
    return IsFinalReply(final_line) ? final_line.substr(0, 3)
                                    : std::string_view();
  }

  bool IsTlsGoAhead(std::string_view final_line) const override {
    return ReplyStatus(final_line) == "220";
  }

  std::string_view TlsGoAheadStatus() const override { return "220"; }

  bool IsMessageGoAhead(std::string_view final_line) const override {
    return ReplyStatus(final_line) == "354";
  }

  std::optional<std::size_t> LiteralSize(
      std::string_view /*line*/) const override {
    return std::nullopt;
  }

  bool IsContinuation(std::string_view line) const override {
    return ReplyStatus(line) == "334";
  }

  // RFC 3207 section 4.2: the session restarts as after the greeting, and
  // MAIL needs an EHLO first (RFC 5321 section 4.1.4).
  bool MustGreetAfterTls() const override { return true; }

  // SMTP's capabilities are EHLO keywords, and a client that does not send
  // EHLO again over TLS is judged by MustGreetAfterTls; nothing here is
  // judged per capability.
  std::optional<std::vector<std::string>> AnnouncedCapabilities(
      std::span<const std::string_view> /*reply*/,
      std::string_view /*command*/) const override {
    return std::nullopt;
  }
  // AUTH's mechanism.
  int PublicCredentialArguments(std::string_view /*line*/) const override {
    return 1;
  }
  std::string RequiredCapability(std::string_view /*line*/) const override {
    return {};
  }
  std::string_view ForbiddingCapability(
      std::string_view /*line*/) const override {
    return {};
  }
  bool GreetingSkipsLogin(std::string_view /*line*/) const override {
    return false;
  }
  // RFC 2920: only where PIPELINING is offered, and EHLO is answered
  // before anything else anyway.
  bool MayPipeline() const override { return false; }
};

}  // namespace

const Protocol& Smtp() {
  static const SmtpProtocol smtp;
  return smtp;
}

}  // namespace starttls::protocol
