// The SMTP client state machine: one message over one connection, upgraded
// with STARTTLS (RFC 3207) before any envelope data is sent.
#ifndef STARTTLS_CLIENT_SMTP_CLIENT_H_
#define STARTTLS_CLIENT_SMTP_CLIENT_H_

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "starttls/error.h"
#include "starttls/reply_parser.h"
#include "starttls/transport.h"

namespace starttls::client {

// What the client does about TLS on its one connection.
enum class TlsPolicy {
  // STARTTLS must succeed before anything else is sent: a missing, refused
  // or failed STARTTLS ends the session (kTlsUnavailable, kCertificate,
  // kHandshake...). MAIL, RCPT, DATA and AUTH are never sent unprotected.
  kRequireTls,
  // STARTTLS is used when offered; plain text only when it is not offered.
  // A STARTTLS that was attempted and refused or failed still ends the
  // session: the client never silently continues on that connection.
  kOpportunistic,
};

enum class AuthMechanism {
  kAny,    // PLAIN if offered, else LOGIN.
  kPlain,  // RFC 4616.
  kLogin,  // draft-murchison-sasl-login.
};

// SMTP AUTH (RFC 4954). Credentials are only ever sent over TLS, and the
// mechanism is chosen from the EHLO reply received over TLS; a server that
// offers none we may use fails the session with kAuth before anything is
// sent. Neither field appears in the transcript or in error messages.
struct Credentials {
  std::string user;
  std::string password;
  AuthMechanism mechanism = AuthMechanism::kAny;
};

// Per-phase bounds. Each wait ends at whichever comes first: its phase's
// bound, counted from the start of the wait, or the session deadline.
struct Timeouts {
  std::chrono::milliseconds greeting{10'000};   // The server's 220 banner.
  std::chrono::milliseconds reply{10'000};      // Each later reply; writes.
  std::chrono::milliseconds handshake{10'000};  // DoHandshake().
};

struct SessionOptions {
  TlsPolicy policy = TlsPolicy::kRequireTls;
  std::string ehlo_name = "localhost";
  std::string from;     // Envelope sender, without angle brackets.
  std::string to;       // Envelope recipient, without angle brackets.
  std::string message;  // RFC 5322 text, any line endings, not dot-stuffed.
  TlsOptions tls;
  std::optional<Credentials> auth;  // No AUTH when empty.
  Timeouts timeouts;
  Deadline session_deadline = Deadline::max();
  // Receives the transcript ("C: ...", "S: ...", "-- ... --"), if set. The
  // line "-- TLS handshake --" marks where TLS begins. Secrets are replaced
  // by placeholders such as "<password hidden>".
  std::function<void(std::string_view)> log;
};

struct DeliveryResult {
  bool tls = false;
  TlsInfo tls_info;   // Meaningful when `tls`.
  Reply final_reply;  // The server's acceptance of the message data.
};

// Delivers `options.message` over `transport`, which must be freshly
// connected, in deferred-handshake mode and not yet secure: greeting, EHLO,
// STARTTLS, DoHandshake(), EHLO again (capabilities from before TLS are
// forgotten), optional AUTH, MAIL, RCPT, DATA. Sends QUIT when the protocol
// still allows it, including after a refusal, but not after the connection
// became untrustworthy (unexpected plaintext, failed handshake, I/O error,
// truncated reply) nor in the middle of the message data. The caller closes
// the transport. A reply cut short by EOF is kProtocol, never success.
[[nodiscard]] tl::expected<DeliveryResult, Error> Deliver(
    Transport& transport, const SessionOptions& options);

// The bytes to send after the 354 reply to DATA: `message` with every line
// ending turned into CRLF, lines starting with "." dot-stuffed, and the
// terminating ".\r\n" (RFC 5321 section 4.5.2).
[[nodiscard]] std::string EncodeData(std::string_view message);

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_SMTP_CLIENT_H_
