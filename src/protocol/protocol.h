// The protocol seam: what a mail protocol's words mean to the judge and the
// scenario language. The judge never compares protocol text itself; it asks
// the scenario's Protocol (the `Protocol:` header, default smtp) whether a
// client line asks for TLS, carries credentials or starts a transaction,
// and whether a server line ends a reply and says go ahead.
//
// SMTP is the first implementation (smtp.cc); IMAP, with tagged commands
// ("a1 STARTTLS", answered "a1 OK"), the second (imap.cc); POP3, with
// status words ("STLS", answered "+OK") and answers over several lines, the
// third (pop3.cc). Nothing here assumes reply codes, verbs in the first
// column or CRLF-dot message bodies.
#ifndef STARTTLS_PROTOCOL_PROTOCOL_H_
#define STARTTLS_PROTOCOL_PROTOCOL_H_

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace starttls::protocol {

// What a client command does, as far as the oracles care.
enum class Command {
  kOther,        // anything else the protocol knows
  kStartTls,     // asks for TLS on this connection (SMTP STARTTLS)
  kGreeting,     // asks what the server offers, afresh (SMTP EHLO, HELO)
  kQuit,         // ends the session, trusting nothing (SMTP QUIT)
  kCredentials,  // carries credentials (SMTP AUTH)
  kTransaction,  // works towards the client's goal (SMTP MAIL, RCPT, BDAT)
  kMessage,      // asks to send the message itself next (SMTP DATA)
  kUnknown,      // not a command of this protocol (e.g. a message line)
};

class Protocol {
 public:
  virtual ~Protocol() = default;

  // As the `Protocol:` header and reports spell it: "smtp".
  [[nodiscard]] virtual std::string_view name() const = 0;

  // The client's goal as scenarios and reports word it: what Expect: asks
  // for ("deliver"; IMAP "log-in") and the outcome once reached
  // ("delivered"; IMAP "logged-in").
  [[nodiscard]] virtual std::string_view GoalVerb() const = 0;
  [[nodiscard]] virtual std::string_view GoalReached() const = 0;

  // Where the protocol's STARTTLS rules are written, as findings cite it
  // ("RFC 3207 section 4.2"), and the command that asks afresh what the
  // server offers (kGreeting: "EHLO"; IMAP "CAPABILITY").
  [[nodiscard]] virtual std::string_view StartTlsRule() const = 0;
  [[nodiscard]] virtual std::string_view GreetingVerb() const = 0;

  // The tag of a client command line (IMAP "a1" of "a1 NOOP"); empty for a
  // protocol without tags or a line without one.
  [[nodiscard]] virtual std::string_view Tag(std::string_view line) const = 0;
  // What a `C:` pattern matches of a client line: the line without its tag.
  [[nodiscard]] virtual std::string_view CommandText(
      std::string_view line) const = 0;

  // The command word of a client line, upper-cased: SMTP's first word; a
  // protocol with tags skips the tag.
  [[nodiscard]] virtual std::string Verb(std::string_view line) const = 0;
  // What the client line asks for.
  [[nodiscard]] virtual Command Classify(std::string_view line) const = 0;
  // True when `rest`, the last bytes a client sent before its session
  // ended, are the start of a quit (kQuit) command cut short: the client
  // still ended the session trusting nothing (SMTP "QU"; IMAP "a9 LOGO").
  [[nodiscard]] virtual bool IsCutShortQuit(std::string_view rest) const = 0;

  // True for a line a server sends as (part of) a reply: SMTP a line with a
  // reply code ("250-ok", "250 ok"); IMAP an untagged, continuation or
  // tagged response. ReplyLineShape() says what such a line starts with,
  // for messages about a line that is none.
  [[nodiscard]] virtual bool IsReplyLine(std::string_view line) const = 0;
  [[nodiscard]] virtual std::string_view ReplyLineShape() const = 0;
  // True for a server line that ends the reply to some command (SMTP "250
  // ok", not "250-ok"; IMAP a tagged line, not "* ..." or "+ ...").
  [[nodiscard]] virtual bool IsFinalReply(std::string_view line) const = 0;
  // True when server line `line` ends the reply to the client's `command`
  // line: SMTP answers commands in order, so any final reply after it does;
  // IMAP answers with the command's tag, whatever else comes between.
  [[nodiscard]] virtual bool EndsReplyTo(std::string_view line,
                                         std::string_view command) const = 0;
  // When `line`, the first line of the answer to client command `command`,
  // says that more lines follow: the line that ends them (POP3's "+OK" to
  // CAPA, RETR, TOP, or LIST and UIDL without an argument: "."). The lines
  // between have no shape of their own (a message line may read "+OK" or
  // "-ERR") and are told only by their place. nullopt otherwise, and always
  // in SMTP and IMAP, whose every line says whether it ends a reply.
  [[nodiscard]] virtual std::optional<std::string_view> MultiLineAnswerEnd(
      std::string_view line, std::string_view command) const = 0;
  // The status of a final reply as findings quote it (SMTP: its code).
  [[nodiscard]] virtual std::string_view ReplyStatus(
      std::string_view final_line) const = 0;
  // True when a final reply to kStartTls tells the client to start TLS.
  [[nodiscard]] virtual bool IsTlsGoAhead(
      std::string_view final_line) const = 0;
  // That go-ahead's status, as findings name it (SMTP: "220").
  [[nodiscard]] virtual std::string_view TlsGoAheadStatus() const = 0;
  // The size of the literal a server line announces at its end (IMAP
  // "... {210}" or "{210+}": 210 bytes follow the line's CRLF, then the
  // rest of the response); nullopt for a line that announces none, and
  // always for a protocol without literals.
  [[nodiscard]] virtual std::optional<std::size_t> LiteralSize(
      std::string_view line) const = 0;
  // True when a final reply to kMessage lets the client send its message.
  [[nodiscard]] virtual bool IsMessageGoAhead(
      std::string_view final_line) const = 0;
  // True for a server line that asks the client for the next part of its
  // command: the client's next line answers it and is no command (SMTP 334,
  // a SASL challenge; IMAP "+ ...", a continuation request).
  [[nodiscard]] virtual bool IsContinuation(std::string_view line) const = 0;

  // True when, once TLS is up, the client must first ask afresh (kGreeting)
  // and wait for the answer before anything else: SMTP, whose session
  // RFC 3207 resets to just after the greeting. False where asking again is
  // only advised and commands may be pipelined (IMAP: RFC 9051 section
  // 6.2.1 requires only that what was learned before TLS be discarded).
  [[nodiscard]] virtual bool MustGreetAfterTls() const = 0;

  // The capabilities `reply` announces, as spelled there; nullopt for a
  // reply that announces none. `reply` is the server lines of one reply, in
  // order, to client command `command`, or, with `command` empty, lines no
  // command asked for (a greeting, or lines sent behind another reply: what
  // a client that keeps them reads as its next answer). IMAP: the last
  // "* CAPABILITY ..." line or "[CAPABILITY ...]" response code among
  // them; POP3: the lines between "+OK" and "." of a multi-line answer to
  // CAPA, or of one nobody asked for. A protocol that does not judge
  // capabilities (SMTP, whose EHLO after TLS is judged instead) announces
  // none.
  [[nodiscard]] virtual std::optional<std::vector<std::string>>
  AnnouncedCapabilities(std::span<const std::string_view> reply,
                        std::string_view command) const = 0;
  // What one server line announces by itself, as a reply no command asked
  // for (a scripted line, a greeting).
  [[nodiscard]] std::optional<std::vector<std::string>> AnnouncedCapabilities(
      std::string_view line) const {
    const std::string_view one[] = {line};
    return AnnouncedCapabilities(one, {});
  }
  // The capability client command `line` relies on the server having
  // announced, upper-cased (IMAP "a3 AUTHENTICATE plain": "AUTH=PLAIN";
  // "a4 IDLE": "IDLE"); empty for a command every server has. Capability
  // names compare without regard to case.
  [[nodiscard]] virtual std::string RequiredCapability(
      std::string_view line) const = 0;
  // The capability whose announcement forbids client command `line` (IMAP
  // LOGIN: "LOGINDISABLED", RFC 9051 section 6.2.3); empty for none.
  [[nodiscard]] virtual std::string_view ForbiddingCapability(
      std::string_view line) const = 0;
  // True for a server greeting that puts the session past the point where
  // STARTTLS is allowed (IMAP "* PREAUTH": already authenticated, RFC 9051
  // section 7.1.4).
  [[nodiscard]] virtual bool GreetingSkipsLogin(
      std::string_view line) const = 0;
  // How many arguments of a kCredentials command line are no secret, so
  // that what is written of a session may keep them: the mechanism of SMTP
  // AUTH and IMAP AUTHENTICATE, the user name of IMAP LOGIN and POP3 USER
  // and APOP (1); none of POP3 PASS, whose one argument is the password (0).
  [[nodiscard]] virtual int PublicCredentialArguments(
      std::string_view line) const = 0;
  // True when a client may send its next command before the answer to the
  // last has come, with no capability to say so (IMAP, RFC 9051 section
  // 5.5). False where that takes a PIPELINING capability (SMTP, POP3),
  // which after TLS only an announcement over TLS can give: a client that
  // sends on before the answer to its first command over TLS has read one
  // from before TLS.
  [[nodiscard]] virtual bool MayPipeline() const = 0;
};

// The protocol named `name` ("smtp"); null for a name no protocol has.
[[nodiscard]] const Protocol* FindProtocol(std::string_view name);

// The names FindProtocol() knows, for error messages.
[[nodiscard]] std::span<const std::string_view> ProtocolNames();

// SMTP (RFC 5321, STARTTLS as RFC 3207 has it).
[[nodiscard]] const Protocol& Smtp();

// IMAP (RFC 9051 and RFC 3501, STARTTLS as RFC 2595 has it): tagged
// commands, untagged and tagged responses.
[[nodiscard]] const Protocol& Imap();

// POP3 (RFC 1939, CAPA as RFC 2449 has it, STLS as RFC 2595 section 4 has
// it): status lines "+OK" and "-ERR", some answers over more lines up to
// ".".
[[nodiscard]] const Protocol& Pop3();

}  // namespace starttls::protocol

#endif  // STARTTLS_PROTOCOL_PROTOCOL_H_
