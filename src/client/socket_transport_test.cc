#include "starttls/socket_transport.h"

#include <arpa/inet.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

namespace starttls::client {
namespace {

using ::testing::HasSubstr;
using std::chrono_literals::operator""ms;
using std::chrono_literals::operator""s;

// A loopback listener playing the server's side with plain sockets.
class Peer {
 public:
  Peer() {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(listen(listener_, 4), 0);
    EXPECT_EQ(getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len),
              0);
    port_ = ntohs(addr.sin_port);
  }
  ~Peer() {
    if (conn_ >= 0) close(conn_);
    close(listener_);
  }

  std::uint16_t port() const { return port_; }
  void Accept() { conn_ = accept(listener_, nullptr, nullptr); }
  void Send(std::string_view bytes) {
    ASSERT_EQ(send(conn_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  // Reads whatever arrives first (e.g. a ClientHello).
  std::string Receive() {
    char buf[4096];
    const ssize_t n = recv(conn_, buf, sizeof buf, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
  }
  void Hangup() {
    close(conn_);
    conn_ = -1;
  }

 private:
  int listener_ = -1;
  int conn_ = -1;
  std::uint16_t port_ = 0;
};

Deadline In(std::chrono::milliseconds d) { return Clock::now() + d; }

std::unique_ptr<SocketTransport> ConnectTo(Peer& peer) {
  auto transport = SocketTransport::Connect("127.0.0.1", peer.port(), In(5s));
  EXPECT_TRUE(transport) << transport.error().message;
  peer.Accept();
  return transport ? std::move(*transport) : nullptr;
}

const TlsOptions kTls{"", "mail.example.test"};

TEST(SocketTransport, ConnectingToAClosedPortIsAConnectFailure) {
  std::uint16_t port;
  {
    Peer gone;
    port = gone.port();
  }
  auto transport = SocketTransport::Connect("127.0.0.1", port, In(5s));
  ASSERT_FALSE(transport);
  EXPECT_EQ(transport.error().code, ErrorCode::kConnect);
}

TEST(SocketTransport, AnUnresolvableHostIsAConnectFailure) {
  auto transport = SocketTransport::Connect("no such host.invalid", 25, In(5s));
  ASSERT_FALSE(transport);
  EXPECT_EQ(transport.error().code, ErrorCode::kConnect);
}

TEST(SocketTransport, PlaintextFlowsBothWaysBeforeTheHandshake) {
  Peer peer;
  auto transport = ConnectTo(peer);
  ASSERT_TRUE(transport);
  EXPECT_FALSE(transport->secure());
  peer.Send("220 hi\r\n");
  auto read = transport->Read(100, In(5s));
  ASSERT_TRUE(read) << read.error().message;
  EXPECT_EQ(*read, "220 hi\r\n");
  ASSERT_TRUE(transport->Write("EHLO x\r\n", In(5s)));
  EXPECT_EQ(peer.Receive(), "EHLO x\r\n");
}

TEST(SocketTransport, ASilentServerMakesReadTimeOutAtTheDeadline) {
  Peer peer;
  auto transport = ConnectTo(peer);
  ASSERT_TRUE(transport);
  const auto start = Clock::now();
  auto read = transport->Read(100, In(100ms));
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kTimeout);
  EXPECT_GE(Clock::now() - start, 100ms);
  EXPECT_LT(Clock::now() - start, 5s);
}

TEST(SocketTransport, EofIsConnectionLost) {
  Peer peer;
  auto transport = ConnectTo(peer);
  ASSERT_TRUE(transport);
  peer.Hangup();
  auto read = transport->Read(100, In(5s));
  ASSERT_FALSE(read);
  EXPECT_EQ(read.error().code, ErrorCode::kConnectionLost);
}

TEST(SocketTransport, HandshakeRefusesWhilePlaintextIsWaitingOnTheSocket) {
  Peer peer;
  auto transport = ConnectTo(peer);
  ASSERT_TRUE(transport);
  peer.Send("250 injected\r\n");
  // Wait until the bytes have arrived, without reading them.
  pollfd pfd{.fd = transport->native_handle(), .events = POLLIN};
  ASSERT_EQ(poll(&pfd, 1, 5000), 1);
  auto tls = transport->DoHandshake(kTls, In(5s));
  ASSERT_FALSE(tls);
  EXPECT_EQ(tls.error().code, ErrorCode::kUnexpectedPlaintext);
  EXPECT_THAT(tls.error().message, HasSubstr("250 injected"));
  EXPECT_FALSE(transport->secure());
}

TEST(SocketTransport, PlaintextAnsweringTheClientHelloIsUnexpectedPlaintext) {
  Peer peer;
  auto transport = ConnectTo(peer);
  ASSERT_TRUE(transport);
  std::thread server([&] {
    EXPECT_FALSE(peer.Receive().empty());
    peer.Send("454 4.7.0 TLS not available\r\n");
  });
  auto tls = transport->DoHandshake(kTls, In(5s));
  server.join();
  ASSERT_FALSE(tls);
  EXPECT_EQ(tls.error().code, ErrorCode::kUnexpectedPlaintext);
  EXPECT_FALSE(transport->secure());
}

TEST(SocketTransport, AServerHangingUpOnTheClientHelloIsAHandshakeFailure) {
  Peer peer;
  auto transport = ConnectTo(peer);
  ASSERT_TRUE(transport);
  std::thread server([&] {
    EXPECT_FALSE(peer.Receive().empty());
    peer.Hangup();
  });
  auto tls = transport->DoHandshake(kTls, In(5s));
  server.join();
  ASSERT_FALSE(tls);
  EXPECT_EQ(tls.error().code, ErrorCode::kHandshake);
}

TEST(SocketTransport, ASilentServerMakesTheHandshakeTimeOut) {
  Peer peer;
  auto transport = ConnectTo(peer);
  ASSERT_TRUE(transport);
  auto tls = transport->DoHandshake(kTls, In(100ms));
  ASSERT_FALSE(tls);
  EXPECT_EQ(tls.error().code, ErrorCode::kTimeout);
}

TEST(SocketTransport, AMissingCaFileIsAUsageError) {
  Peer peer;
  auto transport = ConnectTo(peer);
  ASSERT_TRUE(transport);
  auto tls = transport->DoHandshake({"/nonexistent/ca.pem", "mail"}, In(5s));
  ASSERT_FALSE(tls);
  EXPECT_EQ(tls.error().code, ErrorCode::kUsage);
}

TEST(SocketTransport, AMissingCaDirectoryIsAUsageError) {
  Peer peer;
  auto transport = ConnectTo(peer);
  ASSERT_TRUE(transport);
  TlsOptions tls{.servername = "mail", .cadir = "/nonexistent/certs"};
  auto result = transport->DoHandshake(tls, In(5s));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUsage);
}

TEST(SocketTransport, AnUnreadableCrlFileIsAUsageError) {
  Peer peer;
  auto transport = ConnectTo(peer);
  ASSERT_TRUE(transport);
  TlsOptions tls{.servername = "mail", .crlfile = "/nonexistent/crl.pem"};
  auto result = transport->DoHandshake(tls, In(5s));
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUsage);
  EXPECT_THAT(result.error().message, HasSubstr("crl.pem"));
}

}  // namespace
}  // namespace starttls::client
