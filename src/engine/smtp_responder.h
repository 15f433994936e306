// The built-in SMTP responder (responder.h): a small RFC 5321 server state
// machine that answers whatever the scenario hands over to it with `serve`.
//
// It performs no I/O: the session feeds it client lines and carries out the
// actions it returns, so it can be tested without a network.
#ifndef STARTTLS_ENGINE_SMTP_RESPONDER_H_
#define STARTTLS_ENGINE_SMTP_RESPONDER_H_

#include <cstddef>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/responder.h"
#include "events/session_record.h"
#include "scenario/step.h"

namespace starttls::server {

class SmtpResponder final : public Responder {
 public:
  explicit SmtpResponder(ResponderConfig config);

  // The EHLO keywords an SMTP scenario's own script advertises: those of
  // its last scripted EHLO reply (none when that reply is one line or
  // refuses EHLO); nullopt when it scripts no EHLO reply.
  [[nodiscard]] static std::optional<std::vector<std::string>>
  ScriptedCapabilities(std::span<const Step> steps);
  // What the responder offers when neither the scenario nor its script say.
  [[nodiscard]] static std::vector<std::string> DefaultCapabilities();

  [[nodiscard]] std::string Greeting() const override;
  [[nodiscard]] std::string LineTooLong() const override;
  [[nodiscard]] std::string QuitReply(std::string_view line) const override;

  // Handles one client line, given without its line ending, and answers it
  // as this server would, repeating any answer the script gave instead (see
  // ScriptLine).
  [[nodiscard]] Response OnLine(std::string_view line) override;

  // The script, not the responder, answers this client line: the responder
  // follows the line's effect on the protocol state and then reads the
  // script's answer through ScriptLine(), so that `serve` can take over at
  // any point.
  void FollowScriptedLine(std::string_view line) override;

  // One line the script sent (without CR LF). When it completes the
  // script's reply to the line last given to FollowScriptedLine() (an SMTP
  // final reply line) the responder takes the script's word: a command the
  // script refused (4xx or 5xx) leaves the state as it was before it, and a
  // command the script refused or answered without granting what the
  // responder would have granted (STARTTLS answered otherwise than 220) is
  // answered the same way every later time on this connection until TLS
  // starts, as a server that strips STARTTLS would. Lines that are not a
  // reply the responder waits for are ignored (greetings, injected lines).
  void ScriptLine(std::string_view line) override;

  // A line after DATA's 354 other than the lone "." that ends the message.
  [[nodiscard]] bool IsMessageContent(std::string_view line) const override;
  // True when a client may send `line` at any point of the session without
  // taking another path: SMTP's EHLO, HELO, NOOP and RSET outside DATA
  // (RFC 5321 4.1.4). The session lets the responder answer such a line while
  // the script waits for something else.
  [[nodiscard]] bool IsDetour(std::string_view line) const override;

  // The session calls this once TLS is established: RFC 3207 section 4.2
  // requires the server to forget everything learned before.
  void OnTlsStarted() override;

  [[nodiscard]] bool tls_active() const { return tls_active_; }
  [[nodiscard]] bool in_data() const { return state_ == State::kData; }
  [[nodiscard]] bool reached_goal() const override {
    return !messages_.empty();
  }
  [[nodiscard]] const std::vector<ReceivedMessage>& messages() const override {
    return messages_;
  }
  // The keywords an EHLO would advertise now.
  [[nodiscard]] std::vector<std::string> AdvertisedCapabilities() const;

 private:
  enum class State { kInitial, kGreeted, kMail, kRcpt, kData };

  Response Ehlo(std::string_view arg, bool extended);
  Response Mail(std::string_view arg);
  Response Rcpt(std::string_view arg);
  Response DataLine(std::string_view line);
  bool Offers(std::string_view keyword) const;
  void ResetTransaction();

  // What FollowScriptedLine() needs to undo a refused command.
  struct Followed {
    std::string verb;
    std::string reply_code;  // the responder's own answer's code
    Action action = Action::kNone;
    State state = State::kInitial;
    ReceivedMessage current;
    size_t data_size = 0;
    size_t messages = 0;
  };

  ResponderConfig config_;
  std::optional<Followed> followed_;
  // verb -> the script's answer, repeated for the rest of the connection.
  std::map<std::string, std::string> scripted_answers_;
  State state_ = State::kInitial;
  bool tls_active_ = false;
  ReceivedMessage current_;
  size_t data_size_ = 0;
  std::vector<ReceivedMessage> messages_;
};

}  // namespace starttls::server

#endif  // STARTTLS_ENGINE_SMTP_RESPONDER_H_
