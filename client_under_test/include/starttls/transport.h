// The byte stream the SMTP client talks over. It carries plain text until the
// SMTP layer explicitly calls DoHandshake() after the server's 220 reply to
// STARTTLS, and TLS from then on (RFC 3207's deferred handshake).
#ifndef STARTTLS_CLIENT_TRANSPORT_H_
#define STARTTLS_CLIENT_TRANSPORT_H_

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "starttls/error.h"

namespace starttls::client {

using Clock = std::chrono::steady_clock;
// Every blocking operation takes the instant by which it must give up.
using Deadline = Clock::time_point;

struct TlsOptions {
  // PEM file of trusted CA certificates; empty means the system trust store.
  std::string cafile;
  // Name the certificate must match, and the SNI sent (unless it is an IP
  // address literal, which RFC 6066 forbids as SNI; then the certificate
  // must carry it as an iPAddress SAN). Required: verification is mandatory.
  std::string servername;
};

struct TlsInfo {
  std::string version;  // e.g. "TLSv1.3"
  std::string cipher;   // e.g. "TLS_AES_256_GCM_SHA384"
};

class Transport {
 public:
  virtual ~Transport() = default;

  // Returns between 1 and `max` bytes. Fails with kConnectionLost on EOF or
  // reset and with kTimeout once `deadline` passes.
  [[nodiscard]] virtual tl::expected<std::string, Error> Read(
      std::size_t max, Deadline deadline) = 0;

  // Writes all of `data` or fails (kConnectionLost, kTimeout).
  [[nodiscard]] virtual tl::expected<void, Error> Write(std::string_view data,
                                                        Deadline deadline) = 0;

  // Starts TLS on the same connection. Precondition: !secure(). The caller
  // must not call it while it holds unread plaintext; the transport fails
  // with kUnexpectedPlaintext if the peer has already sent bytes it has not
  // read. Certificate failures are kCertificate, others kHandshake. After a
  // failure the connection must not be used for anything but closing.
  [[nodiscard]] virtual tl::expected<TlsInfo, Error> DoHandshake(
      const TlsOptions& options, Deadline deadline) = 0;

  // True once DoHandshake() has succeeded.
  [[nodiscard]] virtual bool secure() const = 0;
};

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_TRANSPORT_H_
