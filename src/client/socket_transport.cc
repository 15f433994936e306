#include "starttls/socket_transport.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <utility>

#include "quote.h"

namespace starttls::client {
namespace {

tl::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return tl::unexpected(Error{code, std::move(message)});
}

std::string ErrnoText(int err) { return std::strerror(err); }

// Describes a failed SSL call from OpenSSL's error queue (emptying it), or
// from errno when the queue is empty, as after a plain EOF.
std::string TlsFailure(int saved_errno) {
  if (ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING) {
    ERR_clear_error();
    return "connection closed by server without TLS close_notify";
  }
  if (ERR_peek_error() != 0) return ossl::DrainErrors();
  if (saved_errno != 0) return ErrnoText(saved_errno);
  return "connection closed by server";
}

bool IsWouldBlock(int err) { return err == EAGAIN || err == EWOULDBLOCK; }

std::string FormatPeer(const sockaddr* addr, socklen_t len) {
  char host[NI_MAXHOST];
  char port[NI_MAXSERV];
  if (getnameinfo(addr, len, host, sizeof host, port, sizeof port,
                  NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
    return "?";
  }
  if (addr->sa_family == AF_INET6) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

bool IsIpLiteral(const std::string& name) {
  in6_addr buf;
  return inet_pton(AF_INET, name.c_str(), &buf) == 1 ||
         inet_pton(AF_INET6, name.c_str(), &buf) == 1;
}

// The first TLS record header the server sent. A handshake that fails on a
// header that is not a TLS handshake or alert record means the server
// answered the ClientHello with something else, typically plaintext that
// arrived too late for the MSG_PEEK check in DoHandshake().
struct FirstRecordHeader {
  bool seen = false;
  unsigned char bytes[5] = {};

  bool LooksLikeTls() const {
    return (bytes[0] == SSL3_RT_HANDSHAKE || bytes[0] == SSL3_RT_ALERT) &&
           bytes[1] == 3;
  }
};

void RecordFirstHeader(int write_p, int /*version*/, int content_type,
                       const void* buf, size_t len, SSL* /*ssl*/, void* arg) {
  auto* first = static_cast<FirstRecordHeader*>(arg);
  if (write_p || content_type != SSL3_RT_HEADER || first->seen ||
      len < sizeof first->bytes) {
    return;
  }
  first->seen = true;
  std::memcpy(first->bytes, buf, sizeof first->bytes);
}

// A client context that verifies the peer against the trust material in
// `options`. Unreadable trust material is kUsage: it is the caller's input.
tl::expected<ossl::SslCtxPtr, Error> MakeContext(const TlsOptions& options) {
  ossl::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  const int min_version =
      options.min_version == TlsVersion::k1_3 ? TLS1_3_VERSION : TLS1_2_VERSION;
  if (!ctx || SSL_CTX_set_min_proto_version(ctx.get(), min_version) != 1) {
    return Fail(ErrorCode::kHandshake, ossl::DrainErrors());
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  // OpenSSL only looks into the directory when it needs an issuer, so a
  // typo would surface as "unable to get local issuer certificate".
  if (std::error_code ec; !options.cadir.empty() &&
                          !std::filesystem::is_directory(options.cadir, ec)) {
    return Fail(
        ErrorCode::kUsage,
        fmt::format("CA directory {} is not a directory", options.cadir));
  }
  if (options.cafile.empty() && options.cadir.empty()) {
    if (SSL_CTX_set_default_verify_paths(ctx.get()) != 1) {
      return Fail(ErrorCode::kUsage,
                  fmt::format("cannot load the system trust store: {}",
                              ossl::DrainErrors()));
    }
  } else if (SSL_CTX_load_verify_locations(
                 ctx.get(),
                 options.cafile.empty() ? nullptr : options.cafile.c_str(),
                 options.cadir.empty() ? nullptr : options.cadir.c_str()) !=
             1) {
    return Fail(
        ErrorCode::kUsage,
        fmt::format("cannot load CA certificates from {}: {}",
                    options.cafile.empty() ? options.cadir : options.cafile,
                    ossl::DrainErrors()));
  }
  if (!options.crlfile.empty()) {
    X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
    X509_LOOKUP* lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file());
    if (lookup == nullptr || X509_load_crl_file(lookup, options.crlfile.c_str(),
                                                X509_FILETYPE_PEM) < 1) {
      return Fail(ErrorCode::kUsage,
                  fmt::format("cannot load CRLs from {}: {}", options.crlfile,
                              ossl::DrainErrors("no CRL in the file")));
    }
    X509_STORE_set_flags(store,
                         X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  return ctx;
}

}  // namespace

tl::expected<std::unique_ptr<SocketTransport>, Error> SocketTransport::Connect(
    const std::string& host, std::uint16_t port, Deadline deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* raw = nullptr;
  const int rc =
      getaddrinfo(host.c_str(), std::to_string(port).c_str(), &hints, &raw);
  if (rc != 0) {
    return Fail(ErrorCode::kConnect,
                fmt::format("cannot resolve {}: {}", host, gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(raw,
                                                               &freeaddrinfo);

  std::string failures;
  for (const addrinfo* ai = addresses.get(); ai != nullptr; ai = ai->ai_next) {
    std::string peer = FormatPeer(ai->ai_addr, ai->ai_addrlen);
    const int fd =
        socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
               ai->ai_protocol);
    if (fd < 0) {
      failures += fmt::format("{}{}: {}", failures.empty() ? "" : "; ", peer,
                              ErrnoText(errno));
      continue;
    }
    std::unique_ptr<SocketTransport> transport(
        new SocketTransport(fd, std::move(peer)));
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) return transport;
    if (errno != EINPROGRESS) {
      failures += fmt::format("{}{}: {}", failures.empty() ? "" : "; ",
                              transport->peer(), ErrnoText(errno));
      continue;
    }
    if (auto ready = transport->Wait(POLLOUT, deadline, "the connection");
        !ready) {
      return Fail(ready.error().code,
                  fmt::format("connecting to {}: {}", transport->peer(),
                              ready.error().message));
    }
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    if (err == 0) return transport;
    failures += fmt::format("{}{}: {}", failures.empty() ? "" : "; ",
                            transport->peer(), ErrnoText(err));
  }
  return Fail(
      ErrorCode::kConnect,
      fmt::format("cannot connect to {} port {}: {}", host, port, failures));
}

SocketTransport::SocketTransport(int fd, std::string peer)
    : fd_(fd), peer_(std::move(peer)) {}

SocketTransport::~SocketTransport() { Close(); }

void SocketTransport::Close() {
  if (fd_ < 0) return;
  if (ssl_ && !tls_failed_) {
    // One non-blocking attempt: the session is over either way, and waiting
    // for the peer's close_notify could only add a hang.
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
  }
  ssl_.reset();
  ctx_.reset();
  ::close(fd_);
  fd_ = -1;
}

tl::expected<void, Error> SocketTransport::Wait(short events, Deadline deadline,
                                                std::string_view what) const {
  while (true) {
    const auto now = Clock::now();
    if (now >= deadline) {
      return Fail(ErrorCode::kTimeout,
                  fmt::format("timed out waiting for {}", what));
    }
    const auto left =
        std::chrono::ceil<std::chrono::milliseconds>(deadline - now).count();
    pollfd p{fd_, events, 0};
    const int n =
        ::poll(&p, 1, static_cast<int>(std::min<long long>(left, INT_MAX)));
    if (n > 0) return {};  // Ready, or failed: the next I/O call says which.
    if (n < 0 && errno != EINTR) {
      return Fail(ErrorCode::kConnectionLost,
                  fmt::format("poll: {}", ErrnoText(errno)));
    }
  }
}

tl::expected<bool, Error> SocketTransport::WaitForTls(
    int ssl_error, Deadline deadline, std::string_view what) const {
  if (ssl_error != SSL_ERROR_WANT_READ && ssl_error != SSL_ERROR_WANT_WRITE) {
    return false;
  }
  auto ready =
      Wait(ssl_error == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT, deadline, what);
  if (!ready) return tl::unexpected(ready.error());
  return true;
}

tl::expected<std::string, Error> SocketTransport::Read(std::size_t max,
                                                       Deadline deadline) {
  if (fd_ < 0) return Fail(ErrorCode::kConnectionLost, "connection closed");
  std::string buf(std::max<std::size_t>(max, 1), '\0');
  while (true) {
    if (ssl_) {
      ERR_clear_error();
      errno = 0;
      std::size_t n = 0;
      if (SSL_read_ex(ssl_.get(), buf.data(), buf.size(), &n) == 1) {
        buf.resize(n);
        return buf;
      }
      const int saved_errno = errno;
      const int err = SSL_get_error(ssl_.get(), 0);
      if (auto retry = WaitForTls(err, deadline, "data from the server");
          !retry) {
        return tl::unexpected(retry.error());
      } else if (*retry) {
        continue;
      }
      if (err == SSL_ERROR_ZERO_RETURN) {
        return Fail(ErrorCode::kConnectionLost,
                    "server closed the TLS session");
      }
      // SYSCALL with errno 0 is an EOF without close_notify; either way the
      // session is gone.
      tls_failed_ = true;
      return Fail(ErrorCode::kConnectionLost,
                  fmt::format("TLS read: {}", TlsFailure(saved_errno)));
    }
    const ssize_t n = ::recv(fd_, buf.data(), buf.size(), 0);
    if (n > 0) {
      buf.resize(static_cast<std::size_t>(n));
      return buf;
    }
    if (n == 0) {
      return Fail(ErrorCode::kConnectionLost, "connection closed by server");
    }
    if (errno == EINTR) continue;
    if (!IsWouldBlock(errno)) {
      return Fail(ErrorCode::kConnectionLost,
                  fmt::format("recv: {}", ErrnoText(errno)));
    }
    if (auto w = Wait(POLLIN, deadline, "data from the server"); !w) {
      return tl::unexpected(w.error());
    }
  }
}

tl::expected<void, Error> SocketTransport::Write(std::string_view data,
                                                 Deadline deadline) {
  if (fd_ < 0) return Fail(ErrorCode::kConnectionLost, "connection closed");
  while (!data.empty()) {
    if (ssl_) {
      ERR_clear_error();
      errno = 0;
      std::size_t n = 0;
      if (SSL_write_ex(ssl_.get(), data.data(), data.size(), &n) == 1) {
        data.remove_prefix(n);
        continue;
      }
      const int saved_errno = errno;
      if (auto retry = WaitForTls(SSL_get_error(ssl_.get(), 0), deadline,
                                  "the socket to drain");
          !retry) {
        return tl::unexpected(retry.error());
      } else if (*retry) {
        continue;
      }
      tls_failed_ = true;
      return Fail(ErrorCode::kConnectionLost,
                  fmt::format("TLS write: {}", TlsFailure(saved_errno)));
    }
    const ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      data.remove_prefix(static_cast<std::size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    if (!IsWouldBlock(errno)) {
      return Fail(ErrorCode::kConnectionLost,
                  fmt::format("send: {}", ErrnoText(errno)));
    }
    if (auto w = Wait(POLLOUT, deadline, "the socket to drain"); !w) {
      return tl::unexpected(w.error());
    }
  }
  return {};
}

tl::expected<TlsInfo, Error> SocketTransport::DoHandshake(
    const TlsOptions& options, Deadline deadline) {
  if (fd_ < 0) return Fail(ErrorCode::kConnectionLost, "connection closed");
  if (ssl_) return Fail(ErrorCode::kHandshake, "TLS is already active");
  if (options.servername.empty()) {
    return Fail(ErrorCode::kUsage,
                "a server name is required to verify the certificate");
  }

  // The server must stay silent between its 220 and our ClientHello; bytes
  // already waiting here were sent in plaintext and must not be read as TLS
  // or, worse, as replies after the handshake (response injection).
  char probe[64];
  const ssize_t pending =
      ::recv(fd_, probe, sizeof probe, MSG_PEEK | MSG_DONTWAIT);
  if (pending > 0) {
    return Fail(
        ErrorCode::kUnexpectedPlaintext,
        fmt::format("server sent plaintext after its 220 reply to STARTTLS: {}",
                    Quote({probe, static_cast<std::size_t>(pending)})));
  }
  if (pending == 0) {
    return Fail(ErrorCode::kConnectionLost,
                "connection closed by server before the TLS handshake");
  }
  if (!IsWouldBlock(errno) && errno != EINTR) {
    return Fail(ErrorCode::kConnectionLost,
                fmt::format("recv: {}", ErrnoText(errno)));
  }

  ERR_clear_error();
  auto ctx = MakeContext(options);
  if (!ctx) return tl::unexpected(ctx.error());

  ossl::SslPtr ssl(SSL_new(ctx->get()));
  if (!ssl || SSL_set_fd(ssl.get(), fd_) != 1) {
    return Fail(ErrorCode::kHandshake, ossl::DrainErrors());
  }
  const std::string& name = options.servername;
  bool named = false;
  if (IsIpLiteral(name)) {
    named = X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()),
                                          name.c_str()) == 1;
  } else {
    SSL_set_hostflags(ssl.get(), X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    named = SSL_set_tlsext_host_name(ssl.get(), name.c_str()) == 1 &&
            SSL_set1_host(ssl.get(), name.c_str()) == 1;
  }
  if (!named) {
    return Fail(ErrorCode::kUsage,
                fmt::format("unusable server name {}: {}", Quote(name),
                            ossl::DrainErrors()));
  }

  FirstRecordHeader first;
  SSL_set_msg_callback(ssl.get(), &RecordFirstHeader);
  SSL_set_msg_callback_arg(ssl.get(), &first);
  while (true) {
    ERR_clear_error();
    errno = 0;
    const int rc = SSL_connect(ssl.get());
    if (rc == 1) break;
    const int saved_errno = errno;
    const int err = SSL_get_error(ssl.get(), rc);
    if (auto retry = WaitForTls(err, deadline, "the TLS handshake"); !retry) {
      return tl::unexpected(retry.error());
    } else if (*retry) {
      continue;
    }
    if (const long v = SSL_get_verify_result(ssl.get()); v != X509_V_OK) {
      ERR_clear_error();
      return Fail(ErrorCode::kCertificate,
                  fmt::format("certificate rejected: {} (X509 verify error "
                              "{})",
                              X509_verify_cert_error_string(v), v));
    }
    if (first.seen && !first.LooksLikeTls()) {
      return Fail(
          ErrorCode::kUnexpectedPlaintext,
          fmt::format("server answered the ClientHello with plaintext: {}",
                      Quote({reinterpret_cast<const char*>(first.bytes),
                             sizeof first.bytes})));
    }
    return Fail(ErrorCode::kHandshake, fmt::format("TLS handshake failed: {}",
                                                   TlsFailure(saved_errno)));
  }
  // `first` lives on this stack frame only.
  SSL_set_msg_callback(ssl.get(), nullptr);
  SSL_set_msg_callback_arg(ssl.get(), nullptr);

  // SSL_VERIFY_PEER already aborts on failure; this guards against a
  // handshake that completed without any certificate to verify.
  if (SSL_get0_peer_certificate(ssl.get()) == nullptr ||
      SSL_get_verify_result(ssl.get()) != X509_V_OK) {
    return Fail(ErrorCode::kCertificate,
                "certificate rejected: server presented no verified "
                "certificate");
  }
  TlsInfo info{SSL_get_version(ssl.get()), SSL_get_cipher_name(ssl.get())};
  ctx_ = std::move(*ctx);
  ssl_ = std::move(ssl);
  return info;
}

}  // namespace starttls::client
