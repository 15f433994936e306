// The built-in SMTP responder: a small RFC 5321 server state machine that
// answers whatever the scenario hands over to it with `serve`.
//
// It performs no I/O: the session feeds it client lines and carries out the
// actions it returns, so it can be tested without a network.
#ifndef STARTTLS_SERVER_RESPONDER_H_
#define STARTTLS_SERVER_RESPONDER_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace starttls::server {

struct ResponderConfig {
  std::string hostname = "mail.example.test";
  // EHLO keywords offered. STARTTLS is withdrawn once TLS is active; the
  // keywords of extensions the responder does not implement are never offered.
  std::vector<std::string> capabilities;
  // Largest message accepted; a "SIZE n" capability overrides it.
  size_t max_message_size = 10 * 1024 * 1024;
};

struct ReceivedMessage {
  std::string mail_from;
  std::vector<std::string> rcpt_to;
  std::string data;  // dot-unstuffed, CRLF line endings, without the final "."
  bool over_tls = false;
};

class Responder {
 public:
  enum class Action { kNone, kStartTls, kClose };
  struct Response {
    std::string reply;  // complete reply lines with CRLF; empty inside DATA
    Action action = Action::kNone;
  };

  explicit Responder(ResponderConfig config);

  // Handles one client line, given without its line ending.
  [[nodiscard]] Response OnLine(std::string_view line);

  // The session calls this once TLS is established: RFC 3207 section 4.2
  // requires the server to forget everything learned before.
  void OnTlsStarted();

  [[nodiscard]] bool tls_active() const { return tls_active_; }
  [[nodiscard]] bool in_data() const { return state_ == State::kData; }
  [[nodiscard]] const std::vector<ReceivedMessage>& messages() const {
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

  ResponderConfig config_;
  State state_ = State::kInitial;
  bool tls_active_ = false;
  ReceivedMessage current_;
  size_t data_size_ = 0;
  std::vector<ReceivedMessage> messages_;
};

}  // namespace starttls::server

#endif  // STARTTLS_SERVER_RESPONDER_H_
