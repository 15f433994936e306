#include <gtest/gtest.h>

#include "protocol/protocol.h"

namespace starttls::protocol {
namespace {

const Protocol& p = Smtp();

TEST(Smtp, IsFoundByItsNameAndNothingElseIs) {
  EXPECT_EQ(FindProtocol("smtp"), &Smtp());
  EXPECT_EQ(FindProtocol("SMTP"), nullptr);
  EXPECT_EQ(FindProtocol("esmtp"), nullptr);
  EXPECT_EQ(ProtocolNames()[0], "smtp");
}

TEST(Smtp, NoLineOpensAnAnswerOfLinesWithoutAShapeOfTheirOwn) {
  const Protocol& p = Smtp();
  EXPECT_EQ(p.MultiLineAnswerEnd("250-mail.example.test", "EHLO x"),
            std::nullopt);
  EXPECT_EQ(p.MultiLineAnswerEnd("354 go ahead", "DATA"), std::nullopt);
}

TEST(Smtp, VerbsAreTheFirstWordWhateverItsCase) {
  EXPECT_EQ(p.Verb("ehlo client.example"), "EHLO");
  EXPECT_EQ(p.Verb("StartTLS"), "STARTTLS");
  EXPECT_EQ(p.Verb("QUIT\r\n"), "QUIT");
  EXPECT_EQ(p.Verb(""), "");
}

TEST(Smtp, CommandsAreClassifiedByWhatTheOraclesCareAbout) {
  EXPECT_EQ(p.Classify("STARTTLS"), Command::kStartTls);
  EXPECT_EQ(p.Classify("EHLO c"), Command::kGreeting);
  EXPECT_EQ(p.Classify("helo c"), Command::kGreeting);
  EXPECT_EQ(p.Classify("QUIT"), Command::kQuit);
  EXPECT_EQ(p.Classify("AUTH PLAIN AGEAYg=="), Command::kCredentials);
  EXPECT_EQ(p.Classify("MAIL FROM:<a@b>"), Command::kTransaction);
  EXPECT_EQ(p.Classify("RCPT TO:<c@d>"), Command::kTransaction);
  EXPECT_EQ(p.Classify("BDAT 10 LAST"), Command::kTransaction);
  EXPECT_EQ(p.Classify("DATA"), Command::kMessage);
  EXPECT_EQ(p.Classify("RSET"), Command::kOther);
  EXPECT_EQ(p.Classify("NOOP"), Command::kOther);
  // A message line is no command.
  EXPECT_EQ(p.Classify("Subject: hello"), Command::kUnknown);
  EXPECT_EQ(p.Classify("."), Command::kUnknown);
  EXPECT_EQ(p.Classify("STARTTLSX"), Command::kUnknown);
}

TEST(Smtp, AReplyEndsAtItsLineWithASpaceAfterTheCode) {
  EXPECT_TRUE(p.IsFinalReply("250 ok"));
  EXPECT_TRUE(p.IsFinalReply("220"));
  EXPECT_FALSE(p.IsFinalReply("250-PIPELINING"));
  EXPECT_FALSE(p.IsFinalReply("25 ok"));
  EXPECT_FALSE(p.IsFinalReply("abc ok"));
  EXPECT_EQ(p.ReplyStatus("454 4.7.0 not now"), "454");
  EXPECT_EQ(p.ReplyStatus("250-x"), "");
}

TEST(Smtp, OnlyA220GoesAheadWithTlsAndOnlyA354WithTheMessage) {
  EXPECT_TRUE(p.IsTlsGoAhead("220 2.0.0 go ahead"));
  EXPECT_FALSE(p.IsTlsGoAhead("220-go ahead"));
  EXPECT_FALSE(p.IsTlsGoAhead("250 ok"));
  EXPECT_FALSE(p.IsTlsGoAhead("454 no"));
  EXPECT_TRUE(p.IsMessageGoAhead("354 go ahead"));
  EXPECT_FALSE(p.IsMessageGoAhead("554 no valid recipients"));
  EXPECT_EQ(p.TlsGoAheadStatus(), "220");
}

TEST(Smtp, RepliesComeInOrderSoAnyFinalReplyEndsTheCommands) {
  EXPECT_TRUE(p.EndsReplyTo("220 go", "STARTTLS"));
  EXPECT_FALSE(p.EndsReplyTo("220-go", "STARTTLS"));
}

TEST(Smtp, LinesHaveNoTagAndTheGoalIsDelivery) {
  EXPECT_EQ(p.Tag("a1 NOOP"), "");
  EXPECT_EQ(p.CommandText("MAIL FROM:<a@b>"), "MAIL FROM:<a@b>");
  EXPECT_EQ(p.GoalVerb(), "deliver");
  EXPECT_EQ(p.GoalReached(), "delivered");
}

TEST(Smtp, AQuitCutShortIsStillAQuit) {
  EXPECT_TRUE(p.IsCutShortQuit("QU"));
  EXPECT_TRUE(p.IsCutShortQuit("quit\r"));
  EXPECT_FALSE(p.IsCutShortQuit("QUIT\r\n"));  // whole: a line, not cut
  EXPECT_FALSE(p.IsCutShortQuit("MAIL"));
}

TEST(Smtp, EhloMustComeFirstOverTlsAndNoCapabilityIsJudgedAlone) {
  EXPECT_TRUE(p.MustGreetAfterTls());
  EXPECT_EQ(p.AnnouncedCapabilities("250-AUTH PLAIN"), std::nullopt);
  EXPECT_EQ(p.RequiredCapability("AUTH PLAIN"), "");
  EXPECT_EQ(p.ForbiddingCapability("AUTH PLAIN"), "");
  EXPECT_FALSE(p.GreetingSkipsLogin("220 mx ESMTP"));
  EXPECT_TRUE(p.IsReplyLine("250-x"));
  EXPECT_TRUE(p.IsReplyLine("250 x"));
  EXPECT_TRUE(p.IsReplyLine("250"));
  EXPECT_FALSE(p.IsReplyLine("650 x"));
  EXPECT_FALSE(p.IsReplyLine("250x"));
  EXPECT_FALSE(p.IsReplyLine("EHLO x"));
  EXPECT_TRUE(p.IsContinuation("334 VXNlcm5hbWU6"));
  EXPECT_FALSE(p.IsContinuation("334-VXNlcm5hbWU6"));
  EXPECT_FALSE(p.IsContinuation("354 go ahead"));
}

}  // namespace
}  // namespace starttls::protocol
