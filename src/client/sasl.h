// What the SMTP and IMAP clients share to send credentials: base64 as SASL
// uses it, the PLAIN message, and wiping a secret before it is freed.
// Internal to the client library.
#ifndef STARTTLS_CLIENT_SASL_H_
#define STARTTLS_CLIENT_SASL_H_

#include <string>
#include <string_view>

namespace starttls::client {

// RFC 4648 base64 with padding.
[[nodiscard]] std::string Base64(std::string_view in);

// The base64 PLAIN message (RFC 4616): empty authzid, NUL, user, NUL,
// password. The clear-text message is wiped before it is freed.
[[nodiscard]] std::string PlainToken(std::string_view user,
                                     std::string_view password);

// Overwrites a string that held a secret, then clears it.
void Wipe(std::string& secret);

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_SASL_H_
