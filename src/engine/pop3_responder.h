// The built-in POP3 responder (responder.h): enough of a POP3 server (RFC
// 1939, CAPA as RFC 2449 has it, AUTH PLAIN as RFC 5034 has it) for real
// clients to log in and download the mailbox's two messages, with STLS as
// RFC 2595 section 4 has it.
//
// It performs no I/O: the session feeds it client lines and carries out the
// actions it returns, so it can be tested without a network.
#ifndef STARTTLS_ENGINE_POP3_RESPONDER_H_
#define STARTTLS_ENGINE_POP3_RESPONDER_H_

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/responder.h"
#include "scenario/step.h"

namespace starttls::server {

class Pop3Responder final : public Responder {
 public:
  explicit Pop3Responder(ResponderConfig config);

  // The capabilities a POP3 scenario's own script advertises: the lines of
  // its last answer to CAPA ("C: CAPA", then "S: +OK ...", the capability
  // lines and "S: ."), each line one capability with its arguments
  // ("SASL PLAIN"); nullopt when it answers no CAPA.
  [[nodiscard]] static std::optional<std::vector<std::string>>
  ScriptedCapabilities(std::span<const Step> steps);
  // What the responder offers when neither the scenario nor its script say.
  [[nodiscard]] static std::vector<std::string> DefaultCapabilities();

  // "+OK" with an APOP timestamp (RFC 1939 section 7).
  [[nodiscard]] std::string Greeting() const override;
  [[nodiscard]] std::string LineTooLong() const override;
  [[nodiscard]] std::string QuitReply(std::string_view line) const override;

  [[nodiscard]] Response OnLine(std::string_view line) override;

  // The script answers this line: the responder follows its effect on the
  // session (a user named, logged in, a message deleted).
  void FollowScriptedLine(std::string_view line) override;

  // One line the script sent. A "-ERR" answering the line last given to
  // FollowScriptedLine() undoes that line's effect; an STLS the script
  // answered "-ERR" is answered the same way every later time on this
  // connection until TLS starts, as a server that strips STLS would. A
  // "+OK" to PASS, APOP or AUTH logs the client in, whatever this
  // responder would have said.
  void ScriptLine(std::string_view line) override;

  // CAPA and NOOP may come at any point.
  [[nodiscard]] bool IsDetour(std::string_view line) const override;

  // RFC 2595 section 4: what was said before TLS no longer applies.
  void OnTlsStarted() override;

  // The goal of a POP3 client: it logged in (and may then download).
  [[nodiscard]] bool reached_goal() const override { return logged_in_; }
  [[nodiscard]] const std::vector<ReceivedMessage>& messages() const override {
    return no_messages_;
  }

  // The capability lines a CAPA would list now.
  [[nodiscard]] std::vector<std::string> AdvertisedCapabilities() const;
  [[nodiscard]] bool tls_active() const { return tls_active_; }
  [[nodiscard]] bool logged_in() const { return logged_in_; }

 private:
  enum class State { kAuthorization, kTransaction, kUpdate };

  Response Command(std::string_view verb, std::string_view args);
  Response Authorization(std::string_view verb, std::string_view args);
  Response Transaction(std::string_view verb, std::string_view args);
  Response Auth(std::string_view args);
  Response AuthResponse(std::string_view line);
  Response LoggedIn();
  // The message numbered by `arg` if it exists and is not deleted.
  std::optional<size_t> Message(std::string_view arg) const;
  bool Offers(std::string_view keyword) const;
  bool OffersMechanism(std::string_view mechanism) const;

  ResponderConfig config_;
  State state_ = State::kAuthorization;
  bool tls_active_ = false;
  bool logged_in_ = false;
  std::optional<std::string> user_;  // named by USER, waiting for PASS
  bool authenticating_ = false;      // AUTH PLAIN waiting for the response
  std::vector<bool> deleted_;
  // What FollowScriptedLine() needs to undo a refused command.
  struct Followed {
    std::string verb;
    State state;
    bool logged_in;
    std::optional<std::string> user;
    std::vector<bool> deleted;
  };
  std::optional<Followed> followed_;
  // verb -> the script's refusal, repeated for the rest of the connection.
  std::map<std::string, std::string> scripted_answers_;
  std::vector<ReceivedMessage> no_messages_;
};

}  // namespace starttls::server

#endif  // STARTTLS_ENGINE_POP3_RESPONDER_H_
