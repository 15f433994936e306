// Error values of the reference STARTTLS client, and the stable exit codes
// and names the orchestration relies on.
#ifndef STARTTLS_CLIENT_ERROR_H_
#define STARTTLS_CLIENT_ERROR_H_

#include <string>
#include <string_view>

namespace starttls::client {

// Every failure the client can report. Each maps to exactly one exit code;
// the mapping is part of the harness contract, so never renumber.
enum class ErrorCode {
  kUsage,                // 2: bad command line or unusable local input
  kConnect,              // 3: no TCP connection could be established
  kProtocol,             // 4: malformed, unexpected or out-of-order reply
  kTlsUnavailable,       // 5: STARTTLS not offered, or answered non-220
  kUnexpectedPlaintext,  // 6: bytes followed the 220 reply to STARTTLS
  kCertificate,          // 7: the server's certificate failed verification
  kHandshake,            // 8: any other TLS handshake failure
  kTimeout,              // 9: a deadline expired
  kConnectionLost,       // 10: EOF or reset mid-session (also mid-reply)
  kRejected,             // 11: 4xx/5xx to MAIL, RCPT, DATA or end of data
  kAuth,                 // 12: AUTH refused, or no mechanism we may use
};

struct Error {
  ErrorCode code;
  std::string message;
};

// Exit status of a successful delivery.
inline constexpr int kExitDelivered = 0;

// The process exit status for `code` (2..12, see ErrorCode).
[[nodiscard]] int ExitCode(ErrorCode code);

// A stable, lower-case, hyphenated name such as "protocol-error".
[[nodiscard]] std::string_view ErrorName(ErrorCode code);

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_ERROR_H_
