#include "server/server.h"

#include <fmt/format.h>

#include <algorithm>
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <iostream>
#include <map>
#include <set>

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

tl::expected<std::filesystem::path, std::string> MakeRunDir(
    const std::filesystem::path& wanted) {
  std::error_code ec;
  if (!wanted.empty()) {
    std::filesystem::create_directories(wanted / "sessions", ec);
    if (ec)
      return unexpected(
          fmt::format("--run-dir {}: {}", wanted.string(), ec.message()));
    return std::filesystem::absolute(wanted);
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
  if (ec) return unexpected(fmt::format("{}: {}", buf, ec.message()));
  return std::filesystem::path(buf);
}

// A server context presenting one profile of the catalogue.
tl::expected<ossl::SslCtxPtr, std::string> MakeTlsContext(
    const certs::ProfileFiles& files) {
  ossl::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return unexpected("TLS context: " + ossl::DrainErrors());
  // Level 0 lets the server load and offer the weak leaves (rsa-1024,
  // sha1-signature); whether to accept them is the client's decision.
  SSL_CTX_set_security_level(ctx.get(), 0);
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

class Server {
 public:
  // tls maps profile names to contexts presenting them; every scenario's
  // profile is present.
  Server(const ServerOptions& options, std::filesystem::path run_dir,
         const std::map<std::string, ossl::SslCtxPtr, std::less<>>* tls)
      : options_(options),
        run_dir_(std::move(run_dir)),
        tls_(tls),
        acceptor_(io_),
        signals_(io_, SIGINT, SIGTERM) {
    // Connection k plays entries_[(k - 1) % size]: every connection of every
    // scenario, in order.
    for (const Scenario& s : options_.scenarios) {
      for (int c = 1; c <= ConnectionCount(s); ++c) entries_.push_back({&s, c});
    }
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

  tl::expected<void, std::string> Run() {
    signals_.async_wait([this](const asio::error_code& ec, int) {
      if (!ec) Stop();
    });
    asio::co_spawn(io_, AcceptLoop(), asio::detached);
    io_.run();
    if (auto r = WriteAggregate(); !r) return r;
    if (!internal_errors_.empty()) return unexpected(internal_errors_.front());
    return {};
  }

 private:
  // Stops accepting; sessions in progress get kStopGrace to end by
  // themselves, then are aborted (and reported as interrupted).
  void Stop() {
    if (stopping_) return;
    stopping_ = true;
    asio::error_code ignored;
    acceptor_.close(ignored);
    signals_.cancel(ignored);
    backoff_.cancel();
    if (active_.empty()) return;
    grace_.expires_after(kStopGrace);
    grace_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      for (Wire* wire : active_) wire->Abort();
    });
  }

  asio::awaitable<void> AcceptLoop() {
    int accepted = 0;
    while (!stopping_ &&
           (!options_.sessions || accepted < *options_.sessions)) {
      auto accepted_socket = co_await acceptor_.async_accept(
          asio::experimental::as_tuple(asio::use_awaitable));
      auto& [ec, socket] = accepted_socket;
      if (ec) {
        if (stopping_) break;
        if (ec != asio::error::connection_aborted) {
          // Out of descriptors or buffers: back off instead of spinning.
          backoff_.expires_after(std::chrono::milliseconds(100));
          (void)co_await backoff_.async_wait(
              asio::experimental::as_tuple(asio::use_awaitable));
        }
        continue;
      }
      int n = ++accepted;
      asio::co_spawn(
          io_, RunOne(std::move(socket), n), [this, n](std::exception_ptr e) {
            if (!e) return;
            std::string what = "unknown exception";
            try {
              std::rethrow_exception(e);
            } catch (const std::exception& ex) {
              what = ex.what();
            } catch (...) {
            }
            internal_errors_.push_back(
                fmt::format("session {}: internal error: {}", n, what));
            std::cerr << "starttls-mock: " << internal_errors_.back() << "\n";
            SessionDone();
          });
    }
    asio::error_code ignored;
    acceptor_.close(ignored);
  }

  asio::awaitable<void> RunOne(tcp::socket socket, int n) {
    auto [scenario_ptr, script_connection] =
        entries_[(n - 1) % entries_.size()];
    const Scenario& scenario = *scenario_ptr;
    // The connections that play a scenario share what they learn about the
    // client for the whole run: a client that comes back after a failed
    // handshake is judged with that failure in mind, whichever of the
    // scenario's connections it lands on.
    std::shared_ptr<ScenarioRun>& run = runs_[&scenario];
    if (!run) run = std::make_shared<ScenarioRun>();
    std::shared_ptr<ScenarioRun> this_run = run;
    auto record = std::make_unique<SessionRecord>();
    Wire wire(std::move(socket), &record->events);
    // Stop() must never reach a Wire that is gone, even if RunSession throws.
    active_.insert(&wire);
    std::unique_ptr<Wire, std::function<void(Wire*)>> registered(
        &wire, [this](Wire* w) { active_.erase(w); });
    if (stopping_) wire.Abort();
    // Named, not a temporary in the co_await expression: g++ 12 destroys
    // such temporaries twice.
    SessionContext context{.scenario = &scenario,
                           .tls = tls_->at(scenario.certificate).get(),
                           .connection = n,
                           .script_connection = script_connection,
                           .run = this_run};
    co_await RunSession(&wire, std::move(context), record.get());
    registered.reset();

    const certs::Profile* profile = certs::FindProfile(scenario.certificate);
    // A revoked leaf is only bad for a client that was given the CRL, and
    // scenarios do not give clients one.
    bool bad_certificate = profile != nullptr && !profile->good() &&
                           !profile->policy_dependent() && !profile->needs_crl;
    nlohmann::json report = SessionReport(
        scenario, *record, Judge(scenario, *record, bad_certificate));
    std::filesystem::path file =
        run_dir_ / "sessions" / fmt::format("{:04}-{}.json", n, scenario.name);
    if (auto r = WriteFileAtomically(file, DumpReport(report)); !r) {
      internal_errors_.push_back(r.error());
    }
    // Keep the aggregate in connection order, whatever order sessions end in.
    auto at = std::upper_bound(reports_.begin(), reports_.end(), n,
                               [](int k, const nlohmann::json& r) {
                                 return k < r["connection"].get<int>();
                               });
    reports_.insert(at, std::move(report));
    if (auto r = WriteAggregate(); !r) internal_errors_.push_back(r.error());
    SessionDone();
  }

  void SessionDone() {
    ++done_;
    if (options_.sessions && done_ >= *options_.sessions) Stop();
    if (stopping_ && active_.empty()) grace_.cancel();
  }

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
  const std::map<std::string, ossl::SslCtxPtr, std::less<>>* tls_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  asio::signal_set signals_;
  asio::steady_timer backoff_{io_};
  asio::steady_timer grace_{io_};
  std::vector<std::pair<const Scenario*, int>> entries_;
  std::map<const Scenario*, std::shared_ptr<ScenarioRun>> runs_;
  bool stopping_ = false;
  int done_ = 0;
  std::set<Wire*> active_;
  std::vector<nlohmann::json> reports_;
  std::vector<std::string> internal_errors_;
};

}  // namespace

tl::expected<void, std::string> RunServer(const ServerOptions& options,
                                          std::ostream* ready) {
  if (options.scenarios.empty())
    return unexpected(std::string("no scenario to serve"));
  auto endpoint = ParseListen(options.listen);
  if (!endpoint) return unexpected(endpoint.error());
  auto run_dir = MakeRunDir(options.run_dir);
  if (!run_dir) return unexpected(run_dir.error());

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
  auto issued = certs::IssueCatalogue(hosts);
  if (!issued) return unexpected(issued.error());
  auto files = certs::WriteCatalogue(*issued, *run_dir / "pki");
  if (!files) return unexpected(files.error());
  std::map<std::string, ossl::SslCtxPtr, std::less<>> contexts;
  for (const Scenario& s : options.scenarios) {
    if (contexts.contains(s.certificate)) continue;
    auto profile = files->profiles.find(s.certificate);
    if (profile == files->profiles.end()) {
      return unexpected(fmt::format("{}: unknown certificate profile \"{}\"",
                                    s.path, s.certificate));
    }
    auto ctx = MakeTlsContext(profile->second);
    if (!ctx) return unexpected(ctx.error());
    contexts.emplace(s.certificate, std::move(*ctx));
  }

  Server server(options, *run_dir, &contexts);
  auto port = server.Listen(*endpoint);
  if (!port) return unexpected(port.error());
  *ready << fmt::format("READY port={} cafile={}", *port,
                        files->ca_file.string())
         << std::endl;
  return server.Run();
}

}  // namespace starttls::server
