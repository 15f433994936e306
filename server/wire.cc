#include "server/wire.h"

#include <fmt/format.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <optional>

namespace starttls::server {
namespace {

using namespace asio::experimental::awaitable_operators;
using tl::unexpected;

// How long Close() waits for the client's FIN after sending its own.
constexpr std::chrono::seconds kLinger{2};

constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

WireError FromErrorCode(const asio::error_code& ec) {
  if (ec == asio::error::eof)
    return {WireError::Kind::kClosed, "the client closed the connection"};
  if (ec == asio::error::connection_reset || ec == asio::error::broken_pipe) {
    return {WireError::Kind::kReset, "the connection was reset"};
  }
  if (ec == asio::error::operation_aborted)
    return {WireError::Kind::kAborted, "aborted"};
  return {WireError::Kind::kIo, ec.message()};
}

}  // namespace

Wire::Wire(asio::ip::tcp::socket socket, EventLog* log)
    : socket_(std::move(socket)), timer_(socket_.get_executor()), log_(log) {}

std::string Wire::peer() const {
  asio::error_code ec;
  auto ep = socket_.remote_endpoint(ec);
  if (ec) return "?";
  return fmt::format("{}:{}", ep.address().to_string(), ep.port());
}

void Wire::Abort() {
  aborted_ = true;
  asio::error_code ignored;
  socket_.cancel(ignored);
  timer_.cancel();
}

asio::awaitable<WireResult<void>> Wire::SendRaw(std::string_view bytes,
                                                Layer layer,
                                                Deadline deadline) {
  if (aborted_)
    co_return unexpected(WireError{WireError::Kind::kAborted, "aborted"});
  if (closed_)
    co_return unexpected(WireError{WireError::Kind::kClosed, "already closed"});
  log_->Bytes(Peer::kServer, layer, bytes);
  timer_.expires_at(deadline);
  auto result =
      co_await (asio::async_write(socket_, asio::buffer(bytes), kNoThrow) ||
                timer_.async_wait(kNoThrow));
  if (aborted_)
    co_return unexpected(WireError{WireError::Kind::kAborted, "aborted"});
  if (result.index() == 1) {
    co_return unexpected(WireError{WireError::Kind::kTimeout,
                                   "the client did not read what was sent"});
  }
  auto [ec, n] = std::get<0>(result);
  if (ec) co_return unexpected(FromErrorCode(ec));
  co_return WireResult<void>{};
}

asio::awaitable<WireResult<void>> Wire::ReadRaw(Deadline deadline) {
  if (aborted_)
    co_return unexpected(WireError{WireError::Kind::kAborted, "aborted"});
  timer_.expires_at(deadline);
  auto result =
      co_await (socket_.async_read_some(asio::buffer(buf_), kNoThrow) ||
                timer_.async_wait(kNoThrow));
  if (aborted_)
    co_return unexpected(WireError{WireError::Kind::kAborted, "aborted"});
  if (result.index() == 1) {
    co_return unexpected(
        WireError{WireError::Kind::kTimeout,
                  "the client sent nothing before the deadline"});
  }
  auto [ec, n] = std::get<0>(result);
  if (ec) {
    WireError error = FromErrorCode(ec);
    if (error.kind == WireError::Kind::kClosed ||
        error.kind == WireError::Kind::kReset) {
      peer_closed_ = true;
      log_->Mark(Event::Kind::kClosed, Peer::kClient,
                 error.kind == WireError::Kind::kClosed ? "fin" : "reset");
    }
    co_return unexpected(error);
  }
  std::string_view got(buf_.data(), n);
  if (ssl_) {
    log_->Bytes(Peer::kClient, Layer::kTlsRecord, got);
    BIO_write(rbio_, got.data(), static_cast<int>(got.size()));
  } else {
    log_->Bytes(Peer::kClient, Layer::kPlain, got);
    raw_in_.append(got);
  }
  co_return WireResult<void>{};
}

asio::awaitable<WireResult<void>> Wire::FlushTls(Deadline deadline) {
  if (BIO_ctrl_pending(wbio_) == 0) co_return WireResult<void>{};
  std::string out(BIO_ctrl_pending(wbio_), '\0');
  int n = BIO_read(wbio_, out.data(), static_cast<int>(out.size()));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  co_return co_await SendRaw(out, Layer::kTlsRecord, deadline);
}

WireError Wire::TlsError(int ssl_error, std::string_view what) {
  if (ssl_error == SSL_ERROR_ZERO_RETURN) {
    log_->Mark(Event::Kind::kClosed, Peer::kClient, "close_notify");
    return {WireError::Kind::kClosed, "the client sent close_notify"};
  }
  tls_fatal_ = true;
  return {WireError::Kind::kTls,
          fmt::format("{}: {}", what,
                      ossl::DrainErrors("unexpected end of stream"))};
}

// OpenSSL's error queue is per thread and every session runs on this one, so
// each SSL_* result is turned into a WireError before the next co_await, when
// another session may use the queue.

asio::awaitable<WireResult<void>> Wire::StartTls(SSL_CTX* ctx,
                                                 Deadline deadline) {
  log_->Mark(Event::Kind::kTlsStart, Peer::kServer,
             fmt::format("{} plaintext bytes from the client were unread",
                         raw_in_.size()));
  ssl_.reset(SSL_new(ctx));
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(BIO_s_mem());
  if (!ssl_ || rbio_ == nullptr || wbio_ == nullptr) {
    co_return unexpected(WireError{WireError::Kind::kTls, ossl::DrainErrors()});
  }
  SSL_set_bio(ssl_.get(), rbio_, wbio_);
  SSL_set_accept_state(ssl_.get());
  // What the client sent after its STARTTLS line belongs to the handshake.
  BIO_write(rbio_, raw_in_.data(), static_cast<int>(raw_in_.size()));
  raw_in_.clear();

  while (true) {
    ERR_clear_error();
    int ret = SSL_do_handshake(ssl_.get());
    int err = ret == 1 ? SSL_ERROR_NONE : SSL_get_error(ssl_.get(), ret);
    std::optional<WireError> failure;
    if (err != SSL_ERROR_NONE && err != SSL_ERROR_WANT_READ) {
      failure = TlsError(err, "handshake failed");
    }
    if (const char* sni =
            SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name)) {
      tls_facts_.sni = sni;
    }
    // Flush even on failure: it carries the server's alert to the client.
    if (auto flushed = co_await FlushTls(deadline); !flushed && !failure) {
      failure = flushed.error();
    }
    if (!failure && err == SSL_ERROR_WANT_READ) {
      if (auto got = co_await ReadRaw(deadline); !got) {
        failure = got.error();
        failure->message = "handshake not finished: " + failure->message;
      }
    }
    if (failure) {
      tls_facts_.error = failure->message;
      log_->Mark(Event::Kind::kTlsFailed, Peer::kServer, tls_facts_.error);
      co_return unexpected(*failure);
    }
    if (err == SSL_ERROR_NONE) break;
  }
  tls_facts_.established = true;
  tls_facts_.version = SSL_get_version(ssl_.get());
  tls_facts_.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl_.get()));
  log_->Mark(Event::Kind::kTlsEstablished, Peer::kServer,
             fmt::format("{} {}", tls_facts_.version, tls_facts_.cipher));
  co_return WireResult<void>{};
}

asio::awaitable<WireResult<void>> Wire::ReadTls(Deadline deadline) {
  while (true) {
    ERR_clear_error();
    int n = SSL_read(ssl_.get(), buf_.data(), static_cast<int>(buf_.size()));
    if (n > 0) {
      std::string_view got(buf_.data(), static_cast<size_t>(n));
      log_->Bytes(Peer::kClient, Layer::kTlsData, got);
      app_in_.append(got);
      co_return WireResult<void>{};
    }
    int err = SSL_get_error(ssl_.get(), n);
    std::optional<WireError> failure;
    if (err != SSL_ERROR_WANT_READ) failure = TlsError(err, "TLS read failed");
    // Post-handshake messages (session tickets, key updates) may be queued.
    if (auto flushed = co_await FlushTls(deadline); !flushed) {
      co_return unexpected(flushed.error());
    }
    if (failure) co_return unexpected(*failure);
    if (auto got = co_await ReadRaw(deadline); !got) {
      co_return unexpected(got.error());
    }
  }
}

// g++ 12 miscompiles co_await inside a conditional expression (double
// destruction of the result), hence the plain if.
asio::awaitable<WireResult<void>> Wire::ReadSome(Deadline deadline) {
  if (ssl_) co_return co_await ReadTls(deadline);
  co_return co_await ReadRaw(deadline);
}

asio::awaitable<WireResult<std::string>> Wire::ReadLine(size_t max_length,
                                                        Deadline deadline) {
  while (true) {
    std::string& in = ssl_ ? app_in_ : raw_in_;
    size_t lf = in.find('\n');
    if (lf != std::string::npos) {
      std::string line = in.substr(0, lf);
      in.erase(0, lf + 1);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      co_return line;
    }
    if (in.size() > max_length) {
      co_return unexpected(
          WireError{WireError::Kind::kTooLong,
                    fmt::format("a line longer than {} bytes", max_length)});
    }
    if (auto got = co_await ReadSome(deadline); !got) {
      co_return unexpected(got.error());
    }
  }
}

asio::awaitable<WireResult<void>> Wire::Send(std::string_view data,
                                             Deadline deadline) {
  if (!ssl_) co_return co_await SendRaw(data, Layer::kPlain, deadline);
  log_->Bytes(Peer::kServer, Layer::kTlsData, data);
  ERR_clear_error();
  if (int n = SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()));
      n <= 0) {
    co_return unexpected(
        TlsError(SSL_get_error(ssl_.get(), n), "TLS write failed"));
  }
  co_return co_await FlushTls(deadline);
}

asio::awaitable<void> Wire::Close(Deadline deadline) {
  if (closed_) co_return;
  // SSL_shutdown is not allowed after a fatal error (see its manual page).
  if (ssl_ && tls_facts_.established && !tls_fatal_ && !aborted_) {
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
    (void)co_await FlushTls(deadline);
  }
  closed_ = true;
  log_->Mark(Event::Kind::kClosed, Peer::kServer, "fin");
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  // A lingering close: closing with unread client bytes would send a RST,
  // which can destroy the server's last reply before the client reads it.
  // So read (and record) until the client's FIN, for a bounded time.
  Deadline linger =
      std::min(deadline, std::chrono::steady_clock::now() + kLinger);
  while (!peer_closed_ && !aborted_) {
    if (auto got = co_await ReadRaw(linger); !got) break;
    raw_in_.clear();
  }
  socket_.close(ignored);
}

}  // namespace starttls::server
