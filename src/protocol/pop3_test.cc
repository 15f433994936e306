#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocol/protocol.h"

namespace starttls::protocol {
namespace {

const Protocol& p = Pop3();
using Caps = std::vector<std::string>;

TEST(Pop3, IsFoundByItsName) {
  EXPECT_EQ(p.name(), "pop3");
  EXPECT_EQ(FindProtocol("pop3"), &Pop3());
  EXPECT_EQ(p.GoalVerb(), "log-in");
  EXPECT_EQ(p.GoalReached(), "logged-in");
  EXPECT_EQ(p.GreetingVerb(), "CAPA");
}

TEST(Pop3, CommandsHaveNoTagAndPatternsMatchTheWholeLine) {
  EXPECT_EQ(p.Tag("STLS"), "");
  EXPECT_EQ(p.CommandText("USER bob"), "USER bob");
  EXPECT_EQ(p.Verb("retr 1"), "RETR");
}

TEST(Pop3, CommandsAreClassifiedByTheirVerb) {
  EXPECT_EQ(p.Classify("STLS"), Command::kStartTls);
  EXPECT_EQ(p.Classify("capa"), Command::kGreeting);
  EXPECT_EQ(p.Classify("QUIT"), Command::kQuit);
  // The account name is half of the credentials.
  EXPECT_EQ(p.Classify("USER bob"), Command::kCredentials);
  EXPECT_EQ(p.Classify("PASS secret"), Command::kCredentials);
  EXPECT_EQ(p.Classify("APOP bob 0123456789abcdef0123456789abcdef"),
            Command::kCredentials);
  EXPECT_EQ(p.Classify("AUTH PLAIN AGJvYgBzZWNyZXQ="), Command::kCredentials);
  EXPECT_EQ(p.Classify("STAT"), Command::kTransaction);
  EXPECT_EQ(p.Classify("RETR 1"), Command::kTransaction);
  EXPECT_EQ(p.Classify("NOOP"), Command::kOther);
  // A SASL response is no command.
  EXPECT_EQ(p.Classify("AGJvYgBzZWNyZXQ="), Command::kUnknown);
}

TEST(Pop3, AQuitCutShortIsStillAQuit) {
  EXPECT_TRUE(p.IsCutShortQuit("QU"));
  EXPECT_TRUE(p.IsCutShortQuit("quit\r"));
  EXPECT_FALSE(p.IsCutShortQuit("QUIT\r\n"));
  EXPECT_FALSE(p.IsCutShortQuit("QUA"));
  EXPECT_FALSE(p.IsCutShortQuit(""));
}

TEST(Pop3, StatusLinesEndSingleLineAnswers) {
  EXPECT_TRUE(p.EndsReplyTo("+OK Begin TLS", "STLS"));
  EXPECT_TRUE(p.EndsReplyTo("-ERR not now", "STLS"));
  EXPECT_TRUE(p.EndsReplyTo("+OK", "LIST 1"));
  EXPECT_FALSE(p.EndsReplyTo("+OKAY", "STLS"));  // not a status
  EXPECT_TRUE(p.IsTlsGoAhead("+OK Begin TLS negotiation"));
  EXPECT_TRUE(p.IsTlsGoAhead("+ok"));
  EXPECT_FALSE(p.IsTlsGoAhead("-ERR no"));
  EXPECT_EQ(p.ReplyStatus("-ERR [SYS/TEMP] later"), "-ERR");
  EXPECT_EQ(p.TlsGoAheadStatus(), "+OK");
}

TEST(Pop3, PassIsAllSecretWhileTheOtherCredentialsShowTheirFirstArgument) {
  EXPECT_EQ(p.PublicCredentialArguments("PASS hunter2"), 0);
  EXPECT_EQ(p.PublicCredentialArguments("pass hunter2"), 0);
  EXPECT_EQ(p.PublicCredentialArguments("USER bob"), 1);
  EXPECT_EQ(p.PublicCredentialArguments("APOP bob 0123456789abcdef"), 1);
  EXPECT_EQ(p.PublicCredentialArguments("AUTH PLAIN AGJvYgBzZWNyZXQ="), 1);
}

TEST(Pop3, AnOkToAMultiLineCommandOpensAnAnswerEndingAtADotAndNothingElseDoes) {
  EXPECT_EQ(p.MultiLineAnswerEnd("+OK capabilities follow", "CAPA"), ".");
  EXPECT_EQ(p.MultiLineAnswerEnd("+OK 120 octets", "retr 1"), ".");
  EXPECT_EQ(p.MultiLineAnswerEnd("+OK", "LIST"), ".");
  EXPECT_EQ(p.MultiLineAnswerEnd("+OK 1 120", "LIST 1"), std::nullopt);
  EXPECT_EQ(p.MultiLineAnswerEnd("-ERR no", "CAPA"), std::nullopt);
  EXPECT_EQ(p.MultiLineAnswerEnd("+OK Begin TLS", "STLS"), std::nullopt);
}

TEST(Pop3, MultiLineAnswersEndAtALoneDotOrAtOnceWithErr) {
  EXPECT_FALSE(p.EndsReplyTo("+OK capabilities follow", "CAPA"));
  EXPECT_FALSE(p.EndsReplyTo("STLS", "CAPA"));
  EXPECT_TRUE(p.EndsReplyTo(".", "CAPA"));
  EXPECT_FALSE(p.EndsReplyTo("..stuffed", "RETR 1"));
  EXPECT_TRUE(p.EndsReplyTo(".", "RETR 1"));
  EXPECT_TRUE(p.EndsReplyTo("-ERR no such message", "RETR 9"));
  EXPECT_FALSE(p.EndsReplyTo("+OK 2 messages", "LIST"));
  EXPECT_TRUE(p.EndsReplyTo("+OK 1 120", "LIST 1"));  // with an argument
  EXPECT_FALSE(p.EndsReplyTo("+OK", "TOP 1 0"));
  EXPECT_FALSE(p.EndsReplyTo("+OK", "AUTH"));  // the mechanisms follow
  EXPECT_TRUE(p.EndsReplyTo("+OK logged in", "AUTH PLAIN AGJvYgBzZWNyZXQ="));
}

TEST(Pop3, ASaslChallengeIsAContinuation) {
  EXPECT_TRUE(p.IsContinuation("+ "));
  EXPECT_TRUE(p.IsContinuation("+"));
  EXPECT_TRUE(p.IsContinuation("+ VXNlcm5hbWU6"));
  EXPECT_FALSE(p.IsContinuation("+OK"));
  EXPECT_FALSE(p.EndsReplyTo("+ ", "AUTH PLAIN"));
}

TEST(Pop3, TheAnswerToCapaAnnouncesItsLines) {
  const std::string_view reply[] = {"+OK Capability list follows",
                                    "STLS",
                                    "user",
                                    "SASL PLAIN login",
                                    "TOP",
                                    "."};
  EXPECT_EQ(p.AnnouncedCapabilities(reply, "CAPA"),
            (Caps{"STLS", "USER", "SASL", "SASL=PLAIN", "SASL=LOGIN", "TOP"}));
  // The same lines as the answer to another command announce nothing.
  EXPECT_EQ(p.AnnouncedCapabilities(reply, "LIST"), std::nullopt);
  // CAPA refused, or cut before its end.
  const std::string_view refused[] = {"-ERR no CAPA"};
  EXPECT_EQ(p.AnnouncedCapabilities(refused, "CAPA"), std::nullopt);
  const std::string_view cut[] = {"+OK", "STLS"};
  EXPECT_EQ(p.AnnouncedCapabilities(cut, "CAPA"), std::nullopt);
  // A greeting announces nothing.
  EXPECT_EQ(p.AnnouncedCapabilities("+OK POP3 ready <1.2@mail>"), std::nullopt);
}

TEST(Pop3, AMultiLineAnswerNobodyAskedForCountsAsAnnounced) {
  // Injected behind the "+OK" to STLS: a client that keeps it reads it as
  // the answer to its CAPA over TLS.
  const std::string_view injected[] = {"+OK", "SASL PLAIN", "."};
  EXPECT_EQ(p.AnnouncedCapabilities(injected, ""),
            (Caps{"SASL", "SASL=PLAIN"}));
}

TEST(Pop3, OnlyAuthNeedsACapabilityAndNothingForbidsACommand) {
  EXPECT_EQ(p.RequiredCapability("AUTH plain AGJvYgBzZWNyZXQ="), "SASL=PLAIN");
  EXPECT_EQ(p.RequiredCapability("AUTH"), "");
  // RFC 1939's commands need no announcement.
  EXPECT_EQ(p.RequiredCapability("USER bob"), "");
  EXPECT_EQ(p.RequiredCapability("TOP 1 0"), "");
  EXPECT_EQ(p.ForbiddingCapability("USER bob"), "");
  EXPECT_FALSE(p.GreetingSkipsLogin("+OK ready"));
}

TEST(Pop3, TlsIsJudgedByWhatWasDiscardedNotByAskingAgain) {
  EXPECT_FALSE(p.MustGreetAfterTls());
  EXPECT_FALSE(p.MayPipeline());
  EXPECT_EQ(p.StartTlsRule(), "RFC 2595 section 4");
}

TEST(Pop3, ReplyLinesAreStatusLinesContinuationsAndTheEnd) {
  EXPECT_TRUE(p.IsReplyLine("+OK"));
  EXPECT_TRUE(p.IsReplyLine("-ERR x"));
  EXPECT_TRUE(p.IsReplyLine("."));
  EXPECT_TRUE(p.IsReplyLine("+ "));
  EXPECT_FALSE(p.IsReplyLine("USER bob"));
  EXPECT_EQ(p.LiteralSize("+OK {12}"), std::nullopt);
  EXPECT_FALSE(p.IsMessageGoAhead("+OK"));
}

}  // namespace
}  // namespace starttls::protocol
