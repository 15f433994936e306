// The IMAP client state machine: logs in over one connection upgraded with
// STARTTLS (RFC 2595 section 3.1, RFC 9051 section 6.2.1) and opens a
// mailbox. It always requires TLS: credentials are never sent in plain
// text, and there is nothing else an IMAP session could do without them.
#ifndef STARTTLS_CLIENT_IMAP_CLIENT_H_
#define STARTTLS_CLIENT_IMAP_CLIENT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "starttls/error.h"
#include "starttls/smtp_client.h"
#include "starttls/transport.h"

namespace starttls::client {

struct ImapSessionOptions {
  // kAny: AUTHENTICATE PLAIN when the capabilities over TLS offer
  // AUTH=PLAIN, else the LOGIN command unless they say LOGINDISABLED;
  // kPlain: AUTHENTICATE PLAIN only; kLogin: the LOGIN command only.
  Credentials credentials;
  std::string mailbox = "INBOX";
  TlsOptions tls;
  // greeting: the server's greeting; reply: each later response.
  Timeouts timeouts;
  Deadline session_deadline = Deadline::max();
  // Receives the transcript ("C: ...", "S: ...", "-- ... --"), as
  // SessionOptions::log; credentials are replaced by placeholders.
  std::function<void(std::string_view)> log;
};

struct LoginResult {
  TlsInfo tls_info;
  std::string mailbox;
  std::uint64_t exists = 0;  // messages in the mailbox, from SELECT
};

// Logs in and selects `options.mailbox` over `transport`, which must be
// freshly connected, in deferred-handshake mode and not yet secure:
// greeting, CAPABILITY (unless the greeting carried them), STARTTLS, the
// tagged OK with nothing after it, DoHandshake(), CAPABILITY again (what
// was learned before TLS is discarded, never merged), AUTHENTICATE or
// LOGIN, SELECT. A PREAUTH greeting, a missing or refused STARTTLS end the
// session (kTlsUnavailable); bytes after the tagged OK to STARTTLS are
// kUnexpectedPlaintext. Sends LOGOUT while the server still waits for a
// command on a connection worth talking over. The caller closes the
// transport.
[[nodiscard]] tl::expected<LoginResult, Error> LogIn(
    Transport& transport, const ImapSessionOptions& options);

// `text` as an IMAP quoted string (RFC 9051 section 4.3): in double quotes,
// with backslash and double quote escaped. Precondition: no CR, LF or NUL.
[[nodiscard]] std::string ImapQuoted(std::string_view text);

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_IMAP_CLIENT_H_
