// The in-process replay API, used the way a C++ project would use it: the
// reference client library delivers to a FakeSmtpServer inside this test
// process, and the test asserts on the server's verdict and transcript.
#include "starttls/fake_smtp_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <csignal>
#include <filesystem>

#include "starttls/smtp_client.h"
#include "starttls/socket_transport.h"

namespace starttls::testing {
namespace {

using ::testing::HasSubstr;
using namespace std::chrono_literals;
namespace client = starttls::client;

constexpr auto kWait = 10s;

std::filesystem::path Scenario(std::string_view relative) {
  return std::filesystem::path(STARTTLS_SOURCE_DIR) / "scenarios" / relative;
}

// The client code under test: one delivery with the reference library.
tl::expected<client::DeliveryResult, client::Error> DeliverTo(
    const FakeSmtpServer& server) {
  std::signal(SIGPIPE, SIG_IGN);
  auto transport = client::SocketTransport::Connect("127.0.0.1", server.port(),
                                                    client::Clock::now() + 5s);
  if (!transport) return tl::unexpected(transport.error());
  client::SessionOptions options;
  options.tls = {.cafile = server.cafile().string(),
                 .servername = server.host()};
  options.from = "a@example.test";
  options.to = "b@example.test";
  options.message = "Subject: in-process\r\n\r\nhello\r\n";
  options.timeouts = {.greeting = 3s, .reply = 3s, .handshake = 3s};
  auto delivered = client::Deliver(**transport, options);
  (*transport)->Close();
  return delivered;
}

TEST(FakeSmtpServer, TheReferenceClientDeliversOverTheArticlesSession) {
  auto server = FakeSmtpServer::Start(
      {.scenario_file = Scenario("control/hotmail-2009.smtp")});
  ASSERT_TRUE(server) << server.error();

  auto delivered = DeliverTo(**server);
  ASSERT_TRUE(delivered) << delivered.error().message;

  ASSERT_TRUE((*server)->WaitForSession(kWait));
  EXPECT_TRUE((*server)->SessionPassed(0));
  ReplayedSession session = (*server)->sessions()[0];
  EXPECT_TRUE(session.delivered);
  EXPECT_THAT(session.oracles, ::testing::IsEmpty());
  EXPECT_THAT(session.transcript,
              HasSubstr("C: STARTTLS\nS: 220 2.0.0 SMTP server ready\n"
                        "-- TLS --\nC: EHLO localhost\n"));
}

TEST(FakeSmtpServer, AFieldBugScenarioReplaysAgainstTheClientInProcess) {
  auto server = FakeSmtpServer::Start(
      {.scenario_file = Scenario("field/curl-cve-2021-22947.smtp")});
  ASSERT_TRUE(server) << server.error();
  (void)DeliverTo(**server);  // delivering or refusing are both correct
  ASSERT_TRUE((*server)->WaitForSession(kWait));
  EXPECT_TRUE((*server)->SessionPassed(0));
  EXPECT_THAT((*server)->sessions()[0].oracles,
              ::testing::Not(::testing::Contains("acted-on-injected-reply")));
}

TEST(FakeSmtpServer, AScenarioGivenAsAStringIsServedOnAFreePort) {
  auto server =
      FakeSmtpServer::Start({.scenario_text = "Summary: refused STARTTLS\n"
                                              "Expect: refuse\n"
                                              "S: 220 mail.example.test ESMTP\n"
                                              "C: EHLO *\n"
                                              "S: 250-mail.example.test\n"
                                              "S: 250 STARTTLS\n"
                                              "C: STARTTLS\n"
                                              "S: 454 4.7.0 not now\n"
                                              "serve\n"});
  ASSERT_TRUE(server) << server.error();
  EXPECT_NE((*server)->port(), 0);

  auto delivered = DeliverTo(**server);
  ASSERT_FALSE(delivered);
  EXPECT_EQ(delivered.error().code, client::ErrorCode::kTlsUnavailable);
  ASSERT_TRUE((*server)->WaitForSession(kWait));
  EXPECT_TRUE((*server)->SessionPassed(0));
  EXPECT_EQ((*server)->sessions()[0].observed, "refused");
}

TEST(FakeSmtpServer, AWaitThatRunsOutFailsAndSaysWhatEnded) {
  auto server = FakeSmtpServer::Start(
      {.scenario_file = Scenario("control/responder-only.smtp")});
  ASSERT_TRUE(server) << server.error();
  ::testing::AssertionResult waited = (*server)->WaitForSession(50ms);
  EXPECT_FALSE(waited);
  EXPECT_THAT(waited.message(),
              HasSubstr("0 of 1 sessions ended within 50 ms"));
  EXPECT_FALSE((*server)->SessionPassed(0));
}

TEST(FakeSmtpServer, AMalformedScenarioIsRefusedWithItsPosition) {
  auto server =
      FakeSmtpServer::Start({.scenario_text = "Summary: x\nS: 220 ok\nfrob\n"});
  ASSERT_FALSE(server);
  EXPECT_THAT(server.error(), HasSubstr("inline.smtp:3:1: unknown step"));
}

TEST(FakeSmtpServer, AMalformedListenAddressIsOneLineAndNothingIsLeft) {
  auto server = FakeSmtpServer::Start(
      {.scenario_file = Scenario("control/responder-only.smtp"),
       .listen = "127.0.0.1:99999"});
  ASSERT_FALSE(server);
  EXPECT_EQ(server.error(), "--listen 127.0.0.1:99999: bad port");
}

TEST(FakeSmtpServer, ItsTemporaryRunDirectoryGoesWithIt) {
  std::filesystem::path cafile;
  {
    auto server = FakeSmtpServer::Start(
        {.scenario_file = Scenario("control/responder-only.smtp")});
    ASSERT_TRUE(server) << server.error();
    cafile = (*server)->cafile();
    EXPECT_TRUE(std::filesystem::exists(cafile));
  }
  EXPECT_FALSE(std::filesystem::exists(cafile.parent_path()));
}

}  // namespace
}  // namespace starttls::testing
