// One accepted TCP connection: plaintext I/O, then TLS over two memory BIOs.
//
// Every byte the server sends, plaintext or TLS record, leaves through
// SendRaw(), the single place where faults will be applied; every byte either
// side sends is recorded in the EventLog. All waits take a deadline.
#ifndef STARTTLS_SERVER_WIRE_H_
#define STARTTLS_SERVER_WIRE_H_

#include <array>
#include <asio.hpp>
#include <chrono>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "common/ossl.h"
#include "server/event_log.h"

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

struct TlsFacts {
  bool established = false;
  std::string version;
  std::string cipher;
  std::string sni;    // the server name the client asked for, if any
  std::string error;  // why the handshake failed, if it did
};

class Wire {
 public:
  // *log must outlive the Wire.
  Wire(asio::ip::tcp::socket socket, EventLog* log);
  Wire(const Wire&) = delete;
  Wire& operator=(const Wire&) = delete;

  // Reads one line from the client, at the current layer, and returns it
  // without its line ending (CRLF or a bare LF).
  [[nodiscard]] asio::awaitable<WireResult<std::string>> ReadLine(
      size_t max_length, Deadline deadline);

  // Sends `data` at the current layer (encrypted once TLS is up).
  [[nodiscard]] asio::awaitable<WireResult<void>> Send(std::string_view data,
                                                       Deadline deadline);

  // Runs the server side of a TLS handshake on this connection. Bytes the
  // client sent before this call and not yet read are fed to the handshake.
  [[nodiscard]] asio::awaitable<WireResult<void>> StartTls(SSL_CTX* ctx,
                                                           Deadline deadline);

  // Ends the connection: close_notify when TLS is up, then FIN; then waits
  // (at most until `deadline`, and never long) for the client's FIN.
  asio::awaitable<void> Close(Deadline deadline);

  // Ends every pending and future operation with WireError::kAborted. Safe to
  // call from the same io_context at any time, also more than once.
  void Abort();

  [[nodiscard]] const TlsFacts& tls() const { return tls_facts_; }
  [[nodiscard]] bool secure() const { return ssl_ != nullptr; }
  [[nodiscard]] std::string peer() const;

 private:
  // Sends bytes exactly as given on the TCP stream.
  asio::awaitable<WireResult<void>> SendRaw(std::string_view bytes, Layer layer,
                                            Deadline deadline);
  // Waits for bytes from the client and stores them: in raw_in_ in plaintext,
  // in the read BIO once TLS has started.
  asio::awaitable<WireResult<void>> ReadRaw(Deadline deadline);
  // Sends what OpenSSL has queued in the write BIO.
  asio::awaitable<WireResult<void>> FlushTls(Deadline deadline);
  // Decrypts what it can into app_in_; waits for records when it has none.
  asio::awaitable<WireResult<void>> ReadTls(Deadline deadline);
  // ReadTls() once TLS has started, ReadRaw() before.
  asio::awaitable<WireResult<void>> ReadSome(Deadline deadline);
  // Turns an SSL_get_error() result into a WireError, draining OpenSSL's
  // error queue; must run before the next co_await.
  WireError TlsError(int ssl_error, std::string_view what);

  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  EventLog* log_;
  bool aborted_ = false;
  bool closed_ = false;       // the server has ended the connection
  bool peer_closed_ = false;  // the client has (FIN or reset)
  bool tls_fatal_ = false;    // OpenSSL reported a fatal error on ssl_
  std::string raw_in_;        // plaintext received and not yet consumed
  std::string app_in_;        // decrypted bytes not yet consumed
  std::array<char, 16384> buf_;
  ossl::SslPtr ssl_;
  BIO* rbio_ = nullptr;  // owned by ssl_
  BIO* wbio_ = nullptr;  // owned by ssl_
  TlsFacts tls_facts_;
};

}  // namespace starttls::server

#endif  // STARTTLS_SERVER_WIRE_H_
