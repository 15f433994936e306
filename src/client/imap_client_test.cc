#include "starttls/imap_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mock_transport.h"

namespace starttls::client {
namespace {

using ::testing::_;
using ::testing::HasSubstr;
using ::testing::InSequence;
using ::testing::Not;
using ::testing::Return;
using ::testing::StrictMock;

constexpr char kGreeting[] =
    "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n";

// The session up to the CAPABILITY answer over TLS, with `tls_caps`.
std::vector<Step> UpToTlsCapability(std::string tls_caps) {
  return {
      Server(kGreeting),
      Client("A001 STARTTLS\r\n"),
      Server("A001 OK Begin TLS negotiation now\r\n"),
      Handshake(),
      Client("A002 CAPABILITY\r\n"),
      Server("* CAPABILITY " + tls_caps + "\r\nA002 OK done\r\n"),
  };
}

// SELECT of INBOX with two messages, then LOGOUT, tags from `n` on.
std::vector<Step> SelectAndLogout(int n) {
  auto tag = [](int i) { return "A00" + std::to_string(i); };
  return {
      Client(tag(n) + " SELECT \"INBOX\"\r\n"),
      Server("* 2 EXISTS\r\n* FLAGS (\\Seen)\r\n" + tag(n) +
             " OK [READ-WRITE] done\r\n"),
      Client(tag(n + 1) + " LOGOUT\r\n"),
      Server("* BYE bye\r\n" + tag(n + 1) + " OK done\r\n"),
  };
}

std::vector<Step> Concat(std::vector<Step> a, const std::vector<Step>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// "\0bob\0s3cret" in base64.
constexpr char kPlain[] = "AGJvYgBzM2NyZXQ=";

class LogInTest : public ::testing::Test {
 protected:
  LogInTest() {
    options_.credentials = {"bob", "s3cret", AuthMechanism::kAny};
    options_.tls = {"ca.pem", "mail.example.test"};
  }
  void Expect(const std::vector<Step>& script) {
    ExpectScript(transport_, script);
  }
  tl::expected<LoginResult, Error> Run() { return LogIn(transport_, options_); }

  InSequence in_order_;
  StrictMock<MockTransport> transport_;
  ImapSessionOptions options_;
};

TEST_F(LogInTest, ItLogsInWithAuthenticatePlainOverTlsAndSelectsTheMailbox) {
  Expect(Concat(
      Concat(UpToTlsCapability("IMAP4rev1 AUTH=PLAIN SASL-IR"),
             {Client(std::string("A003 AUTHENTICATE PLAIN ") + kPlain + "\r\n"),
              Server("A003 OK logged in\r\n")}),
      SelectAndLogout(4)));
  auto result = Run();
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->tls_info.version, "TLSv1.3");
  EXPECT_EQ(result->mailbox, "INBOX");
  EXPECT_EQ(result->exists, 2u);
}

TEST_F(LogInTest, WithoutSaslIrThePlainTokenAnswersTheContinuation) {
  Expect(Concat(Concat(UpToTlsCapability("IMAP4rev1 AUTH=PLAIN"),
                       {Client("A003 AUTHENTICATE PLAIN\r\n"), Server("+ \r\n"),
                        Client(std::string(kPlain) + "\r\n"),
                        Server("A003 OK logged in\r\n")}),
                SelectAndLogout(4)));
  EXPECT_TRUE(Run());
}

TEST_F(LogInTest, LoginIsUsedOverTlsOnceLogindisabledIsGone) {
  // LOGINDISABLED was in the greeting; over TLS it is not, and that is
  // what counts.
  Expect(Concat(Concat(UpToTlsCapability("IMAP4rev1"),
                       {Client("A003 LOGIN \"bob\" \"s3cret\"\r\n"),
                        Server("A003 OK logged in\r\n")}),
                SelectAndLogout(4)));
  EXPECT_TRUE(Run());
}

TEST_F(LogInTest, CapabilitiesLearnedBeforeTlsAreNeverUsedAfterIt) {
  // AUTH=PLAIN was offered only in plain text: LOGIN it is.
  auto script = UpToTlsCapability("IMAP4rev1");
  script[0] = Server("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] hi\r\n");
  Expect(Concat(Concat(script, {Client("A003 LOGIN \"bob\" \"s3cret\"\r\n"),
                                Server("A003 OK logged in\r\n")}),
                SelectAndLogout(4)));
  EXPECT_TRUE(Run());
}

TEST_F(LogInTest, LogindisabledOverTlsWithoutAMechanismIsAnAuthFailure) {
  Expect(Concat(UpToTlsCapability("IMAP4rev1 LOGINDISABLED"),
                {Client("A003 LOGOUT\r\n"), Server("A003 OK bye\r\n")}));
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kAuth);
}

TEST_F(LogInTest, ItAsksCapabilityWhenTheGreetingCarriesNone) {
  Expect({Server("* OK ready\r\n"), Client("A001 CAPABILITY\r\n"),
          Server("* CAPABILITY IMAP4rev1\r\nA001 OK done\r\n"),
          Client("A002 LOGOUT\r\n"), Server("A002 OK bye\r\n")});
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTlsUnavailable);
}

TEST_F(LogInTest, APreauthGreetingEndsTheSessionWithoutACommand) {
  Expect({Server("* PREAUTH [CAPABILITY IMAP4rev1 STARTTLS] hi bob\r\n")});
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTlsUnavailable);
  EXPECT_THAT(result.error().message, HasSubstr("PREAUTH"));
}

TEST_F(LogInTest, AStartTlsAnsweredNoIsTlsUnavailableAndNothingElseIsSent) {
  Expect({Server(kGreeting), Client("A001 STARTTLS\r\n"),
          Server("A001 NO not now\r\n"), Client("A002 LOGOUT\r\n"),
          Server("A002 OK bye\r\n")});
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTlsUnavailable);
}

TEST_F(LogInTest, AnUntaggedOkDoesNotAnswerStartTls) {
  Expect({Server(kGreeting), Client("A001 STARTTLS\r\n"),
          Server("* OK go on\r\n"), Server("A001 BAD no\r\n"),
          Client("A002 LOGOUT\r\n"), Server("A002 OK bye\r\n")});
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTlsUnavailable);
}

TEST_F(LogInTest, BytesAfterTheTaggedOkAreUnexpectedPlaintext) {
  // No handshake, and no LOGOUT on a connection that lies.
  Expect({Server(kGreeting), Client("A001 STARTTLS\r\n"),
          Server("A001 OK go\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n")});
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnexpectedPlaintext);
}

TEST_F(LogInTest, TheHandshakeWaitsForTheWholeTaggedOkLine) {
  Expect(Concat(Concat({Server(kGreeting), Client("A001 STARTTLS\r\n"),
                        Server("A001 O"), Server("K go\r"), Server("\n"),
                        Handshake(), Client("A002 CAPABILITY\r\n"),
                        Server("* CAPABILITY IMAP4rev1\r\nA002 OK done\r\n"),
                        Client("A003 LOGIN \"bob\" \"s3cret\"\r\n"),
                        Server("A003 OK in\r\n")},
                       {}),
                SelectAndLogout(4)));
  EXPECT_TRUE(Run());
}

TEST_F(LogInTest, AFailedHandshakeSendsNothingMore) {
  Expect({Server(kGreeting), Client("A001 STARTTLS\r\n"),
          Server("A001 OK go\r\n")});
  EXPECT_CALL(transport_, DoHandshake(_, _))
      .WillOnce(Return(tl::unexpected(
          Error{ErrorCode::kCertificate, "certificate has expired"})));
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kCertificate);
}

TEST_F(LogInTest, ARefusedLoginIsAnAuthFailure) {
  Expect(Concat(UpToTlsCapability("IMAP4rev1"),
                {Client("A003 LOGIN \"bob\" \"s3cret\"\r\n"),
                 Server("A003 NO [AUTHENTICATIONFAILED] no\r\n"),
                 Client("A004 LOGOUT\r\n"), Server("A004 OK bye\r\n")}));
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kAuth);
  EXPECT_THAT(result.error().message, Not(HasSubstr("s3cret")));
}

TEST_F(LogInTest, AByeInsteadOfAnAnswerEndsTheSession) {
  Expect({Server(kGreeting), Client("A001 STARTTLS\r\n"),
          Server("* BYE going away\r\n")});
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kConnectionLost);
}

TEST_F(LogInTest, TheTranscriptNeverShowsThePassword) {
  std::string transcript;
  options_.log = [&](std::string_view line) {
    transcript += line;
    transcript += '\n';
  };
  Expect(Concat(Concat(UpToTlsCapability("IMAP4rev1"),
                       {Client("A003 LOGIN \"bob\" \"s3cret\"\r\n"),
                        Server("A003 OK logged in\r\n")}),
                SelectAndLogout(4)));
  ASSERT_TRUE(Run());
  EXPECT_THAT(transcript, HasSubstr("C: A003 LOGIN \"bob\" <password hidden>"));
  EXPECT_THAT(transcript, Not(HasSubstr("s3cret")));
  EXPECT_THAT(transcript, HasSubstr("-- TLS handshake --"));
}

TEST(ImapQuoted, EscapesQuotesAndBackslashes) {
  EXPECT_EQ(ImapQuoted("a\"b\\c"), "\"a\\\"b\\\\c\"");
}

TEST(LogIn, ALineBreakInACredentialIsAUsageErrorBeforeAnyIo) {
  StrictMock<MockTransport> transport;
  ImapSessionOptions options;
  options.credentials = {"bob", "pass\r\nA9 DELETE INBOX", AuthMechanism::kAny};
  auto result = LogIn(transport, options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUsage);
}

}  // namespace
}  // namespace starttls::client
