// The built-in IMAP responder (responder.h): enough of an IMAP server
// (RFC 9051, with RFC 3501's IMAP4rev1 words) for real clients to log in,
// list, select and fetch mail from an INBOX of two messages, with STARTTLS
// as RFC 2595 has it.
//
// It performs no I/O: the session feeds it client lines and carries out the
// actions it returns, so it can be tested without a network.
#ifndef STARTTLS_ENGINE_IMAP_RESPONDER_H_
#define STARTTLS_ENGINE_IMAP_RESPONDER_H_

#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "engine/responder.h"
#include "scenario/step.h"

namespace starttls::server {

class ImapResponder final : public Responder {
 public:
  explicit ImapResponder(ResponderConfig config);

  // The capabilities an IMAP scenario's own script advertises: its last
  // "* CAPABILITY ..." line or "[CAPABILITY ...]" response code; nullopt
  // when it advertises none.
  [[nodiscard]] static std::optional<std::vector<std::string>>
  ScriptedCapabilities(std::span<const Step> steps);
  // What the responder offers when neither the scenario nor its script say.
  [[nodiscard]] static std::vector<std::string> DefaultCapabilities();

  [[nodiscard]] std::string Greeting() const override;
  [[nodiscard]] std::string LineTooLong() const override;
  [[nodiscard]] std::string QuitReply(std::string_view line) const override;

  [[nodiscard]] Response OnLine(std::string_view line) override;

  // The script answers this line: the responder follows its effect on the
  // session state (logged in, mailbox selected) and remembers its tag.
  void FollowScriptedLine(std::string_view line) override;

  // One line the script sent. A "* PREAUTH" greeting puts the session in
  // the authenticated state (RFC 9051 section 7.1.4). A tagged NO or BAD
  // with the tag of the line last given to FollowScriptedLine() undoes that
  // line's effect; a
  // STARTTLS the script answered otherwise than OK is answered the same way
  // every later time on this connection until TLS starts, as a server that
  // strips STARTTLS would.
  void ScriptLine(std::string_view line) override;

  // "$tag" in a scripted line stands for the tag of the client's last
  // command, "$tag+1" for the tag a client that counts sends next: its
  // trailing number plus one, at the same width ("A0009" then "A0010";
  // a tag without digits gets a "1").
  [[nodiscard]] std::string ScriptText(std::string_view text) const override;

  // CAPABILITY and NOOP may come at any point (RFC 9051 section 6.1).
  [[nodiscard]] bool IsDetour(std::string_view line) const override;

  // RFC 2595 section 3.1 and RFC 9051 section 6.2.1: the server forgets
  // what was said before TLS, and the client must ask for capabilities
  // again.
  void OnTlsStarted() override;

  // The goal of an IMAP client: it logged in, or had a mailbox opened (after
  // a PREAUTH greeting nobody logs in).
  [[nodiscard]] bool reached_goal() const override {
    return logged_in_ || opened_mailbox_;
  }
  [[nodiscard]] const std::vector<ReceivedMessage>& messages() const override {
    return no_messages_;
  }

  // The capabilities a CAPABILITY command would list now.
  [[nodiscard]] std::vector<std::string> AdvertisedCapabilities() const;
  [[nodiscard]] bool tls_active() const { return tls_active_; }
  [[nodiscard]] bool logged_in() const { return logged_in_; }

 private:
  enum class State { kNotAuthenticated, kAuthenticated, kSelected, kLogout };

  Response Command(std::string_view tag, std::string_view verb,
                   std::string_view args);
  Response Login(std::string_view tag, std::string_view args);
  Response Authenticate(std::string_view tag, std::string_view args);
  Response AuthenticateResponse(std::string_view line);
  Response Select(std::string_view tag, std::string_view args, bool examine);
  Response Fetch(std::string_view tag, std::string_view args, bool uid);
  Response Search(std::string_view tag, bool uid);
  Response Status(std::string_view tag, std::string_view args);
  Response LoggedIn(std::string_view tag, std::string_view what);
  bool Offers(std::string_view capability) const;
  std::string CapabilityList() const;

  ResponderConfig config_;
  State state_ = State::kNotAuthenticated;
  bool tls_active_ = false;
  bool logged_in_ = false;
  bool examined_ = false;        // the selected mailbox is read-only
  bool opened_mailbox_ = false;  // a SELECT or EXAMINE succeeded
  std::string last_tag_;
  // An AUTHENTICATE waiting for the client's response line, by its tag.
  std::optional<std::string> authenticating_;
  // An IDLE waiting for DONE, by its tag.
  std::optional<std::string> idling_;
  // A command whose synchronizing literal ({n}) the client sends next: what
  // came before it, with the literal's placeholder.
  std::string continued_;
  // What FollowScriptedLine() needs to undo a refused command.
  struct Followed {
    std::string tag;
    std::string verb;
    State state;
    bool logged_in;
    bool examined;
    bool opened_mailbox;
  };
  std::optional<Followed> followed_;
  // verb -> the script's answer (after the tag), repeated for the rest of
  // the connection.
  std::map<std::string, std::string> scripted_answers_;
  std::vector<ReceivedMessage> no_messages_;
};

}  // namespace starttls::server

#endif  // STARTTLS_ENGINE_IMAP_RESPONDER_H_
