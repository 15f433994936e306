// POP3 as the judge sees it (RFC 1939, capabilities by CAPA as RFC 2449
// has them, STLS as RFC 2595 section 4 has it): commands without tags,
// answered in order with "+OK" or "-ERR"; the answers to CAPA, LIST and
// UIDL without an argument, RETR and TOP go on over more lines up to a
// line of one ".". TLS starts after the "+OK" to STLS.
#include <algorithm>
#include <span>
#include <string>

#include "common/ascii.h"
#include "protocol/protocol.h"
#include "protocol/words.h"

namespace starttls::protocol {
namespace {

bool IsStatus(std::string_view line, std::string_view status) {
  return line.size() >= status.size() &&
         EqualsNoCase(line.substr(0, status.size()), status) &&
         (line.size() == status.size() || line[status.size()] == ' ');
}
bool IsOk(std::string_view line) { return IsStatus(line, "+OK"); }
bool IsErr(std::string_view line) { return IsStatus(line, "-ERR"); }

class Pop3Protocol final : public Protocol {
 public:
  std::string_view name() const override { return "pop3"; }
  std::string_view GoalVerb() const override { return "log-in"; }
  std::string_view GoalReached() const override { return "logged-in"; }
  std::string_view StartTlsRule() const override {
    return "RFC 2595 section 4";
  }
  std::string_view GreetingVerb() const override { return "CAPA"; }

  std::string_view Tag(std::string_view /*line*/) const override { return {}; }
  std::string_view CommandText(std::string_view line) const override {
    return line;
  }

  std::string Verb(std::string_view line) const override {
    return AsciiUpper(FirstWord(line));
  }

  Command Classify(std::string_view line) const override {
    // RFC 1939's commands, CAPA (RFC 2449), STLS (RFC 2595) and AUTH (RFC
    // 5034). USER names the account: sent in plain text it gives away half
    // of the credentials, so it counts as credentials.
    static constexpr VerbCommand kVerbs[] = {
        {"STLS", Command::kStartTls},    {"CAPA", Command::kGreeting},
        {"QUIT", Command::kQuit},        {"USER", Command::kCredentials},
        {"PASS", Command::kCredentials}, {"APOP", Command::kCredentials},
        {"AUTH", Command::kCredentials}, {"STAT", Command::kTransaction},
        {"LIST", Command::kTransaction}, {"RETR", Command::kTransaction},
        {"TOP", Command::kTransaction},  {"UIDL", Command::kTransaction},
        {"DELE", Command::kTransaction}, {"NOOP", Command::kOther},
        {"RSET", Command::kOther},
    };
    return LookUpVerb(kVerbs, Verb(line));
  }

  bool IsCutShortQuit(std::string_view rest) const override {
    return !rest.empty() && IsCutShort(rest, "QUIT\r\n");
  }

  // A status line or a continuation. The lines inside a multi-line answer
  // (a capability, a listing, a message) have no shape of their own; only
  // their place after a "+OK" to such a command tells them apart.
  bool IsReplyLine(std::string_view line) const override {
    return IsOk(line) || IsErr(line) || IsContinuation(line) || line == ".";
  }
  std::string_view ReplyLineShape() const override {
    return "\"+OK\", \"-ERR\", \"+ \" or \".\"";
  }

  bool IsFinalReply(std::string_view line) const override {
    return IsOk(line) || IsErr(line) || line == ".";
  }

  // A command answered over more lines ends at the line ".", or at once
  // with "-ERR"; any other command with its status line.
  bool EndsReplyTo(std::string_view line,
                   std::string_view command) const override {
    if (IsErr(line)) return true;
    if (IsMultiLine(command)) return line == ".";
    return IsOk(line);
  }

  std::optional<std::string_view> MultiLineAnswerEnd(
      std::string_view line, std::string_view command) const override {
    if (IsOk(line) && IsMultiLine(command)) return ".";
    return std::nullopt;
  }
  std::string_view ReplyStatus(std::string_view final_line) const override {
    if (IsOk(final_line)) return "+OK";
    if (IsErr(final_line)) return "-ERR";
    return {};
  }

  bool IsTlsGoAhead(std::string_view final_line) const override {
    return IsOk(final_line);
  }
  std::string_view TlsGoAheadStatus() const override { return "+OK"; }

  std::optional<std::size_t> LiteralSize(
      std::string_view /*line*/) const override {
    return std::nullopt;
  }

  // POP3 has no command that sends a message to the server.
  bool IsMessageGoAhead(std::string_view /*final_line*/) const override {
    return false;
  }

  // A SASL challenge (RFC 5034 section 4): "+ " and base64, or a lone "+".
  bool IsContinuation(std::string_view line) const override {
    return line == "+" || line.starts_with("+ ");
  }

  // RFC 2595 section 4: capabilities learned before TLS must be discarded;
  // asking CAPA again is only advised.
  bool MustGreetAfterTls() const override { return false; }

  // The answer to CAPA: "+OK", a capability per line, then "." (RFC 2449
  // section 5). "SASL PLAIN LOGIN" names SASL=PLAIN and SASL=LOGIN as
  // well, the names RequiredCapability() asks for. A multi-line "+OK"
  // answer nobody asked for counts too: a client that keeps it reads it as
  // the answer to its next command, CAPA over TLS for a careful one (and
  // whatever else it holds, say a listing, names no capability a command
  // needs).
  std::optional<std::vector<std::string>> AnnouncedCapabilities(
      std::span<const std::string_view> reply,
      std::string_view command) const override {
    if ((!command.empty() && Verb(command) != "CAPA") || reply.size() < 2 ||
        !IsOk(reply.front()) || reply.back() != ".") {
      return std::nullopt;
    }
    std::vector<std::string> caps;
    for (std::string_view line : reply.subspan(1, reply.size() - 2)) {
      std::string keyword = AsciiUpper(FirstWord(line));
      if (keyword.empty()) continue;
      caps.push_back(keyword);
      if (keyword != "SASL") continue;
      for (std::string_view rest = AfterFirstWord(line); !rest.empty();
           rest = AfterFirstWord(rest)) {
        if (std::string_view mech = FirstWord(rest); !mech.empty()) {
          caps.push_back("SASL=" + AsciiUpper(mech));
        }
      }
    }
    return caps;
  }

  // AUTH needs its mechanism announced (RFC 5034 section 3); the other
  // commands are RFC 1939's and every server has them or says -ERR.
  int PublicCredentialArguments(std::string_view line) const override {
    return Verb(line) == "PASS" ? 0 : 1;
  }
  std::string RequiredCapability(std::string_view line) const override {
    if (Verb(line) != "AUTH") return {};
    std::string mech = AsciiUpper(FirstWord(AfterFirstWord(line)));
    return mech.empty() ? std::string() : "SASL=" + mech;
  }

  std::string_view ForbiddingCapability(
      std::string_view /*line*/) const override {
    return {};
  }

  bool GreetingSkipsLogin(std::string_view /*line*/) const override {
    return false;
  }

  // RFC 2449 section 6.6: only once PIPELINING is announced.
  bool MayPipeline() const override { return false; }

 private:
  // RFC 1939: LIST and UIDL without an argument, RETR, TOP; CAPA (RFC
  // 2449); AUTH without a mechanism lists the mechanisms (RFC 1734's
  // form, which servers still answer).
  static bool IsMultiLine(std::string_view command) {
    std::string verb = AsciiUpper(FirstWord(command));
    bool argument = !AfterFirstWord(command).empty();
    return verb == "CAPA" || verb == "RETR" || verb == "TOP" ||
           ((verb == "LIST" || verb == "UIDL" || verb == "AUTH") && !argument);
  }
};

}  // namespace

const Protocol& Pop3() {
  static const Pop3Protocol pop3;
  return pop3;
}

}  // namespace starttls::protocol
