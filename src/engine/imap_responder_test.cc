#include "engine/imap_responder.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace starttls::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Action = Responder::Action;

ImapResponder Make(std::vector<std::string> caps = {}) {
  if (caps.empty()) caps = ImapResponder::DefaultCapabilities();
  return ImapResponder({.hostname = "imap.test", .capabilities = caps});
}

// Logs in over TLS.
void LogIn(ImapResponder& r) {
  EXPECT_EQ(r.OnLine("a1 STARTTLS").action, Action::kStartTls);
  r.OnTlsStarted();
  EXPECT_THAT(r.OnLine("a2 LOGIN bob secret").reply, HasSubstr("a2 OK"));
}

TEST(ImapResponder, TheGreetingAdvertisesStartTlsAndDisablesLoginBeforeTls) {
  ImapResponder r = Make();
  EXPECT_THAT(r.Greeting(), StartsWith("* OK [CAPABILITY IMAP4rev1 STARTTLS "
                                       "LOGINDISABLED"));
  EXPECT_THAT(r.Greeting(), Not(HasSubstr("AUTH=PLAIN")));
  EXPECT_THAT(r.Greeting(), HasSubstr("imap.test"));
}

TEST(ImapResponder, StartTlsIsATaggedOkThatAsksForTheHandshake) {
  ImapResponder r = Make();
  Responder::Response resp = r.OnLine("a1 STARTTLS");
  EXPECT_EQ(resp.reply, "a1 OK Begin TLS negotiation now\r\n");
  EXPECT_EQ(resp.action, Action::kStartTls);
}

TEST(ImapResponder, AfterTlsTheCapabilitiesOfferLoginAndNoMoreStartTls) {
  ImapResponder r = Make();
  (void)r.OnLine("a1 STARTTLS");
  r.OnTlsStarted();
  std::string reply = r.OnLine("a2 CAPABILITY").reply;
  EXPECT_THAT(reply, StartsWith("* CAPABILITY IMAP4rev1 AUTH=PLAIN"));
  EXPECT_THAT(reply, Not(HasSubstr("STARTTLS")));
  EXPECT_THAT(reply, Not(HasSubstr("LOGINDISABLED")));
  EXPECT_THAT(reply, HasSubstr("\r\na2 OK CAPABILITY completed\r\n"));
  EXPECT_EQ(r.OnLine("a3 STARTTLS").reply, "a3 BAD TLS is already active\r\n");
}

TEST(ImapResponder, LoginBeforeTlsIsRefusedWhenLoginIsDisabled) {
  ImapResponder r = Make();
  EXPECT_EQ(r.OnLine("a1 LOGIN bob secret").reply,
            "a1 NO [PRIVACYREQUIRED] LOGIN is disabled before TLS\r\n");
  EXPECT_FALSE(r.reached_goal());
}

TEST(ImapResponder, LoginOverTlsReachesTheGoal) {
  ImapResponder r = Make();
  LogIn(r);
  EXPECT_TRUE(r.reached_goal());
  EXPECT_TRUE(r.messages().empty());
  EXPECT_EQ(r.OnLine("a3 LOGIN bob secret").reply,
            "a3 BAD Already logged in\r\n");
}

TEST(ImapResponder, LoginAcceptsQuotedStringsAndSynchronizingLiterals) {
  ImapResponder r = Make({"IMAP4rev1"});
  EXPECT_EQ(r.OnLine("a1 LOGIN {3}").reply, "+ Ready for literal data\r\n");
  EXPECT_EQ(r.OnLine("bob \"se cret\"").reply.substr(0, 5), "a1 OK");
  EXPECT_TRUE(r.reached_goal());
  ImapResponder s = Make({"IMAP4rev1"});
  EXPECT_EQ(s.OnLine("b1 LOGIN bob {6+}").reply, "");  // LITERAL+: no wait
  EXPECT_THAT(s.OnLine("secret").reply, StartsWith("b1 OK"));
}

TEST(ImapResponder, AuthenticatePlainTakesAContinuationOrAnInitialResponse) {
  // "\0bob\0secret" in base64.
  constexpr std::string_view kPlain = "AGJvYgBzZWNyZXQ=";
  ImapResponder r = Make();
  (void)r.OnLine("a1 STARTTLS");
  r.OnTlsStarted();
  EXPECT_EQ(r.OnLine("a2 AUTHENTICATE PLAIN").reply, "+ \r\n");
  EXPECT_THAT(r.OnLine(kPlain).reply, StartsWith("a2 OK [CAPABILITY "));
  EXPECT_TRUE(r.reached_goal());

  ImapResponder s = Make();
  (void)s.OnLine("a1 STARTTLS");
  s.OnTlsStarted();
  EXPECT_THAT(
      s.OnLine(std::string("a2 AUTHENTICATE PLAIN ") + std::string(kPlain))
          .reply,
      StartsWith("a2 OK"));
  EXPECT_TRUE(s.reached_goal());
}

TEST(ImapResponder, AuthenticateIsRefusedWhereThePlainMechanismIsNotOffered) {
  ImapResponder r = Make();
  EXPECT_EQ(r.OnLine("a1 AUTHENTICATE PLAIN").reply,
            "a1 NO [CANNOT] Unsupported authentication mechanism\r\n");
  EXPECT_FALSE(r.reached_goal());
}

TEST(ImapResponder, ABadOrCancelledPlainResponseLogsNobodyIn) {
  ImapResponder r = Make();
  (void)r.OnLine("a1 STARTTLS");
  r.OnTlsStarted();
  (void)r.OnLine("a2 AUTHENTICATE PLAIN");
  EXPECT_EQ(r.OnLine("*").reply, "a2 BAD AUTHENTICATE cancelled\r\n");
  (void)r.OnLine("a3 AUTHENTICATE PLAIN");
  EXPECT_EQ(r.OnLine("bm90IHBsYWlu").reply,
            "a3 BAD Invalid PLAIN response\r\n");
  EXPECT_FALSE(r.reached_goal());
}

TEST(ImapResponder, MailboxCommandsNeedALoginFirst) {
  ImapResponder r = Make();
  EXPECT_EQ(r.OnLine("a1 SELECT INBOX").reply, "a1 BAD Log in first\r\n");
  EXPECT_EQ(r.OnLine("a2 FROB").reply, "a2 BAD Unknown command\r\n");
}

TEST(ImapResponder, SelectOpensAnInboxOfTwoMessages) {
  ImapResponder r = Make();
  LogIn(r);
  std::string reply = r.OnLine("a3 SELECT INBOX").reply;
  EXPECT_THAT(reply, StartsWith("* 2 EXISTS\r\n"));
  EXPECT_THAT(reply, HasSubstr("* OK [UIDVALIDITY 1]"));
  EXPECT_THAT(reply, HasSubstr("a3 OK [READ-WRITE] SELECT completed\r\n"));
  EXPECT_THAT(r.OnLine("a4 EXAMINE Other").reply,
              HasSubstr("a4 NO EXAMINE failed"));
}

TEST(ImapResponder, FetchReturnsTheMessagesWithExactLiteralSizes) {
  ImapResponder r = Make();
  LogIn(r);
  (void)r.OnLine("a3 SELECT INBOX");
  std::string reply = r.OnLine("a4 FETCH 1:* (FLAGS RFC822.SIZE)").reply;
  EXPECT_THAT(reply, HasSubstr("* 1 FETCH (FLAGS () RFC822.SIZE "));
  EXPECT_THAT(reply, HasSubstr("* 2 FETCH (FLAGS () RFC822.SIZE "));
  EXPECT_THAT(reply, HasSubstr("a4 OK FETCH completed\r\n"));

  std::string body = r.OnLine("a5 UID FETCH 2 BODY.PEEK[]").reply;
  // "* 2 FETCH (UID 2 BODY[] {n}\r\n" then exactly n bytes, then ")".
  size_t open = body.find('{');
  size_t close = body.find('}');
  ASSERT_NE(open, std::string::npos);
  size_t n = std::stoul(body.substr(open + 1, close - open - 1));
  std::string literal = body.substr(close + 3, n);
  EXPECT_THAT(literal, StartsWith("Date: Tue, 03 Feb 2026"));
  EXPECT_THAT(literal, HasSubstr("\r\n\r\nThe second message"));
  EXPECT_EQ(body.substr(close + 3 + n, 3), ")\r\n");
  EXPECT_THAT(body, StartsWith("* 2 FETCH (UID 2 BODY[] {"));
}

TEST(ImapResponder, FetchOfSelectedHeaderFieldsReturnsOnlyThem) {
  ImapResponder r = Make();
  LogIn(r);
  (void)r.OnLine("a3 EXAMINE inbox");
  std::string reply =
      r.OnLine("a4 FETCH 1 (BODY.PEEK[HEADER.FIELDS (FROM SUBJECT)])").reply;
  EXPECT_THAT(reply, HasSubstr("BODY[HEADER.FIELDS (FROM SUBJECT)] {"));
  EXPECT_THAT(reply, HasSubstr("From: Alice <alice@example.test>\r\n"
                               "Subject: First message\r\n\r\n)"));
  EXPECT_THAT(reply, Not(HasSubstr("Message-ID")));
}

TEST(ImapResponder, AnUnknownFetchItemIsABadCommand) {
  ImapResponder r = Make();
  LogIn(r);
  (void)r.OnLine("a3 SELECT INBOX");
  EXPECT_EQ(r.OnLine("a4 FETCH 1 (X-GM-MSGID)").reply,
            "a4 BAD Unknown FETCH item X-GM-MSGID\r\n");
}

TEST(ImapResponder, LogoutSaysByeThenOkAndCloses) {
  ImapResponder r = Make();
  Responder::Response resp = r.OnLine("z9 LOGOUT");
  EXPECT_EQ(resp.reply,
            "* BYE starttls-mock logging out\r\nz9 OK LOGOUT completed\r\n");
  EXPECT_EQ(resp.action, Action::kClose);
  EXPECT_EQ(r.QuitReply("z9 LOGOUT"), resp.reply);
}

TEST(ImapResponder, ALineWithoutATagIsABadUntaggedResponse) {
  ImapResponder r = Make();
  EXPECT_EQ(r.OnLine("* NOOP").reply, "* BAD Missing or invalid tag\r\n");
  EXPECT_EQ(r.OnLine("").reply, "* BAD Missing or invalid tag\r\n");
}

TEST(ImapResponder, IdleWaitsForDone) {
  ImapResponder r = Make();
  LogIn(r);
  EXPECT_EQ(r.OnLine("a3 IDLE").reply, "+ idling\r\n");
  EXPECT_EQ(r.OnLine("DONE").reply, "a3 OK IDLE terminated\r\n");
}

TEST(ImapResponder, DollarTagInAScriptedLineIsTheClientsLastTag) {
  ImapResponder r = Make();
  r.FollowScriptedLine("A0007 STARTTLS");
  EXPECT_EQ(r.ScriptText("$tag OK go ahead"), "A0007 OK go ahead");
  EXPECT_EQ(r.ScriptText("* OK no tag here"), "* OK no tag here");
}

TEST(ImapResponder, DollarTagPlusOneIsTheTagACountingClientSendsNext) {
  auto next = [](std::string_view tag) {
    ImapResponder r = Make();
    r.FollowScriptedLine(std::string(tag) + " STARTTLS");
    return r.ScriptText("$tag OK\r\n$tag+1 OK injected");
  };
  EXPECT_EQ(next("A0009"), "A0009 OK\r\nA0010 OK injected");
  EXPECT_EQ(next("a1"), "a1 OK\r\na2 OK injected");
  EXPECT_EQ(next("a99"), "a99 OK\r\na100 OK injected");
  EXPECT_EQ(next("tag"), "tag OK\r\ntag1 OK injected");
}

TEST(ImapResponder, AStartTlsTheScriptRefusedIsRefusedAgainAsAStripperWould) {
  ImapResponder r = Make();
  r.FollowScriptedLine("a1 STARTTLS");
  r.ScriptLine("a1 NO [CANNOT] not now");
  EXPECT_EQ(r.OnLine("a2 STARTTLS").reply, "a2 NO [CANNOT] not now\r\n");
  EXPECT_EQ(r.OnLine("a2 STARTTLS").action, Action::kNone);
}

TEST(ImapResponder, ALoginTheScriptRefusedLeavesTheClientLoggedOut) {
  ImapResponder r = Make({"IMAP4rev1"});
  r.FollowScriptedLine("a1 LOGIN bob secret");
  r.ScriptLine("a1 NO [AUTHENTICATIONFAILED] wrong");
  EXPECT_FALSE(r.reached_goal());
  EXPECT_EQ(r.OnLine("a2 SELECT INBOX").reply, "a2 BAD Log in first\r\n");
}

TEST(ImapResponder, ALoginTheScriptAcceptedLogsTheClientInWhateverItsOwnRules) {
  // A recorded server offered mechanisms this responder would not: the
  // script's OK is what the client saw.
  ImapResponder r = Make({"IMAP4rev1", "LOGINDISABLED"});
  r.FollowScriptedLine("a1 AUTHENTICATE X-REAL-SERVER-ONLY abc");
  r.ScriptLine("a1 OK [CAPABILITY IMAP4rev1] Logged in");
  EXPECT_TRUE(r.reached_goal());
  EXPECT_THAT(r.OnLine("a2 SELECT INBOX").reply, HasSubstr("a2 OK"));
}

TEST(ImapResponder, AfterAPreauthGreetingOpeningAMailboxReachesTheGoal) {
  ImapResponder r = Make();
  r.ScriptLine("* PREAUTH [CAPABILITY IMAP4rev1] logged in already");
  EXPECT_FALSE(r.reached_goal());
  EXPECT_EQ(r.OnLine("a0 STARTTLS").reply,
            "a0 BAD STARTTLS is only valid before logging in\r\n");
  EXPECT_THAT(r.OnLine("a1 SELECT INBOX").reply, HasSubstr("a1 OK"));
  EXPECT_TRUE(r.reached_goal());
}

TEST(ImapResponder, CapabilityAndNoopAreDetours) {
  ImapResponder r = Make();
  EXPECT_TRUE(r.IsDetour("a1 CAPABILITY"));
  EXPECT_TRUE(r.IsDetour("a1 noop"));
  EXPECT_FALSE(r.IsDetour("a1 LOGIN a b"));
  EXPECT_FALSE(r.IsDetour("CAPABILITY"));
}

TEST(ImapResponder, TheScriptsCapabilitiesComeFromItsLastList) {
  auto r = ParseScenario(
      "Summary: x\nProtocol: imap\n"
      "S: * OK [CAPABILITY IMAP4rev1 STARTTLS] hi\n"
      "C: CAPABILITY\nS: * CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN\n"
      "S: $tag OK done\nserve\n",
      "t.imap");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_THAT(ResponderCapabilities(*r),
              ElementsAre("IMAP4rev1", "STARTTLS", "AUTH=PLAIN"));
}

TEST(ImapResponder, WithoutAScriptedListTheDefaultsAreOffered) {
  auto r = ParseScenario("Summary: x\nProtocol: imap\nserve\n", "t.imap");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(ResponderCapabilities(*r), ImapResponder::DefaultCapabilities());
}

TEST(ImapResponder, TheImapProtocolsResponderIsAnImapResponder) {
  std::unique_ptr<Responder> r =
      MakeResponder(protocol::Imap(), {.hostname = "imap.test"});
  EXPECT_NE(dynamic_cast<ImapResponder*>(r.get()), nullptr);
}

}  // namespace
}  // namespace starttls::server
