// A whole server session, in process: the real interpreter and Wire on one
// end of a socketpair, a client on the other that sends the fuzz input, and
// then the judge and the JSON report, as the server runs them.
//
// Input layout:
//   byte 0  which embedded scenario the server plays (kScenarios)
//   byte 1  how the client sends the rest, the payload:
//           0  raw: all of it at once from the first byte (before, during
//              and after the greeting), then FIN
//           1  ClientHello slot: "EHLO" and "STARTTLS" with their replies,
//              then the payload where the ClientHello belongs, then FIN
//           2  over TLS: as 1, then a real TLS handshake (no verification),
//              the payload inside TLS, close_notify and FIN
//   byte 2+ the payload
//
// Every wait is bounded: the scenarios' Timeout is 2 s and the client's
// socket reads and writes time out after 250 ms; the client always ends with
// FIN, so a session normally ends as soon as the payload is consumed.
#include <fmt/format.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio.hpp>
#include <csignal>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "certs/catalogue.h"
#include "engine/session.h"
#include "engine/wire.h"
#include "fuzz/targets.h"
#include "judge/judge.h"
#include "judge/oracles.h"
#include "judge/report.h"
#include "scenario/scenario.h"
#include "starttls/ossl.h"

namespace starttls::fuzz {
namespace {

constexpr std::string_view kHead =
    "Summary: fuzz\nExpect: deliver\nTimeout: 2s\n";
constexpr std::string_view kPlainToStartTls =
    "S: 220 mail.example.test ESMTP starttls-mock\n"
    "C: EHLO *\n"
    "S: 250-mail.example.test\n"
    "S: 250-PIPELINING\n"
    "S: 250 STARTTLS\n"
    "C: STARTTLS\n"
    "S: 220 2.0.0 Ready to start TLS\n";

// The server's side of each session: the steps after kHead, chosen to reach
// every phase (script, responder, handshake, after TLS) without timers.
const std::vector<std::string>& ScenarioTexts() {
  static const auto* texts = new std::vector<std::string>{
      "serve\n",
      std::string(kPlainToStartTls) + "tls\nserve\n",
      std::string(kPlainToStartTls) +
          "tls\nC: EHLO *\nS: 250-mail.example.test\nS: 250 8BITMIME\n"
          "C: MAIL FROM:*\nS: 250 OK\nC: RCPT TO:*\nS: 250 OK\nC: DATA\n"
          "S: 354 go\nclose\n",
      std::string(kPlainToStartTls) + "tls corrupt=1\nserve\n",
      std::string(kPlainToStartTls) + "tls truncate=2\nserve\n",
      std::string(kPlainToStartTls) + "tls abort=alert alert=unknown_ca\n",
      std::string(kPlainToStartTls) + "tls abort=stall\n",
      std::string(kPlainToStartTls) + "tls abort=reset\n",
      std::string(kPlainToStartTls) + "tls min=1.3\nserve\nclose how=half\n",
      std::string(kPlainToStartTls) + "tls max=1.2\nstall\n",
      std::string(kPlainToStartTls) +
          "send data=\"250 injected\\r\\n\"\ntls\nserve\nclose how=reset\n",
      "S: 220 mx\nwrite drip=3\nC: EHLO *\nS: 250-mx\nS: 250 STARTTLS\n"
      "write split=2,5\nC: STARTTLS\nS: 454 no\nserve\n",
      "S: 220 mx\nC: EHLO *\nS: 250 mx\nstall\n",
      "S: 220-mx\nS: 220 mx\nC: HELO *\nS: 250 mx\nconnection\nserve\n",
      // A scripted message (its lines pass while the script waits for the
      // end) answered 451, and a reply written three times.
      "S: 220 mx\nC: EHLO *\nS: 250-mx\nwrite repeat=3\nS: 250 mx\n"
      "C: MAIL FROM:*\nS: 250 OK\nC: RCPT TO:*\nS: 250 OK\nC: DATA\n"
      "S: 354 go\nC: .\nS: 451 later\nserve\n",
  };
  return *texts;
}

struct Fixture {
  std::vector<server::Scenario> scenarios;
  ossl::SslCtxPtr server_ctx;
  ossl::SslCtxPtr client_ctx;
};

const Fixture& GetFixture() {
  static const Fixture* fixture = [] {
    // The client's TLS writes go through OpenSSL's socket BIO, which does not
    // use MSG_NOSIGNAL; a server that has gone must not kill the process.
    std::signal(SIGPIPE, SIG_IGN);
    auto* f = new Fixture;
    for (const std::string& text : ScenarioTexts()) {
      auto s = server::ParseScenario(std::string(kHead) + text, "fuzz.smtp");
      FUZZ_CHECK(s.has_value());
      f->scenarios.push_back(std::move(*s));
    }
    auto issued = certs::IssueCatalogue({"mail.example.test"}, {"valid"});
    FUZZ_CHECK(issued.has_value() && issued->profiles.size() == 1);
    const certs::IssuedProfile& valid = issued->profiles.front();
    f->server_ctx.reset(SSL_CTX_new(TLS_server_method()));
    ossl::BioPtr chain(BIO_new_mem_buf(
        valid.chain_pem.data(), static_cast<int>(valid.chain_pem.size())));
    ossl::X509Ptr leaf(
        PEM_read_bio_X509(chain.get(), nullptr, nullptr, nullptr));
    ossl::BioPtr key_bio(BIO_new_mem_buf(
        valid.key_pem.data(), static_cast<int>(valid.key_pem.size())));
    ossl::PkeyPtr key(
        PEM_read_bio_PrivateKey(key_bio.get(), nullptr, nullptr, nullptr));
    FUZZ_CHECK(leaf && key);
    FUZZ_CHECK(SSL_CTX_use_certificate(f->server_ctx.get(), leaf.get()) == 1);
    FUZZ_CHECK(SSL_CTX_use_PrivateKey(f->server_ctx.get(), key.get()) == 1);
    f->client_ctx.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_verify(f->client_ctx.get(), SSL_VERIFY_NONE, nullptr);
    return f;
  }();
  return *fixture;
}

void SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads until a final reply line ("ddd " or "ddd" then CRLF) has arrived;
// false on EOF, error or timeout.
bool ReadReply(int fd) {
  std::string got;
  char buf[4096];
  while (true) {
    size_t start = 0;
    for (size_t lf; (lf = got.find('\n', start)) != std::string::npos;
         start = lf + 1) {
      std::string_view line(got.data() + start, lf - start);
      if (line.size() < 4 || line[3] == ' ' || line[3] == '\r') return true;
    }
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    got.append(buf, static_cast<size_t>(n));
  }
}

void DrainUntilClosed(int fd) {
  char buf[4096];
  while (::recv(fd, buf, sizeof buf, 0) > 0) {
  }
}

void RunClient(int fd, int kind, std::string_view payload, SSL_CTX* ctx) {
  if (kind == 0) {
    SendAll(fd, payload);
  } else {
    bool ok = ReadReply(fd);  // the greeting
    if (ok) SendAll(fd, "EHLO fuzz.example.test\r\n");
    ok = ok && ReadReply(fd);
    if (ok) SendAll(fd, "STARTTLS\r\n");
    ok = ok && ReadReply(fd);
    if (ok && kind == 1) SendAll(fd, payload);
    if (ok && kind == 2) {
      ossl::SslPtr ssl(SSL_new(ctx));
      SSL_set_fd(ssl.get(), fd);
      SSL_set_tlsext_host_name(ssl.get(), "mail.example.test");
      if (SSL_connect(ssl.get()) == 1) {
        if (!payload.empty()) {
          (void)SSL_write(ssl.get(), payload.data(),
                          static_cast<int>(payload.size()));
        }
        (void)SSL_shutdown(ssl.get());
      }
      ERR_clear_error();
    }
  }
  ::shutdown(fd, SHUT_WR);
  DrainUntilClosed(fd);
  ::close(fd);
}

}  // namespace

int FuzzSession(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  const Fixture& fixture = GetFixture();
  const server::Scenario& scenario =
      fixture.scenarios[data[0] % fixture.scenarios.size()];
  int kind = data[1] % 3;
  std::string_view payload(reinterpret_cast<const char*>(data + 2), size - 2);

  int fds[2];
  FUZZ_CHECK(::socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0);
  // Short: a scenario that stalls would otherwise hold every execution for
  // its whole Timeout. A client that gives up early ends with FIN all the
  // same, which the server must handle at any point.
  timeval timeout{.tv_sec = 0, .tv_usec = 250'000};
  setsockopt(fds[1], SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  setsockopt(fds[1], SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);

  asio::io_context io;
  asio::ip::tcp::socket socket(io);
  socket.assign(asio::ip::tcp::v4(), fds[0]);
  server::SessionRecord record;
  {
    server::Wire wire(std::move(socket), &record.events);
    server::SessionContext ctx{.scenario = &scenario,
                               .tls = fixture.server_ctx.get(),
                               .connection = 1,
                               .script_connection = 1};
    std::thread client(RunClient, fds[1], kind, payload,
                       fixture.client_ctx.get());
    asio::co_spawn(io, server::RunSession(&wire, std::move(ctx), &record),
                   [](std::exception_ptr e) {
                     if (e) std::rethrow_exception(e);
                   });
    io.run();
    client.join();
  }
  // What the server does with every session record once it ends.
  server::Verdict verdict = server::Judge(scenario, record);
  std::string report =
      server::DumpReport(server::SessionReport(scenario, record, verdict));
  FUZZ_CHECK(!report.empty());
  FUZZ_CHECK(!record.ended.empty());
  return 0;
}

}  // namespace starttls::fuzz
