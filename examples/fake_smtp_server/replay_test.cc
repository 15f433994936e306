// A C++ project's own GoogleTest suite replaying a STARTTLS scenario
// in-process with the installed starttls-mock package. The client under test
// here is the reference client library; a project puts its own client in
// DeliverTo().
#include <gtest/gtest.h>

#include <chrono>
#include <csignal>

#include "starttls/fake_smtp_server.h"
#include "starttls/smtp_client.h"
#include "starttls/socket_transport.h"

namespace {

using namespace std::chrono_literals;
using starttls::testing::FakeSmtpServer;
namespace client = starttls::client;

// Replies to STARTTLS with 220 and plaintext injected after it in the same
// segment (curl CVE-2021-22947): a correct client never uses it.
constexpr char kScenario[] =
    "Summary: 250 lines injected after the 220 to STARTTLS\n"
    "Expect: deliver-or-refuse\n"
    "S: 220 mail.example.test ESMTP\n"
    "C: EHLO *\n"
    "S: 250-mail.example.test\n"
    "S: 250 STARTTLS\n"
    "C: STARTTLS\n"
    "S: 220 2.0.0 Ready to start TLS\n"
    "S: 250 injected\n"
    "tls\n"
    "C: EHLO *\n"
    "S: 250 mail.example.test\n"
    "write quiet=200ms\n"
    "serve\n";

bool DeliverTo(const FakeSmtpServer& server) {
  std::signal(SIGPIPE, SIG_IGN);
  auto transport = client::SocketTransport::Connect("127.0.0.1", server.port(),
                                                    client::Clock::now() + 5s);
  if (!transport) return false;
  client::SessionOptions options;
  options.tls = {.cafile = server.cafile().string(),
                 .servername = server.host()};
  options.from = "a@example.test";
  options.to = "b@example.test";
  options.message = "Subject: example\r\n\r\nhello\r\n";
  auto delivered = client::Deliver(**transport, options);
  (*transport)->Close();
  return delivered.has_value();
}

TEST(InstalledPackage, TheClientNeverActsOnInjectedPlaintext) {
  auto server = FakeSmtpServer::Start({.scenario_text = kScenario});
  ASSERT_TRUE(server) << server.error();
  bool delivered = DeliverTo(**server);
  ASSERT_TRUE((*server)->WaitForSession(10s));
  EXPECT_TRUE((*server)->SessionPassed(0));
  EXPECT_EQ((*server)->sessions()[0].delivered, delivered);
}

}  // namespace
