// The typed steps of a scenario. The parser fills them from the schema in
// scenario.cc (one table of steps and their options); the interpreter and the
// wire take them as they are, so no option string is read twice.
#ifndef STARTTLS_SCENARIO_STEP_H_
#define STARTTLS_SCENARIO_STEP_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace starttls::server {

// How one write is cut into TCP writes (the shape options of `write`).
// Offsets are in the bytes as they go on the wire: TLS records once TLS is
// up.
struct WriteShape {
  std::vector<size_t> split;         // cut before each of these offsets
  size_t drip = 0;                   // else: writes of this many bytes
  std::chrono::milliseconds gap{0};  // pause between drips
  // Under TLS: 1-based index, among the records of this write, of one to
  // corrupt or to truncate (then the connection ends). 0: none.
  int corrupt_record = 0;
  int truncate_record = 0;
};

// A `write` step: when the queued bytes leave, and in what pieces.
struct WriteOptions {
  std::chrono::milliseconds delay{0};  // pause first
  // Then wait until the client has sent nothing for this long.
  std::chrono::milliseconds quiet{0};
  WriteShape shape;
  // The queue is written this many times, each copy its own write with the
  // pauses above before it; `forever`: until the client goes away or the
  // session deadline passes (an answer that never ends).
  int repeat = 1;
  bool forever = false;
};

// How the server plays its side of one TLS handshake (the `tls` step).
struct TlsOptions {
  // A TLS protocol version as on the wire (0x0301 for 1.0 to 0x0304 for
  // 1.3, the values of OpenSSL's TLS1_VERSION..TLS1_3_VERSION); 0: OpenSSL's
  // default.
  int min_version = 0;
  int max_version = 0;
  int security_level = -1;   // -1: the context's
  std::string ciphers;       // TLS 1.2 and below, OpenSSL syntax
  std::string ciphersuites;  // TLS 1.3
  std::string groups;
  // After the client's first record (its ClientHello) the server stops the
  // handshake this way instead of answering.
  enum class Abort { kNone, kAlert, kStall, kClose, kReset };
  Abort abort = Abort::kNone;
  uint8_t alert = 40;  // handshake_failure, for Abort::kAlert
  // 1-based index of a record the server sends, counted from its first
  // handshake record: flip a bit in its last byte, or send only half of it
  // and end the connection. 0: none.
  int corrupt_record = 0;
  int truncate_record = 0;
};

// How the server ends the connection (the `close` step).
struct CloseOptions {
  enum class How {
    kFin,    // close_notify (unless notify is false), FIN, brief linger
    kReset,  // RST (SO_LINGER 0), nothing else
    kHalf,   // close_notify and FIN, then wait for the client until the
             // deadline
  };
  How how = How::kFin;
  bool notify = true;  // send close_notify first when TLS is up
};

struct Step {
  enum class Kind {
    kSend,        // S: text      queues text + CRLF
    kExpect,      // C: pattern   the next client line must match pattern
    kRaw,         // send data=   queues raw bytes
    kWrite,       // write        sends what is queued, shaped by options
    kTls,         // tls          server-side TLS handshake on this connection
    kServe,       // serve        the built-in responder answers the rest
    kStall,       // stall        never answers again
    kClose,       // close        the server ends the connection
    kConnection,  // connection   the steps after it play on the next one
  };
  Kind kind;
  // S: payload, C: pattern, or send's data (escapes decoded); else empty.
  std::string text;
  // The options of the step's kind; the others keep their defaults.
  WriteOptions write;  // kWrite
  TlsOptions tls;      // kTls
  CloseOptions close;  // kClose
  // kConnection: the certificate profile the connections from here on
  // present (certificate=); empty: the Certificate header's.
  std::string certificate;
  int line = 0;        // 1-based line in the scenario file
};

}  // namespace starttls::server

#endif  // STARTTLS_SCENARIO_STEP_H_
