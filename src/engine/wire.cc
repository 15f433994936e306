#include "engine/wire.h"

#include <fmt/format.h>

#include <asio/experimental/as_tuple.hpp>
#include <optional>

#include "scenario/tls_alert.h"

namespace starttls::server {
namespace {

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
    : socket_(std::move(socket)),
      timer_(socket_.get_executor()),
      self_(std::make_shared<Wire*>(this)),
      log_(log) {}

Wire::~Wire() { *self_ = nullptr; }

void Wire::BeginWait(Deadline deadline) {
  timed_out_ = false;
  armed_ = true;
  uint64_t generation = ++generation_;
  timer_.expires_at(deadline);
  timer_.async_wait([self = self_, generation](const asio::error_code& ec) {
    if (ec || *self == nullptr) return;
    (*self)->OnTimer(generation);
  });
}

void Wire::EndWait() {
  // A wait ends with nothing left pending on the io_context (run() returns
  // once the Wire is idle). Cancelling does not touch the reactor's timerfd.
  if (armed_) {
    timer_.cancel();
    DisarmTimer();
  }
}

void Wire::OnTimer(uint64_t generation) {
  // An expiry already queued when the wait ended or the timer was taken over.
  if (generation != generation_) return;
  armed_ = false;
  timed_out_ = true;
  asio::error_code ignored;
  socket_.cancel(ignored);
}

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
  // Ends a Pause(); the deadline timer is re-armed by the next wait, if any.
  timer_.cancel();
  DisarmTimer();
}

asio::awaitable<WireResult<void>> Wire::WriteAll(std::string_view bytes,
                                                 Deadline deadline) {
  if (aborted_)
    co_return unexpected(WireError{WireError::Kind::kAborted, "aborted"});
  if (closed_)
    co_return unexpected(WireError{WireError::Kind::kClosed, "already closed"});
  BeginWait(deadline);
  auto [ec, n] =
      co_await asio::async_write(socket_, asio::buffer(bytes), kNoThrow);
  EndWait();
  if (aborted_)
    co_return unexpected(WireError{WireError::Kind::kAborted, "aborted"});
  if (ec == asio::error::operation_aborted && timed_out_) {
    co_return unexpected(WireError{WireError::Kind::kTimeout,
                                   "the client did not read what was sent"});
  }
  if (ec) co_return unexpected(FromErrorCode(ec));
  co_return WireResult<void>{};
}

asio::awaitable<WireResult<void>> Wire::SendRaw(std::string_view bytes,
                                                Layer layer, Deadline deadline,
                                                const WriteShape& shape) {
  // The cut points: every `drip` bytes, or at the `split` offsets.
  std::vector<size_t> cuts;
  if (shape.drip > 0) {
    for (size_t at = shape.drip; at < bytes.size(); at += shape.drip) {
      cuts.push_back(at);
    }
  } else {
    for (size_t at : shape.split) {
      if (at < bytes.size()) cuts.push_back(at);
    }
  }
  cuts.push_back(bytes.size());
  size_t from = 0;
  for (size_t i = 0; i < cuts.size(); ++i) {
    if (i > 0 && shape.gap.count() > 0) {
      if (auto paused = co_await Pause(shape.gap); !paused) {
        co_return unexpected(paused.error());
      }
    }
    std::string_view piece = bytes.substr(from, cuts[i] - from);
    from = cuts[i];
    log_->Bytes(Peer::kServer, layer, piece);
    if (auto written = co_await WriteAll(piece, deadline); !written) {
      co_return unexpected(written.error());
    }
    if (layer == Layer::kPlain) received_before_reply_ = plain_received_;
  }
  co_return WireResult<void>{};
}

asio::awaitable<WireResult<void>> Wire::Pause(
    std::chrono::milliseconds duration) {
  if (aborted_)
    co_return unexpected(WireError{WireError::Kind::kAborted, "aborted"});
  // The sleep takes the timer over; the next wait arms it again.
  DisarmTimer();
  timer_.expires_after(duration);
  (void)co_await timer_.async_wait(kNoThrow);
  if (aborted_)
    co_return unexpected(WireError{WireError::Kind::kAborted, "aborted"});
  co_return WireResult<void>{};
}

asio::awaitable<WireResult<void>> Wire::WaitQuiet(
    std::chrono::milliseconds window, Deadline deadline) {
  while (true) {
    Deadline quiet_until = std::chrono::steady_clock::now() + window;
    if (quiet_until > deadline) {
      co_return unexpected(WireError{
          WireError::Kind::kTimeout,
          "the client kept sending while the server waited for silence"});
    }
    auto got = co_await ReadSome(quiet_until);
    if (!got) {
      if (got.error().kind == WireError::Kind::kTimeout) break;
      co_return unexpected(got.error());
    }
  }
  co_return WireResult<void>{};
}

asio::awaitable<WireError> Wire::Drain(Deadline deadline) {
  while (true) {
    auto got = co_await ReadSome(deadline);
    if (!got) co_return got.error();
    raw_in_offset_ += raw_in_.size();
    raw_in_.clear();
    app_in_.clear();
  }
}

void Wire::Reset() {
  asio::error_code ignored;
  socket_.set_option(asio::socket_base::linger(true, 0), ignored);
  socket_.close(ignored);
  closed_ = true;
  log_->Mark(Event::Kind::kClosed, Peer::kServer, "reset");
}

asio::awaitable<WireResult<void>> Wire::ReadRaw(Deadline deadline) {
  if (aborted_)
    co_return unexpected(WireError{WireError::Kind::kAborted, "aborted"});
  BeginWait(deadline);
  auto [ec, n] = co_await socket_.async_read_some(asio::buffer(buf_), kNoThrow);
  EndWait();
  if (aborted_)
    co_return unexpected(WireError{WireError::Kind::kAborted, "aborted"});
  if (ec == asio::error::operation_aborted && timed_out_) {
    co_return unexpected(
        WireError{WireError::Kind::kTimeout,
                  "the client sent nothing before the deadline"});
  }
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
    plain_received_ += got.size();
  }
  co_return WireResult<void>{};
}

asio::awaitable<WireResult<void>> Wire::FlushTls(Deadline deadline,
                                                 const WriteShape& shape) {
  if (BIO_ctrl_pending(wbio_) == 0) co_return WireResult<void>{};
  std::string out(BIO_ctrl_pending(wbio_), '\0');
  int n = BIO_read(wbio_, out.data(), static_cast<int>(out.size()));
  out.resize(n > 0 ? static_cast<size_t>(n) : 0);
  bool truncated = false;
  ApplyRecordFaults(&out, &truncated);
  auto sent = co_await SendRaw(out, Layer::kTlsRecord, deadline, shape);
  if (!sent || !truncated) co_return sent;
  tls_fatal_ = true;
  Reset();
  co_return unexpected(WireError{
      WireError::Kind::kTls,
      fmt::format("the scenario truncated TLS record {} and ended the "
                  "connection",
                  tls_options_.truncate_record)});
}

void Wire::ApplyRecordFaults(std::string* out, bool* truncated) {
  size_t pos = 0;
  while (pos < out->size()) {
    if (record_left_ > 0) {
      size_t take = std::min(record_left_, out->size() - pos);
      record_left_ -= take;
      pos += take;
      continue;
    }
    if (out->size() - pos < 5) break;  // a memory BIO holds whole records
    size_t length = (static_cast<unsigned char>((*out)[pos + 3]) << 8) |
                    static_cast<unsigned char>((*out)[pos + 4]);
    int index = ++records_sent_;
    size_t end = std::min(pos + 5 + length, out->size());
    record_left_ = pos + 5 + length - end;
    if (index == tls_options_.corrupt_record && length > 0) {
      (*out)[end - 1] = static_cast<char>((*out)[end - 1] ^ 0x01);
      log_->Mark(
          Event::Kind::kNote, Peer::kServer,
          fmt::format("corrupted the last byte of TLS record {}", index));
    }
    if (index == tls_options_.truncate_record) {
      out->resize(pos + 5 + length / 2);
      log_->Mark(Event::Kind::kNote, Peer::kServer,
                 fmt::format("truncated TLS record {} to {} of {} bytes", index,
                             5 + length / 2, 5 + length));
      *truncated = true;
      record_left_ = 0;
      return;
    }
    pos = end;
  }
}

void Wire::InfoCallback(const SSL* ssl, int where, int ret) {
  if ((where & SSL_CB_READ_ALERT) == 0) return;
  auto* wire = static_cast<Wire*>(SSL_get_app_data(ssl));
  if (wire == nullptr) return;
  std::string name = AlertName(static_cast<uint8_t>(ret & 0xff));
  if (wire->tls_facts_.client_alert.empty()) {
    wire->tls_facts_.client_alert = name;
  }
  wire->log_->Mark(
      Event::Kind::kNote, Peer::kClient,
      fmt::format("TLS alert {} ({})", name,
                  (ret >> 8) == SSL3_AL_FATAL ? "fatal" : "warning"));
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
                                                 const TlsOptions& options,
                                                 Deadline deadline) {
  tls_options_ = options;
  // Bytes that arrived before the server's last write were sent before the
  // client could have read the 220: they are not the handshake.
  size_t early =
      received_before_reply_ > raw_in_offset_
          ? std::min<uint64_t>(received_before_reply_ - raw_in_offset_,
                               raw_in_.size())
          : 0;
  raw_in_.erase(0, early);
  raw_in_offset_ += early;
  log_->Mark(Event::Kind::kTlsStart, Peer::kServer,
             early > 0
                 ? fmt::format("discarded {} bytes the client sent before the "
                               "server's reply; {} later bytes go to the "
                               "handshake",
                               early, raw_in_.size())
                 : fmt::format("{} bytes from the client go to the handshake",
                               raw_in_.size()));
  if (options.abort != TlsOptions::Abort::kNone) {
    co_return co_await AbortHandshake(deadline);
  }
  ssl_.reset(SSL_new(ctx));
  rbio_ = BIO_new(BIO_s_mem());
  wbio_ = BIO_new(BIO_s_mem());
  if (!ssl_ || rbio_ == nullptr || wbio_ == nullptr) {
    BIO_free(rbio_);
    BIO_free(wbio_);
    rbio_ = wbio_ = nullptr;
    ssl_.reset();
    co_return unexpected(WireError{WireError::Kind::kTls, ossl::DrainErrors()});
  }
  SSL_set_bio(ssl_.get(), rbio_, wbio_);
  SSL_set_accept_state(ssl_.get());
  SSL_set_app_data(ssl_.get(), this);
  SSL_set_info_callback(ssl_.get(), &Wire::InfoCallback);
  if (options.security_level >= 0) {
    SSL_set_security_level(ssl_.get(), options.security_level);
  }
  if ((options.min_version != 0 &&
       SSL_set_min_proto_version(ssl_.get(), options.min_version) != 1) ||
      (options.max_version != 0 &&
       SSL_set_max_proto_version(ssl_.get(), options.max_version) != 1) ||
      (!options.ciphers.empty() &&
       SSL_set_cipher_list(ssl_.get(), options.ciphers.c_str()) != 1) ||
      (!options.ciphersuites.empty() &&
       SSL_set_ciphersuites(ssl_.get(), options.ciphersuites.c_str()) != 1) ||
      (!options.groups.empty() &&
       SSL_set1_groups_list(ssl_.get(), options.groups.c_str()) != 1)) {
    tls_facts_.error = "the scenario's TLS options: " + ossl::DrainErrors();
    tls_fatal_ = true;
    log_->Mark(Event::Kind::kTlsFailed, Peer::kServer, tls_facts_.error);
    co_return unexpected(WireError{WireError::Kind::kTls, tls_facts_.error});
  }
  BIO_write(rbio_, raw_in_.data(), static_cast<int>(raw_in_.size()));
  raw_in_offset_ += raw_in_.size();
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
  ReplaceBios();
  tls_facts_.established = true;
  tls_facts_.version = SSL_get_version(ssl_.get());
  tls_facts_.cipher = SSL_CIPHER_get_name(SSL_get_current_cipher(ssl_.get()));
  log_->Mark(Event::Kind::kTlsEstablished, Peer::kServer,
             fmt::format("{} {}", tls_facts_.version, tls_facts_.cipher));
  co_return WireResult<void>{};
}

void Wire::ReplaceBios() {
  // FlushTls() has sent everything; a write BIO with bytes left would be a
  // fault path (truncation) where the session ends anyway.
  if (BIO_ctrl_pending(wbio_) != 0) return;
  BIO* rbio = BIO_new(BIO_s_mem());
  BIO* wbio = BIO_new(BIO_s_mem());
  if (rbio == nullptr || wbio == nullptr) {
    // Keeping the old BIOs costs only memory.
    BIO_free(rbio);
    BIO_free(wbio);
    ERR_clear_error();
    return;
  }
  // Records the client sent after its Finished (say, its EHLO) move over.
  std::array<char, 1024> carry;
  int n;
  while ((n = BIO_read(rbio_, carry.data(), static_cast<int>(carry.size()))) >
         0) {
    BIO_write(rbio, carry.data(), n);
  }
  SSL_set_bio(ssl_.get(), rbio, wbio);  // frees the old pair
  rbio_ = rbio;
  wbio_ = wbio;
}

asio::awaitable<WireResult<void>> Wire::ReadFirstRecord(Deadline deadline) {
  while (true) {
    if (raw_in_.size() >= 5) {
      size_t length = (static_cast<unsigned char>(raw_in_[3]) << 8) |
                      static_cast<unsigned char>(raw_in_[4]);
      if (raw_in_.size() >= 5 + length) co_return WireResult<void>{};
    }
    if (auto got = co_await ReadRaw(deadline); !got) {
      co_return unexpected(got.error());
    }
  }
}

asio::awaitable<WireResult<void>> Wire::AbortHandshake(Deadline deadline) {
  auto fail = [this](std::string message) {
    tls_facts_.error = std::move(message);
    log_->Mark(Event::Kind::kTlsFailed, Peer::kServer, tls_facts_.error);
    return unexpected(WireError{WireError::Kind::kTls, tls_facts_.error});
  };
  if (auto got = co_await ReadFirstRecord(deadline); !got) {
    co_return fail("handshake not begun: " + got.error().message);
  }
  switch (tls_options_.abort) {
    case TlsOptions::Abort::kAlert: {
      // A fatal alert in a plaintext TLS 1.2-format record.
      const char record[] = {0x15,
                             0x03,
                             0x03,
                             0x00,
                             0x02,
                             0x02,
                             static_cast<char>(tls_options_.alert)};
      (void)co_await SendRaw(std::string_view(record, sizeof record),
                             Layer::kTlsRecord, deadline);
      co_return fail(
          fmt::format("the scenario answered the ClientHello with "
                      "alert {}",
                      AlertName(tls_options_.alert)));
    }
    case TlsOptions::Abort::kStall: {
      WireError ended = co_await Drain(deadline);
      auto error = fail("the scenario stalled after the ClientHello; then " +
                        ended.message);
      error.value().kind = ended.kind;
      co_return error;
    }
    case TlsOptions::Abort::kClose:
      co_return fail(
          "the scenario closed the connection after the "
          "ClientHello");
    case TlsOptions::Abort::kReset:
      Reset();
      co_return fail("the scenario reset the connection after the ClientHello");
    case TlsOptions::Abort::kNone:
      break;
  }
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
      if (!ssl_) raw_in_offset_ += lf + 1;
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
                                             Deadline deadline,
                                             const WriteShape& shape) {
  if (!ssl_) co_return co_await SendRaw(data, Layer::kPlain, deadline, shape);
  log_->Bytes(Peer::kServer, Layer::kTlsData, data);
  ERR_clear_error();
  if (int n = SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()));
      n <= 0) {
    co_return unexpected(
        TlsError(SSL_get_error(ssl_.get(), n), "TLS write failed"));
  }
  // Faults of this write count from its first record.
  if (shape.corrupt_record > 0) {
    tls_options_.corrupt_record = records_sent_ + shape.corrupt_record;
  }
  if (shape.truncate_record > 0) {
    tls_options_.truncate_record = records_sent_ + shape.truncate_record;
  }
  co_return co_await FlushTls(deadline, shape);
}

void Wire::RecordUnreadTls() {
  if (!ssl_ || !tls_facts_.established || tls_fatal_) return;
  while (true) {
    ERR_clear_error();
    int n = SSL_read(ssl_.get(), buf_.data(), static_cast<int>(buf_.size()));
    if (n <= 0) break;  // nothing more received, close_notify or an error
    log_->Bytes(Peer::kClient, Layer::kTlsData,
                std::string_view(buf_.data(), static_cast<size_t>(n)));
  }
  ERR_clear_error();
}

asio::awaitable<void> Wire::Close(Deadline deadline,
                                  const CloseOptions& options) {
  // However the session ended (a reset while the server was writing
  // included), what the client had already sent is on the record.
  RecordUnreadTls();
  if (closed_) co_return;
  if (options.how == CloseOptions::How::kReset) {
    Reset();
    co_return;
  }
  // SSL_shutdown is not allowed after a fatal error (see its manual page).
  if (options.notify && ssl_ && tls_facts_.established && !tls_fatal_ &&
      !aborted_) {
    ERR_clear_error();
    SSL_shutdown(ssl_.get());
    ERR_clear_error();
    (void)co_await FlushTls(deadline);
  }
  closed_ = true;
  log_->Mark(Event::Kind::kClosed, Peer::kServer,
             options.how == CloseOptions::How::kHalf ? "half-close" : "fin");
  asio::error_code ignored;
  socket_.shutdown(asio::ip::tcp::socket::shutdown_send, ignored);
  // A lingering close: closing with unread client bytes would send a RST,
  // which can destroy the server's last reply before the client reads it.
  // So read (and record) until the client's FIN, for a bounded time; a
  // half-close waits for it until the deadline.
  Deadline linger =
      options.how == CloseOptions::How::kHalf
          ? deadline
          : std::min(deadline, std::chrono::steady_clock::now() + kLinger);
  while (!peer_closed_ && !aborted_) {
    if (auto got = co_await ReadRaw(linger); !got) break;
    raw_in_offset_ += raw_in_.size();
    raw_in_.clear();
  }
  RecordUnreadTls();
  socket_.close(ignored);
}

}  // namespace starttls::server
