// Fault injection over loopback: each fault the scenario language offers,
// played by the real interpreter against a client written here, checked on
// the client's side of the wire and in the server's event log (one event per
// server write, so segment boundaries are read there, never from recv()).
#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstdlib>
#include <functional>
#include <thread>

#include "certs/run_pki.h"
#include "engine/session.h"
#include "judge/oracles.h"

namespace starttls::server {
namespace {

using std::chrono::milliseconds;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;
using tcp = asio::ip::tcp;
using Clock = std::chrono::steady_clock;

// Every client wait ends after this, whatever the server does.
constexpr int kClientTimeoutSeconds = 10;

Scenario Parse(std::string_view text) {
  auto s = ParseScenario(text, "t.smtp");
  EXPECT_TRUE(s.has_value()) << s.error().ToString();
  return s.value_or(Scenario{});
}

// The client's plain socket I/O, on the raw descriptor: Asio's blocking
// reads would wait past SO_RCVTIMEO.

struct Received {
  std::string data;
  bool eof = false;  // the server's FIN
  int error = 0;     // errno of the failed recv, e.g. ECONNRESET or EAGAIN
};

// Reads until the server ends the connection or the client's timeout.
Received ReadUntilClosed(int fd) {
  Received r;
  char buf[4096];
  while (true) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      r.data.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      r.eof = true;
      return r;
    } else if (errno != EINTR) {
      r.error = errno;
      return r;
    }
  }
}

// Reads one line, byte by byte so that nothing after it is consumed.
std::string ReadLine(int fd) {
  std::string line;
  char c;
  while (::recv(fd, &c, 1, 0) == 1) {
    line += c;
    if (c == '\n') break;
  }
  return line;
}

void SendAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// The plaintext part of kStartTls, as a correct client plays it.
void PlainUpToHandshake(int fd) {
  EXPECT_EQ(ReadLine(fd), "220 mx\r\n");
  SendAll(fd, "STARTTLS\r\n");
  EXPECT_EQ(ReadLine(fd), "220 go\r\n");
}

constexpr std::string_view kStartTls =
    "S: 220 mx\n"
    "C: STARTTLS\n"
    "S: 220 go\n";

// How one OpenSSL call of the client ended.
struct TlsResult {
  bool ok = false;
  int ssl_error = SSL_ERROR_NONE;
  int sys_errno = 0;
  int reason = 0;  // ERR_GET_REASON of the first queued error
  std::string errors;
};

// A blocking OpenSSL client on the test's socket.
class TlsClient {
 public:
  TlsClient(int fd, const std::filesystem::path& ca_file,
            const std::function<void(SSL_CTX*)>& configure = nullptr)
      : ctx_(SSL_CTX_new(TLS_client_method())) {
    SSL_CTX_load_verify_locations(ctx_.get(), ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx_.get(), SSL_VERIFY_PEER, nullptr);
    if (configure) configure(ctx_.get());
    ssl_.reset(SSL_new(ctx_.get()));
    SSL_set_fd(ssl_.get(), fd);
    SSL_set_tlsext_host_name(ssl_.get(), "mail.example.test");
    SSL_set1_host(ssl_.get(), "mail.example.test");
  }

  TlsResult Connect() {
    ERR_clear_error();
    errno = 0;
    return Result(SSL_connect(ssl_.get()));
  }

  bool Write(std::string_view bytes) {
    return SSL_write(ssl_.get(), bytes.data(),
                     static_cast<int>(bytes.size())) ==
           static_cast<int>(bytes.size());
  }

  // Reads until a line is complete; *line gets what arrived.
  TlsResult ReadLine(std::string* line) {
    line->clear();
    while (line->find('\n') == std::string::npos) {
      if (TlsResult r = ReadSome(line); !r.ok) return r;
    }
    return {.ok = true};
  }

  // One SSL_read; appends to *out.
  TlsResult ReadSome(std::string* out) {
    char buf[4096];
    ERR_clear_error();
    errno = 0;
    int n = SSL_read(ssl_.get(), buf, sizeof buf);
    if (n > 0) out->append(buf, static_cast<size_t>(n));
    return Result(n);
  }

  SSL* ssl() { return ssl_.get(); }

 private:
  TlsResult Result(int ret) {
    int saved_errno = errno;
    if (ret > 0) return {.ok = true};
    TlsResult r{.ssl_error = SSL_get_error(ssl_.get(), ret),
                .sys_errno = saved_errno,
                .reason = ERR_GET_REASON(ERR_peek_error())};
    r.errors = ossl::DrainErrors("");
    return r;
  }

  ossl::SslCtxPtr ctx_;
  ossl::SslPtr ssl_;
};

std::vector<std::string> FindingIds(const SessionRecord& r) {
  std::vector<std::string> ids;
  for (const Finding& f : RunOracles({.record = &r})) ids.push_back(f.id);
  return ids;
}

// The events `from` sent as bytes at `layer`.
std::vector<Event> BytesFrom(const SessionRecord& r, Peer from, Layer layer) {
  std::vector<Event> out;
  for (const Event& e : r.events.events()) {
    if (e.kind == Event::Kind::kBytes && e.from == from && e.layer == layer) {
      out.push_back(e);
    }
  }
  return out;
}

// The index of the first event matching `pred`, or -1.
template <typename Pred>
int IndexOf(const SessionRecord& r, Pred pred) {
  const auto& events = r.events.events();
  for (size_t i = 0; i < events.size(); ++i) {
    if (pred(events[i])) return static_cast<int>(i);
  }
  return -1;
}

bool HasNote(const SessionRecord& r, Event::Kind kind,
             std::string_view substring) {
  return IndexOf(r, [&](const Event& e) {
           return e.kind == kind && e.note.find(substring) != std::string::npos;
         }) >= 0;
}

// How many TLS records the server sent before the handshake completed.
int ServerRecordsInHandshake(const SessionRecord& r) {
  std::string bytes;
  for (const Event& e : r.events.events()) {
    if (e.kind == Event::Kind::kTlsEstablished) break;
    if (e.kind == Event::Kind::kBytes && e.from == Peer::kServer &&
        e.layer == Layer::kTlsRecord) {
      bytes += e.bytes;
    }
  }
  int records = 0;
  for (size_t pos = 0; pos + 5 <= bytes.size(); ++records) {
    pos += 5 + ((static_cast<unsigned char>(bytes[pos + 3]) << 8) |
                static_cast<unsigned char>(bytes[pos + 4]));
  }
  return records;
}

class SessionFaultTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/session_fault_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = new std::filesystem::path(tmpl);
    auto pki = certs::IssueRunPki(*dir_, {"mail.example.test"});
    ASSERT_TRUE(pki.has_value()) << pki.error();
    pki_ = new certs::RunPkiFiles(*pki);
  }
  static void TearDownTestSuite() {
    if (dir_ != nullptr) std::filesystem::remove_all(*dir_);
    delete dir_;
    delete pki_;
    dir_ = nullptr;
    pki_ = nullptr;
  }

  void SetUp() override {
    ASSERT_NE(pki_, nullptr);
    server_ctx_.reset(SSL_CTX_new(TLS_server_method()));
    ASSERT_EQ(SSL_CTX_use_certificate_chain_file(server_ctx_.get(),
                                                 pki_->chain_file.c_str()),
              1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey_file(
                  server_ctx_.get(), pki_->key_file.c_str(), SSL_FILETYPE_PEM),
              1);
  }

  const std::filesystem::path& ca_file() const { return pki_->ca_file; }

  // Plays `scenario` on one loopback connection. `early` is written by the
  // client before the session starts; then `client` runs on its own thread
  // with the socket's descriptor (blocking, every wait bounded), and the
  // client's side is shut down when it returns, or closed with `close`
  // (what a client that gives up does: the server's next write meets a
  // reset).
  SessionRecord Play(const Scenario& scenario,
                     const std::function<void(int fd)>& client,
                     SessionContext ctx = {}, std::string_view early = {},
                     bool close = false) {
    asio::io_context io;
    tcp::acceptor acceptor(io,
                           tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    tcp::socket client_socket(io);
    client_socket.connect(acceptor.local_endpoint());
    int fd = client_socket.native_handle();
    timeval timeout{.tv_sec = kClientTimeoutSeconds, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (!early.empty()) SendAll(fd, early);
    SessionRecord record;
    Wire wire(acceptor.accept(), &record.events);
    ctx.scenario = &scenario;
    ctx.tls = server_ctx_.get();
    if (ctx.connection == 0) ctx.connection = 1;
    std::thread client_thread([&] {
      client(fd);
      if (close) {
        ::close(client_socket.release());
      } else {
        ::shutdown(fd, SHUT_WR);
      }
    });
    asio::co_spawn(io, RunSession(&wire, ctx, &record),
                   [](std::exception_ptr e) {
                     if (e) std::rethrow_exception(e);
                   });
    io.run();
    client_thread.join();
    return record;
  }

  ossl::SslCtxPtr server_ctx_;

 private:
  static std::filesystem::path* dir_;
  static certs::RunPkiFiles* pki_;
};

std::filesystem::path* SessionFaultTest::dir_ = nullptr;
certs::RunPkiFiles* SessionFaultTest::pki_ = nullptr;

// ---- write: the shape of one server write ----

TEST_F(SessionFaultTest, QueuedLinesGoOutAsOneWriteWithoutAShape) {
  Scenario scenario = Parse("Summary: x\nS: 220-mx\nS: 220 ready\nclose\n");
  Received got;
  SessionRecord r = Play(scenario, [&](int fd) { got = ReadUntilClosed(fd); });
  EXPECT_EQ(got.data, "220-mx\r\n220 ready\r\n");
  auto writes = BytesFrom(r, Peer::kServer, Layer::kPlain);
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_EQ(writes[0].bytes, "220-mx\r\n220 ready\r\n");
}

TEST_F(SessionFaultTest, WriteSplitCutsTheReplyIntoSeparateWrites) {
  Scenario scenario =
      Parse("Summary: x\nS: 220 hello world\nwrite split=3,7\nclose\n");
  Received got;
  SessionRecord r = Play(scenario, [&](int fd) { got = ReadUntilClosed(fd); });
  EXPECT_EQ(got.data, "220 hello world\r\n") << "the bytes are unchanged";
  auto writes = BytesFrom(r, Peer::kServer, Layer::kPlain);
  ASSERT_EQ(writes.size(), 3u);
  EXPECT_EQ(writes[0].bytes, "220");
  EXPECT_EQ(writes[1].bytes, " hel");
  EXPECT_EQ(writes[2].bytes, "lo world\r\n");
  EXPECT_EQ(writes[1].offset, 3u);
  EXPECT_EQ(writes[2].offset, 7u);
}

TEST_F(SessionFaultTest, WriteDripOneSendsOneWritePerByte) {
  Scenario scenario = Parse("Summary: x\nS: 220 hi\nwrite drip=1\nclose\n");
  Received got;
  SessionRecord r = Play(scenario, [&](int fd) { got = ReadUntilClosed(fd); });
  EXPECT_EQ(got.data, "220 hi\r\n");
  auto writes = BytesFrom(r, Peer::kServer, Layer::kPlain);
  ASSERT_EQ(writes.size(), 8u);
  for (size_t i = 0; i < writes.size(); ++i) {
    EXPECT_EQ(writes[i].bytes, std::string(1, "220 hi\r\n"[i])) << i;
    EXPECT_EQ(writes[i].offset, i);
  }
}

TEST_F(SessionFaultTest, WriteDripGapPausesBetweenThePieces) {
  Scenario scenario =
      Parse("Summary: x\nS: 220 hello\nwrite drip=4 gap=50ms\nclose\n");
  Received got;
  SessionRecord r = Play(scenario, [&](int fd) { got = ReadUntilClosed(fd); });
  EXPECT_EQ(got.data, "220 hello\r\n");
  auto writes = BytesFrom(r, Peer::kServer, Layer::kPlain);
  ASSERT_EQ(writes.size(), 3u);
  for (size_t i = 1; i < writes.size(); ++i) {
    EXPECT_GE(writes[i].at - writes[i - 1].at, milliseconds(50)) << i;
  }
}

TEST_F(SessionFaultTest, WriteDelayHoldsTheReplyAtLeastThatLong) {
  Scenario scenario =
      Parse("Summary: x\nS: 220 hi\nwrite delay=200ms\nclose\n");
  Received got;
  Clock::duration waited{};
  Clock::time_point start = Clock::now();
  SessionRecord r = Play(scenario, [&](int fd) {
    std::string line = ReadLine(fd);
    waited = Clock::now() - start;
    got = ReadUntilClosed(fd);
    got.data = line + got.data;
  });
  EXPECT_EQ(got.data, "220 hi\r\n");
  EXPECT_GE(waited, milliseconds(200));
  auto writes = BytesFrom(r, Peer::kServer, Layer::kPlain);
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_GE(writes[0].at, milliseconds(200));
}

TEST_F(SessionFaultTest, WriteQuietRecordsWhatTheClientSendsBeforeTheReply) {
  Scenario scenario = Parse(
      "Summary: x\nS: 220 mx\nwrite quiet=200ms\nC: EHLO *\nS: 250 ok\n"
      "close\n");
  Received got;
  // The client talks first, before the greeting.
  SessionRecord r = Play(
      scenario, [&](int fd) { got = ReadUntilClosed(fd); }, {}, "EHLO c\r\n");
  EXPECT_EQ(got.data, "220 mx\r\n250 ok\r\n");
  EXPECT_FALSE(r.mismatch.has_value()) << "the held EHLO is read afterwards";
  int ehlo = IndexOf(r, [](const Event& e) {
    return e.from == Peer::kClient && e.bytes == "EHLO c\r\n";
  });
  int greeting = IndexOf(r, [](const Event& e) {
    return e.from == Peer::kServer && e.bytes == "220 mx\r\n";
  });
  ASSERT_GE(ehlo, 0);
  ASSERT_GE(greeting, 0);
  EXPECT_LT(ehlo, greeting);
  const auto& events = r.events.events();
  EXPECT_GE(events[greeting].at - events[ehlo].at, milliseconds(200))
      << "the reply waited for a whole window of silence";
}

TEST_F(SessionFaultTest, WriteQuietSendsAfterTheWindowToASilentClient) {
  Scenario scenario =
      Parse("Summary: x\nS: 220 mx\nwrite quiet=100ms\nclose\n");
  Received got;
  SessionRecord r = Play(scenario, [&](int fd) { got = ReadUntilClosed(fd); });
  EXPECT_EQ(got.data, "220 mx\r\n");
  auto writes = BytesFrom(r, Peer::kServer, Layer::kPlain);
  ASSERT_EQ(writes.size(), 1u);
  EXPECT_GE(writes[0].at, milliseconds(100));
  EXPECT_EQ(IndexOf(r,
                    [](const Event& e) {
                      return e.kind == Event::Kind::kBytes &&
                             e.from == Peer::kClient;
                    }),
            -1);
}

// ---- stall ----

TEST_F(SessionFaultTest, StallEndsInATimeoutWhenTheClientDoesNothing) {
  Scenario scenario = Parse("Summary: x\nTimeout: 200ms\nS: 220 mx\nstall\n");
  Received got;
  SessionRecord r = Play(scenario, [&](int fd) { got = ReadUntilClosed(fd); });
  EXPECT_EQ(got.data, "220 mx\r\n");
  EXPECT_TRUE(got.eof) << "the server closes after its wait";
  EXPECT_TRUE(r.timed_out);
  EXPECT_THAT(r.ended, HasSubstr("while the server stalled"));
  EXPECT_THAT(FindingIds(r), Contains("hang"));
}

TEST_F(SessionFaultTest, StallEndsWithTheClientsCloseWhenItCloses) {
  Scenario scenario = Parse("Summary: x\nTimeout: 5s\nS: 220 mx\nstall\n");
  SessionRecord r = Play(scenario, [&](int fd) {
    EXPECT_EQ(ReadLine(fd), "220 mx\r\n");
    SendAll(fd, "QUIT\r\n");  // never answered
  });
  // The quiet proof of the hang oracle: the same stall, a client that
  // gives up before the deadline, no finding.
  EXPECT_FALSE(r.timed_out);
  EXPECT_THAT(FindingIds(r), Not(Contains("hang")));
  EXPECT_THAT(r.ended, HasSubstr("closed the connection"));
  EXPECT_THAT(r.ended, HasSubstr("while the server stalled"));
  EXPECT_GE(IndexOf(r,
                    [](const Event& e) {
                      return e.from == Peer::kClient && e.bytes == "QUIT\r\n";
                    }),
            0)
      << "a stalled server still records";
  EXPECT_TRUE(HasNote(r, Event::Kind::kClosed, "fin"));
  EXPECT_THAT(FindingIds(r), IsEmpty());
}

// ---- write repeat= ----

TEST_F(SessionFaultTest, WriteRepeatSendsTheQueueThatManyTimesEachItsOwnWrite) {
  Scenario scenario =
      Parse("Summary: x\nS: 250-more\nwrite repeat=3\nS: 250 end\nclose\n");
  Received got;
  SessionRecord r = Play(scenario, [&](int fd) { got = ReadUntilClosed(fd); });
  EXPECT_EQ(got.data, "250-more\r\n250-more\r\n250-more\r\n250 end\r\n");
  auto writes = BytesFrom(r, Peer::kServer, Layer::kPlain);
  ASSERT_EQ(writes.size(), 4u);
  EXPECT_EQ(writes[2].bytes, "250-more\r\n");
}

constexpr std::string_view kEndlessReply =
    "Summary: x\nTimeout: 2s\nSession-Timeout: 2s\n"
    "S: 250-first\nwrite\n"
    "S: 250-and more\nwrite repeat=forever delay=1ms\n";

TEST_F(SessionFaultTest, AnEndlessWriteEndsInAHangForAClientThatKeepsReading) {
  Scenario scenario = Parse(kEndlessReply);
  Received got;
  SessionRecord r = Play(scenario, [&](int fd) { got = ReadUntilClosed(fd); });
  EXPECT_TRUE(r.timed_out);
  EXPECT_THAT(r.ended, HasSubstr("the client was still reading"));
  EXPECT_THAT(r.ended, HasSubstr("the session deadline passed"));
  EXPECT_THAT(FindingIds(r), Contains("hang"));
  EXPECT_THAT(got.data, ::testing::StartsWith(
                            "250-first\r\n250-and more\r\n250-and more\r\n"));
}

TEST_F(SessionFaultTest, AnEndlessWriteEndsQuietlyWhenTheClientGivesUp) {
  Scenario scenario = Parse(kEndlessReply);
  SessionRecord r = Play(
      scenario,
      [&](int fd) {
        // A client that bounds a reply: a few lines, then it closes.
        for (int i = 0; i < 5; ++i)
          EXPECT_THAT(ReadLine(fd), HasSubstr("250-"));
      },
      {}, {}, /*close=*/true);
  EXPECT_FALSE(r.timed_out) << r.ended;
  EXPECT_THAT(FindingIds(r), IsEmpty());
  EXPECT_THAT(r.ended, HasSubstr("(scenario line 7)"));
}

// ---- a scripted message ----

std::string DeferredMessage(std::string_view answer) {
  return fmt::format(
      "Summary: x\nTimeout: 5s\nS: 220 mx\nC: EHLO *\nS: 250 mx\n"
      "C: MAIL FROM:*\nS: 250 ok\nC: RCPT TO:*\nS: 250 ok\nC: DATA\n"
      "S: 354 go\nC: .\nS: {}\nC: QUIT\nS: 221 bye\nclose\n",
      answer);
}

void SendMessage(int fd) {
  SendAll(fd,
          "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
          "Subject: hi\r\n\r\nbody with MAIL FROM:<x@y> in it\r\n..dot\r\n"
          ".\r\nQUIT\r\n");
  ReadUntilClosed(fd);
}

TEST_F(SessionFaultTest, AScriptWaitingForTheEndOfAMessageLetsItsLinesPass) {
  SessionRecord r = Play(Parse(DeferredMessage("250 accepted")),
                         [](int fd) { SendMessage(fd); });
  EXPECT_FALSE(r.mismatch.has_value()) << r.mismatch->actual;
  EXPECT_TRUE(r.script_completed);
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_EQ(r.messages[0].data,
            "Subject: hi\r\n\r\nbody with MAIL FROM:<x@y> in it\r\n.dot\r\n");
}

TEST_F(SessionFaultTest, AMessageTheScriptDefersIsNotDelivered) {
  SessionRecord r = Play(Parse(DeferredMessage("451 4.3.0 try later")),
                         [](int fd) { SendMessage(fd); });
  EXPECT_FALSE(r.mismatch.has_value());
  EXPECT_TRUE(r.script_completed);
  EXPECT_THAT(r.messages, IsEmpty());
  EXPECT_FALSE(r.reached_goal);
}

// ---- close ----

TEST_F(SessionFaultTest, CloseHowResetGivesTheClientEconnreset) {
  Scenario scenario = Parse("Summary: x\nS: 220 mx\nclose how=reset\n");
  Received got;
  SessionRecord r = Play(scenario, [&](int fd) { got = ReadUntilClosed(fd); });
  EXPECT_FALSE(got.eof);
  EXPECT_EQ(got.error, ECONNRESET);
  EXPECT_TRUE(HasNote(r, Event::Kind::kClosed, "reset"));
}

TEST_F(SessionFaultTest, CloseByDefaultGivesTheClientAnOrderlyEof) {
  Scenario scenario = Parse("Summary: x\nS: 220 mx\nclose\n");
  Received got;
  SessionRecord r = Play(scenario, [&](int fd) { got = ReadUntilClosed(fd); });
  EXPECT_EQ(got.data, "220 mx\r\n");
  EXPECT_TRUE(got.eof);
  EXPECT_EQ(got.error, 0);
  EXPECT_TRUE(r.script_completed);
}

TEST_F(SessionFaultTest, CloseHowHalfStillRecordsWhatTheClientSendsAfter) {
  Scenario scenario =
      Parse("Summary: x\nTimeout: 5s\nS: 220 mx\nclose how=half\n");
  Received got;
  SessionRecord r = Play(scenario, [&](int fd) {
    got = ReadUntilClosed(fd);
    SendAll(fd, "QUIT\r\n");
  });
  EXPECT_EQ(got.data, "220 mx\r\n");
  EXPECT_TRUE(got.eof) << "the client received the server's FIN";
  int fin = IndexOf(r, [](const Event& e) {
    return e.kind == Event::Kind::kClosed && e.from == Peer::kServer;
  });
  int quit = IndexOf(r, [](const Event& e) {
    return e.from == Peer::kClient && e.bytes == "QUIT\r\n";
  });
  ASSERT_GE(fin, 0);
  EXPECT_EQ(r.events.events()[fin].note, "half-close");
  ASSERT_GE(quit, 0) << "sent after the server's FIN, and still recorded";
  EXPECT_GT(quit, fin);
  EXPECT_FALSE(r.timed_out);
}

TEST_F(SessionFaultTest, CloseUnderTlsSendsCloseNotify) {
  Scenario scenario =
      Parse(std::string("Summary: x\nTimeout: 5s\n") + std::string(kStartTls) +
            "tls\nC: EHLO *\nS: 250 ok\nclose\n");
  TlsResult connect, last;
  std::string line, rest;
  SessionRecord r = Play(scenario, [&](int fd) {
    PlainUpToHandshake(fd);
    TlsClient tls(fd, ca_file());
    connect = tls.Connect();
    if (!connect.ok) return;
    tls.Write("EHLO c\r\n");
    tls.ReadLine(&line);
    last = tls.ReadSome(&rest);
  });
  ASSERT_TRUE(connect.ok) << connect.errors;
  EXPECT_EQ(line, "250 ok\r\n");
  EXPECT_FALSE(last.ok);
  EXPECT_EQ(last.ssl_error, SSL_ERROR_ZERO_RETURN) << last.errors;
  EXPECT_TRUE(r.tls.established);
}

TEST_F(SessionFaultTest, CloseNotifyNoGivesTheClientAnUnexpectedEof) {
  Scenario scenario =
      Parse(std::string("Summary: x\nTimeout: 5s\n") + std::string(kStartTls) +
            "tls\nC: EHLO *\nS: 250 ok\nclose notify=no\n");
  TlsResult connect, last;
  std::string line, rest;
  Play(scenario, [&](int fd) {
    PlainUpToHandshake(fd);
    TlsClient tls(fd, ca_file());
    connect = tls.Connect();
    if (!connect.ok) return;
    tls.Write("EHLO c\r\n");
    tls.ReadLine(&line);
    last = tls.ReadSome(&rest);
  });
  ASSERT_TRUE(connect.ok) << connect.errors;
  EXPECT_EQ(line, "250 ok\r\n");
  EXPECT_FALSE(last.ok);
  EXPECT_EQ(last.ssl_error, SSL_ERROR_SSL);
  EXPECT_EQ(last.reason, SSL_R_UNEXPECTED_EOF_WHILE_READING) << last.errors;
}

// ---- tls: handshake faults ----

TEST_F(SessionFaultTest, TlsWithoutFaultsCompletesAndJudgesTheClientClean) {
  Scenario scenario =
      Parse(std::string("Summary: x\nTimeout: 5s\n") + std::string(kStartTls) +
            "tls\nC: EHLO *\nS: 250 ok\nC: QUIT\nS: 221 bye\nclose\n");
  TlsResult connect;
  std::string line;
  SessionRecord r = Play(scenario, [&](int fd) {
    PlainUpToHandshake(fd);
    TlsClient tls(fd, ca_file());
    connect = tls.Connect();
    if (!connect.ok) return;
    tls.Write("EHLO c\r\n");
    tls.ReadLine(&line);
    tls.Write("QUIT\r\n");
    tls.ReadLine(&line);
  });
  ASSERT_TRUE(connect.ok) << connect.errors;
  EXPECT_EQ(line, "221 bye\r\n");
  EXPECT_TRUE(r.tls.established);
  EXPECT_EQ(r.tls.sni, "mail.example.test");
  EXPECT_TRUE(r.script_completed);
  EXPECT_TRUE(HasNote(r, Event::Kind::kTlsStart,
                      "0 bytes from the client go to the handshake"));
  EXPECT_FALSE(HasNote(r, Event::Kind::kTlsStart, "discarded"));
  EXPECT_FALSE(HasNote(r, Event::Kind::kNote, "corrupted"));
  EXPECT_THAT(FindingIds(r), IsEmpty());
}

TEST_F(SessionFaultTest, TlsAbortAlertFailsTheClientHandshakeWithThatAlert) {
  Scenario scenario =
      Parse(std::string("Summary: x\nTimeout: 5s\n") + std::string(kStartTls) +
            "tls abort=alert alert=unknown_ca\n");
  TlsResult connect;
  auto run = std::make_shared<ScenarioRun>();
  SessionRecord r = Play(scenario,
                         [&](int fd) {
                           PlainUpToHandshake(fd);
                           connect = TlsClient(fd, ca_file()).Connect();
                         },
                         {.run = run});
  EXPECT_FALSE(connect.ok);
  EXPECT_EQ(connect.ssl_error, SSL_ERROR_SSL);
  EXPECT_EQ(connect.reason, SSL_R_TLSV1_ALERT_UNKNOWN_CA) << connect.errors;
  EXPECT_FALSE(r.tls.established);
  EXPECT_THAT(r.tls.error, HasSubstr("unknown_ca"));
  EXPECT_THAT(run->tls_failed, Contains(1));
  // The alert is the only record the server sent.
  auto records = BytesFrom(r, Peer::kServer, Layer::kTlsRecord);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].bytes, std::string("\x15\x03\x03\x00\x02\x02\x30", 7));
}

TEST_F(SessionFaultTest, TlsAbortCloseGivesTheClientEofInTheHandshake) {
  Scenario scenario = Parse(std::string("Summary: x\nTimeout: 5s\n") +
                            std::string(kStartTls) + "tls abort=close\n");
  TlsResult connect;
  SessionRecord r = Play(scenario, [&](int fd) {
    PlainUpToHandshake(fd);
    connect = TlsClient(fd, ca_file()).Connect();
  });
  EXPECT_FALSE(connect.ok);
  EXPECT_EQ(connect.ssl_error, SSL_ERROR_SSL);
  EXPECT_EQ(connect.reason, SSL_R_UNEXPECTED_EOF_WHILE_READING)
      << connect.errors;
  EXPECT_THAT(r.tls.error, HasSubstr("closed the connection"));
  EXPECT_TRUE(BytesFrom(r, Peer::kServer, Layer::kTlsRecord).empty());
}

TEST_F(SessionFaultTest, TlsAbortResetGivesTheClientEconnresetInTheHandshake) {
  Scenario scenario = Parse(std::string("Summary: x\nTimeout: 5s\n") +
                            std::string(kStartTls) + "tls abort=reset\n");
  TlsResult connect;
  SessionRecord r = Play(scenario, [&](int fd) {
    PlainUpToHandshake(fd);
    connect = TlsClient(fd, ca_file()).Connect();
  });
  EXPECT_FALSE(connect.ok);
  EXPECT_EQ(connect.ssl_error, SSL_ERROR_SYSCALL) << connect.errors;
  EXPECT_EQ(connect.sys_errno, ECONNRESET);
  EXPECT_TRUE(HasNote(r, Event::Kind::kClosed, "reset"));
}

TEST_F(SessionFaultTest,
       TlsAbortStallLeavesTheClientHelloUnansweredUntilTimeout) {
  Scenario scenario = Parse(std::string("Summary: x\nTimeout: 300ms\n") +
                            std::string(kStartTls) + "tls abort=stall\n");
  TlsResult connect;
  SessionRecord r = Play(scenario, [&](int fd) {
    PlainUpToHandshake(fd);
    connect = TlsClient(fd, ca_file()).Connect();
  });
  EXPECT_FALSE(connect.ok) << "the server closes after its wait";
  EXPECT_TRUE(r.timed_out);
  EXPECT_THAT(r.tls.error, HasSubstr("stalled"));
  EXPECT_TRUE(BytesFrom(r, Peer::kServer, Layer::kTlsRecord).empty());
  EXPECT_THAT(FindingIds(r), Contains("hang"));
}

TEST_F(SessionFaultTest, TlsAbortStallEndsWithTheClientsCloseWhenItGivesUp) {
  Scenario scenario = Parse(std::string("Summary: x\nTimeout: 5s\n") +
                            std::string(kStartTls) + "tls abort=stall\n");
  TlsResult connect;
  SessionRecord r = Play(scenario, [&](int fd) {
    PlainUpToHandshake(fd);
    // A client with a short handshake deadline gives up.
    timeval short_wait{.tv_sec = 0, .tv_usec = 200000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &short_wait, sizeof short_wait);
    connect = TlsClient(fd, ca_file()).Connect();
  });
  EXPECT_FALSE(connect.ok);
  EXPECT_FALSE(r.timed_out);
  EXPECT_THAT(FindingIds(r), Not(Contains("hang")));
}

TEST_F(SessionFaultTest, TlsMax10IsRefusedByAClientRequiringTls12) {
  Scenario scenario =
      Parse(std::string("Summary: x\nTimeout: 5s\n") + std::string(kStartTls) +
            "tls max=1.0 seclevel=0\n");
  TlsResult connect;
  SessionRecord r = Play(scenario, [&](int fd) {
    PlainUpToHandshake(fd);
    connect = TlsClient(fd, ca_file(), [](SSL_CTX* ctx) {
                SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
              }).Connect();
  });
  EXPECT_FALSE(connect.ok);
  EXPECT_FALSE(r.tls.established);
  EXPECT_FALSE(r.tls.error.empty());
}

TEST_F(SessionFaultTest, TlsMax10Seclevel0IsAcceptedByAClientAllowingTls10) {
  Scenario scenario =
      Parse(std::string("Summary: x\nTimeout: 5s\n") + std::string(kStartTls) +
            "tls max=1.0 seclevel=0\nC: EHLO *\nS: 250 ok\nclose\n");
  TlsResult connect;
  std::string line;
  std::string version;
  SessionRecord r = Play(scenario, [&](int fd) {
    PlainUpToHandshake(fd);
    TlsClient tls(fd, ca_file(), [](SSL_CTX* ctx) {
      SSL_CTX_set_min_proto_version(ctx, TLS1_VERSION);
      SSL_CTX_set_security_level(ctx, 0);
      SSL_CTX_set_cipher_list(ctx, "DEFAULT@SECLEVEL=0");
    });
    connect = tls.Connect();
    if (!connect.ok) return;
    version = SSL_get_version(tls.ssl());
    tls.Write("EHLO c\r\n");
    tls.ReadLine(&line);
  });
  ASSERT_TRUE(connect.ok) << connect.errors;
  EXPECT_EQ(version, "TLSv1");
  EXPECT_EQ(r.tls.version, "TLSv1");
  EXPECT_EQ(line, "250 ok\r\n");
}

TEST_F(SessionFaultTest, TlsCorruptFirstRecordFailsTheClientHandshake) {
  Scenario scenario = Parse(std::string("Summary: x\nTimeout: 5s\n") +
                            std::string(kStartTls) + "tls corrupt=1\n");
  TlsResult connect;
  SessionRecord r = Play(scenario, [&](int fd) {
    PlainUpToHandshake(fd);
    connect = TlsClient(fd, ca_file()).Connect();
  });
  EXPECT_FALSE(connect.ok);
  EXPECT_FALSE(r.tls.established);
  EXPECT_TRUE(HasNote(r, Event::Kind::kNote,
                      "corrupted the last byte of TLS record 1"));
}

TEST_F(SessionFaultTest, TlsTruncateFirstRecordFailsTheClientHandshake) {
  Scenario scenario = Parse(std::string("Summary: x\nTimeout: 5s\n") +
                            std::string(kStartTls) + "tls truncate=1\n");
  TlsResult connect;
  SessionRecord r = Play(scenario, [&](int fd) {
    PlainUpToHandshake(fd);
    connect = TlsClient(fd, ca_file()).Connect();
  });
  EXPECT_FALSE(connect.ok);
  EXPECT_FALSE(r.tls.established);
  EXPECT_TRUE(HasNote(r, Event::Kind::kNote, "truncated TLS record 1"));
  EXPECT_TRUE(HasNote(r, Event::Kind::kClosed, "reset"));
  auto records = BytesFrom(r, Peer::kServer, Layer::kTlsRecord);
  ASSERT_FALSE(records.empty());
  const std::string& first = records[0].bytes;
  ASSERT_GE(first.size(), 5u);
  size_t length = (static_cast<unsigned char>(first[3]) << 8) |
                  static_cast<unsigned char>(first[4]);
  EXPECT_EQ(first.size(), 5 + length / 2) << "half the record, then nothing";
}

TEST_F(SessionFaultTest, TlsCorruptRecordAfterTheHandshakeFailsTheClientsRead) {
  std::string script =
      std::string(kStartTls) + "tls{}\nC: EHLO *\nS: 250 ok\nclose\n";
  auto client = [&](TlsResult* connect, TlsResult* read, std::string* line) {
    return [=, this](int fd) {
      PlainUpToHandshake(fd);
      TlsClient tls(fd, ca_file());
      *connect = tls.Connect();
      if (!connect->ok) return;
      tls.Write("EHLO c\r\n");
      *read = tls.ReadLine(line);
    };
  };
  // A clean run counts the records of the handshake.
  TlsResult connect, read;
  std::string line;
  Scenario clean = Parse("Summary: x\nTimeout: 5s\n" +
                         fmt::format(fmt::runtime(script), ""));
  SessionRecord first = Play(clean, client(&connect, &read, &line));
  ASSERT_TRUE(connect.ok) << connect.errors;
  ASSERT_TRUE(read.ok) << read.errors;
  int handshake_records = ServerRecordsInHandshake(first);
  ASSERT_GT(handshake_records, 0);
  // The next record carries "250 ok".
  Scenario corrupt =
      Parse("Summary: x\nTimeout: 5s\n" +
            fmt::format(fmt::runtime(script),
                        fmt::format(" corrupt={}", handshake_records + 1)));
  SessionRecord r = Play(corrupt, client(&connect, &read, &line));
  ASSERT_TRUE(connect.ok) << connect.errors;
  EXPECT_FALSE(read.ok);
  EXPECT_EQ(read.ssl_error, SSL_ERROR_SSL);
  EXPECT_EQ(read.reason, SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC)
      << read.errors;
  EXPECT_TRUE(r.tls.established);
  EXPECT_TRUE(HasNote(r, Event::Kind::kNote,
                      fmt::format("corrupted the last byte of TLS record {}",
                                  handshake_records + 1)));
}

// ---- STARTTLS ordering on the wire ----

TEST_F(SessionFaultTest,
       PlaintextPipelinedAfterStartTlsIsDiscardedNotFedToTls) {
  Scenario scenario =
      Parse(std::string("Summary: x\nTimeout: 5s\n") + std::string(kStartTls) +
            "tls\nC: EHLO *\nS: 250 ok\nclose\n");
  TlsResult connect;
  std::string line;
  SessionRecord r = Play(scenario, [&](int fd) {
    EXPECT_EQ(ReadLine(fd), "220 mx\r\n");
    SendAll(fd, "STARTTLS\r\nMAIL FROM:<a@b>\r\n");  // one write
    EXPECT_EQ(ReadLine(fd), "220 go\r\n");
    TlsClient tls(fd, ca_file());
    connect = tls.Connect();
    if (!connect.ok) return;
    tls.Write("EHLO c\r\n");
    tls.ReadLine(&line);
  });
  ASSERT_TRUE(connect.ok) << connect.errors
                          << " (the plaintext reached the handshake)";
  EXPECT_EQ(line, "250 ok\r\n");
  EXPECT_TRUE(r.tls.established);
  EXPECT_TRUE(HasNote(r, Event::Kind::kTlsStart, "discarded 17 bytes"));
  auto findings = RunOracles({.record = &r});
  ASSERT_FALSE(findings.empty());
  EXPECT_EQ(findings[0].id, "pipelined-after-starttls");
  EXPECT_EQ(findings[0].evidence[0].offset, 10u);
  EXPECT_THAT(findings[0].evidence[0].detail, HasSubstr("MAIL FROM:<a@b>"));
}

TEST_F(SessionFaultTest, EarlyTlsIsFoundOnTheWire) {
  Scenario scenario = Parse(std::string("Summary: x\nTimeout: 5s\n") +
                            std::string(kStartTls) + "tls\n");
  SessionRecord r = Play(scenario, [&](int fd) {
    EXPECT_EQ(ReadLine(fd), "220 mx\r\n");
    // A handshake record right behind STARTTLS, in the same write.
    SendAll(fd, std::string("STARTTLS\r\n\x16\x03\x01\x00\x05hello", 20));
    EXPECT_EQ(ReadLine(fd), "220 go\r\n");
  });
  EXPECT_TRUE(HasNote(r, Event::Kind::kTlsStart, "discarded 10 bytes"));
  auto findings = RunOracles({.record = &r});
  ASSERT_FALSE(findings.empty());
  EXPECT_EQ(findings[0].id, "early-tls");
  EXPECT_EQ(findings[0].evidence[0].offset, 10u);
}

// The 220 goes out without its CRLF; the server then reads while it holds
// the CRLF back, so a ClientHello sent on the incomplete reply is recorded
// as plaintext before the reply is complete.
std::string IncompleteReplyScenario(std::string_view quiet) {
  return fmt::format(
      "Summary: x\nTimeout: 5s\nS: 220 mx\nC: STARTTLS\n"
      "send data=\"220 go\"\nwrite\n"
      "send data=\"\\r\\n\"\nwrite quiet={}\n"
      "tls\nC: EHLO *\nS: 250 ok\nclose\n",
      quiet);
}

TEST_F(SessionFaultTest, TlsOnAnIncompleteReplyIsFoundOnTheWire) {
  Scenario scenario = Parse(IncompleteReplyScenario("1s"));
  TlsResult connect;
  SessionRecord r = Play(scenario, [&](int fd) {
    EXPECT_EQ(ReadLine(fd), "220 mx\r\n");
    SendAll(fd, "STARTTLS\r\n");
    char partial[6];
    ASSERT_EQ(::recv(fd, partial, sizeof partial, MSG_WAITALL), 6);
    // The buggy client starts TLS on "220 go" and gives up after a while.
    timeval give_up{.tv_sec = 0, .tv_usec = 500000};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &give_up, sizeof give_up);
    connect = TlsClient(fd, ca_file()).Connect();
  });
  EXPECT_FALSE(connect.ok);
  EXPECT_FALSE(r.tls.established);
  auto findings = RunOracles({.record = &r});
  ASSERT_FALSE(findings.empty());
  EXPECT_EQ(findings[0].id, "tls-on-incomplete-reply");
  EXPECT_EQ(findings[0].evidence[0].offset, 10u) << "just after STARTTLS";
}

TEST_F(SessionFaultTest, TlsAfterTheHeldCrlfIsNotAnIncompleteReply) {
  Scenario scenario = Parse(IncompleteReplyScenario("300ms"));
  TlsResult connect;
  std::string line;
  SessionRecord r = Play(scenario, [&](int fd) {
    PlainUpToHandshake(fd);  // waits for the whole line
    TlsClient tls(fd, ca_file());
    connect = tls.Connect();
    if (!connect.ok) return;
    tls.Write("EHLO c\r\n");
    tls.ReadLine(&line);
  });
  ASSERT_TRUE(connect.ok) << connect.errors;
  EXPECT_EQ(line, "250 ok\r\n");
  EXPECT_TRUE(r.tls.established);
  EXPECT_THAT(FindingIds(r), IsEmpty());
}

// ---- connection ----

constexpr std::string_view kTwoConnections =
    "Summary: x\nTimeout: 5s\n"
    "S: 220 first\nclose\n"
    "connection\n"
    "S: 220 second\nclose\n";

TEST_F(SessionFaultTest, TheScriptConnectionSelectsTheSteps) {
  Scenario scenario = Parse(kTwoConnections);
  for (int n : {1, 2}) {
    Received got;
    SessionRecord r = Play(scenario, [&](int fd) { got = ReadUntilClosed(fd); },
                           {.connection = n, .script_connection = n});
    EXPECT_EQ(got.data, n == 1 ? "220 first\r\n" : "220 second\r\n");
    EXPECT_EQ(r.script_connection, n);
    EXPECT_EQ(r.connection, n);
  }
}

constexpr std::string_view kFailThenPlain =
    "Summary: x\nTimeout: 5s\n"
    "S: 220 mx\nC: STARTTLS\nS: 220 go\ntls abort=alert\n"
    "connection\n"
    "S: 220 mx\nserve\n";

TEST_F(SessionFaultTest, DowngradeByReconnectFiresAfterAFailedHandshake) {
  Scenario scenario = Parse(kFailThenPlain);
  auto run = std::make_shared<ScenarioRun>();
  TlsResult connect;
  SessionRecord first =
      Play(scenario,
           [&](int fd) {
             PlainUpToHandshake(fd);
             connect = TlsClient(fd, ca_file()).Connect();
           },
           {.connection = 1, .script_connection = 1, .run = run});
  EXPECT_FALSE(connect.ok);
  EXPECT_THAT(run->tls_failed, Contains(1));
  EXPECT_THAT(run->handshaking, IsEmpty()) << "the failed handshake settled";
  SessionRecord second =
      Play(scenario,
           [&](int fd) {
             SendAll(fd, "EHLO c\r\nMAIL FROM:<a@b>\r\nQUIT\r\n");
             ReadUntilClosed(fd);
           },
           {.connection = 2, .script_connection = 2, .run = run});
  EXPECT_TRUE(second.earlier_tls_failure);
  auto findings = RunOracles({.record = &second});
  ASSERT_EQ(findings.size(), 1u);
  EXPECT_EQ(findings[0].id, "downgrade-by-reconnect");
  EXPECT_EQ(findings[0].evidence[0].detail, "MAIL FROM:<a@b>");
  EXPECT_EQ(findings[0].evidence[0].offset, 8u);
}

TEST_F(SessionFaultTest, DowngradeByReconnectIsQuietWhenTheClientGivesUp) {
  Scenario scenario = Parse(kFailThenPlain);
  auto run = std::make_shared<ScenarioRun>();
  Play(scenario,
       [&](int fd) {
         PlainUpToHandshake(fd);
         (void)TlsClient(fd, ca_file()).Connect();
       },
       {.connection = 1, .script_connection = 1, .run = run});
  SessionRecord second =
      Play(scenario,
           [&](int fd) {
             SendAll(fd, "QUIT\r\n");
             ReadUntilClosed(fd);
           },
           {.connection = 2, .script_connection = 2, .run = run});
  EXPECT_TRUE(second.earlier_tls_failure);
  EXPECT_THAT(FindingIds(second), IsEmpty());
}

// The client came back while the server had not yet read how its earlier
// handshake ended (another thread, a loaded machine): still a downgrade.
TEST(ScenarioRun, AnEarlierHandshakeStillGoingOnCountsAsFailed) {
  ScenarioRun run;
  run.TlsStarted(1);
  EXPECT_TRUE(run.TlsFailedBefore(2));
  EXPECT_FALSE(run.TlsFailedBefore(1)) << "only earlier connections count";
}

TEST(ScenarioRun, AnEarlierHandshakeThatSucceededIsNoFailure) {
  ScenarioRun run;
  run.TlsStarted(1);
  run.TlsSettled(1);
  EXPECT_FALSE(run.TlsFailedBefore(2));
  run.TlsFailed(1);
  EXPECT_TRUE(run.TlsFailedBefore(2));
}

TEST_F(SessionFaultTest, PlainMailWithoutAnEarlierFailureIsNoDowngrade) {
  Scenario scenario = Parse(kFailThenPlain);
  auto run = std::make_shared<ScenarioRun>();  // connection 1 never ran
  SessionRecord second =
      Play(scenario,
           [&](int fd) {
             SendAll(fd, "EHLO c\r\nMAIL FROM:<a@b>\r\nQUIT\r\n");
             ReadUntilClosed(fd);
           },
           {.connection = 1, .script_connection = 2, .run = run});
  EXPECT_FALSE(second.earlier_tls_failure);
  EXPECT_THAT(FindingIds(second),
              ::testing::ElementsAre("plaintext-after-refusal"));
}

}  // namespace
}  // namespace starttls::server
