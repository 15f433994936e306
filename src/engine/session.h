// The scenario interpreter: one coroutine per accepted connection that plays
// the scenario's steps top to bottom over a Wire, hands the rest to the
// built-in responder at `serve`, and returns what happened.
#ifndef STARTTLS_ENGINE_SESSION_H_
#define STARTTLS_ENGINE_SESSION_H_

#include <asio.hpp>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "engine/responder.h"
#include "engine/wire.h"
#include "events/event_log.h"
#include "events/session_record.h"
#include "scenario/scenario.h"

namespace starttls::server {

// What the connections that play one scenario share. They may run on
// different threads (serve --threads): use the member functions, which take
// the lock; tests that have joined every session may read tls_failed.
struct ScenarioRun {
  void TlsStarted(int connection) {
    std::lock_guard lock(mu);
    handshaking.push_back(connection);
  }
  // The handshake `connection` started has ended, well or not.
  void TlsSettled(int connection) {
    std::lock_guard lock(mu);
    std::erase(handshaking, connection);
  }
  void TlsFailed(int connection) {
    std::lock_guard lock(mu);
    tls_failed.push_back(connection);
  }
  // True when a connection before `connection` (in accept order) failed its
  // TLS handshake, or left it unfinished: asked when `connection` ends, an
  // earlier handshake still going on is one the client abandoned to come
  // back (its failure may simply not have been read yet on another thread).
  [[nodiscard]] bool TlsFailedBefore(int connection) const {
    std::lock_guard lock(mu);
    for (const std::vector<int>* list : {&tls_failed, &handshaking}) {
      for (int c : *list) {
        if (c < connection) return true;
      }
    }
    return false;
  }

  mutable std::mutex mu;
  std::vector<int> tls_failed;   // connections (accept order) whose TLS failed
  std::vector<int> handshaking;  // connections in their TLS handshake now
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

#endif  // STARTTLS_ENGINE_SESSION_H_
