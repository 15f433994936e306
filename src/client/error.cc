#include "starttls/error.h"

namespace starttls::client {

int ExitCode(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUsage:
      return 2;
    case ErrorCode::kConnect:
      return 3;
    case ErrorCode::kProtocol:
      return 4;
    case ErrorCode::kTlsUnavailable:
      return 5;
    case ErrorCode::kUnexpectedPlaintext:
      return 6;
    case ErrorCode::kCertificate:
      return 7;
    case ErrorCode::kHandshake:
      return 8;
    case ErrorCode::kTimeout:
      return 9;
    case ErrorCode::kConnectionLost:
      return 10;
    case ErrorCode::kRejected:
      return 11;
    case ErrorCode::kAuth:
      return 12;
  }
  return 4;  // Unreachable for valid enumerators; -Wswitch guards new ones.
}

std::string_view ErrorName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kUsage:
      return "usage-error";
    case ErrorCode::kConnect:
      return "connect-failed";
    case ErrorCode::kProtocol:
      return "protocol-error";
    case ErrorCode::kTlsUnavailable:
      return "tls-unavailable";
    case ErrorCode::kUnexpectedPlaintext:
      return "unexpected-plaintext";
    case ErrorCode::kCertificate:
      return "certificate-rejected";
    case ErrorCode::kHandshake:
      return "handshake-failed";
    case ErrorCode::kTimeout:
      return "timeout";
    case ErrorCode::kConnectionLost:
      return "connection-lost";
    case ErrorCode::kRejected:
      return "message-rejected";
    case ErrorCode::kAuth:
      return "auth-failed";
  }
  return "protocol-error";
}

}  // namespace starttls::client
