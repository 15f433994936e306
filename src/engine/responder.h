// The built-in responder: the server half of a protocol, answering what the
// scenario hands over to it with `serve` (or a client that leaves the
// script). One implementation per protocol (smtp_responder.h for SMTP,
// imap_responder.h for IMAP, pop3_responder.h for POP3); MakeResponder()
// picks the scenario's.
//
// A responder performs no I/O: the session feeds it client lines and
// carries out the actions it returns, so it can be tested without a
// network.
#ifndef STARTTLS_ENGINE_RESPONDER_H_
#define STARTTLS_ENGINE_RESPONDER_H_

#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "events/session_record.h"
#include "protocol/protocol.h"
#include "scenario/scenario.h"

namespace starttls::server {

struct ResponderConfig {
  std::string hostname = "mail.example.test";
  // Capabilities offered (SMTP's EHLO keywords, IMAP's CAPABILITY list,
  // POP3's CAPA lines).
  // STARTTLS is withdrawn once TLS is active; capabilities the responder
  // does not implement are never offered.
  std::vector<std::string> capabilities;
  // Largest message accepted; a "SIZE n" capability overrides it.
  size_t max_message_size = 10 * 1024 * 1024;
};

class Responder {
 public:
  enum class Action { kNone, kStartTls, kClose };
  struct Response {
    std::string reply;  // complete reply lines with their line ends
    Action action = Action::kNone;
  };

  virtual ~Responder() = default;

  // What the server says first when the scenario leaves that to the
  // responder (a scenario that is only `serve`).
  [[nodiscard]] virtual std::string Greeting() const = 0;
  // The answer to a client line longer than the engine reads.
  [[nodiscard]] virtual std::string LineTooLong() const = 0;
  // The answer to the client's quit command `line` (protocol::Command::kQuit)
  // once the script is over.
  [[nodiscard]] virtual std::string QuitReply(std::string_view line) const = 0;

  // Handles one client line, given without its line ending, and answers it
  // as this server would, repeating any answer the script gave instead (see
  // ScriptLine).
  [[nodiscard]] virtual Response OnLine(std::string_view line) = 0;

  // The script, not the responder, answers this client line: the responder
  // follows the line's effect on the protocol state and then reads the
  // script's answer through ScriptLine(), so that `serve` can take over at
  // any point.
  virtual void FollowScriptedLine(std::string_view line) = 0;

  // One line the script sent (without its line end); see the
  // implementation for how a scripted answer is remembered.
  virtual void ScriptLine(std::string_view line) = 0;

  // What an `S:` line's text or a `send` step's bytes send, the protocol's
  // placeholders filled in (IMAP: "$tag", the tag of the client's last
  // command). The text as it is for a protocol without any.
  [[nodiscard]] virtual std::string ScriptText(std::string_view text) const {
    return std::string(text);
  }

  // True when a client may send `line` at any point of the session without
  // taking another path (SMTP: EHLO, HELO, NOOP, RSET outside DATA). The
  // session lets the responder answer such a line while the script waits
  // for something else.
  [[nodiscard]] virtual bool IsDetour(std::string_view line) const = 0;

  // True when `line` is part of a message the client is sending and not its
  // end (SMTP: any line after DATA's 354 but the lone "."). A script waiting
  // for the end (`C: .`) lets such lines pass to FollowScriptedLine().
  [[nodiscard]] virtual bool IsMessageContent(std::string_view line) const {
    (void)line;
    return false;
  }

  // The session calls this once TLS is established: the server forgets
  // everything learned before (RFC 3207 section 4.2).
  virtual void OnTlsStarted() = 0;

  // The client reached its protocol's goal (SMTP: delivered a message;
  // IMAP: logged in).
  [[nodiscard]] virtual bool reached_goal() const = 0;
  // The messages the client delivered (SMTP); empty for other protocols.
  [[nodiscard]] virtual const std::vector<ReceivedMessage>& messages()
      const = 0;
};

// The responder of `protocol`, configured by `config`.
[[nodiscard]] std::unique_ptr<Responder> MakeResponder(
    const protocol::Protocol& protocol, ResponderConfig config);

// The capabilities the responder offers on connection `connection` of
// `scenario`: its Capabilities header, else what the script itself
// advertises on that connection (SMTP: its last EHLO reply; IMAP: its last
// CAPABILITY list), else the protocol responder's defaults.
[[nodiscard]] std::vector<std::string> ResponderCapabilities(
    const Scenario& scenario, int connection = 1);

}  // namespace starttls::server

#endif  // STARTTLS_ENGINE_RESPONDER_H_
