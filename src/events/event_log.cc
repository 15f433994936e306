#include "events/event_log.h"

namespace starttls::server {

std::chrono::microseconds EventLog::Elapsed() const {
  return std::chrono::duration_cast<std::chrono::microseconds>(
      std::chrono::steady_clock::now() - start_);
}

void EventLog::Bytes(Peer from, Layer layer, std::string_view bytes) {
  if (bytes.empty()) return;
  uint64_t& offset = offsets_[static_cast<int>(from)][static_cast<int>(layer)];
  events_.push_back(Event{.at = Elapsed(),
                          .kind = Event::Kind::kBytes,
                          .from = from,
                          .layer = layer,
                          .bytes = std::string(bytes),
                          .offset = offset});
  offset += bytes.size();
}

void EventLog::Mark(Event::Kind kind, Peer from, std::string note) {
  events_.push_back(Event{
      .at = Elapsed(), .kind = kind, .from = from, .note = std::move(note)});
}

std::string_view PeerName(Peer p) {
  return p == Peer::kServer ? "server" : "client";
}

std::string_view LayerName(Layer l) {
  switch (l) {
    case Layer::kPlain:
      return "plain";
    case Layer::kTlsRecord:
      return "tls-record";
    case Layer::kTlsData:
      return "tls";
  }
  return "?";
}

std::string_view KindName(Event::Kind k) {
  switch (k) {
    case Event::Kind::kBytes:
      return "bytes";
    case Event::Kind::kTlsStart:
      return "tls-start";
    case Event::Kind::kTlsEstablished:
      return "tls-established";
    case Event::Kind::kTlsFailed:
      return "tls-failed";
    case Event::Kind::kClosed:
      return "closed";
    case Event::Kind::kNote:
      return "note";
  }
  return "?";
}

}  // namespace starttls::server
