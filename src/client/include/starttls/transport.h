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

// The lowest protocol version the client offers and accepts.
enum class TlsVersion { k1_2, k1_3 };

// How the server's certificate is verified. Verification is mandatory: there
// is no option to skip it. OpenSSL's default security level (system policy,
// /etc/ssl/openssl.cnf) is left as it is, never lowered.
struct TlsOptions {
  // PEM file of trusted CA certificates. With `cadir` also empty, the system
  // trust store is used.
  std::string cafile;
  // Name the certificate must match, and the SNI sent (unless it is an IP
  // address literal, which RFC 6066 forbids as SNI; then the certificate
  // must carry it as an iPAddress SAN). Required.
  std::string servername;
  // Directory of trusted CA certificates in OpenSSL's hashed layout
  // (`openssl rehash`); may be combined with `cafile`.
  std::string cadir;
  // PEM file of CRLs. When set, revocation is checked for every certificate
  // of the chain (X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL), so the
  // file must hold a current CRL from each issuing CA.
  std::string crlfile;
  TlsVersion min_version = TlsVersion::k1_2;
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

  // Starts TLS on the same connection: the deferred handshake. Precondition:
  // !secure(). The caller must not call it while it holds unread plaintext;
  // the transport fails with kUnexpectedPlaintext, never discarding them, if
  // the peer has already sent bytes nobody has read. Certificate failures are
  // kCertificate (the message names OpenSSL's verify reason), a passed
  // deadline kTimeout, bad local trust material kUsage, others kHandshake.
  // After a failure the connection must not be used for anything but
  // closing.
  [[nodiscard]] virtual tl::expected<TlsInfo, Error> DoHandshake(
      const TlsOptions& options, Deadline deadline) = 0;

  // True once DoHandshake() has succeeded.
  [[nodiscard]] virtual bool secure() const = 0;
};

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_TRANSPORT_H_
