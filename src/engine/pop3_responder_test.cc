#include "engine/pop3_responder.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "scenario/scenario.h"

namespace starttls::server {
namespace {

using ::testing::ElementsAre;
using ::testing::EndsWith;
using ::testing::HasSubstr;
using ::testing::Not;
using ::testing::StartsWith;
using Action = Responder::Action;

Pop3Responder Make(std::vector<std::string> caps = {}) {
  if (caps.empty()) caps = Pop3Responder::DefaultCapabilities();
  return Pop3Responder({.hostname = "pop.test", .capabilities = caps});
}

// "bob", "secret" as PLAIN: NUL bob NUL secret.
constexpr std::string_view kPlain = "AGJvYgBzZWNyZXQ=";

// Logs in over TLS.
void LogIn(Pop3Responder& r) {
  EXPECT_EQ(r.OnLine("STLS").action, Action::kStartTls);
  r.OnTlsStarted();
  EXPECT_THAT(r.OnLine("USER bob").reply, StartsWith("+OK"));
  EXPECT_THAT(r.OnLine("PASS secret").reply, StartsWith("+OK"));
  ASSERT_TRUE(r.reached_goal());
}

TEST(Pop3Responder, TheGreetingIsOkWithAnApopTimestamp) {
  Pop3Responder r = Make();
  EXPECT_THAT(r.Greeting(), StartsWith("+OK pop.test POP3"));
  EXPECT_THAT(r.Greeting(), EndsWith("<1.1@pop.test>\r\n"));
}

TEST(Pop3Responder, CapaListsOneCapabilityALineAndEndsWithADot) {
  Pop3Responder r = Make();
  EXPECT_EQ(r.OnLine("CAPA").reply,
            "+OK Capability list follows\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\n"
            "TOP\r\nUIDL\r\nRESP-CODES\r\nAUTH-RESP-CODE\r\n"
            "IMPLEMENTATION starttls-mock\r\n.\r\n");
}

TEST(Pop3Responder, StlsIsAnOkThatAsksForTheHandshakeAndIsGoneAfterTls) {
  Pop3Responder r = Make();
  Responder::Response resp = r.OnLine("stls");
  EXPECT_EQ(resp.reply, "+OK Begin TLS negotiation now\r\n");
  EXPECT_EQ(resp.action, Action::kStartTls);
  r.OnTlsStarted();
  EXPECT_THAT(r.OnLine("CAPA").reply, Not(HasSubstr("STLS")));
  EXPECT_EQ(r.OnLine("STLS").reply,
            "-ERR Command not permitted when TLS active\r\n");
}

TEST(Pop3Responder, StlsNotOfferedIsRefused) {
  Pop3Responder r = Make({"USER", "TOP"});
  EXPECT_EQ(r.OnLine("STLS").reply, "-ERR STLS not available\r\n");
  EXPECT_EQ(r.OnLine("STLS").action, Action::kNone);
}

TEST(Pop3Responder, OnlyImplementedCapabilitiesAndMechanismsAreOffered) {
  Pop3Responder r = Make({"STLS", "SASL CRAM-MD5 PLAIN", "PIPELINING", "USER"});
  EXPECT_EQ(r.AdvertisedCapabilities(),
            (std::vector<std::string>{"STLS", "SASL PLAIN", "USER"}));
  Pop3Responder only_cram = Make({"STLS", "SASL CRAM-MD5"});
  EXPECT_EQ(only_cram.AdvertisedCapabilities(),
            (std::vector<std::string>{"STLS"}));
  EXPECT_THAT(only_cram.OnLine("AUTH CRAM-MD5").reply,
              StartsWith("-ERR [AUTH]"));
}

TEST(Pop3Responder, UserAndPassLogIn) {
  Pop3Responder r = Make();
  EXPECT_THAT(r.OnLine("PASS secret").reply, StartsWith("-ERR"));
  EXPECT_THAT(r.OnLine("USER bob").reply, StartsWith("+OK"));
  EXPECT_FALSE(r.reached_goal());
  EXPECT_THAT(r.OnLine("PASS secret").reply, StartsWith("+OK"));
  EXPECT_TRUE(r.reached_goal());
}

TEST(Pop3Responder, UserIsRefusedWhereTheCapabilitiesDoNotOfferIt) {
  Pop3Responder r = Make({"STLS", "SASL PLAIN"});
  EXPECT_THAT(r.OnLine("USER bob").reply, StartsWith("-ERR [AUTH]"));
}

TEST(Pop3Responder, AuthPlainWithAnInitialResponseOrAfterAChallenge) {
  Pop3Responder r = Make();
  EXPECT_THAT(r.OnLine(fmt::format("AUTH PLAIN {}", kPlain)).reply,
              StartsWith("+OK"));
  EXPECT_TRUE(r.reached_goal());
  Pop3Responder s = Make();
  EXPECT_EQ(s.OnLine("AUTH PLAIN").reply, "+ \r\n");
  EXPECT_FALSE(s.IsDetour("CAPA"));  // the next line answers the challenge
  EXPECT_THAT(s.OnLine(kPlain).reply, StartsWith("+OK"));
  EXPECT_TRUE(s.reached_goal());
}

TEST(Pop3Responder, ACancelledOrMalformedAuthLogsNobodyIn) {
  Pop3Responder r = Make();
  (void)r.OnLine("AUTH PLAIN");
  EXPECT_EQ(r.OnLine("*").reply, "-ERR Authentication cancelled\r\n");
  EXPECT_THAT(r.OnLine("AUTH PLAIN Ym9i").reply, StartsWith("-ERR [AUTH]"));
  EXPECT_FALSE(r.reached_goal());
}

TEST(Pop3Responder, BareAuthListsTheMechanisms) {
  Pop3Responder r = Make();
  EXPECT_EQ(r.OnLine("AUTH").reply, "+OK\r\nPLAIN\r\n.\r\n");
}

TEST(Pop3Responder, ApopTakesANameAndAnMd5Digest) {
  Pop3Responder r = Make();
  EXPECT_THAT(r.OnLine("APOP bob nothex").reply, StartsWith("-ERR"));
  EXPECT_THAT(r.OnLine("APOP bob c4c9334bac560ecc979e58001b3e22fb").reply,
              StartsWith("+OK"));
  EXPECT_TRUE(r.reached_goal());
}

TEST(Pop3Responder, MailboxCommandsNeedALogIn) {
  Pop3Responder r = Make();
  EXPECT_EQ(r.OnLine("STAT").reply, "-ERR Not logged in\r\n");
  EXPECT_EQ(r.OnLine("FROB").reply, "-ERR Unknown command\r\n");
}

TEST(Pop3Responder, TheMaildropHasTwoMessagesToListAndDownload) {
  Pop3Responder r = Make();
  LogIn(r);
  std::string stat = r.OnLine("STAT").reply;
  EXPECT_THAT(stat, StartsWith("+OK 2 "));
  std::string list = r.OnLine("LIST").reply;
  EXPECT_THAT(list, StartsWith("+OK\r\n1 "));
  EXPECT_THAT(list, EndsWith("\r\n.\r\n"));
  EXPECT_EQ(r.OnLine("UIDL").reply, "+OK\r\n1 1\r\n2 2\r\n.\r\n");
  EXPECT_EQ(r.OnLine("UIDL 2").reply, "+OK 2 2\r\n");
  std::string retr = r.OnLine("RETR 1").reply;
  EXPECT_THAT(retr, HasSubstr("Subject: First message\r\n"));
  EXPECT_THAT(retr, HasSubstr("\r\n\r\nThe first message"));
  EXPECT_THAT(retr, EndsWith("\r\n.\r\n"));
  EXPECT_EQ(r.OnLine("RETR 3").reply, "-ERR No such message\r\n");
}

TEST(Pop3Responder, TopSendsTheHeaderAndSoManyLinesOfTheBody) {
  Pop3Responder r = Make();
  LogIn(r);
  std::string top = r.OnLine("TOP 2 1").reply;
  EXPECT_THAT(top, HasSubstr("Subject: Second message\r\n"));
  EXPECT_THAT(top, HasSubstr("The second message"));
  EXPECT_THAT(top, Not(HasSubstr("two lines")));
  EXPECT_THAT(r.OnLine("TOP 2").reply, StartsWith("-ERR"));
}

TEST(Pop3Responder, DeleRemovesAMessageUntilRset) {
  Pop3Responder r = Make();
  LogIn(r);
  EXPECT_THAT(r.OnLine("DELE 1").reply, StartsWith("+OK"));
  EXPECT_THAT(r.OnLine("STAT").reply, StartsWith("+OK 1 "));
  EXPECT_EQ(r.OnLine("RETR 1").reply, "-ERR No such message\r\n");
  EXPECT_EQ(r.OnLine("RSET").reply, "+OK\r\n");
  EXPECT_THAT(r.OnLine("STAT").reply, StartsWith("+OK 2 "));
}

TEST(Pop3Responder, QuitSaysGoodbyeAndCloses) {
  Pop3Responder r = Make();
  Responder::Response resp = r.OnLine("QUIT");
  EXPECT_EQ(resp.reply, "+OK starttls-mock signing off\r\n");
  EXPECT_EQ(resp.action, Action::kClose);
}

TEST(Pop3Responder, AUserNamedBeforeTlsIsForgottenAfter) {
  Pop3Responder r = Make();
  (void)r.OnLine("USER bob");
  (void)r.OnLine("STLS");
  r.OnTlsStarted();
  EXPECT_EQ(r.OnLine("PASS secret").reply, "-ERR USER first\r\n");
}

TEST(Pop3Responder, AScriptedRefusalOfStlsIsRepeatedUntilTls) {
  Pop3Responder r = Make();
  r.FollowScriptedLine("STLS");
  r.ScriptLine("-ERR TLS is not available");
  EXPECT_EQ(r.OnLine("STLS").reply, "-ERR TLS is not available\r\n");
  EXPECT_EQ(r.OnLine("STLS").action, Action::kNone);
}

TEST(Pop3Responder, AScriptedOkToPassLogsInAndAnErrUndoesUser) {
  Pop3Responder r = Make();
  r.FollowScriptedLine("USER bob");
  r.ScriptLine("-ERR no such user");
  EXPECT_EQ(r.OnLine("PASS secret").reply, "-ERR USER first\r\n");
  Pop3Responder s = Make();
  s.FollowScriptedLine("USER bob");
  s.ScriptLine("+OK");
  s.FollowScriptedLine("PASS wrong");
  s.ScriptLine("+OK welcome");
  EXPECT_TRUE(s.reached_goal());
}

TEST(Pop3Responder, ScriptedCapabilitiesAreTheLinesOfTheLastCapaAnswer) {
  auto scenario = ParseScenario(
      "Summary: s\nProtocol: pop3\nS: +OK hi\nC: CAPA\nS: +OK list\n"
      "S: USER\nS: SASL PLAIN\nS: .\nserve\n",
      "s.pop3");
  ASSERT_TRUE(scenario.has_value()) << scenario.error().ToString();
  EXPECT_THAT(*Pop3Responder::ScriptedCapabilities(scenario->steps),
              ElementsAre("USER", "SASL PLAIN"));
  auto refused = ParseScenario(
      "Summary: s\nProtocol: pop3\nS: +OK hi\nC: CAPA\nS: -ERR no\nserve\n",
      "s.pop3");
  ASSERT_TRUE(refused.has_value()) << refused.error().ToString();
  EXPECT_THAT(*Pop3Responder::ScriptedCapabilities(refused->steps),
              ElementsAre());
  EXPECT_EQ(Pop3Responder::ScriptedCapabilities({}), std::nullopt);
  EXPECT_THAT(ResponderCapabilities(*scenario),
              ElementsAre("USER", "SASL PLAIN"));
}

TEST(Pop3Responder, ThePop3ProtocolsResponderIsAPop3Responder) {
  std::unique_ptr<Responder> r =
      MakeResponder(protocol::Pop3(), {.hostname = "pop.test"});
  EXPECT_NE(dynamic_cast<Pop3Responder*>(r.get()), nullptr);
}

}  // namespace
}  // namespace starttls::server
