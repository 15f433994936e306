#include "starttls/smtp_client.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "mock_transport.h"

namespace starttls::client {
namespace {

using ::testing::_;
using ::testing::DoAll;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::InSequence;
using ::testing::Not;
using ::testing::Return;
using ::testing::SaveArg;
using ::testing::StrEq;
using ::testing::StrictMock;

constexpr char kMessage[] = "Subject: test\n\n.hidden\nbody";
constexpr char kPayload[] = "Subject: test\r\n\r\n..hidden\r\nbody\r\n.\r\n";

// A complete, successful STARTTLS delivery.
std::vector<Step> HappyScript() {
  return {
      Server("220 mail.example.test ESMTP\r\n"),
      Client("EHLO client.example.test\r\n"),
      Server("250-mail.example.test\r\n250-PIPELINING\r\n250 STARTTLS\r\n"),
      Client("STARTTLS\r\n"),
      Server("220 Ready to start TLS\r\n"),
      Handshake(),
      Client("EHLO client.example.test\r\n"),
      Server("250-mail.example.test\r\n250 8BITMIME\r\n"),
      Client("MAIL FROM:<sender@example.test>\r\n"),
      Server("250 OK\r\n"),
      Client("RCPT TO:<recipient@example.test>\r\n"),
      Server("250 OK\r\n"),
      Client("DATA\r\n"),
      Server("354 Go ahead\r\n"),
      Client(kPayload),
      Server("250 2.0.0 queued as 42\r\n"),
      Client("QUIT\r\n"),
      Server("221 Bye\r\n"),
  };
}

// The script of a STARTTLS session up to the reply to the EHLO sent over
// TLS, with the given EHLO replies.
std::vector<Step> UpToTlsEhlo(std::string plain_ehlo, std::string tls_ehlo) {
  return {
      Server("220 mail.example.test ESMTP\r\n"),
      Client("EHLO client.example.test\r\n"),
      Server(std::move(plain_ehlo)),
      Client("STARTTLS\r\n"),
      Server("220 Ready to start TLS\r\n"),
      Handshake(),
      Client("EHLO client.example.test\r\n"),
      Server(std::move(tls_ehlo)),
  };
}

// A successful mail transaction and QUIT.
std::vector<Step> Transaction() {
  return {
      Client("MAIL FROM:<sender@example.test>\r\n"),
      Server("250 OK\r\n"),
      Client("RCPT TO:<recipient@example.test>\r\n"),
      Server("250 OK\r\n"),
      Client("DATA\r\n"),
      Server("354 Go ahead\r\n"),
      Client(kPayload),
      Server("250 2.0.0 queued as 42\r\n"),
      Client("QUIT\r\n"),
      Server("221 Bye\r\n"),
  };
}

std::vector<Step> Concat(std::vector<Step> a, const std::vector<Step>& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

constexpr char kPlainEhlo[] =
    "250-mail.example.test\r\n250-AUTH PLAIN LOGIN\r\n250 STARTTLS\r\n";
// "AUTH PLAIN " and base64("\0alice\0s3cret").
constexpr char kAuthPlain[] = "AUTH PLAIN AGFsaWNlAHMzY3JldA==\r\n";

// Index in `script` of its `n`th Read (0-based).
std::size_t NthRead(const std::vector<Step>& script, int n) {
  for (std::size_t i = 0; i < script.size(); ++i) {
    if (script[i].kind == Step::kRead && n-- == 0) return i;
  }
  ADD_FAILURE() << "script has too few reads";
  return script.size();
}

class DeliverTest : public ::testing::Test {
 protected:
  DeliverTest() {
    options_.ehlo_name = "client.example.test";
    options_.from = "sender@example.test";
    options_.to = "recipient@example.test";
    options_.message = kMessage;
    options_.tls = {"ca.pem", "mail.example.test"};
  }

  // Expects exactly `script`, in order; StrictMock fails on anything else.
  void Expect(const std::vector<Step>& script) {
    ExpectScript(transport_, script);
  }
  void ExpectReadFails(ErrorCode code) {
    EXPECT_CALL(transport_, Read(_, _))
        .WillOnce(Return(tl::unexpected(Error{code, "injected"})));
  }
  void ExpectHandshakeFails(ErrorCode code) {
    EXPECT_CALL(transport_, DoHandshake(_, _))
        .WillOnce(Return(tl::unexpected(Error{code, "injected"})));
  }

  tl::expected<DeliveryResult, Error> Run() {
    return Deliver(transport_, options_);
  }

  InSequence in_order_;
  StrictMock<MockTransport> transport_;
  SessionOptions options_;
};

TEST_F(DeliverTest, HappyPathWritesExactlyTheExpectedSequence) {
  Expect(HappyScript());
  auto result = Run();
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_TRUE(result->tls);
  EXPECT_EQ(result->tls_info.version, "TLSv1.3");
  EXPECT_EQ(result->tls_info.cipher, "TLS_AES_256_GCM_SHA384");
  EXPECT_EQ(result->final_reply.code, 250);
  EXPECT_EQ(Summarize(result->final_reply), "250 2.0.0 queued as 42");
}

TEST_F(DeliverTest, HandshakeNeverStartsBeforeTheWhole220LineArrived) {
  auto script = HappyScript();
  const auto at = script.begin() + NthRead(script, 2);
  *at = Server("2");
  script.insert(at + 1,
                {Server("20 Ready"), Server(" to start TLS\r"), Server("\n")});
  Expect(script);
  auto result = Run();
  ASSERT_TRUE(result) << result.error().message;
}

TEST_F(DeliverTest, A220ContinuationLineIsNotTheEndOfTheReply) {
  auto script = HappyScript();
  const auto at = script.begin() + NthRead(script, 2);
  *at = Server("220-Ready\r\n");
  script.insert(at + 1, Server("220 to start TLS\r\n"));
  Expect(script);
  auto result = Run();
  ASSERT_TRUE(result) << result.error().message;
}

TEST_F(DeliverTest, BytesAfterThe220InTheSameReadAreUnexpectedPlaintext) {
  Expect({
      Server("220 mail.example.test ESMTP\r\n"),
      Client("EHLO client.example.test\r\n"),
      Server("250-mail.example.test\r\n250 STARTTLS\r\n"),
      Client("STARTTLS\r\n"),
      Server("220 Ready\r\n250-injected\r\n250 STARTTLS\r\n"),
      // No handshake, and no QUIT on a connection that lies.
  });
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnexpectedPlaintext);
  EXPECT_THAT(result.error().message, HasSubstr("250-injected"));
}

TEST_F(DeliverTest, EvenAPartialLineAfterThe220IsUnexpectedPlaintext) {
  Expect({
      Server("220 mail.example.test ESMTP\r\n"),
      Client("EHLO client.example.test\r\n"),
      Server("250-mail.example.test\r\n250 STARTTLS\r\n"),
      Client("STARTTLS\r\n"),
      Server("220 Ready\r\nX"),
  });
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnexpectedPlaintext);
}

TEST_F(DeliverTest, AReplyNobodyAskedForIsNeverTakenAsTheAnswerToStartTls) {
  Expect({
      Server("220 mail.example.test ESMTP\r\n"),
      Client("EHLO client.example.test\r\n"),
      // A 220 arrives with the EHLO reply, before STARTTLS was sent.
      Server("250-mail.example.test\r\n250 STARTTLS\r\n220 Ready\r\n"),
      // Neither STARTTLS nor a handshake follows.
  });
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnexpectedPlaintext);
  EXPECT_THAT(result.error().message, HasSubstr("220 Ready"));
}

TEST_F(DeliverTest, PlaintextSeenByTheTransportEndsTheSessionWithoutQuit) {
  auto script = HappyScript();
  script.resize(NthRead(script, 2) + 1);
  Expect(script);
  ExpectHandshakeFails(ErrorCode::kUnexpectedPlaintext);
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUnexpectedPlaintext);
}

TEST_F(DeliverTest, StartTlsIsWrittenAloneAndNothingElseBeforeItsReply) {
  Expect({
      Server("220 mail.example.test ESMTP\r\n"),
      Client("EHLO client.example.test\r\n"),
      Server("250-mail.example.test\r\n250 STARTTLS\r\n"),
      Client("STARTTLS\r\n"),
  });
  ExpectReadFails(ErrorCode::kTimeout);
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTimeout);
}

TEST_F(DeliverTest, CapabilitiesFromBeforeTlsAreForgotten) {
  // The post-TLS EHLO advertises STARTTLS again; it must not be acted on,
  // and MAIL must wait for the fresh EHLO reply.
  auto script = HappyScript();
  script[NthRead(script, 3)] =
      Server("250-mail.example.test\r\n250 STARTTLS\r\n");
  Expect(script);
  auto result = Run();
  ASSERT_TRUE(result) << result.error().message;
}

TEST_F(DeliverTest, MailIsNeverWrittenBeforeThePostTlsEhloReplyIsComplete) {
  auto script = HappyScript();
  const auto at = script.begin() + NthRead(script, 3);
  *at = Server("250-mail.example.test\r\n");
  script.insert(at + 1, {Server("250-SIZE 1000"), Server("0\r\n250 OK\r\n")});
  Expect(script);
  auto result = Run();
  ASSERT_TRUE(result) << result.error().message;
}

TEST_F(DeliverTest, MissingStartTlsWithTlsRequiredIsTlsUnavailable) {
  Expect({
      Server("220 mail.example.test ESMTP\r\n"),
      Client("EHLO client.example.test\r\n"),
      Server("250-mail.example.test\r\n250-STARTTLSX\r\n250 8BITMIME\r\n"),
      Client("QUIT\r\n"),
      Server("221 Bye\r\n"),
  });
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTlsUnavailable);
}

TEST_F(DeliverTest, StartTlsAnswered454IsTlsUnavailable) {
  Expect({
      Server("220 mail.example.test ESMTP\r\n"),
      Client("EHLO client.example.test\r\n"),
      Server("250-mail.example.test\r\n250 STARTTLS\r\n"),
      Client("STARTTLS\r\n"),
      Server("454 4.7.0 TLS not available\r\n"),
      Client("QUIT\r\n"),
      Server("221 Bye\r\n"),
  });
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTlsUnavailable);
  EXPECT_THAT(result.error().message, HasSubstr("454"));
}

TEST_F(DeliverTest, OpportunisticPolicyNeverFallsBackAfterARefusedStartTls) {
  options_.policy = TlsPolicy::kOpportunistic;
  Expect({
      Server("220 mail.example.test ESMTP\r\n"),
      Client("EHLO client.example.test\r\n"),
      Server("250-mail.example.test\r\n250 STARTTLS\r\n"),
      Client("STARTTLS\r\n"),
      Server("454 4.7.0 TLS not available\r\n"),
      Client("QUIT\r\n"),
      Server("221 Bye\r\n"),
  });
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTlsUnavailable);
}

TEST_F(DeliverTest, OpportunisticPolicyNeverFallsBackAfterAFailedHandshake) {
  options_.policy = TlsPolicy::kOpportunistic;
  auto script = HappyScript();
  script.resize(NthRead(script, 2) + 1);
  Expect(script);
  ExpectHandshakeFails(ErrorCode::kHandshake);
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kHandshake);
}

TEST_F(DeliverTest, OpportunisticPolicyUsesPlaintextWhenStartTlsIsNotOffered) {
  options_.policy = TlsPolicy::kOpportunistic;
  Expect({
      Server("220 mail.example.test ESMTP\r\n"),
      Client("EHLO client.example.test\r\n"),
      Server("250 mail.example.test\r\n"),
      Client("MAIL FROM:<sender@example.test>\r\n"),
      Server("250 OK\r\n"),
      Client("RCPT TO:<recipient@example.test>\r\n"),
      Server("251 forwarded\r\n"),
      Client("DATA\r\n"),
      Server("354 Go ahead\r\n"),
      Client(kPayload),
      Server("250 queued\r\n"),
      Client("QUIT\r\n"),
      Server("221 Bye\r\n"),
  });
  auto result = Run();
  ASSERT_TRUE(result) << result.error().message;
  EXPECT_FALSE(result->tls);
}

TEST_F(DeliverTest, CertificateRejectionEndsTheSessionWithoutQuit) {
  auto script = HappyScript();
  script.resize(NthRead(script, 2) + 1);
  Expect(script);
  ExpectHandshakeFails(ErrorCode::kCertificate);
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kCertificate);
}

TEST_F(DeliverTest, DataAnswered554IsRejected) {
  auto script = HappyScript();
  script.resize(NthRead(script, 6));
  script.push_back(Server("554 5.7.1 no thanks\r\n"));
  script.push_back(Client("QUIT\r\n"));
  script.push_back(Server("221 Bye\r\n"));
  Expect(script);
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kRejected);
  EXPECT_THAT(result.error().message, HasSubstr("554 5.7.1 no thanks"));
}

TEST_F(DeliverTest, EndOfDataAnswered554IsRejected) {
  auto script = HappyScript();
  script[NthRead(script, 7)] = Server("554 5.7.1 spam\r\n");
  Expect(script);
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kRejected);
}

TEST_F(DeliverTest, RecipientAnswered450IsRejectedAndNoDataIsSent) {
  auto script = HappyScript();
  script.resize(NthRead(script, 5));
  script.push_back(Server("450 4.2.0 try later\r\n"));
  script.push_back(Client("QUIT\r\n"));
  script.push_back(Server("221 Bye\r\n"));
  Expect(script);
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kRejected);
}

TEST_F(DeliverTest, AnUnexpectedPositiveReplyIsAProtocolError) {
  auto script = HappyScript();
  script[NthRead(script, 4)] = Server("354 what?\r\n");
  script.resize(NthRead(script, 4) + 1);
  script.push_back(Client("QUIT\r\n"));
  script.push_back(Server("221 Bye\r\n"));
  Expect(script);
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kProtocol);
}

TEST_F(DeliverTest, AGreetingOtherThan220IsAProtocolErrorFollowedByQuit) {
  Expect({
      Server("554 go away\r\n"),
      Client("QUIT\r\n"),
      Server("221 Bye\r\n"),
  });
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kProtocol);
}

TEST_F(DeliverTest, AMalformedReplyIsAProtocolErrorAndEndsTheConversation) {
  Expect({Server("22X mail.example.test\r\n")});
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kProtocol);
}

TEST_F(DeliverTest, ALostQuitReplyDoesNotUndoAnAcceptedMessage) {
  auto script = HappyScript();
  script.pop_back();
  Expect(script);
  ExpectReadFails(ErrorCode::kConnectionLost);
  auto result = Run();
  ASSERT_TRUE(result) << result.error().message;
}

TEST_F(DeliverTest, ALineBreakInAnAddressIsRefusedBeforeAnythingIsSent) {
  options_.to = "victim@example.test>\r\nRCPT TO:<other@example.test";
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUsage);
}

TEST_F(DeliverTest, TranscriptShowsBothSidesAndTheHandshake) {
  std::vector<std::string> transcript;
  options_.log = [&](std::string_view line) { transcript.emplace_back(line); };
  Expect(HappyScript());
  ASSERT_TRUE(Run());
  EXPECT_THAT(transcript, ::testing::Contains("C: STARTTLS"));
  EXPECT_THAT(transcript, ::testing::Contains("S: 220 Ready to start TLS"));
  EXPECT_THAT(transcript, ::testing::Contains("-- TLS handshake --"));
  EXPECT_THAT(transcript, ::testing::Contains("S: 250-PIPELINING"));
}

// ---------------------------------------------------------------------------
// The TLS policy.

TEST_F(DeliverTest, RequireTlsNeverWritesMailOrAuthUnprotected) {
  options_.auth = Credentials{"alice", "s3cret"};
  Expect({
      Server("220 mail.example.test ESMTP\r\n"),
      Client("EHLO client.example.test\r\n"),
      // AUTH offered in plain text, STARTTLS not at all: neither AUTH nor
      // MAIL may follow, only QUIT.
      Server("250-mail.example.test\r\n250 AUTH PLAIN LOGIN\r\n"),
      Client("QUIT\r\n"),
      Server("221 Bye\r\n"),
  });
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTlsUnavailable);
}

TEST_F(DeliverTest, RequireTlsNeverWritesMailAfterAFailedHandshake) {
  options_.auth = Credentials{"alice", "s3cret"};
  Expect({
      Server("220 mail.example.test ESMTP\r\n"),
      Client("EHLO client.example.test\r\n"), Server(kPlainEhlo),
      Client("STARTTLS\r\n"), Server("220 Ready to start TLS\r\n"),
      // Nothing after the failed handshake: no AUTH, no MAIL, no QUIT.
  });
  ExpectHandshakeFails(ErrorCode::kHandshake);
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kHandshake);
}

TEST_F(DeliverTest, OpportunisticPolicyNeverSendsCredentialsInPlainText) {
  options_.policy = TlsPolicy::kOpportunistic;
  options_.auth = Credentials{"alice", "s3cret"};
  Expect({
      Server("220 mail.example.test ESMTP\r\n"),
      Client("EHLO client.example.test\r\n"),
      Server("250-mail.example.test\r\n250 AUTH PLAIN LOGIN\r\n"),
      Client("QUIT\r\n"),
      Server("221 Bye\r\n"),
  });
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTlsUnavailable);
}

// ---------------------------------------------------------------------------
// AUTH.

TEST_F(DeliverTest, AuthPlainIsSentOnlyAfterTheHandshakeAndThePostTlsEhlo) {
  options_.auth = Credentials{"alice", "s3cret"};
  Expect(Concat(
      UpToTlsEhlo(kPlainEhlo, "250-mail.example.test\r\n250 AUTH PLAIN\r\n"),
      Concat({Client(kAuthPlain), Server("235 2.7.0 OK\r\n")}, Transaction())));
  auto result = Run();
  ASSERT_TRUE(result) << result.error().message;
}

TEST_F(DeliverTest, AuthLoginIsUsedWhenPlainIsNotOfferedOverTls) {
  options_.auth = Credentials{"alice", "s3cret"};
  Expect(Concat(
      UpToTlsEhlo(kPlainEhlo, "250-mail.example.test\r\n250 AUTH LOGIN\r\n"),
      Concat(
          {
              Client("AUTH LOGIN\r\n"),
              Server("334 VXNlcm5hbWU6\r\n"),
              Client("YWxpY2U=\r\n"),
              Server("334 UGFzc3dvcmQ6\r\n"),
              Client("czNjcmV0\r\n"),
              Server("235 2.7.0 OK\r\n"),
          },
          Transaction())));
  auto result = Run();
  ASSERT_TRUE(result) << result.error().message;
}

TEST_F(DeliverTest, AuthMechanismIsChosenOnlyFromPostTlsCapabilities) {
  // PLAIN was offered before TLS only; over TLS only LOGIN is.
  options_.auth = Credentials{"alice", "s3cret"};
  Expect(Concat(
      UpToTlsEhlo("250-mail.example.test\r\n250-AUTH PLAIN\r\n250 STARTTLS\r\n",
                  "250-mail.example.test\r\n250 AUTH LOGIN\r\n"),
      Concat(
          {
              Client("AUTH LOGIN\r\n"),
              Server("334 VXNlcm5hbWU6\r\n"),
              Client("YWxpY2U=\r\n"),
              Server("334 UGFzc3dvcmQ6\r\n"),
              Client("czNjcmV0\r\n"),
              Server("235 2.7.0 OK\r\n"),
          },
          Transaction())));
  auto result = Run();
  ASSERT_TRUE(result) << result.error().message;
}

TEST_F(DeliverTest, AuthOfferedOnlyBeforeTlsIsNeverUsed) {
  options_.auth = Credentials{"alice", "s3cret"};
  Expect(Concat(UpToTlsEhlo(kPlainEhlo, "250 mail.example.test\r\n"),
                {Client("QUIT\r\n"), Server("221 Bye\r\n")}));
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kAuth);
}

TEST_F(DeliverTest, AuthWithNoUsableMechanismIsAuthFailedAndSendsNothing) {
  options_.auth = Credentials{"alice", "s3cret", AuthMechanism::kPlain};
  Expect(Concat(
      UpToTlsEhlo(kPlainEhlo,
                  "250-mail.example.test\r\n250 AUTH LOGIN CRAM-MD5\r\n"),
      {Client("QUIT\r\n"), Server("221 Bye\r\n")}));
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kAuth);
  EXPECT_THAT(result.error().message, HasSubstr("CRAM-MD5"));
}

TEST_F(DeliverTest, RefusedCredentialsAreAuthFailedAndMailIsNeverWritten) {
  options_.auth = Credentials{"alice", "s3cret"};
  Expect(Concat(
      UpToTlsEhlo(kPlainEhlo, "250-mail.example.test\r\n250 AUTH PLAIN\r\n"),
      {
          Client(kAuthPlain),
          Server("535 5.7.8 Authentication credentials invalid\r\n"),
          Client("QUIT\r\n"),
          Server("221 Bye\r\n"),
      }));
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kAuth);
  EXPECT_THAT(result.error().message, HasSubstr("535 5.7.8"));
}

TEST_F(DeliverTest, SecretsNeverAppearInTheTranscriptOrErrors) {
  std::vector<std::string> transcript;
  options_.log = [&](std::string_view line) { transcript.emplace_back(line); };
  options_.auth = Credentials{"alice", "s3cret"};
  Expect(Concat(
      UpToTlsEhlo(kPlainEhlo, "250-mail.example.test\r\n250 AUTH LOGIN\r\n"),
      {
          Client("AUTH LOGIN\r\n"),
          Server("334 VXNlcm5hbWU6\r\n"),
          Client("YWxpY2U=\r\n"),
          Server("334 UGFzc3dvcmQ6\r\n"),
          Client("czNjcmV0\r\n"),
          Server("535 5.7.8 no\r\n"),
          Client("QUIT\r\n"),
          Server("221 Bye\r\n"),
      }));
  auto result = Run();
  ASSERT_FALSE(result);
  transcript.push_back(result.error().message);
  for (const std::string& line : transcript) {
    for (const char* secret : {"alice", "s3cret", "YWxpY2U", "czNjcmV0"}) {
      EXPECT_THAT(line, Not(HasSubstr(secret))) << line;
    }
  }
  EXPECT_THAT(transcript, ::testing::Contains("C: <password hidden>"));
}

TEST_F(DeliverTest, ACredentialWithANulByteIsRefusedBeforeAnythingIsSent) {
  options_.auth = Credentials{"alice", std::string("s3\0cret", 7)};
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kUsage);
}

// ---------------------------------------------------------------------------
// Deadlines.

TEST_F(DeliverTest, ATimeoutInTheHandshakeIsATimeout) {
  Expect({
      Server("220 mail.example.test ESMTP\r\n"),
      Client("EHLO client.example.test\r\n"),
      Server(kPlainEhlo),
      Client("STARTTLS\r\n"),
      Server("220 Ready to start TLS\r\n"),
  });
  ExpectHandshakeFails(ErrorCode::kTimeout);
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTimeout);
}

TEST_F(DeliverTest, ATimeoutWhileWritingIsATimeout) {
  Expect({Server("220 mail.example.test ESMTP\r\n")});
  EXPECT_CALL(transport_, Write(StrEq("EHLO client.example.test\r\n"), _))
      .WillOnce(Return(tl::unexpected(Error{ErrorCode::kTimeout, "inj"})));
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTimeout);
}

// Each wait is given its own phase's bound, counted from when it starts.
TEST_F(DeliverTest, EachPhaseWaitsUntilItsOwnDeadline) {
  using std::chrono::seconds;
  options_.timeouts = {.greeting = seconds(100),
                       .reply = seconds(200),
                       .handshake = seconds(300)};
  Deadline greeting, ehlo, handshake;
  auto ok = [] { return tl::expected<void, Error>(); };
  const Deadline before = Clock::now();
  EXPECT_CALL(transport_, Read(_, _))
      .WillOnce(DoAll(SaveArg<1>(&greeting),
                      Return("220 mail.example.test ESMTP\r\n")));
  EXPECT_CALL(transport_, Write(_, _)).WillOnce(Return(ok()));
  EXPECT_CALL(transport_, Read(_, _))
      .WillOnce(DoAll(SaveArg<1>(&ehlo), Return(std::string(kPlainEhlo))));
  EXPECT_CALL(transport_, Write(_, _)).WillOnce(Return(ok()));
  EXPECT_CALL(transport_, Read(_, _))
      .WillOnce(Return("220 Ready to start TLS\r\n"));
  EXPECT_CALL(transport_, DoHandshake(_, _))
      .WillOnce(DoAll(SaveArg<1>(&handshake),
                      Return(tl::unexpected(Error{ErrorCode::kTimeout, "x"}))));
  ASSERT_FALSE(Run());
  const Deadline after = Clock::now();
  EXPECT_GE(greeting, before + seconds(100));
  EXPECT_LE(greeting, after + seconds(100));
  EXPECT_GE(ehlo, before + seconds(200));
  EXPECT_LE(ehlo, after + seconds(200));
  EXPECT_GE(handshake, before + seconds(300));
  EXPECT_LE(handshake, after + seconds(300));
}

TEST_F(DeliverTest, TheSessionDeadlineCapsEveryPhase) {
  options_.session_deadline = Clock::now() + std::chrono::seconds(1);
  EXPECT_CALL(transport_, Read(_, options_.session_deadline))
      .WillOnce(Return(tl::unexpected(Error{ErrorCode::kTimeout, "late"})));
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTimeout);
  EXPECT_THAT(result.error().message, HasSubstr("session deadline"));
}

// The eight replies of a delivery: greeting, EHLO, STARTTLS, EHLO over TLS,
// MAIL, RCPT, DATA and end of data.
class DeliverPhaseTest : public DeliverTest,
                         public ::testing::WithParamInterface<int> {};

TEST_P(DeliverPhaseTest, ATimeoutInAnyPhaseIsATimeout) {
  auto script = HappyScript();
  script.resize(NthRead(script, GetParam()));
  Expect(script);
  ExpectReadFails(ErrorCode::kTimeout);
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kTimeout);
}

TEST_P(DeliverPhaseTest, ATruncatedReplyIsAProtocolErrorNeverSuccess) {
  auto script = HappyScript();
  const std::size_t at = NthRead(script, GetParam());
  std::string& reply = script[at].bytes;
  reply.resize(reply.size() - 3);
  script.resize(at + 1);
  Expect(script);
  ExpectReadFails(ErrorCode::kConnectionLost);
  auto result = Run();
  ASSERT_FALSE(result);
  EXPECT_EQ(result.error().code, ErrorCode::kProtocol);
  EXPECT_THAT(result.error().message, HasSubstr("truncated reply"));
}

INSTANTIATE_TEST_SUITE_P(EveryReply, DeliverPhaseTest, ::testing::Range(0, 8));

TEST(EncodeData, DotStuffsLinesStartingWithADot) {
  EXPECT_EQ(EncodeData(".a\r\nb\r\n..c\r\n"), "..a\r\nb\r\n...c\r\n.\r\n");
}

TEST(EncodeData, ALoneDotLineCannotEndTheMessageEarly) {
  EXPECT_EQ(EncodeData("a\r\n.\r\nb\r\n"), "a\r\n..\r\nb\r\n.\r\n");
}

TEST(EncodeData, EveryLineEndingBecomesCrlf) {
  EXPECT_EQ(EncodeData("a\nb\rc\r\nd\n"), "a\r\nb\r\nc\r\nd\r\n.\r\n");
}

TEST(EncodeData, AMissingFinalLineEndingIsAdded) {
  EXPECT_EQ(EncodeData("a"), "a\r\n.\r\n");
}

TEST(EncodeData, AnEmptyMessageIsJustTheTerminator) {
  EXPECT_EQ(EncodeData(""), ".\r\n");
}

}  // namespace
}  // namespace starttls::client
