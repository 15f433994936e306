#include "engine/session.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <thread>

#include "judge/judge.h"

namespace starttls::server {
namespace {

using ::testing::HasSubstr;
using tcp = asio::ip::tcp;

Scenario Parse(std::string_view text) {
  auto s = ParseScenario(text, "t.smtp");
  EXPECT_TRUE(s.has_value()) << s.error().ToString();
  return *s;
}

// Plays `scenario` on one loopback connection whose client side is `client`,
// run on its own thread with a blocking socket.
SessionRecord Play(const Scenario& scenario,
                   std::function<void(tcp::socket&)> client) {
  asio::io_context io;
  tcp::acceptor acceptor(io,
                         tcp::endpoint(asio::ip::address_v4::loopback(), 0));
  tcp::socket client_socket(io);
  client_socket.connect(acceptor.local_endpoint());
  SessionRecord record;
  Wire wire(acceptor.accept(), &record.events);
  std::thread client_thread([&] { client(client_socket); });
  asio::co_spawn(
      io, RunSession(&wire, {.scenario = &scenario, .connection = 1}, &record),
      [](std::exception_ptr e) {
        if (e) std::rethrow_exception(e);
      });
  io.run();
  client_thread.join();
  return record;
}

std::string ReadSome(tcp::socket& s) {
  char buf[4096];
  asio::error_code ec;
  size_t n = s.read_some(asio::buffer(buf), ec);
  return std::string(buf, ec ? 0 : n);
}

// Reads until the server closes, returning everything it sent.
std::string ReadAll(tcp::socket& s) {
  std::string all;
  for (std::string got = ReadSome(s); !got.empty(); got = ReadSome(s))
    all += got;
  return all;
}

// Sends `line` and CRLF, then returns what the server answers first.
std::string Say(tcp::socket& s, std::string_view line) {
  asio::write(s, asio::buffer(std::string(line) + "\r\n"));
  return ReadSome(s);
}

TEST(RunSession, ScriptedLinesAreSentWithCrlfAndMatchedLinesAdvance) {
  Scenario scenario =
      Parse("Summary: x\nS: 220 hi\nC: EHLO *\nS: 250 ok\nclose\n");
  std::string got;
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    asio::write(s, asio::buffer(std::string("ehlo me\r\n")));
    got = ReadAll(s);
  });
  EXPECT_EQ(got, "220 hi\r\n250 ok\r\n");
  EXPECT_TRUE(r.script_completed);
  EXPECT_FALSE(r.mismatch.has_value());
  EXPECT_THAT(r.ended, HasSubstr("the server closed the connection"));
}

TEST(RunSession, AClientOffScriptIsServedByTheResponderAndNotJudged) {
  Scenario scenario = Parse(
      "Summary: x\nExpect: refuse\nS: 220 hi\nC: EHLO *\nS: 250 mx\n"
      "C: STARTTLS\nS: 220 go\ntls\n");
  std::string got;
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    ReadSome(s);
    Say(s, "EHLO c");
    got = Say(s, "VRFY someone");
    asio::write(s, asio::buffer(std::string("QUIT\r\n")));
    got += ReadAll(s);
  });
  EXPECT_EQ(got, "252 2.5.2 Cannot VRFY user\r\n221 2.0.0 Bye\r\n")
      << "the responder answers from where the client left the script";
  ASSERT_TRUE(r.mismatch.has_value());
  EXPECT_EQ(r.mismatch->line, 6);
  EXPECT_EQ(r.mismatch->expected, "STARTTLS");
  EXPECT_EQ(r.mismatch->actual, "VRFY someone");
  EXPECT_FALSE(r.script_completed);
  Verdict v = Judge(scenario, r);
  EXPECT_FALSE(v.pass);
  EXPECT_TRUE(v.off_script);
  EXPECT_EQ(VerdictName(v), "off-script");
  EXPECT_THAT(v.reasons, ::testing::IsEmpty());
  EXPECT_THAT(v.off_script_reason, HasSubstr("scenario line 6"));
}

TEST(RunSession, OffScriptAnOracleStillFails) {
  Scenario scenario =
      Parse("Summary: x\nExpect: refuse\nS: 220 hi\nC: STARTTLS\ntls\n");
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    ReadSome(s);
    Say(s, "AUTH PLAIN AGFAYg==");
    asio::write(s, asio::buffer(std::string("QUIT\r\n")));
    ReadAll(s);
  });
  ASSERT_TRUE(r.mismatch.has_value());
  Verdict v = Judge(scenario, r);
  EXPECT_FALSE(v.pass);
  EXPECT_FALSE(v.off_script);
  EXPECT_EQ(VerdictName(v), "fail");
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_EQ(v.findings[0].id, "credentials-in-plaintext");
}

TEST(RunSession, ADetourIsAnsweredWhileTheScriptWaits) {
  // A second EHLO and a NOOP where the script waits for MAIL: legal, and
  // the script goes on when MAIL comes.
  Scenario scenario = Parse(
      "Summary: x\nExpect: refuse\nS: 220 hi\nC: EHLO *\nS: 250-mx\n"
      "S: 250 8BITMIME\nC: MAIL FROM:*\nS: 250 scripted\nclose\n");
  std::string got;
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    ReadSome(s);
    Say(s, "EHLO c");
    got = Say(s, "EHLO c");
    got += Say(s, "NOOP");
    asio::write(s, asio::buffer(std::string("MAIL FROM:<a@b>\r\n")));
    got += ReadAll(s);
  });
  EXPECT_EQ(got,
            "250-mail.example.test Hello c\r\n250 8BITMIME\r\n"
            "250 2.0.0 OK\r\n250 scripted\r\n");
  EXPECT_FALSE(r.mismatch.has_value());
  EXPECT_TRUE(r.script_completed);
}

TEST(RunSession, AClientThatQuitsWhereTheScriptWaitsRefusedAndIsJudged) {
  Scenario scenario = Parse(
      "Summary: x\nExpect: refuse\nS: 220 hi\nC: EHLO *\nS: 250 mx\n"
      "C: STARTTLS\nS: 220 go\ntls\n");
  std::string got;
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    ReadSome(s);
    Say(s, "EHLO c");
    asio::write(s, asio::buffer(std::string("QUIT\r\n")));
    got = ReadAll(s);
  });
  EXPECT_EQ(got, "221 2.0.0 Bye\r\n");
  EXPECT_FALSE(r.mismatch.has_value());
  EXPECT_THAT(r.ended, HasSubstr("quit where the script expected"));
  Verdict v = Judge(scenario, r);
  EXPECT_EQ(v.observed, Outcome::kRefused);
  EXPECT_TRUE(v.pass);
}

TEST(RunSession, AnAlternativeInThePatternIsOnTheScript) {
  Scenario scenario =
      Parse("Summary: x\nS: 220 hi\nC: EHLO * | HELO *\nS: 250 ok\nclose\n");
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    ReadSome(s);
    asio::write(s, asio::buffer(std::string("HELO me\r\n")));
    ReadAll(s);
  });
  EXPECT_FALSE(r.mismatch.has_value());
  EXPECT_TRUE(r.script_completed);
}

TEST(RunSession, ARecipientTheScriptRefusedIsNotDelivered) {
  // The script refuses the only recipient; the responder then takes over and
  // must not accept DATA for it.
  Scenario scenario = Parse(
      "Summary: x\nExpect: refuse\nS: 220 hi\nC: EHLO *\nS: 250 mx\n"
      "C: MAIL FROM:*\nS: 250 ok\nC: RCPT TO:*\nS: 550 5.1.1 no\nserve\n");
  std::string got;
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    ReadSome(s);
    for (const char* line : {"EHLO c", "MAIL FROM:<a@b>", "RCPT TO:<c@d>"}) {
      Say(s, line);
    }
    got = Say(s, "DATA");
    asio::write(s, asio::buffer(std::string("QUIT\r\n")));
    ReadAll(s);
  });
  EXPECT_THAT(got, ::testing::StartsWith("554"));
  EXPECT_THAT(r.messages, ::testing::IsEmpty());
  EXPECT_EQ(Judge(scenario, r).observed, Outcome::kRefused);
}

TEST(RunSession, StartTlsTheScriptRefusedStaysRefused) {
  // An attacker who strips STARTTLS answers every STARTTLS with an error.
  Scenario scenario = Parse(
      "Summary: x\nExpect: refuse\nS: 220 hi\nC: EHLO *\nS: 250-mx\n"
      "S: 250 STARTTLS\nC: STARTTLS\nS: 454 4.7.0 not now\nserve\n");
  std::string got;
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    ReadSome(s);
    Say(s, "EHLO c");
    Say(s, "STARTTLS");
    got = Say(s, "STARTTLS");
    asio::write(s, asio::buffer(std::string("QUIT\r\n")));
    ReadAll(s);
  });
  EXPECT_EQ(got, "454 4.7.0 not now\r\n");
  EXPECT_FALSE(r.tls.established);
}

TEST(RunSession, AnEhloTheScriptRefusedOffersNoStartTlsAfterwards) {
  Scenario scenario = Parse(
      "Summary: x\nExpect: refuse\nS: 220 hi\nC: EHLO *\n"
      "S: 500 5.5.1 what\nserve\n");
  std::string got;
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    ReadSome(s);
    Say(s, "EHLO c");
    got = Say(s, "EHLO c");
    got += Say(s, "HELO c");
    got += Say(s, "STARTTLS");
    asio::write(s, asio::buffer(std::string("QUIT\r\n")));
    ReadAll(s);
  });
  EXPECT_EQ(got,
            "500 5.5.1 what\r\n250 mail.example.test\r\n"
            "502 5.5.1 STARTTLS not offered\r\n");
  EXPECT_FALSE(r.tls.established);
}

TEST(RunSession, AfterTheLastStepTheServerRecordsUntilTheClientCloses) {
  Scenario scenario = Parse("Summary: x\nS: 220 hi\n");
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    ReadSome(s);
    asio::write(s, asio::buffer(std::string("QUIT\r\n")));
    s.shutdown(tcp::socket::shutdown_send);
    ReadAll(s);
  });
  EXPECT_TRUE(r.script_completed);
  EXPECT_FALSE(r.timed_out);
  const auto& events = r.events.events();
  auto quit = std::find_if(events.begin(), events.end(), [](const Event& e) {
    return e.from == Peer::kClient && e.bytes == "QUIT\r\n";
  });
  EXPECT_NE(quit, events.end());
}

TEST(RunSession, AfterTheLastStepQuitIsAnswered) {
  Scenario scenario = Parse("Summary: x\nS: 220 hi\nC: EHLO *\nS: 250 mx\n");
  std::string got;
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    asio::write(s, asio::buffer(std::string("EHLO c\r\nQUIT\r\n")));
    got = ReadAll(s);
  });
  EXPECT_EQ(got, "220 hi\r\n250 mx\r\n221 2.0.0 Bye\r\n");
  EXPECT_FALSE(r.timed_out);
  EXPECT_EQ(ObserveOutcome(r), Outcome::kRefused);
}

TEST(RunSession, ServeAloneGreetsTheClientFirst) {
  Scenario scenario = Parse("Summary: x\nHost: mx.example.test\nserve\n");
  std::string got;
  Play(scenario, [&](tcp::socket& s) {
    asio::write(s, asio::buffer(std::string("QUIT\r\n")));
    got = ReadAll(s);
  });
  EXPECT_EQ(got,
            "220 mx.example.test ESMTP starttls-mock\r\n221 2.0.0 Bye\r\n");
}

TEST(RunSession, SilentClientTimesOutAtTheScenarioTimeout) {
  Scenario scenario =
      Parse("Summary: x\nTimeout: 100ms\nS: 220 hi\nC: EHLO *\n");
  SessionRecord r = Play(scenario, [&](tcp::socket& s) { ReadAll(s); });
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(ObserveOutcome(r), Outcome::kHung);
  EXPECT_THAT(r.ended, HasSubstr("while the script expected \"EHLO *\""));
}

TEST(RunSession, ServeDeliversInPlainTextWhenTheScenarioSaysSo) {
  Scenario scenario =
      Parse("Summary: x\nCapabilities: PIPELINING\nS: 220 hi\nserve\n");
  std::string got;
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    asio::write(s, asio::buffer(std::string(
                       "EHLO c\r\nMAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n"
                       "hello\r\n.\r\nQUIT\r\n")));
    got = ReadAll(s);
  });
  EXPECT_THAT(got,
              HasSubstr("250 2.0.0 Message 1 accepted\r\n221 2.0.0 Bye\r\n"));
  ASSERT_EQ(r.messages.size(), 1u);
  EXPECT_FALSE(r.messages[0].over_tls);
  EXPECT_EQ(r.ended, "the client quit");
}

TEST(RunSession, ServeRefusesAnOverlongLineAndEndsTheSession) {
  Scenario scenario = Parse("Summary: x\nserve\n");
  std::string got;
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    asio::error_code ignored;  // the server may close before all is written
    asio::write(s, asio::buffer(std::string(70 * 1024, 'x')), ignored);
    got = ReadAll(s);
  });
  EXPECT_THAT(got, HasSubstr("500 5.5.2 Line too long\r\n"));
  EXPECT_THAT(r.ended, HasSubstr("longer than"));
}

TEST(RunSession, ServeTakesOverAfterAScriptedEhlo) {
  Scenario scenario =
      Parse("Summary: x\nS: 220 hi\nC: EHLO *\nS: 250 mx\nserve\n");
  std::string got;
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    asio::write(
        s, asio::buffer(std::string("EHLO c\r\nMAIL FROM:<a@b>\r\nQUIT\r\n")));
    got = ReadAll(s);
  });
  // The responder saw the scripted EHLO, so MAIL is in sequence.
  EXPECT_THAT(got, HasSubstr("250 2.1.0 Sender OK\r\n"));
}

// IMAP scenarios: `C:` patterns match the command after its tag, and "$tag"
// in an `S:` line answers with the client's own tag.

TEST(RunSession, AnImapScriptMatchesCommandsWhateverTheirTagAndAnswersWithIt) {
  Scenario scenario = Parse(
      "Summary: x\nProtocol: imap\nExpect: refuse\n"
      "S: * OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\n"
      "C: CAPABILITY\n"
      "S: * CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\n"
      "S: $tag OK CAPABILITY completed\n"
      "C: STARTTLS\n"
      "S: $tag NO [CANNOT] not today\n"
      "serve\n");
  std::string capability, starttls, again;
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    ReadSome(s);
    capability = Say(s, "A0001 CAPABILITY");
    starttls = Say(s, "A0002 STARTTLS");
    // The responder repeats the script's refusal, as a stripper would.
    again = Say(s, "A0003 STARTTLS");
    asio::write(s, asio::buffer(std::string("A0004 LOGOUT\r\n")));
    ReadAll(s);
  });
  EXPECT_EQ(capability,
            "* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\n"
            "A0001 OK CAPABILITY completed\r\n");
  EXPECT_EQ(starttls, "A0002 NO [CANNOT] not today\r\n");
  EXPECT_EQ(again, "A0003 NO [CANNOT] not today\r\n");
  EXPECT_FALSE(r.mismatch.has_value());
  EXPECT_FALSE(r.reached_goal);
  Verdict v = Judge(scenario, r);
  EXPECT_TRUE(v.pass) << (v.reasons.empty() ? "" : v.reasons[0].text);
  EXPECT_EQ(OutcomeName(v.observed, *scenario.protocol), "refused");
}

TEST(RunSession, AnImapLoginInPlainTextReachesTheGoalAndFailsTheRun) {
  Scenario scenario = Parse(
      "Summary: x\nProtocol: imap\nCapabilities: IMAP4rev1, STARTTLS\n"
      "Expect: refuse\nserve\n");
  std::string login;
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    ReadSome(s);
    login = Say(s, "a1 LOGIN bob secret");
    asio::write(s, asio::buffer(std::string("a2 LOGOUT\r\n")));
    ReadAll(s);
  });
  EXPECT_THAT(login, ::testing::StartsWith("a1 OK [CAPABILITY"));
  EXPECT_TRUE(r.reached_goal);
  Verdict v = Judge(scenario, r);
  EXPECT_FALSE(v.pass);
  EXPECT_EQ(OutcomeName(v.observed, *scenario.protocol), "logged-in");
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_EQ(v.findings[0].id, "credentials-in-plaintext");
  EXPECT_EQ(v.reasons[0].text,
            "expected the client to refuse, observed logged-in");
}

TEST(RunSession, DollarTagInRawBytesIsTheClientsTagToo) {
  Scenario scenario = Parse(
      "Summary: x\nProtocol: imap\nExpect: refuse\nS: * OK hi\n"
      "C: STARTTLS\nsend data=\"$tag OK Begin\"\nwrite\nclose\n");
  std::string got;
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    ReadSome(s);
    asio::write(s, asio::buffer(std::string("x7 STARTTLS\r\n")));
    got = ReadAll(s);
  });
  EXPECT_EQ(got, "x7 OK Begin");
  EXPECT_TRUE(r.script_completed);
}

TEST(RunSession, AnSmtpScriptSendsDollarTagAsItIs) {
  Scenario scenario =
      Parse("Summary: x\nS: 220 $tag\nC: EHLO *\nsend data=\"$tag\"\nclose\n");
  std::string got;
  SessionRecord r = Play(scenario, [&](tcp::socket& s) {
    asio::write(s, asio::buffer(std::string("EHLO c\r\n")));
    got = ReadAll(s);
  });
  EXPECT_EQ(got, "220 $tag\r\n$tag");
}

}  // namespace
}  // namespace starttls::server
