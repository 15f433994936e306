#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "protocol/protocol.h"

namespace starttls::protocol {
namespace {

const Protocol& p = Imap();

TEST(Imap, IsFoundByItsName) {
  EXPECT_EQ(p.name(), "imap");
  EXPECT_EQ(FindProtocol("imap"), &Imap());
  EXPECT_EQ(FindProtocol("IMAP"), nullptr);
}

TEST(Imap, ACommandLinesTagIsItsFirstWordAndPatternsMatchTheRest) {
  EXPECT_EQ(p.Tag("a1 STARTTLS"), "a1");
  EXPECT_EQ(p.CommandText("a1 STARTTLS"), "STARTTLS");
  EXPECT_EQ(p.CommandText("A0002 LOGIN u p"), "LOGIN u p");
  // A continuation line has no tag: the whole line is matched.
  EXPECT_EQ(p.Tag("AGFsaWNlAHNlY3JldA=="), "");
  EXPECT_EQ(p.CommandText("DONE"), "DONE");
  EXPECT_EQ(p.Tag("* OK"), "");
}

TEST(Imap, NoLineOpensAnAnswerOfLinesWithoutAShapeOfTheirOwn) {
  EXPECT_EQ(
      Imap().MultiLineAnswerEnd("* CAPABILITY IMAP4rev1", "a1 CAPABILITY"),
      std::nullopt);
  EXPECT_EQ(Imap().MultiLineAnswerEnd("a1 OK done", "a1 CAPABILITY"),
            std::nullopt);
}

TEST(Imap, TheGoalIsLoggingIn) {
  EXPECT_EQ(p.GoalVerb(), "log-in");
  EXPECT_EQ(p.GoalReached(), "logged-in");
}

TEST(Imap, FindingsCiteItsOwnRulesAndGreeting) {
  EXPECT_EQ(p.GreetingVerb(), "CAPABILITY");
  EXPECT_NE(p.StartTlsRule().find("RFC 2595"), std::string_view::npos);
}

TEST(Imap, TheVerbIsTheWordAfterTheTagWhateverItsCase) {
  EXPECT_EQ(p.Verb("a1 starttls"), "STARTTLS");
  EXPECT_EQ(p.Verb("A0002 LOGIN user pass"), "LOGIN");
  EXPECT_EQ(p.Verb("x.1 LOGOUT\r\n"), "LOGOUT");
  // Responses and bare words have no verb.
  EXPECT_EQ(p.Verb("* OK ready"), "");
  EXPECT_EQ(p.Verb("+ go on"), "");
}

TEST(Imap, CommandsAreClassifiedByWhatTheOraclesCareAbout) {
  EXPECT_EQ(p.Classify("a1 STARTTLS"), Command::kStartTls);
  EXPECT_EQ(p.Classify("a2 CAPABILITY"), Command::kGreeting);
  EXPECT_EQ(p.Classify("a3 LOGOUT"), Command::kQuit);
  EXPECT_EQ(p.Classify("a4 LOGIN user secret"), Command::kCredentials);
  EXPECT_EQ(p.Classify("a5 AUTHENTICATE PLAIN"), Command::kCredentials);
  EXPECT_EQ(p.Classify("a6 SELECT INBOX"), Command::kTransaction);
  EXPECT_EQ(p.Classify("a7 UID FETCH 1:* (FLAGS)"), Command::kTransaction);
  EXPECT_EQ(p.Classify("a8 NOOP"), Command::kOther);
  // An AUTHENTICATE continuation line and an untagged line are no commands.
  EXPECT_EQ(p.Classify("AGFsaWNlAHNlY3JldA=="), Command::kUnknown);
  EXPECT_EQ(p.Classify("* OK"), Command::kUnknown);
  EXPECT_EQ(p.Classify("a9 STARTTLSX"), Command::kUnknown);
}

TEST(Imap, OnlyATaggedResponseEndsACommandsReply) {
  EXPECT_TRUE(p.IsFinalReply("a1 OK Begin TLS negotiation now"));
  EXPECT_TRUE(p.IsFinalReply("a1 NO not now"));
  EXPECT_FALSE(p.IsFinalReply("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready"));
  EXPECT_FALSE(p.IsFinalReply("* CAPABILITY IMAP4rev1"));
  EXPECT_FALSE(p.IsFinalReply("+ ready"));
  EXPECT_FALSE(p.IsFinalReply("a1"));
  EXPECT_EQ(p.ReplyStatus("a1 BAD what?"), "BAD");
  EXPECT_EQ(p.ReplyStatus("* OK x"), "");
}

TEST(Imap, TheReplyToACommandIsTheTaggedResponseWithItsOwnTag) {
  EXPECT_TRUE(p.EndsReplyTo("a1 OK go", "a1 STARTTLS"));
  // Another command's tag, or an injected untagged OK, does not answer it.
  EXPECT_FALSE(p.EndsReplyTo("a0 OK go", "a1 STARTTLS"));
  EXPECT_FALSE(p.EndsReplyTo("* OK go", "a1 STARTTLS"));
  EXPECT_FALSE(p.EndsReplyTo("a11 OK go", "a1 STARTTLS"));
}

TEST(Imap, OnlyATaggedOkGoesAheadWithTls) {
  EXPECT_TRUE(p.IsTlsGoAhead("a1 OK Begin TLS negotiation now"));
  EXPECT_TRUE(p.IsTlsGoAhead("a1 ok"));
  EXPECT_FALSE(p.IsTlsGoAhead("a1 NO not now"));
  EXPECT_FALSE(p.IsTlsGoAhead("a1 BAD"));
  EXPECT_FALSE(p.IsTlsGoAhead("* OK"));
  EXPECT_EQ(p.TlsGoAheadStatus(), "OK");
  EXPECT_FALSE(p.IsMessageGoAhead("+ Ready for literal data"));
}

TEST(Imap, ALogoutCutShortIsStillALogout) {
  EXPECT_TRUE(p.IsCutShortQuit("a9 LOGO"));
  EXPECT_TRUE(p.IsCutShortQuit("a9 logout\r"));
  EXPECT_FALSE(p.IsCutShortQuit("a9 LOGOUT\r\n"));  // whole
  EXPECT_FALSE(p.IsCutShortQuit("a9 LOGIN u p"));
  EXPECT_FALSE(p.IsCutShortQuit("* LOGO"));
}

TEST(Imap, CapabilitiesAreAnnouncedUntaggedOrAsAResponseCode) {
  using Caps = std::vector<std::string>;
  EXPECT_EQ(p.AnnouncedCapabilities("* CAPABILITY IMAP4rev1 auth=plain"),
            (Caps{"IMAP4rev1", "auth=plain"}));
  EXPECT_EQ(p.AnnouncedCapabilities(
                "* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready"),
            (Caps{"IMAP4rev1", "STARTTLS", "LOGINDISABLED"}));
  EXPECT_EQ(p.AnnouncedCapabilities("a3 OK [CAPABILITY IMAP4rev1 ID] in"),
            (Caps{"IMAP4rev1", "ID"}));
  EXPECT_EQ(p.AnnouncedCapabilities("* OK ready"), std::nullopt);
  EXPECT_EQ(p.AnnouncedCapabilities("* OK [ALERT] [CAPABILITY X] text"),
            std::nullopt);
  EXPECT_EQ(p.AnnouncedCapabilities("* OK [CAPABILITY IMAP4rev1"),
            std::nullopt);
}

TEST(Imap, AReplyAnnouncesWhatItsLastAnnouncingLineDoes) {
  using Caps = std::vector<std::string>;
  const std::string_view reply[] = {"* CAPABILITY IMAP4rev1 STARTTLS",
                                    "a1 OK [CAPABILITY IMAP4rev1 ID] done"};
  EXPECT_EQ(p.AnnouncedCapabilities(reply, "a1 CAPABILITY"),
            (Caps{"IMAP4rev1", "ID"}));
  const std::string_view none[] = {"* 3 EXISTS", "a2 OK done"};
  EXPECT_EQ(p.AnnouncedCapabilities(none, "a2 SELECT INBOX"), std::nullopt);
  EXPECT_TRUE(p.MayPipeline());
}

TEST(Imap, ExtensionCommandsNeedTheirCapability) {
  EXPECT_EQ(p.RequiredCapability("a1 AUTHENTICATE plain AGJvYgBzZWNyZXQ="),
            "AUTH=PLAIN");
  EXPECT_EQ(p.RequiredCapability("a1 COMPRESS DEFLATE"), "COMPRESS=DEFLATE");
  EXPECT_EQ(p.RequiredCapability("a1 idle"), "IDLE");
  EXPECT_EQ(p.RequiredCapability("a1 ID (\"name\" \"x\")"), "ID");
  EXPECT_EQ(p.RequiredCapability("a1 LOGIN bob secret"), "");
  EXPECT_EQ(p.RequiredCapability("a1 SELECT INBOX"), "");
  EXPECT_EQ(p.RequiredCapability("a1 AUTHENTICATE"), "");
}

TEST(Imap, AContinuationRequestAsksForMoreOfTheCommand) {
  EXPECT_TRUE(p.IsContinuation("+ "));
  EXPECT_TRUE(p.IsContinuation("+"));
  EXPECT_TRUE(p.IsContinuation("+ Ready for literal data"));
  EXPECT_FALSE(p.IsContinuation("* OK"));
  EXPECT_FALSE(p.IsContinuation("a1 OK"));
}

TEST(Imap, ReplyLinesAreUntaggedContinuationOrTagged) {
  EXPECT_TRUE(p.IsReplyLine("* OK ready"));
  EXPECT_TRUE(p.IsReplyLine("+ go on"));
  EXPECT_TRUE(p.IsReplyLine("a1 OK done"));
  EXPECT_FALSE(p.IsReplyLine("*nospace"));
  EXPECT_FALSE(p.IsReplyLine("lonely"));
  EXPECT_THAT(std::string(p.ReplyLineShape()), testing::HasSubstr("a tag"));
}

TEST(Imap, ALiteralIsAnnouncedAtTheEndOfALine) {
  EXPECT_EQ(p.LiteralSize("* 1 FETCH (BODY[] {210}"), 210u);
  EXPECT_EQ(p.LiteralSize("a1 APPEND INBOX {12+}"), 12u);
  EXPECT_EQ(p.LiteralSize("* 1 FETCH (BODY[] {}"), std::nullopt);
  EXPECT_EQ(p.LiteralSize("* OK {x}"), std::nullopt);
  EXPECT_EQ(p.LiteralSize("* OK done"), std::nullopt);
  EXPECT_EQ(Smtp().LiteralSize("250 ok {12}"), std::nullopt);
}

TEST(Imap, LogindisabledForbidsLoginOnly) {
  EXPECT_EQ(p.ForbiddingCapability("a1 login bob secret"), "LOGINDISABLED");
  EXPECT_EQ(p.ForbiddingCapability("a1 AUTHENTICATE PLAIN"), "");
}

TEST(Imap, APreauthGreetingSkipsLoginAndAskingAgainIsNotRequired) {
  EXPECT_TRUE(p.GreetingSkipsLogin("* PREAUTH IMAP4rev1 logged in"));
  EXPECT_FALSE(p.GreetingSkipsLogin("* OK IMAP4rev1 ready"));
  EXPECT_FALSE(p.MustGreetAfterTls());
}

}  // namespace
}  // namespace starttls::protocol
