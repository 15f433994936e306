#include "server/session.h"

#include <fmt/format.h>

namespace starttls::server {
namespace {

// Longer than any legal SMTP line (RFC 5321 4.5.3.1: 1000 octets of text).
constexpr size_t kMaxLineLength = 64 * 1024;

class Interpreter {
 public:
  Interpreter(Wire* wire, const SessionContext& ctx, SessionRecord* record)
      : wire_(wire),
        ctx_(ctx),
        scenario_(*ctx.scenario),
        record_(record),
        responder_({.hostname = scenario_.host,
                    .capabilities = ResponderCapabilities(scenario_)}),
        session_deadline_(std::chrono::steady_clock::now() +
                          20 * scenario_.timeout) {}

  asio::awaitable<void> Run() {
    bool go_on = true;
    for (const Step& step : scenario_.steps) {
      go_on = co_await RunStep(step);
      if (!go_on) break;
    }
    if (go_on) {
      record_->script_completed = true;
      if (record_->ended.empty()) co_await AfterScript();
    }
    co_await wire_->Close(WaitDeadline());
    record_->tls = wire_->tls();
    record_->messages = responder_.messages();
  }

 private:
  // The deadline for one wait on the client.
  Deadline WaitDeadline() const {
    return std::min(std::chrono::steady_clock::now() + scenario_.timeout,
                    session_deadline_);
  }

  void Ended(const WireError& error, std::string_view where) {
    record_->timed_out = error.kind == WireError::Kind::kTimeout;
    record_->interrupted = error.kind == WireError::Kind::kAborted;
    record_->ended = fmt::format("{} {}", error.message, where);
  }

  // Runs one step; false ends the session.
  asio::awaitable<bool> RunStep(const Step& step) {
    std::string where = fmt::format("(scenario line {})", step.line);
    switch (step.kind) {
      case Step::Kind::kSend: {
        greeted_ = true;
        auto sent = co_await wire_->Send(step.text + "\r\n", WaitDeadline());
        if (!sent) Ended(sent.error(), where);
        co_return sent.has_value();
      }
      case Step::Kind::kExpect: {
        auto line = co_await wire_->ReadLine(kMaxLineLength, WaitDeadline());
        if (!line) {
          Ended(line.error(), fmt::format("while the script expected \"{}\" {}",
                                          step.text, where));
          co_return false;
        }
        if (!MatchesClientLine(step.text, *line)) {
          record_->mismatch = Mismatch{step.line, step.text, *line};
          record_->ended = fmt::format(
              "the client sent \"{}\" where the script "
              "expected \"{}\" {}",
              *line, step.text, where);
          co_return false;
        }
        // The responder follows the protocol state even while the script
        // speaks, so that `serve` can take over at any point.
        (void)responder_.OnLine(*line);
        co_return true;
      }
      case Step::Kind::kTls: {
        auto tls = co_await wire_->StartTls(ctx_.tls, WaitDeadline());
        if (!tls) {
          Ended(tls.error(), fmt::format("during the TLS handshake {}", where));
          co_return false;
        }
        responder_.OnTlsStarted();
        co_return true;
      }
      case Step::Kind::kServe:
        co_return co_await Serve();
      case Step::Kind::kClose:
        record_->ended =
            fmt::format("the server closed the connection {}", where);
        co_return true;
    }
    co_return false;
  }

  // The script is over: answer QUIT so a client that gives up politely is
  // not kept waiting, and record anything else until the client goes away.
  asio::awaitable<void> AfterScript() {
    while (true) {
      auto line = co_await wire_->ReadLine(kMaxLineLength, WaitDeadline());
      if (!line) {
        Ended(line.error(), "after the last step");
        co_return;
      }
      if (MatchesClientLine("QUIT", *line)) {
        (void)co_await wire_->Send("221 2.0.0 Bye\r\n", WaitDeadline());
        record_->ended = "the client quit after the last step";
        co_return;
      }
    }
  }

  // The built-in responder answers until the client quits or goes away.
  asio::awaitable<bool> Serve() {
    if (!greeted_) {
      // A scenario that is only `serve` still owes the client a greeting.
      auto sent = co_await wire_->Send(
          fmt::format("220 {} ESMTP starttls-mock\r\n", scenario_.host),
          WaitDeadline());
      if (!sent) {
        Ended(sent.error(), "while sending the responder's greeting");
        co_return true;
      }
    }
    while (true) {
      auto line = co_await wire_->ReadLine(kMaxLineLength, WaitDeadline());
      if (!line) {
        if (line.error().kind == WireError::Kind::kTooLong) {
          (void)co_await wire_->Send("500 5.5.2 Line too long\r\n",
                                     WaitDeadline());
        }
        Ended(line.error(), "while the responder was serving");
        co_return true;
      }
      Responder::Response response = responder_.OnLine(*line);
      if (!response.reply.empty()) {
        if (auto sent = co_await wire_->Send(response.reply, WaitDeadline());
            !sent) {
          Ended(sent.error(), "while the responder was serving");
          co_return true;
        }
      }
      switch (response.action) {
        case Responder::Action::kNone:
          break;
        case Responder::Action::kClose:
          record_->ended = "the client quit";
          co_return true;
        case Responder::Action::kStartTls:
          if (auto tls = co_await wire_->StartTls(ctx_.tls, WaitDeadline());
              !tls) {
            Ended(tls.error(),
                  "during the TLS handshake the responder started");
            co_return true;
          }
          responder_.OnTlsStarted();
          break;
      }
    }
  }

  Wire* wire_;
  const SessionContext& ctx_;
  const Scenario& scenario_;
  SessionRecord* record_;
  Responder responder_;
  std::chrono::steady_clock::time_point session_deadline_;
  bool greeted_ = false;  // the script has sent something to the client
};

}  // namespace

asio::awaitable<void> RunSession(Wire* wire, SessionContext ctx,
                                 SessionRecord* record) {
  record->scenario = ctx.scenario->name;
  record->scenario_path = ctx.scenario->path;
  record->connection = ctx.connection;
  record->peer = wire->peer();
  record->started = std::chrono::system_clock::now();
  Interpreter interpreter(wire, ctx, record);
  co_await interpreter.Run();
  record->duration = record->events.Elapsed();
}

}  // namespace starttls::server
