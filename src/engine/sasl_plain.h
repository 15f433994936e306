// The server's side of SASL PLAIN (RFC 4616), shared by the responders that
// offer it (IMAP AUTHENTICATE, POP3 AUTH).
#ifndef STARTTLS_ENGINE_SASL_PLAIN_H_
#define STARTTLS_ENGINE_SASL_PLAIN_H_

#include <string_view>

namespace starttls::server {

// True when `base64` is a well-formed PLAIN response: base64 of
// "authzid NUL authcid NUL password" with a non-empty authcid. The mock
// accepts any such credentials.
[[nodiscard]] bool IsPlainResponse(std::string_view base64);

}  // namespace starttls::server

#endif  // STARTTLS_ENGINE_SASL_PLAIN_H_
