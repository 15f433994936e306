#include "server/wire.h"

#include <fmt/format.h>

#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>

namespace starttls::server {
namespace {

using namespace asio::experimental::awaitable_operators;
using tl::unexpected;

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

WireError Wire::TlsError(int ret, std::string_view what) {
  int err = SSL_get_error(ssl_.get(), ret);
  if (err == SSL_ERROR_ZERO_RETURN) {
    log_->Mark(Event::Kind::kClosed, Peer::kClient, "close_notify");
    return {WireError::Kind::kClosed, "the client sent close_notify"};
  }
  return {WireError::Kind::kTls,
          fmt::format("{}: {}", what,
                      ossl::DrainErrors("unexpected end of stream"))};
}

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
    // Flush first: on failure this carries the server's alert to the client.
    auto flushed = co_await FlushTls(deadline);
    if (const char* sni =
            SSL_get_servername(ssl_.get(), TLSEXT_NAMETYPE_host_name)) {
      tls_facts_.sni = sni;
    }
    if (ret == 1) break;
    if (SSL_get_error(ssl_.get(), ret) == SSL_ERROR_WANT_READ && flushed) {
      if (auto got = co_await ReadRaw(deadline); !got) {
        tls_facts_.error = "handshake not finished: " + got.error().message;
        log_->Mark(Event::Kind::kTlsFailed, Peer::kServer, tls_facts_.error);
        co_return unexpected(got.error());
      }
      continue;
    }
    WireError error =
        flushed ? TlsError(ret, "handshake failed") : flushed.error();
    tls_facts_.error = error.message;
    log_->Mark(Event::Kind::kTlsFailed, Peer::kServer, tls_facts_.error);
    co_return unexpected(error);
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
    // Post-handshake messages (session tickets, key updates) may be queued.
    if (auto flushed = co_await FlushTls(deadline); !flushed) {
      co_return unexpected(flushed.error());
    }
    if (err != SSL_ERROR_WANT_READ)
      co_return unexpected(TlsError(n, "TLS read failed"));
    if (auto got = co_await ReadRaw(deadline); !got)
      co_return unexpected(got.error());
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
  if (SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size())) <= 0) {
    co_return unexpected(WireError{WireError::Kind::kTls,
                                   "TLS write failed: " + ossl::DrainErrors()});
  }
  co_return co_await FlushTls(deadline);
}

asio::awaitable<WireError> Wire::DrainUntilClosed(Deadline deadline) {
  while (true) {
    auto got = co_await ReadSome(deadline);
    if (!got) co_return got.error();
    app_in_.clear();
    raw_in_.clear();
  }
}

asio::awaitable<void> Wire::Close(Deadline deadline) {
  if (closed_) co_return;
  if (ssl_ && tls_facts_.established && !aborted_) {
    SSL_shutdown(ssl_.get());
    (void)co_await FlushTls(deadline);
  }
  closed_ = true;
  log_->Mark(Event::Kind::kClosed, Peer::kServer, "fin");
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  socket_.close(ignored);
}

}  // namespace starttls::server
