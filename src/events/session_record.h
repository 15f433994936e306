// What one session was, as the engine recorded it: the judge and the report
// read only this (and the scenario), never the engine, so they build
// without Asio.
#ifndef STARTTLS_EVENTS_SESSION_RECORD_H_
#define STARTTLS_EVENTS_SESSION_RECORD_H_

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "events/event_log.h"

namespace starttls::server {

// What the TLS handshake came to.
struct TlsFacts {
  bool established = false;
  std::string version;
  std::string cipher;
  std::string sni;           // the server name the client asked for, if any
  std::string error;         // why the handshake failed, if it did
  std::string client_alert;  // the alert the client sent, e.g. "unknown_ca"
};

// A message the client handed over.
struct ReceivedMessage {
  std::string mail_from;
  std::vector<std::string> rcpt_to;
  std::string data;  // dot-unstuffed, CRLF line endings, without the final "."
  bool over_tls = false;
};

// A client line that did not match the script.
struct Mismatch {
  int line = 0;          // the scenario line of the `C:` step
  std::string expected;  // its pattern
  std::string actual;    // what the client sent
};

struct SessionRecord {
  std::string scenario;  // name
  std::string scenario_path;
  int connection = 0;         // 1-based, in accept order
  int script_connection = 1;  // which of the scenario's connections it played
  // An earlier connection (in accept order) playing the same scenario failed
  // its TLS handshake before this one ended, or was still in it then.
  bool earlier_tls_failure = false;
  std::string peer;
  std::chrono::system_clock::time_point started;
  std::chrono::microseconds duration{0};
  // True when every step up to and including `serve` (or the last step) ran.
  bool script_completed = false;
  std::optional<Mismatch> mismatch;
  bool timed_out = false;    // a wait for the client reached its deadline
  bool interrupted = false;  // the server was told to stop
  std::string ended;         // how the session ended, for people
  TlsFacts tls;
  // The client reached its protocol's goal (SMTP: a message was delivered,
  // see `messages`; IMAP: it logged in).
  bool reached_goal = false;
  std::vector<ReceivedMessage> messages;
  EventLog events;
};

}  // namespace starttls::server

#endif  // STARTTLS_EVENTS_SESSION_RECORD_H_
