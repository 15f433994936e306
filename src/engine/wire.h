// One accepted TCP connection: plaintext I/O, then TLS over two memory BIOs.
//
// Every byte the server sends, plaintext or TLS record, leaves through
// SendRaw(), the single place where faults will be applied; every byte either
// side sends is recorded in the EventLog. All waits take a deadline.
#ifndef STARTTLS_ENGINE_WIRE_H_
#define STARTTLS_ENGINE_WIRE_H_

#include <array>
#include <asio.hpp>
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "events/event_log.h"
#include "events/session_record.h"
#include "scenario/step.h"
#include "starttls/ossl.h"

namespace starttls::server {

using Deadline = std::chrono::steady_clock::time_point;

struct WireError {
  enum class Kind {
    kTimeout,  // the deadline passed
    kClosed,   // the client closed the connection (FIN or close_notify)
    kReset,    // the connection was reset
    kTooLong,  // a line exceeded the length limit
    kTls,      // TLS failed; message says why
    kAborted,  // Abort() was called
    kIo,       // any other socket error
  };
  Kind kind;
  std::string message;
};

template <typename T>
using WireResult = tl::expected<T, WireError>;

// Defaults passed by reference. g++ 12 destroys a temporary twice when it
// is created inside a co_await expression, so callers pass these instead of
// `{}`.
inline const WriteShape kOneWrite{};
inline const TlsOptions kDefaultTls{};
inline const CloseOptions kDefaultClose{};

class Wire {
 public:
  // *log must outlive the Wire.
  Wire(asio::ip::tcp::socket socket, EventLog* log);
  Wire(const Wire&) = delete;
  Wire& operator=(const Wire&) = delete;
  ~Wire();

  // Reads one line from the client, at the current layer, and returns it
  // without its line ending (CRLF or a bare LF).
  [[nodiscard]] asio::awaitable<WireResult<std::string>> ReadLine(
      size_t max_length, Deadline deadline);

  // Sends `data` at the current layer (encrypted once TLS is up), cut into
  // TCP writes as `shape` says.
  [[nodiscard]] asio::awaitable<WireResult<void>> Send(
      std::string_view data, Deadline deadline,
      const WriteShape& shape = kOneWrite);

  // Reads and keeps whatever the client sends until it has been silent for
  // `window`. Fails if the client goes away or `deadline` comes first.
  [[nodiscard]] asio::awaitable<WireResult<void>> WaitQuiet(
      std::chrono::milliseconds window, Deadline deadline);

  // Waits `duration` without reading.
  [[nodiscard]] asio::awaitable<WireResult<void>> Pause(
      std::chrono::milliseconds duration);

  // Reads and records everything the client sends, answering nothing, until
  // it ends the connection (then kClosed or kReset) or `deadline` (kTimeout).
  [[nodiscard]] asio::awaitable<WireError> Drain(Deadline deadline);

  // Runs the server side of a TLS handshake on this connection. Plaintext
  // the client sent after STARTTLS but before the server's last write (that
  // is, before it could have read the 220) is discarded, as RFC 3207 and
  // CVE-2011-0411 require; bytes sent after it are fed to the handshake.
  [[nodiscard]] asio::awaitable<WireResult<void>> StartTls(
      SSL_CTX* ctx, const TlsOptions& options, Deadline deadline);

  // Ends the connection as `options` says; the default waits (at most until
  // `deadline`, and never long) for the client's FIN. Client bytes inside
  // TLS that were received but never read are decrypted and recorded first
  // (and again after the wait), so the record holds everything the client
  // sent, also when the session ended on a failed write.
  asio::awaitable<void> Close(Deadline deadline,
                              const CloseOptions& options = kDefaultClose);

  // Ends every pending and future operation with WireError::kAborted. Safe to
  // call from the same io_context at any time, also more than once.
  void Abort();

  [[nodiscard]] const TlsFacts& tls() const { return tls_facts_; }
  [[nodiscard]] bool secure() const { return ssl_ != nullptr; }
  [[nodiscard]] std::string peer() const;

 private:
  // Decrypts and records what is received and not yet read; no socket I/O.
  void RecordUnreadTls();
  // Sends bytes exactly as given on the TCP stream, cut as `shape` says.
  asio::awaitable<WireResult<void>> SendRaw(
      std::string_view bytes, Layer layer, Deadline deadline,
      const WriteShape& shape = kOneWrite);
  asio::awaitable<WireResult<void>> WriteAll(std::string_view bytes,
                                             Deadline deadline);
  // Applies the record faults of tls_options_ to outgoing TLS records; may
  // shorten *out (truncation), then sets *truncated.
  void ApplyRecordFaults(std::string* out, bool* truncated);
  // Gives ssl_ new, empty memory BIOs after the handshake: the old ones keep
  // buffers as large as the biggest flight they carried (the certificate
  // chain, the ClientHello), which every idle session would hold.
  void ReplaceBios();
  // Reads until the client's first TLS record is complete.
  asio::awaitable<WireResult<void>> ReadFirstRecord(Deadline deadline);
  asio::awaitable<WireResult<void>> AbortHandshake(Deadline deadline);
  // Closes the socket so that the peer sees a reset.
  void Reset();
  // Brackets one socket operation (a read, or one whole write) that must end
  // by `deadline`: past it, timer_ cancels the socket operation, which then
  // fails with operation_aborted and timed_out_ set. One timer per Wire and a
  // plain socket operation, instead of racing a new timer wait against every
  // operation (an Asio parallel group: two child coroutines, cancellation
  // slots and an extra event-loop round per read).
  void BeginWait(Deadline deadline);
  void EndWait();
  // timer_ fired for the wait numbered `generation`.
  void OnTimer(uint64_t generation);
  // Forgets the pending wait on timer_, which the caller cancels or takes
  // over (Pause()); a late expiry of it is then ignored.
  void DisarmTimer() {
    armed_ = false;
    ++generation_;
  }
  static void InfoCallback(const SSL* ssl, int where, int ret);
  // Waits for bytes from the client and stores them: in raw_in_ in plaintext,
  // in the read BIO once TLS has started.
  asio::awaitable<WireResult<void>> ReadRaw(Deadline deadline);
  // Sends what OpenSSL has queued in the write BIO.
  asio::awaitable<WireResult<void>> FlushTls(
      Deadline deadline, const WriteShape& shape = kOneWrite);
  // Decrypts what it can into app_in_; waits for records when it has none.
  asio::awaitable<WireResult<void>> ReadTls(Deadline deadline);
  // ReadTls() once TLS has started, ReadRaw() before.
  asio::awaitable<WireResult<void>> ReadSome(Deadline deadline);
  // Turns an SSL_get_error() result into a WireError, draining OpenSSL's
  // error queue; must run before the next co_await.
  WireError TlsError(int ssl_error, std::string_view what);

  asio::ip::tcp::socket socket_;
  // The deadline of the socket operation in progress (BeginWait()), or a
  // Pause().
  asio::steady_timer timer_;
  bool armed_ = false;       // a deadline wait on timer_ is pending
  uint64_t generation_ = 0;  // numbers deadline waits; stale expiries differ
  bool timed_out_ = false;   // the last wait's deadline passed
  // *self_ is this Wire until it is destroyed: a timer handler already queued
  // when the Wire goes away must not touch it.
  std::shared_ptr<Wire*> self_;
  EventLog* log_;
  bool aborted_ = false;
  bool closed_ = false;          // the server has ended the connection
  bool peer_closed_ = false;     // the client has (FIN or reset)
  bool tls_fatal_ = false;       // OpenSSL reported a fatal error on ssl_
  std::string raw_in_;           // plaintext received and not yet consumed
  uint64_t raw_in_offset_ = 0;   // client plaintext offset of raw_in_[0]
  uint64_t plain_received_ = 0;  // client plaintext bytes received so far
  // plain_received_ when the server last finished a plaintext write.
  uint64_t received_before_reply_ = 0;
  TlsOptions tls_options_;
  int records_sent_ = 0;    // TLS records the server has sent
  size_t record_left_ = 0;  // bytes of a record still to come in a flush
  std::string app_in_;      // decrypted bytes not yet consumed
  // One read's worth; a TLS record larger than this arrives in several
  // reads. Small because every session, idle ones too, holds one.
  std::array<char, 4096> buf_;
  ossl::SslPtr ssl_;
  BIO* rbio_ = nullptr;  // owned by ssl_
  BIO* wbio_ = nullptr;  // owned by ssl_
  TlsFacts tls_facts_;
};

}  // namespace starttls::server

#endif  // STARTTLS_ENGINE_WIRE_H_
