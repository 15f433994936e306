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
#include <functional>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include "certs/catalogue.h"
#include "certs/host_name.h"
#include "common/atomic_file.h"
#include "common/ossl.h"
#include "server/judge.h"
#include "server/report.h"
#include "server/session.h"
#include "server/wire.h"

namespace starttls::server {
namespace {

using asio::ip::tcp;
using tl::unexpected;

tl::expected<tcp::endpoint, std::string> ParseListen(
    const std::string& listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string::npos) {
    return unexpected(fmt::format("--listen {}: expected ADDR:PORT", listen));
  }
  std::string host = listen.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  asio::error_code ec;
  asio::ip::address addr = asio::ip::make_address(host, ec);
  if (ec)
    return unexpected(
        fmt::format("--listen {}: bad address \"{}\"", listen, host));
  char* end = nullptr;
  long port = std::strtol(listen.c_str() + colon + 1, &end, 10);
  if (*end != '\0' || colon + 1 == listen.size() || port < 0 || port > 65535) {
    return unexpected(fmt::format("--listen {}: bad port", listen));
  }
  return tcp::endpoint(addr, static_cast<unsigned short>(port));
}

struct RunDir {
  std::filesystem::path path;
  bool created = false;  // made here, so removed again if the run fails
};

tl::expected<RunDir, std::string> MakeRunDir(
    const std::filesystem::path& wanted) {
  std::error_code ec;
  if (!wanted.empty()) {
    bool existed = std::filesystem::exists(wanted, ec);
    std::filesystem::create_directories(wanted / "sessions", ec);
    // It will hold private keys: a directory made here is the owner's alone
    // (as mkdtemp's below); one that existed keeps the mode it was given.
    if (!ec && !existed) {
      std::filesystem::permissions(wanted, std::filesystem::perms::owner_all,
                                   ec);
    }
    if (ec)
      return unexpected(
          fmt::format("--run-dir {}: {}", wanted.string(), ec.message()));
    return RunDir{std::filesystem::absolute(wanted), !existed};
  }
  std::filesystem::path tmpl =
      std::filesystem::temp_directory_path(ec) / "starttls-mock.XXXXXX";
  std::string buf = tmpl.string();
  if (ec || mkdtemp(buf.data()) == nullptr) {
    return unexpected(
        fmt::format("cannot create a run directory {}", tmpl.string()));
  }
  std::filesystem::create_directories(std::filesystem::path(buf) / "sessions",
                                      ec);
  if (ec) {
    std::filesystem::remove_all(buf, ec);
    return unexpected(fmt::format("{}: {}", buf, ec.message()));
  }
  return RunDir{std::filesystem::path(buf), true};
}

// A server context presenting one profile of the catalogue.
tl::expected<ossl::SslCtxPtr, std::string> MakeTlsContext(
    const certs::ProfileFiles& files) {
  ossl::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return unexpected("TLS context: " + ossl::DrainErrors());
  // Level 0 lets the server load and offer the weak leaves (rsa-1024,
  // sha1-signature); whether to accept them is the client's decision.
  SSL_CTX_set_security_level(ctx.get(), 0);
  // An idle session (waiting for its client) holds no TLS record buffers:
  // they are taken when a record comes and given back after it.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.chain_file.c_str()) !=
          1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), files.key_file.c_str(),
                                  SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    return unexpected(fmt::format("TLS context for {}: {}",
                                  files.chain_file.string(),
                                  ossl::DrainErrors()));
  }
  return ctx;
}

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

  // Where reports go, and the contexts presenting each profile (every
  // scenario's is present; *tls outlives the server). Before Start().
  void Prepare(std::filesystem::path run_dir,
               const std::map<std::string, ossl::SslCtxPtr, std::less<>>* tls) {
    run_dir_ = std::move(run_dir);
    tls_ = tls;
  }

  // Writes the aggregate report with no sessions yet, so that an unwritable
  // --report is refused before anything is served, not after.
  tl::expected<void, std::string> WriteEmptyReport() {
    std::lock_guard lock(mu_);
    return WriteAggregate();
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
    stop_signals_.async_read_some(asio::buffer(&siginfo_, sizeof siginfo_),
                                  [this](const asio::error_code& ec, size_t) {
                                    if (!ec) Stop(kStopGrace);
                                  });
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

 private:
  static std::vector<std::unique_ptr<asio::io_context>> MakeContexts(int n) {
    std::vector<std::unique_ptr<asio::io_context>> ios;
    // Concurrency hint 1: each context is only ever run by one thread.
    for (int i = 0; i < n; ++i)
      ios.push_back(std::make_unique<asio::io_context>(1));
    return ios;
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
    SessionContext context{.scenario = &scenario,
                           .tls = tls_->at(scenario.certificate).get(),
                           .connection = n,
                           .script_connection = script_connection,
                           .run = this_run,
                           .session_cap = options_.session_timeout};
    co_await RunSession(&wire, std::move(context), record.get());
    registered.reset();

    const certs::Profile* profile = certs::FindProfile(scenario.certificate);
    // A revoked leaf is only bad for a client that was given the CRL, and
    // scenarios do not give clients one.
    bool bad_certificate = profile != nullptr && !profile->good() &&
                           !profile->policy_dependent() && !profile->needs_crl;
    Verdict verdict = Judge(scenario, *record, bad_certificate);
    std::filesystem::path file =
        run_dir_ / "sessions" / fmt::format("{:04}-{}.json", n, scenario.name);
    // Written without a JSON tree: building and dumping one cost a quarter of
    // a session's CPU.
    auto written = WriteNewFileAtomically(
        file, SessionReportText(scenario, *record, verdict));
    // Kept in memory only for the aggregate: without --report a long run
    // would otherwise hold every session's report.
    nlohmann::json report;
    if (options_.report) report = SessionReport(scenario, *record, verdict);
    {
      std::lock_guard lock(mu_);
      if (!written) internal_errors_.push_back(written.error());
      if (options_.report) {
        // Keep the aggregate in connection order, whatever order sessions end
        // in.
        auto at = std::upper_bound(reports_.begin(), reports_.end(), n,
                                   [](int k, const nlohmann::json& r) {
                                     return k < r["connection"].get<int>();
                                   });
        reports_.insert(at, std::move(report));
        if (auto r = WriteAggregate(); !r)
          internal_errors_.push_back(r.error());
      }
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

  // Needs mu_.
  tl::expected<void, std::string> WriteAggregate() {
    if (!options_.report) return {};
    std::vector<std::string> paths;
    for (const Scenario& s : options_.scenarios) paths.push_back(s.path);
    nlohmann::json all = {{"scenarios", paths},
                          {"run_dir", run_dir_.string()},
                          {"sessions", reports_}};
    return WriteFileAtomically(*options_.report, DumpReport(all));
  }

  const ServerOptions& options_;
  std::filesystem::path run_dir_;
  const std::map<std::string, ossl::SslCtxPtr, std::less<>>* tls_ = nullptr;
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
  std::vector<nlohmann::json> reports_;
  std::vector<std::string> internal_errors_;
  RunSummary summary_;
};

}  // namespace

tl::expected<void, std::string> CheckListenAddress(const std::string& listen) {
  auto endpoint = ParseListen(listen);
  if (!endpoint) return unexpected(endpoint.error());
  return {};
}

tl::expected<RunSummary, std::string> RunServer(const ServerOptions& options,
                                                std::ostream* ready) {
  if (options.scenarios.empty())
    return unexpected(std::string("no scenario to serve"));
  auto endpoint = ParseListen(options.listen);
  if (!endpoint) return unexpected(endpoint.error());
  for (const Scenario& s : options.scenarios) {
    if (certs::FindProfile(s.certificate) == nullptr) {
      return unexpected(fmt::format("{}: unknown certificate profile \"{}\"",
                                    s.path, s.certificate));
    }
  }
  // Declared before the server, which must not outlive them.
  std::map<std::string, ossl::SslCtxPtr, std::less<>> contexts;
  // Bound before anything is written: a port in use leaves nothing behind.
  Server server(options);
  if (auto r = server.WatchStopSignals(); !r) return unexpected(r.error());
  auto port = server.Listen(*endpoint);
  if (!port) return unexpected(port.error());
  auto made = MakeRunDir(options.run_dir);
  if (!made) return unexpected(made.error());
  const std::filesystem::path* run_dir = &made->path;
  // Nothing half-written: a run that fails before READY takes the
  // directory it made with it.
  std::unique_ptr<RunDir, void (*)(RunDir*)> cleanup(
      made->created ? &*made : nullptr, [](RunDir* dir) {
        std::error_code ignored;
        std::filesystem::remove_all(dir->path, ignored);
      });

  // One issuance per run, for every scenario's host (a DNS name first, as
  // the catalogue requires), shared by all scenarios.
  std::vector<std::string> hosts;
  for (const Scenario& s : options.scenarios) {
    if (std::find(hosts.begin(), hosts.end(), s.host) == hosts.end()) {
      hosts.push_back(s.host);
    }
  }
  std::stable_partition(hosts.begin(), hosts.end(), [](const std::string& h) {
    return !certs::IsIpLiteral(h);
  });
  if (certs::IsIpLiteral(hosts.front())) {
    hosts.insert(hosts.begin(), "mail.example.test");
  }
  // Only the profiles the scenarios present: issuing the whole catalogue
  // (its RSA key above all) would take most of the start-up time.
  std::vector<std::string> profiles;
  for (const Scenario& s : options.scenarios) {
    if (std::find(profiles.begin(), profiles.end(), s.certificate) ==
        profiles.end()) {
      profiles.push_back(s.certificate);
    }
  }
  auto issued = certs::IssueCatalogue(hosts, profiles);
  if (!issued) return unexpected(issued.error());
  auto files = certs::WriteCatalogue(*issued, *run_dir / "pki");
  if (!files) return unexpected(files.error());
  for (const Scenario& s : options.scenarios) {
    if (contexts.contains(s.certificate)) continue;
    auto profile = files->profiles.find(s.certificate);
    if (profile == files->profiles.end()) {
      return unexpected(fmt::format("{}: profile \"{}\" was not issued", s.path,
                                    s.certificate));
    }
    auto ctx = MakeTlsContext(profile->second);
    if (!ctx) return unexpected(ctx.error());
    contexts.emplace(s.certificate, std::move(*ctx));
  }

  server.Prepare(*run_dir, &contexts);
  if (auto r = server.WriteEmptyReport(); !r) return unexpected(r.error());
  cleanup.release();
  server.Start();
  *ready << fmt::format("READY port={} cafile={}", *port,
                        files->ca_file.string())
         << std::endl;
  return server.Run();
}

}  // namespace starttls::server
