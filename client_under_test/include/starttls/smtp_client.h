// The SMTP client state machine: one message over one connection, upgraded
// with STARTTLS (RFC 3207) before any envelope data is sent.
#ifndef STARTTLS_CLIENT_SMTP_CLIENT_H_
#define STARTTLS_CLIENT_SMTP_CLIENT_H_

#include <chrono>
#include <functional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "starttls/error.h"
#include "starttls/reply_parser.h"
#include "starttls/transport.h"

namespace starttls::client {

struct SessionOptions {
  // Without TLS required the policy is opportunistic: plain text is used only
  // when the server does not offer STARTTLS. A STARTTLS that was attempted
  // and failed always ends the session.
  bool require_tls = true;
  std::string ehlo_name = "localhost";
  std::string from;     // Envelope sender, without angle brackets.
  std::string to;       // Envelope recipient, without angle brackets.
  std::string message;  // RFC 5322 text, any line endings, not dot-stuffed.
  TlsOptions tls;
  // Bounds each reply and the TLS handshake; the session deadline bounds
  // the whole conversation. Each wait uses whichever comes first.
  std::chrono::milliseconds reply_timeout{10'000};
  Deadline session_deadline = Deadline::max();
  // Receives the transcript ("C: ...", "S: ...", "-- ... --"), if set.
  std::function<void(std::string_view)> log;
};

struct DeliveryResult {
  bool tls = false;
  TlsInfo tls_info;   // Meaningful when `tls`.
  Reply final_reply;  // The server's acceptance of the message data.
};

// Delivers `options.message` over `transport`, which must be freshly
// connected and not yet secure. Sends QUIT when the protocol still allows
// it, including after a refusal, but not after the connection became
// untrustworthy (unexpected plaintext, failed handshake, I/O error). The
// caller closes the transport.
[[nodiscard]] tl::expected<DeliveryResult, Error> Deliver(
    Transport& transport, const SessionOptions& options);

// The bytes to send after the 354 reply to DATA: `message` with every line
// ending turned into CRLF, lines starting with "." dot-stuffed, and the
// terminating ".\r\n" (RFC 5321 section 4.5.2).
[[nodiscard]] std::string EncodeData(std::string_view message);

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_SMTP_CLIENT_H_
