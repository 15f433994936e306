// The POP3 client state machine: logs in over one connection upgraded with
// STLS (RFC 2595 section 4) and downloads the maildrop. It always requires
// TLS: credentials are never sent in plain text, and there is nothing else
// a POP3 session could do without them.
#ifndef STARTTLS_CLIENT_POP3_CLIENT_H_
#define STARTTLS_CLIENT_POP3_CLIENT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "starttls/error.h"
#include "starttls/smtp_client.h"
#include "starttls/transport.h"

namespace starttls::client {

struct Pop3SessionOptions {
  // kAny: AUTH PLAIN when the capabilities over TLS offer SASL PLAIN, else
  // USER and PASS; kPlain: AUTH PLAIN only; kLogin: USER and PASS only.
  Credentials credentials;
  // RETR every message after logging in (else STAT only).
  bool retrieve = true;
  TlsOptions tls;
  // greeting: the server's greeting; reply: each later reply.
  Timeouts timeouts;
  Deadline session_deadline = Deadline::max();
  // Receives the transcript ("C: ...", "S: ...", "-- ... --"), as
  // SessionOptions::log; credentials are replaced by placeholders and
  // message lines are not shown.
  std::function<void(std::string_view)> log;
};

struct MaildropResult {
  TlsInfo tls_info;
  std::uint64_t messages = 0;  // from STAT
  std::uint64_t octets = 0;    // from STAT
  // Each message RETR returned, its lines joined with CRLF.
  std::vector<std::string> retrieved;
};

// Logs in over `transport`, which must be freshly connected, in
// deferred-handshake mode and not yet secure, and downloads the maildrop:
// the +OK greeting, CAPA, STLS, its +OK with nothing after it,
// DoHandshake(), CAPA again (what was learned before TLS is discarded,
// never merged), AUTH PLAIN or USER and PASS, STAT, RETR of every message,
// QUIT. A CAPA refused or without STLS, or a refused STLS, end the session
// (kTlsUnavailable); bytes after the +OK to STLS are kUnexpectedPlaintext.
// Sends QUIT while the server still waits for a command on a connection
// worth talking over. The caller closes the transport.
[[nodiscard]] tl::expected<MaildropResult, Error> RetrieveMail(
    Transport& transport, const Pop3SessionOptions& options);

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_POP3_CLIENT_H_
