// The scenario interpreter: one coroutine per accepted connection that plays
// the scenario's steps top to bottom over a Wire, hands the rest to the
// built-in responder at `serve`, and returns what happened.
#ifndef STARTTLS_SERVER_SESSION_H_
#define STARTTLS_SERVER_SESSION_H_

#include <asio.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "server/event_log.h"
#include "server/responder.h"
#include "server/scenario.h"
#include "server/wire.h"

namespace starttls::server {

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
  // its TLS handshake before this one ended.
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
  std::vector<ReceivedMessage> messages;
  EventLog events;
};

// What the connections that play one scenario share. They may run on
// different threads (serve --threads): use the member functions, which take
// the lock; tests that have joined every session may read tls_failed.
struct ScenarioRun {
  void TlsFailed(int connection) {
    std::lock_guard lock(mu);
    tls_failed.push_back(connection);
  }
  // True when a connection before `connection` (in accept order) failed its
  // TLS handshake.
  [[nodiscard]] bool TlsFailedBefore(int connection) const {
    std::lock_guard lock(mu);
    for (int c : tls_failed) {
      if (c < connection) return true;
    }
    return false;
  }

  mutable std::mutex mu;
  std::vector<int> tls_failed;  // connections (accept order) whose TLS failed
};

struct SessionContext {
  const Scenario* scenario = nullptr;
  SSL_CTX* tls = nullptr;  // presents the scenario's certificate
  int connection = 0;
  int script_connection = 1;
  std::shared_ptr<ScenarioRun> run;  // null: a run of its own
  // The server's --session-timeout: no session lasts longer, whatever its
  // scenario's Session-Timeout says.
  std::optional<std::chrono::milliseconds> session_cap;
};

// Plays ctx.scenario over `wire`, whose log must be `record->events`.
// *record, *wire and *ctx.scenario must stay alive until the coroutine
// completes; the wire is closed when it returns. (ctx is taken by value: a
// coroutine outlives the caller's temporaries.)
asio::awaitable<void> RunSession(Wire* wire, SessionContext ctx,
                                 SessionRecord* record);

}  // namespace starttls::server

#endif  // STARTTLS_SERVER_SESSION_H_
