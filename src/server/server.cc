#include "server/server.h"

#include <fmt/format.h>
#include <pthread.h>
#include <sys/signalfd.h>

#include <algorithm>
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "certs/catalogue.h"
#include "certs/host_name.h"
#include "common/atomic_file.h"
#include "engine/session.h"
#include "engine/wire.h"
#include "judge/judge.h"
#include "judge/report.h"
#include "server/run_setup.h"
#include "starttls/ossl.h"

namespace starttls::server {
namespace {

using asio::ip::tcp;
using tl::unexpected;

// How long sessions in progress may take to end by themselves once the
// server is told to stop (their client has usually just exited).
constexpr std::chrono::seconds kStopGrace{2};

// Runs sessions on `threads` threads, each with its own io_context. One
// acceptor, on the first context, numbers connections in accept order and
// hands them round-robin to the contexts; a session stays on its context
// (and so on one thread) from start to end, which keeps OpenSSL's per-thread
// error queue valid across a session's co_awaits. What sessions share (the
// reports, the scenario runs, the set of live wires, the counters) is
// guarded by mu_.
class Server {
 public:
  explicit Server(const ServerOptions& options)
      : options_(options),
        ios_(MakeContexts(std::max(1, options.threads))),
        main_(*ios_.front()),
        acceptor_(main_),
        stop_signals_(main_),
        backoff_(main_),
        grace_(main_),
        run_timer_(main_) {
    // Connection k plays entries_[(k - 1) % size]: every connection of every
    // scenario, in order.
    for (const Scenario& s : options_.scenarios) {
      for (int c = 1; c <= ConnectionCount(s); ++c) entries_.push_back({&s, c});
      runs_.emplace(&s, std::make_shared<ScenarioRun>());
    }
  }

  // Blocks SIGINT and SIGTERM in this thread (the workers Start() creates
  // inherit the mask) and reads them from a signalfd on the first context.
  // No signal handler runs at all: nothing has to be async-signal-safe, and
  // no runtime can hold a signal back (ThreadSanitizer's defers a handler
  // until the thread that received the signal enters a call it intercepts,
  // which could leave a stop signal unanswered). Before Start().
  tl::expected<void, std::string> WatchStopSignals() {
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    if (int err = pthread_sigmask(SIG_BLOCK, &stop, nullptr); err != 0) {
      return unexpected(
          fmt::format("cannot block SIGINT and SIGTERM: {}", strerror(err)));
    }
    int fd = signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0) {
      return unexpected(fmt::format("signalfd: {}", strerror(errno)));
    }
    stop_signals_.assign(fd);
    return {};
  }

  // Opens the acceptor. Open() calls it.
  tl::expected<unsigned short, std::string> Listen(
      const tcp::endpoint& endpoint) {
    asio::error_code ec;
    acceptor_.open(endpoint.protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(endpoint, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return unexpected(fmt::format("cannot listen on {}: {}", options_.listen,
                                    ec.message()));
    }
    return acceptor_.local_endpoint().port();
  }

  // Prepares the run: the listening socket (bound before anything is
  // written, so a port in use leaves nothing behind), the run directory, the
  // run's PKI and the aggregate report. A run directory made here is removed
  // again when Open() fails, and also when the server goes if
  // `keep_run_dir` is false. Returns the port. Before Start().
  tl::expected<unsigned short, std::string> Open(bool keep_run_dir) {
    if (options_.scenarios.empty())
      return unexpected(std::string("no scenario to serve"));
    auto endpoint = ParseListenAddress(options_.listen, "--listen");
    if (!endpoint) return unexpected(endpoint.error());
    std::vector<std::string> hosts;
    std::vector<std::string> profiles;
    for (const Scenario& s : options_.scenarios) {
      for (std::string& profile : Certificates(s)) {
        if (certs::FindProfile(profile) == nullptr) {
          return unexpected(fmt::format(
              "{}: unknown certificate profile \"{}\"", s.path, profile));
        }
        profiles.push_back(std::move(profile));
      }
      hosts.push_back(s.host);
    }
    auto port = Listen(*endpoint);
    if (!port) return unexpected(port.error());
    auto run_dir = RunDirectory::Make(options_.run_dir, "starttls-mock");
    if (!run_dir) return unexpected(run_dir.error());
    if (options_.session_files) {
      std::error_code ec;
      std::filesystem::create_directories(run_dir->path() / "sessions", ec);
      if (ec) {
        return unexpected(
            fmt::format("{}: {}", run_dir->path().string(), ec.message()));
      }
    }
    // One issuance per run, for every scenario's host, shared by all
    // scenarios.
    auto pki = IssueRunPki(hosts, profiles, run_dir->path() / "pki");
    if (!pki) return unexpected(pki.error());
    pki_ = std::move(*pki);
    run_dir_ = run_dir->path();
    stream_path_ = run_dir_ / kStreamName;
    stream_.open(stream_path_, std::ios::binary | std::ios::trunc);
    if (!stream_) {
      return unexpected(
          fmt::format("{}: {}", stream_path_.string(), std::strerror(errno)));
    }
    {
      std::lock_guard lock(mu_);
      if (auto r = WriteAggregate(); !r) return unexpected(r.error());
    }
    if (keep_run_dir) run_dir->Keep();
    run_dir_owner_.emplace(std::move(*run_dir));
    return *port;
  }

  [[nodiscard]] const std::filesystem::path& ca_file() const {
    return pki_.ca_file;
  }
  [[nodiscard]] const std::filesystem::path& run_dir() const {
    return run_dir_;
  }

  // Starts the worker threads (all but the first context's); Run() must
  // follow.
  void Start() {
    // Every context runs until FinishLocked(): the workers may have no
    // session for a while, the first waits for its acceptor and signals.
    for (auto& io : ios_) guards_.emplace_back(io->get_executor());
    for (size_t i = 1; i < ios_.size(); ++i) {
      workers_.emplace_back([io = ios_[i].get()] { io->run(); });
    }
  }

  // Serves on the calling thread until the stop, then joins the workers.
  tl::expected<RunSummary, std::string> Run() {
    if (stop_signals_.is_open()) {
      stop_signals_.async_read_some(asio::buffer(&siginfo_, sizeof siginfo_),
                                    [this](const asio::error_code& ec, size_t) {
                                      if (!ec) Stop(kStopGrace);
                                    });
    }
    if (options_.run_timeout) {
      run_timer_.expires_after(*options_.run_timeout);
      run_timer_.async_wait([this](const asio::error_code& ec) {
        if (ec) return;
        {
          std::lock_guard lock(mu_);
          if (stopping_) return;  // the run was ending anyway
          summary_.run_deadline_passed = true;
        }
        Stop(std::chrono::milliseconds(0));
      });
    }
    asio::co_spawn(main_, AcceptLoop(), asio::detached);
    main_.run();
    for (std::thread& t : workers_) t.join();
    std::lock_guard lock(mu_);
    if (auto r = WriteAggregate(); !r) return unexpected(r.error());
    if (!internal_errors_.empty()) return unexpected(internal_errors_.front());
    summary_.sessions = done_;
    return summary_;
  }

  // Stops accepting; sessions in progress get `grace` to end by themselves,
  // then are aborted (and reported as interrupted). Any thread.
  void Stop(std::chrono::milliseconds grace) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
      stopping_ = true;
    }
    asio::post(main_, [this, grace] {
      asio::error_code ignored;
      acceptor_.close(ignored);
      stop_signals_.cancel(ignored);
      backoff_.cancel();
      std::lock_guard lock(mu_);
      if (live_ == 0) {
        FinishLocked();
        return;
      }
      if (grace.count() == 0) {
        AbortAllLocked();
        return;
      }
      grace_.expires_after(grace);
      grace_.async_wait([this](const asio::error_code& ec) {
        if (ec) return;
        std::lock_guard lock(mu_);
        AbortAllLocked();
      });
    });
  }

 private:
  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(int n) {
    std::vector<std::unique_ptr<asio::io_context>> ios;
    // Concurrency hint 1: each context is only ever run by one thread.
    for (int i = 0; i < n; ++i)
      ios.push_back(std::make_unique<asio::io_context>(1));
    return ios;
  }

  // Aborts every session in progress. Needs mu_.
  void AbortAllLocked() {
    summary_.sessions_cut += static_cast<int>(active_.size());
    for (auto& [wire, io] : active_) {
      // On the wire's own thread, and only if it is still there then.
      asio::post(*io, [this, wire = wire] {
        std::lock_guard lock(mu_);
        if (active_.contains(wire)) wire->Abort();
      });
    }
  }

  // Every session has ended after a stop: lets every context run out.
  // Needs mu_.
  void FinishLocked() {
    if (finished_) return;
    finished_ = true;
    asio::post(main_, [this] {
      grace_.cancel();
      run_timer_.cancel();
    });
    for (auto& guard : guards_) guard.reset();
  }

  asio::awaitable<void> AcceptLoop() {
    int accepted = 0;
    size_t next = 0;
    while (!Stopping() &&
           (!options_.sessions || accepted < *options_.sessions)) {
      asio::io_context& io = *ios_[next];
      next = (next + 1) % ios_.size();
      auto accepted_socket = co_await acceptor_.async_accept(
          io, asio::experimental::as_tuple(asio::use_awaitable));
      auto& [ec, socket] = accepted_socket;
      if (ec) {
        if (Stopping()) break;
        if (ec != asio::error::connection_aborted) {
          // Out of descriptors or buffers: back off instead of spinning.
          backoff_.expires_after(std::chrono::milliseconds(100));
          (void)co_await backoff_.async_wait(
              asio::experimental::as_tuple(asio::use_awaitable));
        }
        continue;
      }
      int n = ++accepted;
      {
        std::lock_guard lock(mu_);
        ++live_;
      }
      asio::co_spawn(
          io, RunOne(std::move(socket), n, &io),
          [this, n](std::exception_ptr e) {
            if (!e) return;
            std::string what = "unknown exception";
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& ex) {
              what = ex.what();
            } catch (...) {
            }
            {
              std::lock_guard lock(mu_);
              internal_errors_.push_back(
                  fmt::format("session {}: internal error: {}", n, what));
              std::cerr << "starttls-mock: " << internal_errors_.back() << "\n";
            }
            SessionDone();
          });
    }
    asio::error_code ignored;
    acceptor_.close(ignored);
  }

  bool Stopping() {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  asio::awaitable<void> RunOne(tcp::socket socket, int n,
                               asio::io_context* io) {
    auto [scenario_ptr, script_connection] =
        entries_[(n - 1) % entries_.size()];
    const Scenario& scenario = *scenario_ptr;
    // The connections that play a scenario share what they learn about the
    // client for the whole run: a client that comes back after a failed
    // handshake is judged with that failure in mind, whichever of the
    // scenario's connections it lands on.
    std::shared_ptr<ScenarioRun> this_run = runs_.at(&scenario);
    // Replies are whole writes; Nagle would hold a reply back behind the
    // previous one's delayed ACK (40 ms on Linux).
    asio::error_code no_delay_error;
    socket.set_option(tcp::no_delay(true), no_delay_error);
    auto record = std::make_unique<SessionRecord>();
    Wire wire(std::move(socket), &record->events);
    // Stop() must never reach a Wire that is gone, even if RunSession throws.
    bool stopping = false;
    {
      std::lock_guard lock(mu_);
      active_.emplace(&wire, io);
      stopping = stopping_;
    }
    std::unique_ptr<Wire, std::function<void(Wire*)>> registered(
        &wire, [this](Wire* w) {
          std::lock_guard lock(mu_);
          active_.erase(w);
        });
    if (stopping) wire.Abort();
    // Named, not a temporary in the co_await expression: g++ 12 destroys
    // such temporaries twice.
    const std::string& certificate =
        ConnectionCertificate(scenario, script_connection);
    SessionContext context{.scenario = &scenario,
                           .tls = pki_.Context(certificate),
                           .connection = n,
                           .script_connection = script_connection,
                           .run = this_run,
                           .session_cap = options_.session_timeout};
    co_await RunSession(&wire, std::move(context), record.get());
    registered.reset();

    const certs::Profile* profile = certs::FindProfile(certificate);
    // A revoked leaf is only bad for a client that was given the CRL, and
    // scenarios do not give clients one.
    bool bad_certificate = profile != nullptr && profile->must_be_refused();
    Verdict verdict = Judge(scenario, *record, bad_certificate);
    // Written without a JSON tree: building and dumping one cost a quarter of
    // a session's CPU.
    std::string line =
        SessionReportText(scenario, *record, verdict, ReportLayout::kOneLine);
    line += '\n';
    tl::expected<void, std::string> written;
    if (options_.session_files) {
      written = WriteNewFileAtomically(
          run_dir_ / "sessions" /
              fmt::format("{:04}-{}.json", n, scenario.name),
          SessionReportText(scenario, *record, verdict));
    }
    {
      std::lock_guard lock(mu_);
      if (!written) internal_errors_.push_back(written.error());
      if (auto r = StreamLocked(n, line); !r)
        internal_errors_.push_back(r.error());
    }
    if (options_.on_session) {
      options_.on_session(EndedSession{.scenario = scenario,
                                       .record = *record,
                                       .verdict = verdict,
                                       .connection = n});
    }
    SessionDone();
  }

  void SessionDone() {
    bool stop = false;
    {
      std::lock_guard lock(mu_);
      ++done_;
      --live_;
      stop = options_.sessions && done_ >= *options_.sessions;
      if (stopping_ && live_ == 0) FinishLocked();
    }
    if (stop) Stop(kStopGrace);
  }

  // Appends a finished session's report, `line` (one line of JSON and its
  // line feed), to the stream, and remembers where it is. The line feed is
  // written last, so a reader that keeps only complete lines sees only
  // complete sessions. O(1) in the sessions already served. Needs mu_.
  tl::expected<void, std::string> StreamLocked(int connection,
                                               std::string_view line) {
    stream_.write(line.data(), static_cast<std::streamsize>(line.size()));
    stream_.flush();
    if (!stream_) {
      return unexpected(
          fmt::format("{}: cannot append a session", stream_path_.string()));
    }
    // Where each session is, for the aggregate only.
    if (options_.report) {
      streamed_.push_back({.connection = connection,
                           .offset = stream_size_,
                           .size = line.size() - 1});
    }
    stream_size_ += line.size();
    return {};
  }

  // Writes the aggregate report (--report): the run's scenarios and run
  // directory, and every streamed session in connection order, read back
  // from the stream one at a time, so that memory does not grow with the
  // report. Atomic: readers see the previous document or this one. Called
  // when the run opens (no session yet) and when it ends. Needs mu_.
  tl::expected<void, std::string> WriteAggregate() {
    if (!options_.report) return {};
    std::vector<std::string> paths;
    for (const Scenario& s : options_.scenarios) paths.push_back(s.path);
    std::vector<Streamed> order = streamed_;
    std::sort(order.begin(), order.end(),
              [](const Streamed& a, const Streamed& b) {
                return a.connection < b.connection;
              });
    std::ifstream in;
    if (!order.empty()) in.open(stream_path_, std::ios::binary);
    return WriteFileAtomicallyFrom(
        *options_.report, [&](const auto& put) -> std::string {
          // Keys in sorted order, as a JSON tree would dump them.
          put(
              fmt::format("{{\"run_dir\": {},\n\"scenarios\": {},\n"
                          "\"sessions\": [",
                          nlohmann::json(run_dir_.string()).dump(),
                          nlohmann::json(paths).dump()));
          std::string report;
          for (size_t i = 0; i < order.size(); ++i) {
            report.resize(order[i].size);
            in.seekg(static_cast<std::streamoff>(order[i].offset));
            in.read(report.data(), static_cast<std::streamsize>(report.size()));
            if (!in) {
              return fmt::format("cannot read session {} back from {}",
                                 order[i].connection, stream_path_.string());
            }
            if (!put(i == 0 ? "\n" : ",\n") || !put(report)) return {};
          }
          put("\n]}\n");
          return {};
        });
  }

  const ServerOptions& options_;
  std::filesystem::path run_dir_;
  std::optional<RunDirectory> run_dir_owner_;
  RunPki pki_;
  std::vector<std::unique_ptr<asio::io_context>> ios_;
  asio::io_context& main_;  // ios_[0]: the acceptor, signals and timers
  tcp::acceptor acceptor_;
  asio::posix::stream_descriptor stop_signals_;  // a signalfd
  signalfd_siginfo siginfo_{};
  asio::steady_timer backoff_;
  asio::steady_timer grace_;
  asio::steady_timer run_timer_;  // the run deadline
  std::vector<std::pair<const Scenario*, int>> entries_;
  // One per scenario, made before any session starts (then only read).
  std::map<const Scenario*, std::shared_ptr<ScenarioRun>> runs_;

  std::mutex mu_;
  std::vector<asio::executor_work_guard<asio::io_context::executor_type>>
      guards_;
  std::vector<std::thread> workers_;
  bool stopping_ = false;
  bool finished_ = false;
  int live_ = 0;  // sessions spawned and not yet done
  int done_ = 0;
  std::map<Wire*, asio::io_context*> active_;
  // The stream of finished sessions' reports, one JSON line each, in the
  // order they end; where each one is, for the aggregate (--report).
  static constexpr std::string_view kStreamName = "sessions.jsonl";
  struct Streamed {
    int connection;
    uint64_t offset;
    uint64_t size;  // without the line feed
  };
  std::filesystem::path stream_path_;
  std::ofstream stream_;
  uint64_t stream_size_ = 0;
  std::vector<Streamed> streamed_;
  std::vector<std::string> internal_errors_;
  RunSummary summary_;
};

}  // namespace

tl::expected<void, std::string> CheckListenAddress(const std::string& listen) {
  auto endpoint = ParseListenAddress(listen, "--listen");
  if (!endpoint) return unexpected(endpoint.error());
  return {};
}

tl::expected<RunSummary, std::string> RunServer(const ServerOptions& options,
                                                std::ostream* ready) {
  Server server(options);
  if (auto r = server.WatchStopSignals(); !r) return unexpected(r.error());
  auto port = server.Open(/*keep_run_dir=*/true);
  if (!port) return unexpected(port.error());
  server.Start();
  *ready << fmt::format("READY port={} cafile={}", *port,
                        server.ca_file().string())
         << std::endl;
  return server.Run();
}

struct RunningServer::Impl {
  explicit Impl(ServerOptions o) : options(std::move(o)), server(options) {}
  ServerOptions options;  // the server holds a reference
  Server server;
  unsigned short port = 0;
  std::thread thread;
  tl::expected<RunSummary, std::string> result;
};

tl::expected<std::unique_ptr<RunningServer>, std::string> RunningServer::Start(
    ServerOptions options) {
  bool keep = !options.run_dir.empty();
  auto impl = std::make_unique<Impl>(std::move(options));
  auto port = impl->server.Open(keep);
  if (!port) return unexpected(port.error());
  impl->port = *port;
  impl->server.Start();
  Impl* i = impl.get();
  i->thread = std::thread([i] { i->result = i->server.Run(); });
  return std::unique_ptr<RunningServer>(new RunningServer(std::move(impl)));
}

RunningServer::RunningServer(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}

RunningServer::~RunningServer() { (void)Stop(); }

tl::expected<RunSummary, std::string> RunningServer::Stop() {
  if (impl_->thread.joinable()) {
    impl_->server.Stop(std::chrono::milliseconds(0));
    impl_->thread.join();
  }
  return impl_->result;
}

uint16_t RunningServer::port() const { return impl_->port; }
const std::filesystem::path& RunningServer::ca_file() const {
  return impl_->server.ca_file();
}
const std::filesystem::path& RunningServer::run_dir() const {
  return impl_->server.run_dir();
}

}  // namespace starttls::server
