// The real Transport: a non-blocking TCP socket, and OpenSSL over the same
// file descriptor once the SMTP layer asks for the handshake.
#ifndef STARTTLS_CLIENT_SOCKET_TRANSPORT_H_
#define STARTTLS_CLIENT_SOCKET_TRANSPORT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "starttls/error.h"
#include "starttls/ossl.h"
#include "starttls/transport.h"

namespace starttls::client {

// Writes can raise SIGPIPE when the peer has gone; the process must ignore
// SIGPIPE (starttls-client does) so that they fail with kConnectionLost.
class SocketTransport final : public Transport {
 public:
  // Resolves `host` (IPv4 or IPv6) and connects to the first address that
  // accepts. The connection is in deferred-handshake mode: it carries plain
  // text, and never touches TLS until DoHandshake() is called. Fails with
  // kConnect, or kTimeout once `deadline` passes. Name resolution itself
  // (getaddrinfo) cannot be bounded by the deadline.
  [[nodiscard]] static tl::expected<std::unique_ptr<SocketTransport>, Error>
  Connect(const std::string& host, std::uint16_t port, Deadline deadline);

  SocketTransport(const SocketTransport&) = delete;
  SocketTransport& operator=(const SocketTransport&) = delete;
  ~SocketTransport() override;

  [[nodiscard]] tl::expected<std::string, Error> Read(
      std::size_t max, Deadline deadline) override;
  [[nodiscard]] tl::expected<void, Error> Write(std::string_view data,
                                                Deadline deadline) override;
  [[nodiscard]] tl::expected<TlsInfo, Error> DoHandshake(
      const TlsOptions& options, Deadline deadline) override;
  [[nodiscard]] bool secure() const override { return ssl_ != nullptr; }

  // "[::1]:2525" style name of the connected peer, for transcripts.
  [[nodiscard]] const std::string& peer() const { return peer_; }
  // The socket, for poll(); reading or writing it directly bypasses TLS.
  [[nodiscard]] int native_handle() const { return fd_; }

  // Sends a TLS close_notify if secure (best effort, without waiting for the
  // peer's) and closes the socket. Idempotent; the destructor calls it.
  void Close();

 private:
  SocketTransport(int fd, std::string peer);

  // Waits until `events` are ready on the socket or `deadline` passes.
  [[nodiscard]] tl::expected<void, Error> Wait(short events, Deadline deadline,
                                               std::string_view what) const;
  // For an SSL_get_error() result: waits for the socket when OpenSSL wants
  // to read or write and returns true (retry the call); false for any other
  // result, which the caller handles.
  [[nodiscard]] tl::expected<bool, Error> WaitForTls(
      int ssl_error, Deadline deadline, std::string_view what) const;

  int fd_;
  std::string peer_;
  ossl::SslCtxPtr ctx_;
  ossl::SslPtr ssl_;  // Non-null exactly when the handshake succeeded.
  // A fatal TLS error forbids SSL_shutdown (see its manual page).
  bool tls_failed_ = false;
};

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_SOCKET_TRANSPORT_H_
