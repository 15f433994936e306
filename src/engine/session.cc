#include "engine/session.h"

#include <fmt/format.h>

#include <algorithm>

#include "scenario/tls_alert.h"

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
        steps_(ConnectionSteps(scenario_, ctx.script_connection)),
        record_(record),
        responder_(MakeResponder(*scenario_.protocol,
                                 {.hostname = scenario_.host,
                                  .capabilities = ResponderCapabilities(
                                      scenario_, ctx.script_connection)})),
        session_length_(
            std::min(SessionTimeout(scenario_),
                     ctx.session_cap.value_or(SessionTimeout(scenario_)))),
        session_deadline_(std::chrono::steady_clock::now() + session_length_) {}

  asio::awaitable<void> Run() {
    bool go_on = true;
    for (const Step& step : steps_) {
      if (step.kind != Step::Kind::kSend && step.kind != Step::Kind::kRaw &&
          step.kind != Step::Kind::kWrite) {
        go_on = co_await Flush(step, kOneWrite);
        if (!go_on) break;
      }
      go_on = co_await RunStep(step);
      if (!go_on) break;
    }
    if (go_on && !steps_.empty())
      go_on = co_await Flush(steps_.back(), kOneWrite);
    if (go_on) {
      record_->script_completed = true;
      if (record_->ended.empty()) co_await AfterScript();
    }
    co_await wire_->Close(WaitDeadline(), close_);
    record_->tls = wire_->tls();
    record_->messages = responder_->messages();
    record_->reached_goal = responder_->reached_goal();
    record_->earlier_tls_failure = ctx_.run->TlsFailedBefore(ctx_.connection);
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
    if (record_->timed_out &&
        std::chrono::steady_clock::now() >= session_deadline_) {
      // Not one slow wait: the whole session took too long (a client that
      // keeps talking without ever finishing).
      record_->ended +=
          fmt::format("; the session deadline passed ({}ms in all)",
                      session_length_.count());
    }
  }

  static std::string Where(const Step& step) {
    return fmt::format("(scenario line {})", step.line);
  }

  // Sends what `S:` and `send` queued, in one write unless `shape` cuts it.
  asio::awaitable<bool> Flush(const Step& step, const WriteShape& shape) {
    if (pending_.empty()) co_return true;
    std::string out = std::move(pending_);
    pending_.clear();
    greeted_ = true;
    auto sent = co_await wire_->Send(out, WaitDeadline(), shape);
    if (!sent) Ended(sent.error(), Where(step));
    co_return sent.has_value();
  }

  // The TLS handshake, with the scenario's other connections able to see
  // that it is going on and how it ended (ScenarioRun::TlsFailedBefore).
  asio::awaitable<WireResult<void>> Handshake(const TlsOptions& options) {
    ScenarioRun& run = *ctx_.run;
    const int connection = ctx_.connection;
    run.TlsStarted(connection);
    // Settled however the coroutine leaves, failure recorded first: a
    // reader never sees the handshake neither going on nor failed.
    struct Settle {
      ScenarioRun& run;
      int connection;
      ~Settle() { run.TlsSettled(connection); }
    } settle{run, connection};
    auto tls = co_await wire_->StartTls(ctx_.tls, options, WaitDeadline());
    if (!tls) run.TlsFailed(connection);
    co_return tls;
  }

  // Runs one step; false ends the session.
  asio::awaitable<bool> RunStep(const Step& step) {
    switch (step.kind) {
      case Step::Kind::kSend: {
        std::string text = responder_->ScriptText(step.text);
        pending_ += text + "\r\n";
        responder_->ScriptLine(text);
        co_return true;
      }
      case Step::Kind::kRaw: {
        std::string bytes = responder_->ScriptText(step.text);
        pending_ += bytes;
        FollowRaw(bytes);
        co_return true;
      }
      case Step::Kind::kWrite:
        co_return co_await Write(step);
      case Step::Kind::kExpect:
        co_return co_await Expect(step);
      case Step::Kind::kTls: {
        auto tls = co_await Handshake(step.tls);
        if (!tls) {
          Ended(tls.error(),
                fmt::format("during the TLS handshake {}", Where(step)));
          co_return false;
        }
        responder_->OnTlsStarted();
        co_return true;
      }
      case Step::Kind::kServe:
        co_return co_await Serve();
      case Step::Kind::kStall: {
        WireError ended = co_await wire_->Drain(WaitDeadline());
        Ended(ended, fmt::format("while the server stalled {}", Where(step)));
        co_return false;
      }
      case Step::Kind::kClose:
        close_ = step.close;
        if (record_->ended.empty()) {
          record_->ended =
              fmt::format("the server closed the connection {}", Where(step));
        }
        co_return true;
      case Step::Kind::kConnection:
        co_return true;
    }
    co_return false;
  }

  // Sends the queue step.write.repeat times (or, with forever, until the
  // client goes away or the session deadline passes), each copy after the
  // step's pauses.
  asio::awaitable<bool> Write(const Step& step) {
    const std::string copy =
        step.write.repeat > 1 || step.write.forever ? pending_ : std::string();
    for (int k = 0; step.write.forever || k < step.write.repeat; ++k) {
      if (k > 0) {
        if (std::chrono::steady_clock::now() >= session_deadline_) {
          // A client that reads an answer that never ends, without a bound.
          Ended({WireError::Kind::kTimeout, "the client was still reading"},
                fmt::format("after {} copies of the repeated write {}", k,
                            Where(step)));
          co_return false;
        }
        pending_ = copy;
      }
      if (!co_await WriteOnce(step)) co_return false;
    }
    co_return true;
  }

  asio::awaitable<bool> WriteOnce(const Step& step) {
    if (auto delay = step.write.delay; delay.count() > 0) {
      if (auto paused = co_await wire_->Pause(delay); !paused) {
        Ended(paused.error(), Where(step));
        co_return false;
      }
    }
    if (auto window = step.write.quiet; window.count() > 0) {
      if (auto quiet = co_await wire_->WaitQuiet(window, WaitDeadline());
          !quiet) {
        Ended(quiet.error(),
              fmt::format("while holding a reply {}", Where(step)));
        co_return false;
      }
    }
    co_return co_await Flush(step, step.write.shape);
  }

  // Complete lines of raw bytes the script sends are replies too.
  void FollowRaw(std::string_view bytes) {
    raw_line_ += bytes;
    size_t lf;
    while ((lf = raw_line_.find('\n')) != std::string::npos) {
      std::string_view line(raw_line_.data(), lf);
      if (line.ends_with('\r')) line.remove_suffix(1);
      responder_->ScriptLine(line);
      raw_line_.erase(0, lf + 1);
    }
  }

  // Reads the client line a `C:` step waits for. Inside a message the
  // client is sending, the lines before the one awaited are its content. A
  // client on another legal path is not failed for it: a detour (a line the
  // protocol allows at any point) is answered by the responder while the step
  // keeps waiting; a client that quits ends the session; any other line leaves
  // the script ("off script"), and the responder serves the rest of the
  // connection.
  asio::awaitable<bool> Expect(const Step& step) {
    while (true) {
      auto line = co_await wire_->ReadLine(kMaxLineLength, WaitDeadline());
      if (!line) {
        Ended(line.error(), fmt::format("while the script expected \"{}\" {}",
                                        step.text, Where(step)));
        co_return false;
      }
      if (MatchesClientLine(step.text,
                            scenario_.protocol->CommandText(*line))) {
        // The responder follows the protocol state while the script speaks,
        // so that `serve` can take over at any point.
        responder_->FollowScriptedLine(*line);
        co_return true;
      }
      if (responder_->IsMessageContent(*line)) {
        // The message's lines before the one the script waits for (its
        // end): the responder keeps them, nobody answers them.
        responder_->FollowScriptedLine(*line);
        continue;
      }
      if (responder_->IsDetour(*line)) {
        record_->events.Mark(
            Event::Kind::kNote, Peer::kServer,
            fmt::format("detour: the responder answered \"{}\" while the "
                        "script waited for \"{}\" {}",
                        *line, step.text, Where(step)));
        if (!co_await Answer(*line)) co_return false;
        continue;
      }
      Responder::Response response = responder_->OnLine(*line);
      if (response.action == Responder::Action::kClose) {
        if (co_await SendReply(response)) {
          record_->ended =
              fmt::format("the client quit where the script expected \"{}\" {}",
                          step.text, Where(step));
        }
        co_return false;
      }
      record_->mismatch = Mismatch{step.line, step.text, *line};
      record_->events.Mark(
          Event::Kind::kNote, Peer::kServer,
          fmt::format("off script: the client sent \"{}\" where the script "
                      "expected \"{}\" {}; the responder serves the rest",
                      *line, step.text, Where(step)));
      // The script's remaining steps, a closing `close` included, do not
      // apply to a client on another path.
      if (co_await Carry(response)) (void)co_await ServeLines();
      co_return false;
    }
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
      if (scenario_.protocol->Classify(*line) == protocol::Command::kQuit) {
        const std::string reply = responder_->QuitReply(*line);
        (void)co_await wire_->Send(reply, WaitDeadline());
        record_->ended = "the client quit after the last step";
        co_return;
      }
    }
  }

  // The built-in responder answers until the client quits (true: a `close`
  // after it may still run) or goes away (false).
  asio::awaitable<bool> Serve() {
    if (!greeted_) {
      // A scenario that is only `serve` still owes the client a greeting.
      const std::string greeting = responder_->Greeting();
      auto sent = co_await wire_->Send(greeting, WaitDeadline());
      if (!sent) {
        Ended(sent.error(), "while sending the responder's greeting");
        co_return false;
      }
    }
    co_return co_await ServeLines();
  }

  // The responder answers every client line until the client quits (true)
  // or the connection ends (false).
  asio::awaitable<bool> ServeLines() {
    while (true) {
      auto line = co_await wire_->ReadLine(kMaxLineLength, WaitDeadline());
      if (!line) {
        if (line.error().kind == WireError::Kind::kTooLong) {
          (void)co_await wire_->Send(responder_->LineTooLong(), WaitDeadline());
        }
        Ended(line.error(), "while the responder was serving");
        co_return false;
      }
      Responder::Response response = responder_->OnLine(*line);
      if (response.action == Responder::Action::kClose) {
        if (!co_await SendReply(response)) co_return false;
        record_->ended = "the client quit";
        co_return true;
      }
      if (!co_await Carry(response)) co_return false;
    }
  }

  // The responder answers one line (a detour): false ends the session.
  asio::awaitable<bool> Answer(std::string_view line) {
    co_return co_await Carry(responder_->OnLine(line));
  }

  asio::awaitable<bool> SendReply(const Responder::Response& response) {
    if (response.reply.empty()) co_return true;
    if (auto sent = co_await wire_->Send(response.reply, WaitDeadline());
        !sent) {
      Ended(sent.error(), "while the responder was serving");
      co_return false;
    }
    co_return true;
  }

  // Sends the responder's reply and carries out its action, but for kClose,
  // which the caller handles; false ends the session.
  asio::awaitable<bool> Carry(const Responder::Response& response) {
    if (!co_await SendReply(response)) co_return false;
    if (response.action != Responder::Action::kStartTls) co_return true;
    if (auto tls = co_await Handshake(kDefaultTls); !tls) {
      Ended(tls.error(), "during the TLS handshake the responder started");
      co_return false;
    }
    responder_->OnTlsStarted();
    co_return true;
  }

  Wire* wire_;
  const SessionContext& ctx_;
  const Scenario& scenario_;
  std::span<const Step> steps_;
  SessionRecord* record_;
  std::unique_ptr<Responder> responder_;
  std::chrono::milliseconds session_length_;
  std::chrono::steady_clock::time_point session_deadline_;
  bool greeted_ = false;  // the script has sent something to the client
  std::string pending_;   // queued by `S:` and `send`, not yet written
  std::string raw_line_;  // raw bytes queued by `send`, not yet a whole line
  CloseOptions close_;
};

}  // namespace

asio::awaitable<void> RunSession(Wire* wire, SessionContext ctx,
                                 SessionRecord* record) {
  record->scenario = ctx.scenario->name;
  record->scenario_path = ctx.scenario->path;
  record->connection = ctx.connection;
  record->script_connection = ctx.script_connection;
  if (!ctx.run) ctx.run = std::make_shared<ScenarioRun>();
  record->peer = wire->peer();
  record->started = std::chrono::system_clock::now();
  Interpreter interpreter(wire, ctx, record);
  co_await interpreter.Run();
  record->duration = record->events.Elapsed();
}

}  // namespace starttls::server
