// The ordered record of what happened on one connection, as the server saw
// it: every byte each side sent, at which layer, and the TLS and connection
// milestones. Oracles and reports are computed from it.
#ifndef STARTTLS_EVENTS_EVENT_LOG_H_
#define STARTTLS_EVENTS_EVENT_LOG_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace starttls::server {

enum class Peer { kServer, kClient };

enum class Layer {
  kPlain,      // plaintext bytes on the TCP stream
  kTlsRecord,  // TLS records on the TCP stream, as the wire carries them
  kTlsData,    // application bytes inside TLS
};

struct Event {
  enum class Kind {
    kBytes,           // `from` sent `bytes` at `layer`
    kTlsStart,        // the server began its side of the handshake
    kTlsEstablished,  // `note`: version and cipher
    kTlsFailed,       // `note`: why
    kClosed,          // `from` ended the connection; `note`: how
    kNote,            // anything else worth reading in the report
  };
  std::chrono::microseconds at;  // since the connection was accepted
  Kind kind;
  Peer from = Peer::kServer;
  Layer layer = Layer::kPlain;
  std::string bytes;
  // Offset of bytes[0] in everything `from` sent at `layer`.
  uint64_t offset = 0;
  std::string note;
};

class EventLog {
 public:
  EventLog() : start_(std::chrono::steady_clock::now()) {}

  void Bytes(Peer from, Layer layer, std::string_view bytes);
  void Mark(Event::Kind kind, Peer from, std::string note);

  [[nodiscard]] const std::vector<Event>& events() const { return events_; }
  [[nodiscard]] std::chrono::microseconds Elapsed() const;

 private:
  std::chrono::steady_clock::time_point start_;
  std::vector<Event> events_;
  uint64_t offsets_[2][3] = {};  // [Peer][Layer]
};

[[nodiscard]] std::string_view PeerName(Peer p);
[[nodiscard]] std::string_view LayerName(Layer l);
[[nodiscard]] std::string_view KindName(Event::Kind k);

}  // namespace starttls::server

#endif  // STARTTLS_EVENTS_EVENT_LOG_H_
