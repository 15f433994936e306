#include "starttls/pop3_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mock_transport.h"

namespace starttls::client {
namespace {

using ::testing::_;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::InSequence;
using ::testing::Not;
using ::testing::Return;
using ::testing::StrictMock;

constexpr char kGreeting[] = "+OK POP3 ready <1.2@mail.example.test>\r\n";
constexpr char kPlainCapa[] =
    "+OK Capability list follows\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\n.\r\n";

// "\0bob\0s3cret" in base64.
constexpr char kPlain[] = "AGJvYgBzM2NyZXQ=";

// The session up to the CAPA answer over TLS, whose lines are `tls_caps`.
std::vector<Step> UpToTlsCapa(std::string tls_caps) {
  return {
      Server(kGreeting),
      Client("CAPA\r\n"),
      Server(kPlainCapa),
      Client("STLS\r\n"),
      Server("+OK Begin TLS negotiation now\r\n"),
      Handshake(),
      Client("CAPA\r\n"),
      Server("+OK\r\n" + tls_caps + ".\r\n"),
  };
}

// STAT, RETR of two messages, QUIT.
std::vector<Step> DownloadAndQuit() {
  return {
      Client("STAT\r\n"),
      Server("+OK 2 40\r\n"),
      Client("RETR 1\r\n"),
      Server("+OK 20 octets\r\nSubject: a\r\n\r\n..dot\r\n.\r\n"),
      Client("RETR 2\r\n"),
      Server("+OK 20 octets\r\nSubject: b\r\n\r\nx\r\n.\r\n"),
      Client("QUIT\r\n"),
      Server("+OK bye\r\n"),
  };
}

std::vector<Step> Concat(std::vector<Step> a, const std::vector<Step>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

class RetrieveMailTest : public ::testing::Test {
 protected:
  RetrieveMailTest() {
    options_.credentials = {"bob", "s3cret", AuthMechanism::kAny};
    options_.tls = {"ca.pem", "mail.example.test"};
  }
  void Expect(const std::vector<Step>& script) {
    ExpectScript(transport_, script);
  }
  tl::expected<MaildropResult, Error> Run() {
    return RetrieveMail(transport_, options_);
  }

  InSequence in_order_;
  StrictMock<MockTransport> transport_;
  Pop3SessionOptions options_;
};

TEST_F(RetrieveMailTest, ItLogsInWithAuthPlainOverTlsAndDownloadsEveryMessage) {
  Expect(Concat(Concat(UpToTlsCapa("USER\r\nSASL PLAIN\r\n"),
                       {Client(std::string("AUTH PLAIN ") + kPlain + "\r\n"),
                        Server("+OK logged in\r\n")}),
                DownloadAndQuit()));
  auto result = Run();
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_EQ(result->tls_info.version, "TLSv1.3");
  EXPECT_EQ(result->messages, 2u);
  EXPECT_EQ(result->octets, 40u);
  // Byte-stuffing undone.
  EXPECT_THAT(result->retrieved, ElementsAre("Subject: a\r\n\r\n.dot\r\n",
                                             "Subject: b\r\n\r\nx\r\n"));
}

TEST_F(RetrieveMailTest, WithoutSaslPlainOverTlsItSendsUserAndPass) {
  Expect(Concat(Concat(UpToTlsCapa("USER\r\n"),
                       {Client("USER bob\r\n"), Server("+OK\r\n"),
                        Client("PASS s3cret\r\n"), Server("+OK in\r\n")}),
                DownloadAndQuit()));
  EXPECT_TRUE(Run());
}

TEST_F(RetrieveMailTest, CapabilitiesLearnedBeforeTlsAreNeverUsedAfterIt) {
  // SASL PLAIN was offered only in plain text: USER and PASS it is.
  Expect(Concat(Concat(UpToTlsCapa("USER\r\nTOP\r\n"),
                       {Client("USER bob\r\n"), Server("+OK\r\n"),
                        Client("PASS s3cret\r\n"), Server("+OK in\r\n")}),
                DownloadAndQuit()));
  EXPECT_TRUE(Run());
}

TEST_F(RetrieveMailTest, NoWayToLogInOverTlsIsAnAuthFailure) {
  Expect(Concat(UpToTlsCapa("TOP\r\n"),
                {Client("QUIT\r\n"), Server("+OK bye\r\n")}));
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kAuth);
}

TEST_F(RetrieveMailTest, ARefusedCapaEndsTheSessionBeforeAnyCredentials) {
  Expect({Server(kGreeting), Client("CAPA\r\n"), Server("-ERR no\r\n"),
          Client("QUIT\r\n"), Server("+OK bye\r\n")});
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTlsUnavailable);
  EXPECT_THAT(result.error().message, HasSubstr("CAPA"));
}

TEST_F(RetrieveMailTest, NoStlsInCapaIsTlsUnavailable) {
  Expect({Server(kGreeting), Client("CAPA\r\n"),
          Server("+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n"), Client("QUIT\r\n"),
          Server("+OK bye\r\n")});
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTlsUnavailable);
}

TEST_F(RetrieveMailTest,
       AnStlsAnsweredErrIsTlsUnavailableAndNothingElseIsSent) {
  Expect({Server(kGreeting), Client("CAPA\r\n"), Server(kPlainCapa),
          Client("STLS\r\n"), Server("-ERR not now\r\n"), Client("QUIT\r\n"),
          Server("+OK bye\r\n")});
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTlsUnavailable);
}

TEST_F(RetrieveMailTest, BytesAfterTheOkToStlsAreUnexpectedPlaintext) {
  // No handshake, and no QUIT on a connection that lies.
  Expect({Server(kGreeting), Client("CAPA\r\n"), Server(kPlainCapa),
          Client("STLS\r\n"), Server("+OK go\r\n+OK\r\nSASL PLAIN\r\n.\r\n")});
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnexpectedPlaintext);
}

TEST_F(RetrieveMailTest, TheHandshakeWaitsForTheWholeOkLine) {
  Expect(Concat(
      Concat({Server(kGreeting), Client("CAPA\r\n"), Server(kPlainCapa),
              Client("STLS\r\n"), Server("+O"), Server("K go\r"), Server("\n"),
              Handshake(), Client("CAPA\r\n"), Server("+OK\r\nUSER\r\n.\r\n"),
              Client("USER bob\r\n"), Server("+OK\r\n"),
              Client("PASS s3cret\r\n"), Server("+OK in\r\n")},
             {}),
      DownloadAndQuit()));
  EXPECT_TRUE(Run());
}

TEST_F(RetrieveMailTest, AGreetingOtherThanOkIsAProtocolError) {
  Expect({Server("-ERR go away\r\n")});
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kProtocol);
}

TEST_F(RetrieveMailTest, AFailedHandshakeSendsNothingMore) {
  Expect({Server(kGreeting), Client("CAPA\r\n"), Server(kPlainCapa),
          Client("STLS\r\n"), Server("+OK go\r\n")});
  EXPECT_CALL(transport_, DoHandshake(_, _))
      .WillOnce(Return(tl::unexpected(
          Error{ErrorCode::kCertificate, "certificate has expired"})));
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kCertificate);
}

TEST_F(RetrieveMailTest,
       ARefusedPassIsAnAuthFailureThatDoesNotShowThePassword) {
  std::vector<std::string> transcript;
  options_.log = [&](std::string_view line) { transcript.emplace_back(line); };
  Expect(Concat(
      UpToTlsCapa("USER\r\n"),
      {Client("USER bob\r\n"), Server("+OK\r\n"), Client("PASS s3cret\r\n"),
       Server("-ERR [AUTH] wrong password\r\n"), Client("QUIT\r\n"),
       Server("+OK bye\r\n")}));
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kAuth);
  EXPECT_THAT(result.error().message, Not(HasSubstr("s3cret")));
  for (const std::string& line : transcript) {
    EXPECT_THAT(line, Not(HasSubstr("s3cret")));
  }
}

TEST_F(RetrieveMailTest, ALoginMechanismAskedForIsUserAndPassEvenWithSasl) {
  options_.credentials.mechanism = AuthMechanism::kLogin;
  Expect(Concat(Concat(UpToTlsCapa("USER\r\nSASL PLAIN\r\n"),
                       {Client("USER bob\r\n"), Server("+OK\r\n"),
                        Client("PASS s3cret\r\n"), Server("+OK in\r\n")}),
                DownloadAndQuit()));
  EXPECT_TRUE(Run());
}

TEST(RetrieveMail, AUserNameWithASpaceOrLineBreakIsRefusedBeforeConnecting) {
  StrictMock<MockTransport> transport;
  Pop3SessionOptions options;
  options.credentials = {"bob smith", "x", AuthMechanism::kAny};
  auto result = RetrieveMail(transport, options);
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUsage);
  options.credentials = {"bob", "x\r\nDELE 1", AuthMechanism::kAny};
  EXPECT_EQ(RetrieveMail(transport, options).error().code, ErrorCode::kUsage);
}

}  // namespace
}  // namespace starttls::client
