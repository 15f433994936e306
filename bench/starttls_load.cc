// starttls-load: a load generator for STARTTLS and implicit-TLS servers.
//
//   starttls-load --port N [--mode starttls|tls] [--concurrency C]
//                 [--sessions N | --duration S] [--message] [--hold N]
//                 [--hold-concurrency H] [--server-pid PID] [--json FILE]
//                 [--threads T]
//
// Keeps C connections busy, each playing one session after another:
//   starttls: greeting, EHLO, STARTTLS, handshake, EHLO, [one message,] QUIT
//   tls:      connect, handshake, close
// then reports sessions/s, latency percentiles, errors by kind and, given
// --server-pid, the server's CPU time for the run (from its
// clock_getcpuclockid clock, else /proc/PID/stat, before and after), its
// split into user and kernel time (/proc/PID/stat, in 10 ms ticks), its
// context switches and its memory (/proc/PID/status).
//
// --hold N first opens N sessions up to the handshake (starttls: and the EHLO
// after it), keeps them open, samples the server's memory, then runs the load
// while they are held: memory per held session and the latency of new
// sessions under that many open ones.
//
// TLS is pinned (default TLS 1.3 with X25519) so that servers are compared
// like for like; the client does not verify the certificate (that is client
// CPU, not server CPU) and never resumes a session.
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"

namespace {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;
constexpr auto kNoThrow = asio::experimental::as_tuple(asio::use_awaitable);

struct Options {
  std::string host = "127.0.0.1";
  int port = 0;
  std::string mode = "starttls";
  int concurrency = 4;
  int sessions = 0;       // total; 0: --duration decides
  double duration = 0.0;  // seconds
  bool message = false;
  int hold = 0;
  int hold_concurrency = 32;
  int server_pid = 0;
  int threads = 1;
  std::string json;
  std::string sni = "mail.example.test";
  std::string tls_version = "1.3";
  std::string groups = "X25519";
  double timeout = 10.0;  // seconds per session
  bool quiet = false;
};

// One failed session: which phase, and why.
struct SessionError {
  std::string kind;
};

[[noreturn]] void Fail(std::string_view phase, std::string_view why) {
  throw SessionError{fmt::format("{}: {}", phase, why)};
}

std::string SslWhy(int err) {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e != 0)
    return ERR_reason_error_string(e) ? ERR_reason_error_string(e) : "ssl";
  if (err == SSL_ERROR_SYSCALL) return "connection closed";
  if (err == SSL_ERROR_ZERO_RETURN) return "close_notify";
  return fmt::format("ssl error {}", err);
}

// One client connection: plaintext SMTP over the socket, then TLS over the
// same (non-blocking) descriptor, waiting with the reactor when OpenSSL wants
// to read or write.
class Conn : public std::enable_shared_from_this<Conn> {
 public:
  Conn(asio::io_context& io, SSL_CTX* ctx, const Options& o)
      : socket_(io), watchdog_(io), ctx_(ctx), options_(o) {}
  ~Conn() {
    if (ssl_ != nullptr) SSL_free(ssl_);
  }

  // Closes the socket if the session is not done within the timeout.
  void Arm(std::chrono::duration<double> timeout) {
    watchdog_.expires_after(
        std::chrono::duration_cast<Clock::duration>(timeout));
    watchdog_.async_wait(
        [self = shared_from_this()](const asio::error_code& ec) {
          if (ec) return;
          self->timed_out_ = true;
          asio::error_code ignored;
          self->socket_.close(ignored);
        });
  }
  void Disarm() { watchdog_.cancel(); }

  asio::awaitable<void> Connect(const tcp::endpoint& endpoint) {
    auto [ec] = co_await socket_.async_connect(endpoint, kNoThrow);
    if (ec) Fail("connect", Why(ec));
    asio::error_code ignored;
    socket_.set_option(tcp::no_delay(true), ignored);
  }

  // Reads one whole reply (all its lines); returns its code.
  asio::awaitable<int> Reply(std::string_view phase) {
    while (true) {
      size_t start = 0;
      while (true) {
        size_t lf = in_.find('\n', start);
        if (lf == std::string::npos) break;
        std::string_view line(in_.data() + start, lf - start);
        if (line.size() < 3) Fail(phase, "malformed reply");
        if (line.size() == 3 || line[3] == ' ' || line[3] == '\r') {
          int code = std::atoi(std::string(line.substr(0, 3)).c_str());
          in_.erase(0, lf + 1);
          co_return code;
        }
        start = lf + 1;
      }
      co_await ReadSome(phase);
    }
  }

  asio::awaitable<void> Expect(std::string_view phase, int code) {
    int got = co_await Reply(phase);
    if (got != code) Fail(phase, fmt::format("reply {}", got));
  }

  asio::awaitable<void> Write(std::string_view bytes, std::string_view phase) {
    if (ssl_ == nullptr) {
      auto [ec, n] =
          co_await asio::async_write(socket_, asio::buffer(bytes), kNoThrow);
      if (ec) Fail(phase, Why(ec));
      co_return;
    }
    size_t done = 0;
    while (done < bytes.size()) {
      size_t n = 0;
      int ret =
          SSL_write_ex(ssl_, bytes.data() + done, bytes.size() - done, &n);
      if (ret == 1) {
        done += n;
        continue;
      }
      co_await WaitFor(SSL_get_error(ssl_, ret), phase);
    }
  }

  asio::awaitable<void> Handshake() {
    ssl_ = SSL_new(ctx_);
    if (ssl_ == nullptr) Fail("handshake", "SSL_new");
    socket_.non_blocking(true);
    SSL_set_fd(ssl_, socket_.native_handle());
    if (!options_.sni.empty()) {
      SSL_set_tlsext_host_name(ssl_, options_.sni.c_str());
    }
    while (true) {
      int ret = SSL_connect(ssl_);
      if (ret == 1) break;
      co_await WaitFor(SSL_get_error(ssl_, ret), "handshake");
    }
  }

  // Ends the session politely: close_notify and FIN, then reads until the
  // server's FIN, so that neither side resets.
  asio::awaitable<void> Finish() {
    if (ssl_ != nullptr) {
      SSL_shutdown(ssl_);
      ERR_clear_error();
    }
    asio::error_code ec;
    socket_.shutdown(tcp::socket::shutdown_send, ec);
    if (ec) Fail("close", Why(ec));
    std::array<char, 4096> buf;
    while (true) {
      auto [read_ec, n] =
          co_await socket_.async_read_some(asio::buffer(buf), kNoThrow);
      if (read_ec == asio::error::eof) break;
      if (read_ec) Fail("close", Why(read_ec));
    }
    socket_.close(ec);
  }

 private:
  std::string Why(const asio::error_code& ec) const {
    if (timed_out_) return "timeout";
    if (ec == asio::error::eof) return "closed by server";
    if (ec == asio::error::connection_reset) return "reset by server";
    return ec.message();
  }

  asio::awaitable<void> WaitFor(int err, std::string_view phase) {
    if (err == SSL_ERROR_WANT_READ) {
      auto [ec] = co_await socket_.async_wait(tcp::socket::wait_read, kNoThrow);
      if (ec) Fail(phase, Why(ec));
    } else if (err == SSL_ERROR_WANT_WRITE) {
      auto [ec] =
          co_await socket_.async_wait(tcp::socket::wait_write, kNoThrow);
      if (ec) Fail(phase, Why(ec));
    } else {
      Fail(phase, timed_out_ ? "timeout" : SslWhy(err));
    }
  }

  asio::awaitable<void> ReadSome(std::string_view phase) {
    std::array<char, 4096> buf;
    if (ssl_ == nullptr) {
      auto [ec, n] =
          co_await socket_.async_read_some(asio::buffer(buf), kNoThrow);
      if (ec) Fail(phase, Why(ec));
      in_.append(buf.data(), n);
      co_return;
    }
    while (true) {
      size_t n = 0;
      int ret = SSL_read_ex(ssl_, buf.data(), buf.size(), &n);
      if (ret == 1) {
        in_.append(buf.data(), n);
        co_return;
      }
      co_await WaitFor(SSL_get_error(ssl_, ret), phase);
    }
  }

  tcp::socket socket_;
  asio::steady_timer watchdog_;
  SSL_CTX* ctx_;
  const Options& options_;
  SSL* ssl_ = nullptr;
  std::string in_;
  bool timed_out_ = false;
};

// What one generator thread measured.
struct Stats {
  std::vector<double> latency_us;
  std::map<std::string, int> errors;
};

// Plays a session up to the point where it can be held: the handshake
// (tls) or the EHLO after it (starttls).
asio::awaitable<void> OpenSession(Conn& c, const Options& o,
                                  const tcp::endpoint& endpoint) {
  co_await c.Connect(endpoint);
  if (o.mode == "starttls") {
    co_await c.Expect("greeting", 220);
    co_await c.Write("EHLO load.example.test\r\n", "ehlo");
    co_await c.Expect("ehlo", 250);
    co_await c.Write("STARTTLS\r\n", "starttls");
    co_await c.Expect("starttls", 220);
    co_await c.Handshake();
    co_await c.Write("EHLO load.example.test\r\n", "ehlo-tls");
    co_await c.Expect("ehlo-tls", 250);
  } else {
    co_await c.Handshake();
  }
}

asio::awaitable<void> FinishSession(Conn& c, const Options& o) {
  if (o.mode == "starttls") {
    if (o.message) {
      co_await c.Write("MAIL FROM:<load@example.test>\r\n", "mail");
      co_await c.Expect("mail", 250);
      co_await c.Write("RCPT TO:<sink@example.test>\r\n", "rcpt");
      co_await c.Expect("rcpt", 250);
      co_await c.Write("DATA\r\n", "data");
      co_await c.Expect("data", 354);
      co_await c.Write("Subject: load\r\n\r\nhello\r\n.\r\n", "message");
      co_await c.Expect("message", 250);
    }
    co_await c.Write("QUIT\r\n", "quit");
    co_await c.Expect("quit", 221);
  }
  co_await c.Finish();
}

struct Shared {
  const Options* options;
  SSL_CTX* ctx;
  tcp::endpoint endpoint;
  std::atomic<int> started{0};
  Clock::time_point stop_at;
  std::atomic<int> held_failed{0};
};

bool Claim(Shared& shared) {
  const Options& o = *shared.options;
  if (o.sessions > 0) return shared.started.fetch_add(1) < o.sessions;
  return Clock::now() < shared.stop_at;
}

asio::awaitable<void> Worker(asio::io_context& io, Shared& shared,
                             Stats& stats) {
  const Options& o = *shared.options;
  while (Claim(shared)) {
    auto c = std::make_shared<Conn>(io, shared.ctx, o);
    c->Arm(std::chrono::duration<double>(o.timeout));
    Clock::time_point start = Clock::now();
    std::optional<std::string> error;
    try {
      co_await OpenSession(*c, o, shared.endpoint);
      co_await FinishSession(*c, o);
    } catch (const SessionError& e) {
      error = e.kind;
    }
    c->Disarm();
    if (error) {
      ++stats.errors[*error];
    } else {
      stats.latency_us.push_back(
          std::chrono::duration<double, std::micro>(Clock::now() - start)
              .count());
    }
  }
}

// Opens `count` sessions, `concurrency` at a time, and keeps them in *held.
asio::awaitable<void> Holder(asio::io_context& io, Shared& shared,
                             std::atomic<int>* to_open,
                             std::vector<std::shared_ptr<Conn>>* held,
                             Stats& stats) {
  const Options& o = *shared.options;
  while (to_open->fetch_sub(1) > 0) {
    auto c = std::make_shared<Conn>(io, shared.ctx, o);
    c->Arm(std::chrono::duration<double>(o.timeout));
    try {
      co_await OpenSession(*c, o, shared.endpoint);
      held->push_back(c);
    } catch (const SessionError& e) {
      ++stats.errors["hold " + e.kind];
      ++shared.held_failed;
    }
    c->Disarm();
  }
}

struct ProcSample {
  double cpu_s = 0;  // utime + stime
  // The same split in user and kernel time, in the kernel's 10 ms ticks:
  // coarse, so that a split is read over a window of a second or more.
  double user_s = 0;
  double system_s = 0;
  // Context switches the server gave up the CPU for (waiting) and was made
  // to (preempted).
  long voluntary_switches = 0;
  long involuntary_switches = 0;
  long rss_kb = 0;
  long hwm_kb = 0;
};

std::optional<ProcSample> SampleProcess(int pid) {
  if (pid <= 0) return std::nullopt;
  std::ifstream stat(fmt::format("/proc/{}/stat", pid));
  std::string text((std::istreambuf_iterator<char>(stat)),
                   std::istreambuf_iterator<char>());
  size_t paren = text.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(text.substr(paren + 2));
  std::vector<std::string> f;
  for (std::string s; fields >> s;) f.push_back(s);
  // Fields 14 and 15 (utime, stime) are the 12th and 13th after ')'.
  if (f.size() < 13) return std::nullopt;
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  ProcSample sample;
  sample.user_s = std::stod(f[11]) / ticks;
  sample.system_s = std::stod(f[12]) / ticks;
  sample.cpu_s = sample.user_s + sample.system_s;
  // The same total in nanoseconds where the kernel gives it (the ticks of
  // /proc/PID/stat are 10 ms: 5% of a 200-session window).
  clockid_t clock;
  timespec ts{};
  if (clock_getcpuclockid(pid, &clock) == 0 && clock_gettime(clock, &ts) == 0) {
    sample.cpu_s =
        static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
  }
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  for (std::string line; std::getline(status, line);) {
    if (line.rfind("VmRSS:", 0) == 0) sample.rss_kb = std::stol(line.substr(6));
    if (line.rfind("VmHWM:", 0) == 0) sample.hwm_kb = std::stol(line.substr(6));
    if (line.rfind("voluntary_ctxt_switches:", 0) == 0) {
      sample.voluntary_switches = std::stol(line.substr(24));
    }
    if (line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) {
      sample.involuntary_switches = std::stol(line.substr(27));
    }
  }
  return sample;
}

double Percentile(std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  size_t i =
      static_cast<size_t>(p * static_cast<double>(sorted.size() - 1) + 0.5);
  return sorted[std::min(i, sorted.size() - 1)];
}

double ClientCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

SSL_CTX* MakeClientContext(const Options& o) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  int version = o.tls_version == "1.2" ? TLS1_2_VERSION : TLS1_3_VERSION;
  SSL_CTX_set_min_proto_version(ctx, version);
  SSL_CTX_set_max_proto_version(ctx, version);
  if (!o.groups.empty() &&
      SSL_CTX_set1_groups_list(ctx, o.groups.c_str()) != 1) {
    return nullptr;
  }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
  return ctx;
}

// Runs `spawn(io, thread)` on every thread's io_context until all are idle.
template <typename Spawn>
void RunPhase(std::vector<std::unique_ptr<asio::io_context>>& ios,
              Spawn spawn) {
  std::vector<std::thread> threads;
  for (size_t t = 0; t < ios.size(); ++t) {
    ios[t]->restart();
    spawn(*ios[t], t);
    threads.emplace_back([&io = *ios[t]] { io.run(); });
  }
  for (std::thread& t : threads) t.join();
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"starttls-load: load generator for STARTTLS and TLS servers"};
  app.add_option("--host", o.host, "server address")->capture_default_str();
  app.add_option("--port", o.port, "server port")->required();
  app.add_option("--mode", o.mode, "starttls or tls (implicit TLS)")
      ->check(CLI::IsMember({"starttls", "tls"}))
      ->capture_default_str();
  app.add_option("--concurrency,-c", o.concurrency, "connections at a time")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  auto* sessions =
      app.add_option("--sessions,-n", o.sessions, "total sessions to run")
          ->check(CLI::PositiveNumber);
  app.add_option("--duration,-d", o.duration, "seconds to run instead")
      ->excludes(sessions);
  app.add_flag("--message", o.message, "starttls: deliver one small message");
  app.add_option("--hold", o.hold,
                 "first open N sessions and keep them open during the load");
  app.add_option("--hold-concurrency", o.hold_concurrency,
                 "connections opened at a time for --hold")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--server-pid", o.server_pid,
                 "measure this process's CPU time and memory");
  app.add_option("--threads", o.threads, "generator threads")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--json", o.json, "also write the results to FILE");
  app.add_option("--sni", o.sni, "server name to send")->capture_default_str();
  app.add_option("--tls-version", o.tls_version, "1.2 or 1.3")
      ->check(CLI::IsMember({"1.2", "1.3"}))
      ->capture_default_str();
  app.add_option("--groups", o.groups, "key exchange groups")
      ->capture_default_str();
  app.add_option("--timeout", o.timeout, "seconds per session")
      ->capture_default_str();
  app.add_flag("--quiet,-q", o.quiet, "print only the JSON file");
  CLI11_PARSE(app, argc, argv);
  if (o.sessions == 0 && o.duration <= 0) o.sessions = 1000;

  SSL_CTX* ctx = MakeClientContext(o);
  if (ctx == nullptr) {
    std::cerr << "starttls-load: bad TLS settings\n";
    return 2;
  }
  asio::error_code ec;
  auto address = asio::ip::make_address(o.host, ec);
  if (ec) {
    std::cerr << "starttls-load: bad --host " << o.host << "\n";
    return 2;
  }
  Shared shared{
      .options = &o,
      .ctx = ctx,
      .endpoint = tcp::endpoint(address, static_cast<unsigned short>(o.port))};

  std::vector<std::unique_ptr<asio::io_context>> ios;
  for (int t = 0; t < o.threads; ++t) {
    ios.push_back(std::make_unique<asio::io_context>(1));
  }
  std::vector<Stats> stats(ios.size());
  std::vector<std::vector<std::shared_ptr<Conn>>> held(ios.size());
  nlohmann::json out = {{"mode", o.mode},
                        {"concurrency", o.concurrency},
                        {"threads", o.threads},
                        {"message", o.message},
                        {"tls_version", o.tls_version},
                        {"groups", o.groups}};

  // Phase 1: open the sessions to hold.
  if (o.hold > 0) {
    auto before = SampleProcess(o.server_pid);
    std::atomic<int> to_open{o.hold};
    Clock::time_point start = Clock::now();
    RunPhase(ios, [&](asio::io_context& io, size_t t) {
      int workers = std::max(1, o.hold_concurrency / o.threads);
      for (int w = 0; w < workers; ++w) {
        asio::co_spawn(io, Holder(io, shared, &to_open, &held[t], stats[t]),
                       asio::detached);
      }
    });
    double took = std::chrono::duration<double>(Clock::now() - start).count();
    // Let the server settle (its last writes, the allocator) before sampling.
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    auto after = SampleProcess(o.server_pid);
    size_t count = 0;
    for (auto& h : held) count += h.size();
    out["hold"] = {{"requested", o.hold}, {"held", count}, {"open_s", took}};
    if (before && after) {
      out["hold"]["server_rss_kb_before"] = before->rss_kb;
      out["hold"]["server_rss_kb_held"] = after->rss_kb;
      out["hold"]["server_kb_per_session"] =
          count > 0 ? static_cast<double>(after->rss_kb - before->rss_kb) /
                          static_cast<double>(count)
                    : 0.0;
    }
  }

  // Phase 2: the load.
  auto before = SampleProcess(o.server_pid);
  double client_before = ClientCpuSeconds();
  Clock::time_point start = Clock::now();
  shared.stop_at = start + std::chrono::duration_cast<Clock::duration>(
                               std::chrono::duration<double>(o.duration));
  RunPhase(ios, [&](asio::io_context& io, size_t t) {
    int workers = o.concurrency / o.threads +
                  (static_cast<int>(t) < o.concurrency % o.threads ? 1 : 0);
    for (int w = 0; w < workers; ++w) {
      asio::co_spawn(io, Worker(io, shared, stats[t]), asio::detached);
    }
  });
  double wall = std::chrono::duration<double>(Clock::now() - start).count();
  auto after = SampleProcess(o.server_pid);
  double client_cpu = ClientCpuSeconds() - client_before;

  std::vector<double> latency;
  std::map<std::string, int> errors;
  for (Stats& s : stats) {
    latency.insert(latency.end(), s.latency_us.begin(), s.latency_us.end());
    for (auto& [kind, n] : s.errors) errors[kind] += n;
  }
  std::sort(latency.begin(), latency.end());
  int ok = static_cast<int>(latency.size());
  int failed = 0;
  for (auto& [kind, n] : errors) {
    if (kind.rfind("hold ", 0) != 0) failed += n;
  }
  out["sessions_ok"] = ok;
  out["sessions_failed"] = failed;
  out["errors"] = errors;
  out["wall_s"] = wall;
  out["sessions_per_s"] = wall > 0 ? ok / wall : 0.0;
  out["latency_us"] = {{"p50", Percentile(latency, 0.50)},
                       {"p99", Percentile(latency, 0.99)},
                       {"max", latency.empty() ? 0.0 : latency.back()}};
  out["client_cpu_us_per_session"] = ok > 0 ? client_cpu * 1e6 / ok : 0.0;
  if (before && after) {
    double cpu = after->cpu_s - before->cpu_s;
    auto per_session = [ok](double total) { return ok > 0 ? total / ok : 0.0; };
    out["server"] = {
        {"pid", o.server_pid},
        {"cpu_s", cpu},
        {"cpu_us_per_session", per_session(cpu * 1e6)},
        {"user_us_per_session",
         per_session((after->user_s - before->user_s) * 1e6)},
        {"system_us_per_session",
         per_session((after->system_s - before->system_s) * 1e6)},
        {"voluntary_switches_per_session",
         per_session(static_cast<double>(after->voluntary_switches -
                                         before->voluntary_switches))},
        {"involuntary_switches_per_session",
         per_session(static_cast<double>(after->involuntary_switches -
                                         before->involuntary_switches))},
        {"rss_kb", after->rss_kb},
        {"hwm_kb", after->hwm_kb}};
  }

  // Let go of the held sessions.
  for (auto& h : held) h.clear();

  if (!o.json.empty()) {
    std::ofstream(o.json) << out.dump(2) << "\n";
  }
  if (!o.quiet) {
    std::cout << fmt::format(
        "mode {} concurrency {} threads {}: {} sessions in {:.2f} s, {:.0f}/s, "
        "{} failed\n",
        o.mode, o.concurrency, o.threads, ok, wall,
        out["sessions_per_s"].get<double>(), failed);
    std::cout << fmt::format("latency us: p50 {:.0f}  p99 {:.0f}  max {:.0f}\n",
                             out["latency_us"]["p50"].get<double>(),
                             out["latency_us"]["p99"].get<double>(),
                             out["latency_us"]["max"].get<double>());
    if (out.contains("server")) {
      std::cout << fmt::format(
          "server pid {}: {:.3f} s CPU, {:.0f} us/session, RSS {} KiB, peak "
          "{} KiB\n",
          o.server_pid, out["server"]["cpu_s"].get<double>(),
          out["server"]["cpu_us_per_session"].get<double>(),
          out["server"]["rss_kb"].get<long>(),
          out["server"]["hwm_kb"].get<long>());
    }
    if (out.contains("hold")) {
      std::cout << "hold: " << out["hold"].dump() << "\n";
    }
    for (auto& [kind, n] : errors) {
      std::cout << fmt::format("error {:6}  {}\n", n, kind);
    }
  }
  SSL_CTX_free(ctx);
  return failed > 0 && ok == 0 ? 1 : 0;
}
