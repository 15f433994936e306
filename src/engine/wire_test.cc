#include "engine/wire.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdlib>
#include <future>
#include <optional>
#include <thread>

#include "certs/run_pki.h"

namespace starttls::server {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;
using ::testing::Not;
using tcp = asio::ip::tcp;

Deadline In(milliseconds ms) { return std::chrono::steady_clock::now() + ms; }

class WireTest : public ::testing::Test {
 protected:
  void SetUp() override {
    tcp::acceptor acceptor(io_,
                           tcp::endpoint(asio::ip::address_v4::loopback(), 0));
    client_.connect(acceptor.local_endpoint());
    wire_ = std::make_unique<Wire>(acceptor.accept(), &log_);
  }

  // Runs one Wire operation to completion on this thread: until it is done,
  // not until the io_context is out of work.
  template <typename T>
  T Run(asio::awaitable<T> op) {
    std::optional<T> out;
    asio::co_spawn(io_, std::move(op), [&](std::exception_ptr e, T value) {
      if (e) std::rethrow_exception(e);
      out.emplace(std::move(value));
    });
    io_.restart();
    while (!out.has_value() && io_.run_one() > 0) {
    }
    return std::move(out.value());
  }

  void ClientSends(std::string_view bytes) {
    asio::write(client_, asio::buffer(bytes));
  }

  std::string ClientReads(size_t n) {
    std::string buf(n, '\0');
    asio::read(client_, asio::buffer(buf));
    return buf;
  }

  asio::io_context io_;
  tcp::socket client_{io_};
  EventLog log_;
  std::unique_ptr<Wire> wire_;
};

TEST_F(WireTest, ReadLineJoinsSegmentsAndStripsTheLineEnding) {
  ClientSends("EHLO a\r\nMAIL");
  EXPECT_EQ(Run(wire_->ReadLine(100, In(milliseconds(5000)))).value(),
            "EHLO a");
  ClientSends(" FROM:<x>\nRSET\r\n");
  EXPECT_EQ(Run(wire_->ReadLine(100, In(milliseconds(5000)))).value(),
            "MAIL FROM:<x>");
  EXPECT_EQ(Run(wire_->ReadLine(100, In(milliseconds(5000)))).value(), "RSET");
}

TEST_F(WireTest, ReadLineGivesUpAtTheDeadline) {
  auto line = Run(wire_->ReadLine(100, In(milliseconds(50))));
  ASSERT_FALSE(line.has_value());
  EXPECT_EQ(line.error().kind, WireError::Kind::kTimeout);
}

TEST_F(WireTest, AWaitEndsAtItsOwnDeadlineAfterOneWithALaterDeadline) {
  ClientSends("EHLO a\r\n");
  Deadline first = In(milliseconds(30000));
  ASSERT_TRUE(Run(wire_->ReadLine(100, first)).has_value());
  auto line = Run(wire_->ReadLine(100, In(milliseconds(50))));
  ASSERT_FALSE(line.has_value());
  EXPECT_EQ(line.error().kind, WireError::Kind::kTimeout);
  // Not held to the first wait's deadline.
  EXPECT_LT(std::chrono::steady_clock::now(), first);
}

TEST_F(WireTest, TheDeadlineOfAFinishedWaitDoesNotEndALaterOne) {
  ClientSends("EHLO a\r\n");
  ASSERT_TRUE(Run(wire_->ReadLine(100, In(milliseconds(20)))).has_value());
  // The first wait's deadline, 20 ms out, passes during this one.
  Deadline second = In(milliseconds(300));
  auto line = Run(wire_->ReadLine(100, second));
  ASSERT_FALSE(line.has_value());
  EXPECT_EQ(line.error().kind, WireError::Kind::kTimeout);
  // Ended by its own deadline, not the first one's.
  EXPECT_GE(std::chrono::steady_clock::now(), second);
}

TEST_F(WireTest, AfterCloseNothingOfTheWireIsLeftOnTheIoContext) {
  ClientSends("EHLO a\r\n");
  ASSERT_TRUE(Run(wire_->ReadLine(100, In(milliseconds(30000)))).has_value());
  client_.shutdown(tcp::socket::shutdown_send);  // ends the linger at once
  asio::co_spawn(io_, wire_->Close(In(milliseconds(30000))), asio::detached);
  io_.restart();
  // Out of work once Close() is done, long before the 30 s deadlines.
  io_.run_for(std::chrono::seconds(10));
  EXPECT_TRUE(io_.stopped());
}

TEST_F(WireTest, ReadLineRefusesOverlongLines) {
  ClientSends(std::string(200, 'x'));
  auto line = Run(wire_->ReadLine(100, In(milliseconds(5000))));
  ASSERT_FALSE(line.has_value());
  EXPECT_EQ(line.error().kind, WireError::Kind::kTooLong);
}

TEST_F(WireTest, ClientCloseIsReportedAndLogged) {
  client_.shutdown(tcp::socket::shutdown_send);
  auto line = Run(wire_->ReadLine(100, In(milliseconds(5000))));
  ASSERT_FALSE(line.has_value());
  EXPECT_EQ(line.error().kind, WireError::Kind::kClosed);
  ASSERT_FALSE(log_.events().empty());
  EXPECT_EQ(log_.events().back().kind, Event::Kind::kClosed);
  EXPECT_EQ(log_.events().back().from, Peer::kClient);
}

TEST_F(WireTest, EverySentByteIsLoggedWithItsStreamOffset) {
  ASSERT_TRUE(
      Run(wire_->Send("220 hi\r\n", In(milliseconds(5000)))).has_value());
  ASSERT_TRUE(
      Run(wire_->Send("250 ok\r\n", In(milliseconds(5000)))).has_value());
  EXPECT_EQ(ClientReads(16), "220 hi\r\n250 ok\r\n");
  ASSERT_EQ(log_.events().size(), 2u);
  EXPECT_EQ(log_.events()[1].bytes, "250 ok\r\n");
  EXPECT_EQ(log_.events()[1].offset, 8u);
  EXPECT_EQ(log_.events()[1].layer, Layer::kPlain);
}

TEST_F(WireTest, AbortEndsAPendingRead) {
  std::optional<WireResult<std::string>> got;
  asio::co_spawn(
      io_, wire_->ReadLine(100, In(milliseconds(60000))),
      [&](std::exception_ptr, WireResult<std::string> r) { got = r; });
  asio::post(io_, [&] { wire_->Abort(); });
  io_.run();
  ASSERT_TRUE(got.has_value());
  ASSERT_FALSE(got->has_value());
  EXPECT_EQ(got->error().kind, WireError::Kind::kAborted);
}

class WireTlsTest : public WireTest {
 protected:
  void SetUp() override {
    WireTest::SetUp();
    char tmpl[] = "/tmp/wire_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto pki = certs::IssueRunPki(dir_, {"mail.example.test"});
    ASSERT_TRUE(pki.has_value()) << pki.error();
    pki_ = *pki;
    server_ctx_.reset(SSL_CTX_new(TLS_server_method()));
    ASSERT_EQ(SSL_CTX_use_certificate_chain_file(server_ctx_.get(),
                                                 pki_.chain_file.c_str()),
              1);
    ASSERT_EQ(SSL_CTX_use_PrivateKey_file(
                  server_ctx_.get(), pki_.key_file.c_str(), SSL_FILETYPE_PEM),
              1);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  certs::RunPkiFiles pki_;
  ossl::SslCtxPtr server_ctx_;
};

TEST_F(WireTlsTest, HandshakeOverMemoryBiosThenLinesTravelEncrypted) {
  std::string client_got;
  std::string client_error;
  std::thread client([&] {
    ossl::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_load_verify_locations(ctx.get(), pki_.ca_file.c_str(), nullptr);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
    ossl::SslPtr ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), client_.native_handle());
    SSL_set_tlsext_host_name(ssl.get(), "mail.example.test");
    SSL_set1_host(ssl.get(), "mail.example.test");
    if (SSL_connect(ssl.get()) != 1) {
      client_error = ossl::DrainErrors();
      return;
    }
    SSL_write(ssl.get(), "EHLO c\r\n", 8);
    char buf[64];
    int n = SSL_read(ssl.get(), buf, sizeof buf);
    if (n > 0) client_got.assign(buf, static_cast<size_t>(n));
  });
  auto tls = Run(
      wire_->StartTls(server_ctx_.get(), kDefaultTls, In(milliseconds(10000))));
  ASSERT_TRUE(tls.has_value()) << tls.error().message;
  auto line = Run(wire_->ReadLine(100, In(milliseconds(10000))));
  ASSERT_TRUE(line.has_value()) << line.error().message;
  EXPECT_EQ(*line, "EHLO c");
  ASSERT_TRUE(
      Run(wire_->Send("250 ok\r\n", In(milliseconds(10000)))).has_value());
  client.join();
  EXPECT_EQ(client_error, "");
  EXPECT_EQ(client_got, "250 ok\r\n");
  EXPECT_TRUE(wire_->tls().established);
  EXPECT_EQ(wire_->tls().sni, "mail.example.test");
  EXPECT_THAT(wire_->tls().version, HasSubstr("TLSv1."));

  // On the wire only records travel; the lines appear at the TLS data layer.
  bool saw_record_from_client = false;
  for (const Event& e : log_.events()) {
    if (e.kind != Event::Kind::kBytes) continue;
    EXPECT_NE(e.layer, Layer::kPlain);
    if (e.from == Peer::kClient && e.layer == Layer::kTlsRecord) {
      saw_record_from_client = true;
      EXPECT_EQ(e.bytes[0], 0x16) << "the first client record is a handshake";
      break;
    }
  }
  EXPECT_TRUE(saw_record_from_client);
}

TEST_F(WireTlsTest, WhatTheClientSentButTheSessionNeverReadIsRecordedAtClose) {
  std::promise<void> written;
  std::thread client([&] {
    ossl::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
    ossl::SslPtr ssl(SSL_new(ctx.get()));
    SSL_set_fd(ssl.get(), client_.native_handle());
    if (SSL_connect(ssl.get()) == 1) {
      // Three records; the session will read only the first line.
      SSL_write(ssl.get(), "EHLO c\r\n", 8);
      SSL_write(ssl.get(), "DATA\r\n", 6);
      SSL_write(ssl.get(), "Subject: x\r\n", 12);
    }
    written.set_value();
    char buf[64];
    while (SSL_read(ssl.get(), buf, sizeof buf) > 0) {
    }
    ::shutdown(client_.native_handle(), SHUT_WR);  // ends the server's linger
  });
  auto tls = Run(
      wire_->StartTls(server_ctx_.get(), kDefaultTls, In(milliseconds(10000))));
  ASSERT_TRUE(tls.has_value()) << tls.error().message;
  ASSERT_EQ(written.get_future().wait_for(std::chrono::seconds(10)),
            std::future_status::ready);
  auto line = Run(wire_->ReadLine(100, In(milliseconds(10000))));
  ASSERT_TRUE(line.has_value()) << line.error().message;
  EXPECT_EQ(*line, "EHLO c");
  asio::co_spawn(io_, wire_->Close(In(milliseconds(2000))), asio::detached);
  io_.restart();
  io_.run();
  client.join();
  std::string client_data;
  for (const Event& e : log_.events()) {
    if (e.kind == Event::Kind::kBytes && e.from == Peer::kClient &&
        e.layer == Layer::kTlsData) {
      client_data += e.bytes;
    }
  }
  EXPECT_EQ(client_data, "EHLO c\r\nDATA\r\nSubject: x\r\n");
}

TEST_F(WireTlsTest, PlaintextWhereTheHandshakeShouldBeFailsTheHandshake) {
  ClientSends("MAIL FROM:<a@b>\r\n");
  auto tls = Run(
      wire_->StartTls(server_ctx_.get(), kDefaultTls, In(milliseconds(10000))));
  ASSERT_FALSE(tls.has_value());
  EXPECT_EQ(tls.error().kind, WireError::Kind::kTls);
  EXPECT_FALSE(wire_->tls().established);
  // OpenSSL's own reason, not a fallback: the error queue was read before
  // the alert was flushed.
  EXPECT_THAT(wire_->tls().error, HasSubstr("handshake failed: error:"));
  EXPECT_THAT(wire_->tls().error, Not(HasSubstr("unexpected end of stream")));
}

TEST_F(WireTlsTest, HandshakeGivesUpAtTheDeadline) {
  auto tls = Run(
      wire_->StartTls(server_ctx_.get(), kDefaultTls, In(milliseconds(50))));
  ASSERT_FALSE(tls.has_value());
  EXPECT_EQ(tls.error().kind, WireError::Kind::kTimeout);
}

}  // namespace
}  // namespace starttls::server
