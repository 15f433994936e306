// The mock server: accepts connections, plays one scenario per connection,
// and writes a JSON report for every session.
#ifndef STARTTLS_SERVER_SERVER_H_
#define STARTTLS_SERVER_SERVER_H_

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "events/session_record.h"
#include "judge/judge.h"
#include "scenario/scenario.h"

namespace starttls::server {

// A session as it ended, judged; valid during the on_session call only.
struct EndedSession {
  const Scenario& scenario;
  const SessionRecord& record;
  const Verdict& verdict;
  int connection = 0;  // 1-based, in accept order
};

struct ServerOptions {
  // Connection k (1-based) plays scenarios[(k - 1) % scenarios.size()].
  std::vector<Scenario> scenarios;
  std::string listen = "127.0.0.1:0";  // ADDR:PORT, IPv6 as [ADDR]:PORT
  // Stop after this many sessions have ended; unset: until a signal.
  std::optional<int> sessions;
  // Certificates and session reports go here; empty: a new directory under
  // $TMPDIR. Each session's report is appended as it ends to the JSON Lines
  // stream `sessions.jsonl` there (one line per session, in the order they
  // end, its line feed written last), at a cost that does not grow with the
  // sessions already served.
  std::filesystem::path run_dir;
  // Also write each session's report, pretty-printed, to a file of its own,
  // `sessions/NNNN-<scenario>.json` in the run directory. Off by default:
  // creating a file per session costs about an eighth of a session's CPU,
  // and the stream holds the same reports.
  bool session_files = false;
  // Also keep all reports in this one file, `{"run_dir", "scenarios",
  // "sessions"}` in connection order, written when the run opens (no
  // session) and when it ends (from the stream, one session at a time).
  std::optional<std::filesystem::path> report;
  // Threads serving sessions, each with its own event loop; a session stays
  // on the thread it started on.
  int threads = 1;
  // No session lasts longer than this, whatever its scenario's
  // Session-Timeout; unset: each scenario's own.
  std::optional<std::chrono::milliseconds> session_timeout;
  // The whole run ends this long after READY: the acceptor closes and
  // sessions in progress are aborted at once (reported as interrupted).
  // Unset: until --sessions or a signal.
  std::optional<std::chrono::milliseconds> run_timeout;
  // Called as each session ends, after its report is streamed, on the
  // thread that ran the session (with --threads N, from several threads at
  // once). It must not block for long: the thread serves other sessions.
  std::function<void(const EndedSession&)> on_session;
};

// A malformed --listen (not ADDR:PORT with a numeric address and port) as
// one line; nothing is opened.
[[nodiscard]] tl::expected<void, std::string> CheckListenAddress(
    const std::string& listen);

struct RunSummary {
  int sessions = 0;  // sessions that ended, reports written
  // The run deadline passed before the run ended by itself.
  bool run_deadline_passed = false;
  int sessions_cut = 0;  // sessions the run deadline aborted
};

// Prepares the run (directory, the certificates of the profiles the
// scenarios present, listening socket), prints
// "READY port=<n> cafile=<path>" to *ready, then serves until the session
// count is reached, SIGINT/SIGTERM arrives or the run deadline passes, and
// writes every report before returning. The socket is bound before anything
// is written, so a port in use leaves no run directory behind. An error is
// one line for people.
// SIGINT and SIGTERM are read from a signalfd: RunServer blocks them in the
// calling thread (and so in every thread it starts) and leaves them blocked
// when it returns, so that a stop signal that comes while the run is ending
// does not kill the process. Call it from the process's main thread, before
// any other thread that could receive them is started.
[[nodiscard]] tl::expected<RunSummary, std::string> RunServer(
    const ServerOptions& options, std::ostream* ready);

// The same server, started on a thread of its own for use inside a process
// (the in-process FakeSmtpServer): it serves until Stop() or its
// destruction, and does not touch signals. An empty run_dir is a new
// temporary directory, removed when the server goes.
class RunningServer {
 public:
  // Everything RunServer() does before READY; an error is one line.
  [[nodiscard]] static tl::expected<std::unique_ptr<RunningServer>, std::string>
  Start(ServerOptions options);
  ~RunningServer();  // Stop()
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  [[nodiscard]] uint16_t port() const;
  [[nodiscard]] const std::filesystem::path& ca_file() const;
  [[nodiscard]] const std::filesystem::path& run_dir() const;

  // Stops accepting, aborts the sessions in progress (each is reported,
  // as interrupted), joins the thread and gives what Run gave. Idempotent.
  tl::expected<RunSummary, std::string> Stop();

 private:
  struct Impl;
  explicit RunningServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace starttls::server

#endif  // STARTTLS_SERVER_SERVER_H_
