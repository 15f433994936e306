#include "engine/smtp_responder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace starttls::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using Action = Responder::Action;

SmtpResponder Make(std::vector<std::string> caps = {"PIPELINING", "SIZE 1000",
                                                    "STARTTLS"}) {
  return SmtpResponder(
      {.hostname = "mx.test", .capabilities = std::move(caps)});
}

// Feeds lines and returns the reply to the last one.
std::string Say(Responder& r, std::initializer_list<std::string_view> lines) {
  std::string last;
  for (auto line : lines) last = r.OnLine(line).reply;
  return last;
}

TEST(Responder, EhloAdvertisesTheConfiguredCapabilities) {
  SmtpResponder r = Make();
  EXPECT_EQ(r.OnLine("EHLO client.test").reply,
            "250-mx.test Hello client.test\r\n250-PIPELINING\r\n"
            "250-SIZE 1000\r\n250 STARTTLS\r\n");
}

TEST(Responder, StartTlsIsAnsweredWith220AndAsksForTheHandshake) {
  SmtpResponder r = Make();
  Say(r, {"EHLO c"});
  Responder::Response resp = r.OnLine("STARTTLS");
  EXPECT_EQ(resp.reply, "220 2.0.0 Ready to start TLS\r\n");
  EXPECT_EQ(resp.action, Action::kStartTls);
}

TEST(Responder, StartTlsIsWithdrawnOnceTlsIsActive) {
  SmtpResponder r = Make();
  r.OnTlsStarted();
  EXPECT_THAT(r.AdvertisedCapabilities(),
              ElementsAre("PIPELINING", "SIZE 1000"));
  EXPECT_THAT(Say(r, {"EHLO c", "STARTTLS"}), StartsWith("503 "));
}

TEST(Responder, StartTlsNotOfferedIsRefused) {
  SmtpResponder r = Make({"PIPELINING"});
  EXPECT_THAT(Say(r, {"EHLO c", "STARTTLS"}), StartsWith("502 "));
}

TEST(Responder, TlsForgetsTheGreetingAndTheTransaction) {
  SmtpResponder r = Make();
  Say(r, {"EHLO c", "MAIL FROM:<a@b>"});
  r.OnTlsStarted();
  EXPECT_THAT(Say(r, {"RCPT TO:<x@y>"}), StartsWith("503 "));
  EXPECT_THAT(Say(r, {"MAIL FROM:<a@b>"}), StartsWith("503 "));
}

TEST(Responder, UnimplementedExtensionsAreNeverOffered) {
  SmtpResponder r = Make({"CHUNKING", "BINARYMIME", "8BITMIME", "AUTH PLAIN"});
  EXPECT_THAT(r.AdvertisedCapabilities(), ElementsAre("8BITMIME"));
}

TEST(Responder, DeliversAMessageWithDotUnstuffing) {
  SmtpResponder r = Make();
  r.OnTlsStarted();
  EXPECT_THAT(Say(r, {"EHLO c", "MAIL FROM:<a@b> BODY=8BITMIME"}),
              StartsWith("250 "));
  EXPECT_THAT(Say(r, {"RCPT TO:<x@y>", "RCPT TO:<z@y>"}), StartsWith("250 "));
  EXPECT_THAT(Say(r, {"DATA"}), StartsWith("354 "));
  EXPECT_EQ(r.OnLine("Subject: hi").reply, "");
  EXPECT_TRUE(r.in_data());
  EXPECT_EQ(r.OnLine("..leading dot").reply, "");
  EXPECT_THAT(Say(r, {"."}), StartsWith("250 2.0.0"));
  ASSERT_EQ(r.messages().size(), 1u);
  const ReceivedMessage& m = r.messages()[0];
  EXPECT_EQ(m.mail_from, "a@b");
  EXPECT_THAT(m.rcpt_to, ElementsAre("x@y", "z@y"));
  EXPECT_EQ(m.data, "Subject: hi\r\n.leading dot\r\n");
  EXPECT_TRUE(m.over_tls);
}

TEST(Responder, SequenceErrorsAre503) {
  SmtpResponder r = Make();
  EXPECT_THAT(Say(r, {"MAIL FROM:<a@b>"}), StartsWith("503 "));
  EXPECT_THAT(Say(r, {"EHLO c", "RCPT TO:<x@y>"}), StartsWith("503 "));
  EXPECT_THAT(Say(r, {"DATA"}), StartsWith("503 "));
  EXPECT_THAT(Say(r, {"MAIL FROM:<a@b>", "MAIL FROM:<a@b>"}),
              StartsWith("503 "));
  EXPECT_THAT(Say(r, {"DATA"}), StartsWith("554 "));
}

TEST(Responder, JunkIs500AndBadArgumentsAre501) {
  SmtpResponder r = Make();
  EXPECT_THAT(Say(r, {"FROB"}), StartsWith("500 "));
  EXPECT_THAT(Say(r, {""}), StartsWith("500 "));
  EXPECT_THAT(Say(r, {"EHLO"}), StartsWith("501 "));
  EXPECT_THAT(Say(r, {"EHLO c", "MAIL FROM:a@b"}), StartsWith("501 "));
  EXPECT_THAT(Say(r, {"MAIL FROM:<a@b>", "RCPT TO:<>"}), StartsWith("501 "));
  EXPECT_THAT(Say(r, {"STARTTLS now"}), StartsWith("501 "));
}

TEST(Responder, SizeLimitComesFromTheSizeCapability) {
  SmtpResponder r = Make();
  EXPECT_THAT(Say(r, {"EHLO c", "MAIL FROM:<a@b> SIZE=1001"}),
              StartsWith("552 "));
  EXPECT_THAT(Say(r, {"MAIL FROM:<a@b> SIZE=99999999999999999999999"}),
              StartsWith("552 "));
  EXPECT_THAT(Say(r, {"MAIL FROM:<a@b> SIZE=10", "RCPT TO:<x@y>", "DATA"}),
              StartsWith("354 "));
  std::string line(600, 'x');
  Say(r, {line, line});
  EXPECT_THAT(Say(r, {"."}), StartsWith("552 "));
  EXPECT_TRUE(r.messages().empty());
  EXPECT_FALSE(r.in_data());
}

TEST(Responder, RsetAbandonsTheTransaction) {
  SmtpResponder r = Make();
  EXPECT_THAT(Say(r, {"HELO c", "MAIL FROM:<a@b>", "RSET"}),
              StartsWith("250 "));
  EXPECT_THAT(Say(r, {"RCPT TO:<x@y>"}), StartsWith("503 "));
  EXPECT_THAT(Say(r, {"NOOP"}), StartsWith("250 "));
}

TEST(Responder, QuitSays221AndCloses) {
  SmtpResponder r = Make();
  Responder::Response resp = r.OnLine("quit");
  EXPECT_THAT(resp.reply, HasSubstr("221"));
  EXPECT_EQ(resp.action, Action::kClose);
}

TEST(Responder, TheSmtpProtocolsResponderGreetsRefusesLongLinesAndSaysBye) {
  std::unique_ptr<Responder> r =
      MakeResponder(protocol::Smtp(), {.hostname = "mx.test"});
  ASSERT_NE(dynamic_cast<SmtpResponder*>(r.get()), nullptr);
  EXPECT_EQ(r->Greeting(), "220 mx.test ESMTP starttls-mock\r\n");
  EXPECT_EQ(r->LineTooLong(), "500 5.5.2 Line too long\r\n");
  EXPECT_EQ(r->QuitReply("QUIT"), "221 2.0.0 Bye\r\n");
  // The quit command's own answer is the same words.
  EXPECT_EQ(r->OnLine("QUIT").reply, r->QuitReply("QUIT"));
}

TEST(ResponderCapabilities, AnEhloTheScriptRefusedOffersNothing) {
  auto r = ParseScenario(
      "Summary: x\nS: 220 hi\nC: EHLO *\nS: 500 5.5.1 what\nserve\n", "t.smtp");
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(ResponderCapabilities(*r), ::testing::IsEmpty());
}

TEST(ResponderCapabilities, ComeFromTheLastScriptedEhloReply) {
  auto r = ParseScenario(
      "Summary: x\nS: 220 hi\nC: EHLO *\nS: 250-mx Hello\nS: 250-SIZE 100\n"
      "S: 250 STARTTLS\nC: STARTTLS\nS: 220 go\ntls\nserve\n",
      "t.smtp");
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(ResponderCapabilities(*r), ElementsAre("SIZE 100", "STARTTLS"));
}

TEST(ResponderCapabilities, AOneLineScriptedEhloReplyOffersNothing) {
  auto r = ParseScenario("Summary: x\nS: 220 hi\nC: EHLO *\nS: 250 mx\nserve\n",
                         "t.smtp");
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(ResponderCapabilities(*r), ::testing::IsEmpty());
}

TEST(ResponderCapabilities, HeaderOverridesTheScript) {
  auto r = ParseScenario(
      "Summary: x\nCapabilities: PIPELINING, SIZE 5\nserve\n", "t.smtp");
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(ResponderCapabilities(*r), ElementsAre("PIPELINING", "SIZE 5"));
}

TEST(ResponderCapabilities, DefaultsOfferStartTls) {
  auto r = ParseScenario("Summary: x\nserve\n", "t.smtp");
  ASSERT_TRUE(r.has_value());
  EXPECT_THAT(ResponderCapabilities(*r), ::testing::Contains("STARTTLS"));
}

}  // namespace
}  // namespace starttls::server
