#include "starttls/fake_smtp_server.h"

#include <fmt/format.h>

#include <algorithm>
#include <condition_variable>
#include <mutex>

#include "judge/judge.h"
#include "judge/report.h"
#include "scenario/scenario.h"
#include "server/server.h"

namespace starttls::testing {

using tl::unexpected;
namespace srv = starttls::server;

struct FakeSmtpServer::State {
  std::string host;
  mutable std::mutex mu;
  std::condition_variable ended;
  std::vector<ReplayedSession> sessions;  // guarded by mu
  size_t waited_for = 0;  // sessions WaitForSession() has returned for
  // Last: stopped (and its sessions reported) before the rest goes.
  std::unique_ptr<srv::RunningServer> server;
};

namespace {

// The dialogue as the client saw it, one line per line.
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

// From the verdict itself; the report is there for what it does not say.
ReplayedSession FromVerdict(const srv::EndedSession& ended) {
  const srv::Verdict& v = ended.verdict;
  ReplayedSession s;
  s.verdict = std::string(srv::VerdictName(v));
  s.expected =
      srv::ExpectationName(ended.scenario.expect, *ended.scenario.protocol);
  s.observed = srv::OutcomeName(v.observed, *ended.scenario.protocol);
  s.delivered = v.observed == srv::Outcome::kDelivered;
  for (const srv::Reason& r : v.reasons) s.reasons.push_back(r.text);
  for (const srv::Finding& f : v.findings) s.oracles.push_back(f.id);
  s.transcript = Transcript(ended.record.events);
  s.report = srv::SessionReport(ended.scenario, ended.record, v);
  return s;
}

std::string Describe(const ReplayedSession& s) {
  std::string reasons;
  for (const std::string& r : s.reasons) reasons += "\n  " + r;
  return fmt::format("expected {}, observed {}, verdict {}{}\ntranscript:\n{}",
                     s.expected, s.observed, s.verdict, reasons, s.transcript);
}

}  // namespace

tl::expected<std::unique_ptr<FakeSmtpServer>, std::string>
FakeSmtpServer::Start(FakeSmtpServerOptions options) {
  if (options.scenario_text.empty() == options.scenario_file.empty()) {
    return unexpected(std::string(
        "FakeSmtpServer: give exactly one of scenario_text and scenario_file"));
  }
  auto scenario = options.scenario_file.empty()
                      ? srv::ParseScenario(options.scenario_text, "inline.smtp")
                      : srv::LoadScenario(options.scenario_file);
  if (!scenario) return unexpected(scenario.error().ToString());
  auto state = std::make_unique<State>();
  state->host = scenario->host;
  State* s = state.get();
  srv::ServerOptions server_options{
      .listen = options.listen,
      .run_dir = options.run_dir,
      .threads = 1,
      .on_session =
          [s](const srv::EndedSession& ended) {
            ReplayedSession session = FromVerdict(ended);
            {
              std::lock_guard lock(s->mu);
              s->sessions.push_back(std::move(session));
            }
            s->ended.notify_all();
          },
  };
  server_options.scenarios.push_back(std::move(*scenario));
  auto server = srv::RunningServer::Start(std::move(server_options));
  if (!server) return unexpected(server.error());
  state->server = std::move(*server);
  return std::unique_ptr<FakeSmtpServer>(new FakeSmtpServer(std::move(state)));
}

FakeSmtpServer::FakeSmtpServer(std::unique_ptr<State> state)
    : state_(std::move(state)) {}

FakeSmtpServer::~FakeSmtpServer() { (void)state_->server->Stop(); }

uint16_t FakeSmtpServer::port() const { return state_->server->port(); }
const std::filesystem::path& FakeSmtpServer::cafile() const {
  return state_->server->ca_file();
}
const std::string& FakeSmtpServer::host() const { return state_->host; }

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
