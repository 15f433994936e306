#include "server/fake_smtp_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <condition_variable>
#include <cstdlib>
#include <mutex>
#include <set>
#include <thread>

#include "certs/catalogue.h"
#include "certs/host_name.h"
#include "common/ossl.h"
#include "server/judge.h"
#include "server/report.h"
#include "server/scenario.h"
#include "server/session.h"
#include "server/wire.h"

namespace starttls::testing {

using asio::ip::tcp;
using tl::unexpected;
namespace srv = starttls::server;

struct FakeSmtpServer::State {
  srv::Scenario scenario;
  std::filesystem::path run_dir;
  bool remove_run_dir = false;
  std::filesystem::path cafile;
  ossl::SslCtxPtr tls;
  bool bad_certificate = false;

  asio::io_context io{1};
  tcp::acceptor acceptor{io};
  std::shared_ptr<srv::ScenarioRun> run = std::make_shared<srv::ScenarioRun>();
  std::set<srv::Wire*> active;  // only touched on the io thread
  bool stopping = false;        // likewise
  uint16_t port = 0;
  std::thread thread;

  mutable std::mutex mu;
  std::condition_variable ended;
  std::vector<ReplayedSession> sessions;  // guarded by mu
  size_t waited_for = 0;  // sessions WaitForSession() has returned for

  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> RunOne(tcp::socket socket, int n);
  void Stop();
};

namespace {

// The dialogue as the client saw it, line by line.
std::string Transcript(const srv::EventLog& log) {
  std::string out;
  std::string partial[2];
  for (const srv::Event& e : log.events()) {
    if (e.kind == srv::Event::Kind::kTlsEstablished) out += "-- TLS --\n";
    if (e.kind != srv::Event::Kind::kBytes ||
        e.layer == srv::Layer::kTlsRecord) {
      continue;
    }
    int side = e.from == srv::Peer::kServer ? 0 : 1;
    std::string& buf = partial[side];
    buf += e.bytes;
    size_t nl;
    while ((nl = buf.find('\n')) != std::string::npos) {
      std::string line = buf.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      out += fmt::format("{}: {}\n", side == 0 ? "S" : "C", line);
      buf.erase(0, nl + 1);
    }
  }
  for (int side = 0; side < 2; ++side) {
    if (!partial[side].empty()) {
      out += fmt::format("{}: {} (no line end)\n", side == 0 ? "S" : "C",
                         partial[side]);
    }
  }
  return out;
}

ReplayedSession FromReport(nlohmann::json report, std::string transcript) {
  ReplayedSession s;
  s.verdict = report.value("verdict", "");
  s.expected = report.value("expected", "");
  s.observed = report.value("observed", "");
  s.delivered = report.value("delivered", false);
  for (const auto& r : report["reasons"])
    s.reasons.push_back(r.get<std::string>());
  for (const auto& o : report["oracles"])
    s.oracles.push_back(o["id"].get<std::string>());
  s.transcript = std::move(transcript);
  s.report = std::move(report);
  return s;
}

std::string Describe(const ReplayedSession& s) {
  std::string reasons;
  for (const std::string& r : s.reasons) reasons += "\n  " + r;
  return fmt::format("expected {}, observed {}, verdict {}{}\ntranscript:\n{}",
                     s.expected, s.observed, s.verdict, reasons, s.transcript);
}

}  // namespace

asio::awaitable<void> FakeSmtpServer::State::AcceptLoop() {
  int accepted = 0;
  while (!stopping) {
    auto [ec, socket] = co_await acceptor.async_accept(
        asio::experimental::as_tuple(asio::use_awaitable));
    if (ec) {
      if (stopping || ec == asio::error::operation_aborted) break;
      continue;
    }
    asio::co_spawn(io, RunOne(std::move(socket), ++accepted), asio::detached);
  }
}

asio::awaitable<void> FakeSmtpServer::State::RunOne(tcp::socket socket, int n) {
  asio::error_code ignored;
  socket.set_option(tcp::no_delay(true), ignored);
  auto record = std::make_unique<srv::SessionRecord>();
  srv::Wire wire(std::move(socket), &record->events);
  active.insert(&wire);
  if (stopping) wire.Abort();
  int connections = srv::ConnectionCount(scenario);
  // Named, not a temporary in the co_await expression (g++ 12).
  srv::SessionContext context{.scenario = &scenario,
                              .tls = tls.get(),
                              .connection = n,
                              .script_connection = (n - 1) % connections + 1,
                              .run = run};
  co_await srv::RunSession(&wire, std::move(context), record.get());
  active.erase(&wire);
  nlohmann::json report = srv::SessionReport(
      scenario, *record, srv::Judge(scenario, *record, bad_certificate));
  ReplayedSession session =
      FromReport(std::move(report), Transcript(record->events));
  {
    std::lock_guard lock(mu);
    sessions.push_back(std::move(session));
  }
  ended.notify_all();
}

void FakeSmtpServer::State::Stop() {
  stopping = true;
  asio::error_code ignored;
  acceptor.close(ignored);
  for (srv::Wire* wire : active) wire->Abort();
}

tl::expected<std::unique_ptr<FakeSmtpServer>, std::string>
FakeSmtpServer::Start(FakeSmtpServerOptions options) {
  auto state = std::make_unique<State>();
  if (options.scenario_text.empty() == options.scenario_file.empty()) {
    return unexpected(std::string(
        "FakeSmtpServer: give exactly one of scenario_text and scenario_file"));
  }
  auto scenario = options.scenario_file.empty()
                      ? srv::ParseScenario(options.scenario_text, "inline.smtp")
                      : srv::LoadScenario(options.scenario_file);
  if (!scenario) return unexpected(scenario.error().ToString());
  state->scenario = std::move(*scenario);

  std::error_code ec;
  if (options.run_dir.empty()) {
    std::string buf =
        (std::filesystem::temp_directory_path(ec) / "fake-smtp-server.XXXXXX")
            .string();
    if (ec || mkdtemp(buf.data()) == nullptr) {
      return unexpected(fmt::format("cannot create {}", buf));
    }
    state->run_dir = buf;
    state->remove_run_dir = true;
  } else {
    std::filesystem::create_directories(options.run_dir, ec);
    if (ec)
      return unexpected(
          fmt::format("{}: {}", options.run_dir.string(), ec.message()));
    state->run_dir = options.run_dir;
  }
  // The catalogue needs a DNS name first.
  std::vector<std::string> hosts{state->scenario.host};
  if (certs::IsIpLiteral(hosts.front())) {
    hosts.insert(hosts.begin(), "mail.example.test");
  }
  auto issued = certs::IssueCatalogue(hosts, {state->scenario.certificate});
  if (!issued) return unexpected(issued.error());
  auto files = certs::WriteCatalogue(*issued, state->run_dir / "pki");
  if (!files) return unexpected(files.error());
  state->cafile = files->ca_file;
  const certs::ProfileFiles& profile =
      files->profiles.at(state->scenario.certificate);
  state->tls.reset(SSL_CTX_new(TLS_server_method()));
  if (!state->tls) return unexpected("TLS context: " + ossl::DrainErrors());
  SSL_CTX_set_security_level(state->tls.get(), 0);  // as `serve` does
  if (SSL_CTX_use_certificate_chain_file(state->tls.get(),
                                         profile.chain_file.c_str()) != 1 ||
      SSL_CTX_use_PrivateKey_file(state->tls.get(), profile.key_file.c_str(),
                                  SSL_FILETYPE_PEM) != 1) {
    return unexpected("TLS context: " + ossl::DrainErrors());
  }
  const certs::Profile* p = certs::FindProfile(state->scenario.certificate);
  state->bad_certificate =
      p != nullptr && !p->good() && !p->policy_dependent() && !p->needs_crl;

  size_t colon = options.listen.rfind(':');
  asio::error_code aec;
  asio::ip::address addr = asio::ip::make_address(
      colon == std::string::npos ? "" : options.listen.substr(0, colon), aec);
  if (aec || colon == std::string::npos) {
    return unexpected(
        fmt::format("listen {}: expected ADDR:PORT", options.listen));
  }
  tcp::endpoint endpoint(
      addr,
      static_cast<uint16_t>(std::atoi(options.listen.c_str() + colon + 1)));
  state->acceptor.open(endpoint.protocol(), aec);
  if (!aec) state->acceptor.set_option(tcp::acceptor::reuse_address(true), aec);
  if (!aec) state->acceptor.bind(endpoint, aec);
  if (!aec)
    state->acceptor.listen(asio::socket_base::max_listen_connections, aec);
  if (aec) {
    return unexpected(
        fmt::format("cannot listen on {}: {}", options.listen, aec.message()));
  }
  state->port = state->acceptor.local_endpoint().port();
  State* s = state.get();
  asio::co_spawn(s->io, s->AcceptLoop(), asio::detached);
  s->thread = std::thread([s] { s->io.run(); });
  return std::unique_ptr<FakeSmtpServer>(new FakeSmtpServer(std::move(state)));
}

FakeSmtpServer::FakeSmtpServer(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

FakeSmtpServer::~FakeSmtpServer() {
  State* s = state_.get();
  asio::post(s->io, [s] { s->Stop(); });
  if (s->thread.joinable()) s->thread.join();
  if (s->remove_run_dir) {
    std::error_code ignored;
    std::filesystem::remove_all(s->run_dir, ignored);
  }
}

uint16_t FakeSmtpServer::port() const { return state_->port; }
const std::filesystem::path& FakeSmtpServer::cafile() const {
  return state_->cafile;
}
const std::string& FakeSmtpServer::host() const {
  return state_->scenario.host;
}

::testing::AssertionResult FakeSmtpServer::WaitForSessions(
    size_t count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(state_->mu);
  if (state_->ended.wait_for(
          lock, timeout, [&] { return state_->sessions.size() >= count; })) {
    return ::testing::AssertionSuccess();
  }
  auto failure = ::testing::AssertionFailure()
                 << state_->sessions.size() << " of " << count
                 << " sessions ended within " << timeout.count() << " ms";
  for (const ReplayedSession& s : state_->sessions) {
    failure << "\n" << Describe(s);
  }
  return failure;
}

::testing::AssertionResult FakeSmtpServer::WaitForSession(
    std::chrono::milliseconds timeout) {
  size_t next;
  {
    std::lock_guard lock(state_->mu);
    next = state_->waited_for + 1;
  }
  ::testing::AssertionResult waited = WaitForSessions(next, timeout);
  if (waited) {
    std::lock_guard lock(state_->mu);
    state_->waited_for = std::max(state_->waited_for, next);
  }
  return waited;
}

std::vector<ReplayedSession> FakeSmtpServer::sessions() const {
  std::lock_guard lock(state_->mu);
  return state_->sessions;
}

::testing::AssertionResult FakeSmtpServer::SessionPassed(size_t index) const {
  std::lock_guard lock(state_->mu);
  if (index >= state_->sessions.size()) {
    return ::testing::AssertionFailure()
           << "session " << index << " has not ended ("
           << state_->sessions.size() << " have)";
  }
  const ReplayedSession& s = state_->sessions[index];
  if (s.passed()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << Describe(s);
}

}  // namespace starttls::testing
