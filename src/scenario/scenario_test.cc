#include "scenario/scenario.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace starttls::server {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr std::string_view kMinimal =
    "Summary: minimal\n"
    "\n"
    "S: 220 ready\n"
    "C: EHLO *\n"
    "serve\n";

std::string ErrorOf(std::string_view text) {
  auto r = ParseScenario(text, "t.smtp");
  return r ? std::string("parsed") : r.error().ToString();
}

TEST(ParseScenario, ReadsHeadersAndStepsInOrder) {
  auto r = ParseScenario(
      "# a comment\n"
      "Summary: the article's session\n"
      "Host: smtp.example.test\n"
      "Expect: refuse\n"
      "Timeout: 250ms\n"
      "\n"
      "S: 220 BLU0  ready \n"
      "C: EHLO *\n"
      "tls\n"
      "close\n",
      "dir/hotmail.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->name, "hotmail");
  EXPECT_EQ(r->summary, "the article's session");
  EXPECT_EQ(r->host, "smtp.example.test");
  EXPECT_EQ(r->expect, Expectation::kRefuse);
  EXPECT_EQ(r->timeout, std::chrono::milliseconds(250));
  ASSERT_EQ(r->steps.size(), 4u);
  EXPECT_EQ(r->steps[0].kind, Step::Kind::kSend);
  // Sent text is kept byte for byte, inner and trailing spaces included.
  EXPECT_EQ(r->steps[0].text, "220 BLU0  ready ");
  EXPECT_EQ(r->steps[0].line, 7);
  EXPECT_EQ(r->steps[1].kind, Step::Kind::kExpect);
  EXPECT_EQ(r->steps[1].text, "EHLO *");
  EXPECT_EQ(r->steps[2].kind, Step::Kind::kTls);
  EXPECT_EQ(r->steps[3].kind, Step::Kind::kClose);
}

TEST(ParseScenario, AcceptsCrlfLineEndings) {
  auto r = ParseScenario("Summary: x\r\nS: 220 ready\r\nserve\r\n", "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->steps[0].text, "220 ready");
}

TEST(ParseScenario, DefaultsApplyWhenHeadersAreAbsent) {
  auto r = ParseScenario(kMinimal, "t.smtp");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->host, "mail.example.test");
  EXPECT_EQ(r->expect, Expectation::kDeliver);
  EXPECT_EQ(r->timeout, std::chrono::seconds(10));
  EXPECT_EQ(r->session_timeout, std::nullopt);
  EXPECT_EQ(SessionTimeout(*r), kSessionTimeoutFactor * r->timeout);
}

TEST(ParseScenario, SessionTimeoutBoundsTheWholeSession) {
  auto r = ParseScenario(
      "Summary: x\nTimeout: 2s\nSession-Timeout: 60s\nserve\n", "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(SessionTimeout(*r), std::chrono::seconds(60));
  auto defaulted = ParseScenario("Summary: x\nTimeout: 2s\nserve\n", "t.smtp");
  ASSERT_TRUE(defaulted.has_value());
  EXPECT_EQ(SessionTimeout(*defaulted), std::chrono::seconds(40));
}

TEST(ParseScenarioErrors, SessionTimeoutShorterThanOneWaitIsContradictory) {
  EXPECT_EQ(ErrorOf("Summary: x\nTimeout: 5s\nSession-Timeout: 2s\nserve\n"),
            "t.smtp:3:18: Session-Timeout (2000ms) is shorter than Timeout "
            "(5000ms, line 2)");
  EXPECT_EQ(ErrorOf("Summary: x\nSession-Timeout: 2s\nserve\n"),
            "t.smtp:2:18: Session-Timeout (2000ms) is shorter than Timeout "
            "(10000ms, the default)");
  EXPECT_EQ(ErrorOf("Summary: x\nSession-Timeout: 90000s\nserve\n"),
            "t.smtp:2:18: Session-Timeout must be a duration from 1ms to 24h "
            "such as 2s or 300s, not \"90000s\"");
  EXPECT_EQ(ErrorOf("Summary: x\nTimeout: 5s\nSession-Timeout: 5s\nserve\n"),
            "parsed");
}

TEST(ParseScenarioErrors, NameFileLineAndColumn) {
  EXPECT_EQ(ErrorOf("Summary: x\nS: 220\nfrobnicate now\n"),
            "t.smtp:3:1: unknown step \"frobnicate\" (steps: S:, C:, send, "
            "write, tls, serve, stall, close, connection)");
  EXPECT_EQ(ErrorOf("Summary: x\nBogus: 1\nS: 220\n"),
            "t.smtp:2:1: unknown header field \"Bogus:\" (known: Summary, "
            "Protocol, Host, Expect, Timeout, Session-Timeout, Capabilities, "
            "Certificate)");
  EXPECT_EQ(ErrorOf("Summary: x\nSummary: y\nS: 220\n"),
            "t.smtp:2:1: duplicate header field \"Summary:\"");
  EXPECT_EQ(ErrorOf("S: 220\n"),
            "t.smtp:1:1: missing header field \"Summary:\"");
  EXPECT_EQ(ErrorOf("Summary: x\n\n"), "t.smtp:3:1: the scenario has no steps");
  EXPECT_EQ(ErrorOf("Summary: x\nS: 220\nHost: h\n"),
            "t.smtp:3:1: header field \"Host:\" after the first step (line 2)");
  EXPECT_EQ(ErrorOf("Summary:\nS: 220\n"),
            "t.smtp:1:9: header field \"Summary:\" has no value");
  EXPECT_EQ(ErrorOf("Summary: x\nExpect:  maybe\nS: 220\n"),
            "t.smtp:2:10: Expect must be deliver, refuse or "
            "deliver-or-refuse, not \"maybe\"");
  EXPECT_EQ(
      ErrorOf("Summary: x\nTimeout: 10\nS: 220\n"),
      "t.smtp:2:10: Timeout must be a duration from 1ms to 1h such as 500ms "
      "or 10s, not \"10\"");
  EXPECT_EQ(
      ErrorOf("Summary: x\nTimeout: infs\nS: 220\n"),
      "t.smtp:2:10: Timeout must be a duration from 1ms to 1h such as 500ms "
      "or 10s, not \"infs\"");
  EXPECT_EQ(
      ErrorOf("Summary: x\nTimeout: 2h\nS: 220\n"),
      "t.smtp:2:10: Timeout must be a duration from 1ms to 1h such as 500ms "
      "or 10s, not \"2h\"");
  EXPECT_EQ(
      ErrorOf("Summary: x\nTimeout: 3601s\nS: 220\n"),
      "t.smtp:2:10: Timeout must be a duration from 1ms to 1h such as 500ms "
      "or 10s, not \"3601s\"");
  EXPECT_EQ(ErrorOf("Summary: x\nHost: bad host!\nS: 220\n"),
            "t.smtp:2:7: invalid host name \"bad host!\"");
  EXPECT_EQ(ErrorOf("Summary: x\nS:220\n"),
            "t.smtp:2:3: expected a space after \"S:\"");
  EXPECT_EQ(ErrorOf("Summary: x\nC: \n"),
            "t.smtp:2:3: \"C:\" needs a pattern for the client's line");
  EXPECT_EQ(ErrorOf("Summary: x\nS: 220\x01\n"),
            "t.smtp:2:7: control character 0x01 in a transcript line");
  EXPECT_EQ(ErrorOf("Summary: x\ntls\ntls\n"),
            "t.smtp:3:1: TLS was already started at line 2");
  EXPECT_EQ(ErrorOf("Summary: x\nserve\nS: 250\n"),
            "t.smtp:3:1: step after \"serve\" at line 2 can never run");
  EXPECT_EQ(ErrorOf("Summary: x\nclose\nclose\n"),
            "t.smtp:3:1: step after \"close\" at line 2 can never run");
  EXPECT_EQ(ErrorOf("Summary: x\ntls  fast\n"),
            "t.smtp:2:6: expected key=value, found \"fast\"");
  EXPECT_EQ(ErrorOf("Summary: x\ntls speed=1\n"),
            "t.smtp:2:5: unknown option \"speed\" for step \"tls\" (options: "
            "abort, alert, ciphers, ciphersuites, corrupt, groups, max, min, "
            "seclevel, truncate)");
  EXPECT_EQ(ErrorOf("Summary: x\n  serve\n"),
            "t.smtp:2:1: a step starts at the beginning of its line");
  EXPECT_EQ(ErrorOf("Summary: x\nCapabilities: A,,B\nserve\n"),
            "t.smtp:2:15: empty capability in the list");
}

TEST(ParseScenario, SendDecodesEscapesAndAddsNoLineEnding) {
  auto r = ParseScenario(
      "Summary: x\nsend data=\"220 ok\\r\\n\\x16\\x03\\\"q\\\\\"\nserve\n",
      "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->steps[0].kind, Step::Kind::kRaw);
  EXPECT_EQ(r->steps[0].text, std::string("220 ok\r\n\x16\x03\"q\\"));
}

TEST(ParseScenario, BareOptionValuesNeedNoQuotes) {
  auto r = ParseScenario(
      "Summary: x\nS: 220 a\nwrite delay=150ms split=3,5\nS: 250 b\n"
      "write drip=1 gap=1ms\nwrite quiet=250ms\nserve\n",
      "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  const Step& w = r->steps[1];
  EXPECT_EQ(w.kind, Step::Kind::kWrite);
  EXPECT_EQ(w.write.delay, std::chrono::milliseconds(150));
  EXPECT_THAT(w.write.shape.split, ElementsAre(3, 5));
  EXPECT_EQ(r->steps[3].write.shape.drip, 1u);
  EXPECT_EQ(r->steps[3].write.shape.gap, std::chrono::milliseconds(1));
  EXPECT_EQ(r->steps[4].write.quiet, std::chrono::milliseconds(250));
}

TEST(ParseScenario, TlsOptionsArriveTypedInTheStep) {
  auto r = ParseScenario(
      "Summary: x\nS: 220 a\ntls min=1.2 max=1.3 seclevel=0 ciphers=ALL "
      "groups=P-256 abort=alert alert=unknown_ca corrupt=2\n",
      "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  const TlsOptions& tls = r->steps[1].tls;
  EXPECT_EQ(tls.min_version, 0x0303);  // TLS1_2_VERSION
  EXPECT_EQ(tls.max_version, 0x0304);  // TLS1_3_VERSION
  EXPECT_EQ(tls.security_level, 0);
  EXPECT_EQ(tls.ciphers, "ALL");
  EXPECT_EQ(tls.ciphersuites, "");
  EXPECT_EQ(tls.groups, "P-256");
  EXPECT_EQ(tls.abort, TlsOptions::Abort::kAlert);
  EXPECT_EQ(tls.alert, 48);  // unknown_ca
  EXPECT_EQ(tls.corrupt_record, 2);
  EXPECT_EQ(tls.truncate_record, 0);
}

TEST(ParseScenario, AStepWithoutOptionsKeepsTheDefaults) {
  auto r = ParseScenario("Summary: x\nS: 220 a\ntls\nclose\n", "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->steps[1].tls.min_version, 0);
  EXPECT_EQ(r->steps[1].tls.security_level, -1);
  EXPECT_EQ(r->steps[1].tls.abort, TlsOptions::Abort::kNone);
  EXPECT_EQ(r->steps[2].close.how, CloseOptions::How::kFin);
  EXPECT_TRUE(r->steps[2].close.notify);
}

TEST(ParseScenario, CloseOptionsArriveTypedInTheStep) {
  auto r = ParseScenario("Summary: x\nS: 220 a\nclose how=half notify=no\n",
                         "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->steps[1].close.how, CloseOptions::How::kHalf);
  EXPECT_FALSE(r->steps[1].close.notify);
}

TEST(ParseScenario, AnUnknownOptionNamesTheOptionsTheStepTakes) {
  auto r = ParseScenario("Summary: x\nS: 220 a\nclose speed=1\n", "t.smtp");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().ToString(),
            "t.smtp:3:7: unknown option \"speed\" for step \"close\" "
            "(options: how, notify)");
  r = ParseScenario("Summary: x\nS: 220 a\nserve speed=1\n", "t.smtp");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().ToString(),
            "t.smtp:3:7: unknown option \"speed\" for step \"serve\" (it "
            "takes none)");
}

TEST(ParseScenario, ACountTooLargeForTheEngineIsRefused) {
  auto r =
      ParseScenario("Summary: x\nS: 220 a\nwrite drip=4294967297\n", "t.smtp");
  ASSERT_FALSE(r.has_value());
  EXPECT_THAT(r.error().ToString(),
              HasSubstr("drip= must be a whole number from 1"));
}

TEST(Stalls, AStallOrAHandshakeAbortedByStallingHoldsTheClient) {
  for (const char* step : {"stall\n", "tls abort=stall\n"}) {
    auto r =
        ParseScenario(std::string("Summary: x\nS: 220 a\n") + step, "t.smtp");
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_TRUE(Stalls(*r)) << step;
  }
}

TEST(Stalls, AScriptThatAlwaysAnswersDoesNotStall) {
  for (const char* step : {"serve\n", "tls abort=close\n", "close\n"}) {
    auto r =
        ParseScenario(std::string("Summary: x\nS: 220 a\n") + step, "t.smtp");
    ASSERT_TRUE(r.has_value()) << r.error().ToString();
    EXPECT_FALSE(Stalls(*r)) << step;
  }
}

TEST(ParseScenario, ConnectionSeparatesTheScriptsOfSeveralConnections) {
  auto r = ParseScenario(
      "Summary: x\nS: 220 one\ntls abort=close\nconnection\n"
      "S: 220 two\ntls\nserve\n",
      "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(ConnectionCount(*r), 2);
  ASSERT_EQ(ConnectionSteps(*r, 1).size(), 2u);
  EXPECT_EQ(ConnectionSteps(*r, 1)[0].text, "220 one");
  ASSERT_EQ(ConnectionSteps(*r, 2).size(), 3u);
  EXPECT_EQ(ConnectionSteps(*r, 2)[0].text, "220 two");
}

TEST(ParseScenario, ReadsExpectDeliverOrRefuseAndCertificate) {
  auto r = ParseScenario(
      "Summary: x\nExpect: deliver-or-refuse\nCertificate: expired\nserve\n",
      "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->expect, Expectation::kDeliverOrRefuse);
  EXPECT_EQ(r->certificate, "expired");
}

TEST(ParseScenarioErrors, OptionValuesAreCheckedWhereTheyAreWritten) {
  EXPECT_EQ(ErrorOf("Summary: x\nsend\n"),
            "t.smtp:2:1: step \"send\" needs data=");
  EXPECT_EQ(ErrorOf("Summary: x\nsend data=\"abc\n"),
            "t.smtp:2:11: unterminated quoted value");
  EXPECT_EQ(ErrorOf("Summary: x\nsend data=\"a\\qb\"\n"),
            "t.smtp:2:13: bad escape (use \\\\ \\\" \\r \\n \\t \\0 or "
            "\\xHH)");
  EXPECT_EQ(ErrorOf("Summary: x\nsend data=\"\\x4\"\n"),
            "t.smtp:2:12: bad escape (use \\\\ \\\" \\r \\n \\t \\0 or "
            "\\xHH)");
  EXPECT_EQ(ErrorOf("Summary: x\nwrite delay=soon\n"),
            "t.smtp:2:13: delay= must be a duration from 0ms to 1h such as "
            "250ms or 2s, not \"soon\"");
  EXPECT_EQ(ErrorOf("Summary: x\nwrite split=5,3\n"),
            "t.smtp:2:13: split= must be ascending byte offsets from 1, such "
            "as 3 or 1,5, not \"5,3\"");
  EXPECT_EQ(ErrorOf("Summary: x\nwrite drip=0\n"),
            "t.smtp:2:12: drip= must be a whole number from 1, not \"0\"");
  EXPECT_EQ(ErrorOf("Summary: x\nwrite gap=5ms\n"),
            "t.smtp:2:1: gap= needs drip=");
  EXPECT_EQ(ErrorOf("Summary: x\ntls max=1.4\n"),
            "t.smtp:2:9: max= must be a TLS version: 1.0, 1.1, 1.2 or 1.3, "
            "not \"1.4\"");
  EXPECT_EQ(ErrorOf("Summary: x\ntls abort=alert alert=nope\n"),
            "t.smtp:2:23: alert= must be a TLS alert name such as "
            "handshake_failure, not \"nope\"");
  EXPECT_EQ(ErrorOf("Summary: x\ntls alert=unknown_ca\n"),
            "t.smtp:2:1: alert= needs abort=alert");
  EXPECT_EQ(ErrorOf("Summary: x\nclose how=later\n"),
            "t.smtp:2:11: how= must be one of fin, reset, half, not \"later\"");
  EXPECT_EQ(ErrorOf("Summary: x\nconnection\nserve\n"),
            "t.smtp:2:1: \"connection\" must follow the previous connection's "
            "steps");
  EXPECT_EQ(ErrorOf("Summary: x\nserve\nconnection\n"),
            "t.smtp:3:1: \"connection\" is not followed by any step");
  EXPECT_EQ(ErrorOf("Summary: x\nstall\nS: 220\n"),
            "t.smtp:3:1: step after \"stall\" at line 2 can never run");
  EXPECT_EQ(ErrorOf("Summary: x\nCertificate: bogus\nserve\n"),
            "t.smtp:2:14: unknown certificate profile \"bogus\" (see "
            "`starttls-mock certs --list`)");
}

TEST(ParseScenario, SendRepeatQueuesTheDataThatManyTimes) {
  auto r = ParseScenario("Summary: x\nsend data=ab repeat=3\nclose\n",
                         "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->steps[0].text, "ababab");
}

TEST(ParseScenario, WriteRepeatIsACountOrForever) {
  auto r = ParseScenario(
      "Summary: x\nS: 250-a\nwrite repeat=3\nwrite repeat=forever "
      "delay=5ms\n",
      "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->steps[1].write.repeat, 3);
  EXPECT_FALSE(r->steps[1].write.forever);
  EXPECT_TRUE(r->steps[2].write.forever);
  EXPECT_TRUE(Stalls(*r)) << "an answer that never ends holds the client";
}

TEST(ParseScenarioErrors, RepeatsAreBoundedAndAnEndlessWriteIsTheLastStep) {
  EXPECT_EQ(ErrorOf("Summary: x\nwrite repeat=0\n"),
            "t.smtp:2:14: repeat= must be a whole number from 1 or "
            "\"forever\", not \"0\"");
  EXPECT_EQ(ErrorOf("Summary: x\nS: 250-a\nwrite repeat=forever\n"),
            "t.smtp:3:1: repeat=forever needs delay= (the pause before each "
            "copy, at least 1ms)");
  EXPECT_EQ(ErrorOf("Summary: x\nS: 250-a\nwrite repeat=forever "
                    "delay=1ms\nS: 250 b\n"),
            "t.smtp:4:1: step after \"write repeat=forever\" at line 3 can "
            "never run");
  EXPECT_EQ(ErrorOf("Summary: x\nsend data=abcdefgh repeat=3000000\n"),
            "t.smtp:2:1: send repeat= would queue more than 16 MiB; write an "
            "answer that never ends with `write repeat=forever`");
  EXPECT_EQ(ErrorOf("Summary: x\nsend data=x repeat=forever\n"),
            "t.smtp:2:20: repeat= must be a whole number from 1, not "
            "\"forever\"");
}

TEST(ConnectionCertificate, AConnectionStepNamesTheProfileFromThereOn) {
  auto r = ParseScenario(
      "Summary: x\nCertificate: expired\nserve\n"
      "connection certificate=self-signed\nserve\n"
      "connection\nserve\n",
      "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(ConnectionCertificate(*r, 1), "expired");
  EXPECT_EQ(ConnectionCertificate(*r, 2), "self-signed");
  EXPECT_EQ(ConnectionCertificate(*r, 3), "self-signed")
      << "a connection step without certificate= keeps the profile";
  EXPECT_THAT(Certificates(*r), ElementsAre("expired", "self-signed"));
  EXPECT_EQ(ErrorOf("Summary: x\nserve\nconnection certificate=bogus\n"
                    "serve\n"),
            "t.smtp:3:24: certificate= must be a certificate profile (see "
            "`starttls-mock certs --list`), not \"bogus\"");
}

TEST(ConnectionCertificate, WithoutConnectionStepsEveryConnectionHasTheHeaders) {
  auto r = ParseScenario("Summary: x\nserve\n", "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(ConnectionCertificate(*r, 1), "valid");
  EXPECT_THAT(Certificates(*r), ElementsAre("valid"));
}

TEST(ParseScenario, TlsMayStartOncePerConnection) {
  auto r = ParseScenario("Summary: x\ntls\nclose\nconnection\ntls\nserve\n",
                         "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
}

TEST(LoadScenario, MissingFileIsAnErrorWithoutPosition) {
  auto r = LoadScenario("/nonexistent/x.smtp");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().ToString(), "/nonexistent/x.smtp: cannot read the file");
}

TEST(MatchesClientLine, VerbIgnoresCaseArgumentsDoNot) {
  EXPECT_TRUE(MatchesClientLine("STARTTLS", "starttls"));
  EXPECT_TRUE(MatchesClientLine("MAIL FROM:<*>", "mail FROM:<a@b>"));
  EXPECT_FALSE(MatchesClientLine("MAIL FROM:<*>", "MAIL from:<a@b>"));
  EXPECT_FALSE(MatchesClientLine("STARTTLS", "STARTTLS x"));
  EXPECT_FALSE(MatchesClientLine("STARTTLS", "QUIT"));
}

TEST(MatchesClientLine, TrailingWildcardArgumentIsOptional) {
  EXPECT_TRUE(MatchesClientLine("EHLO *", "EHLO"));
  EXPECT_TRUE(MatchesClientLine("EHLO *", "ehlo client.example.test"));
  EXPECT_FALSE(MatchesClientLine("EHLO *", "EHLOX"));
  EXPECT_FALSE(MatchesClientLine("EHLO *", "HELO x"));
}

TEST(MatchesClientLine, AStarMatchesAnyRunOfCharactersSpacesIncluded) {
  EXPECT_TRUE(MatchesClientLine("*", "From: <a@b>"));
  EXPECT_TRUE(MatchesClientLine("From*", "From: <a@b>"));
  EXPECT_TRUE(MatchesClientLine("from:*", "From: <a@b>"));
  EXPECT_TRUE(MatchesClientLine("MAIL*", "MAIL FROM:<a@b> SIZE=10"));
  EXPECT_FALSE(MatchesClientLine("From*", "To: <a@b>"));
}

TEST(MatchesClientLine, AlternativesAreSeparatedByABar) {
  EXPECT_TRUE(MatchesClientLine("EHLO * | HELO *", "HELO c"));
  EXPECT_TRUE(MatchesClientLine("EHLO * | HELO *", "ehlo c"));
  EXPECT_FALSE(MatchesClientLine("EHLO * | HELO *", "MAIL FROM:<a@b>"));
  // A bar without blanks around it is a character like any other.
  EXPECT_TRUE(MatchesClientLine("X a|b", "X a|b"));
  EXPECT_FALSE(MatchesClientLine("X a|b", "X a"));
}

TEST(ParseScenarioErrors, AnEmptyAlternativeIsAnError) {
  EXPECT_EQ(ErrorOf("Summary: x\nC: EHLO * | \nserve\n"),
            "t.smtp:2:13: empty alternative in a \"C:\" pattern (alternatives "
            "are separated by \" | \")");
}

TEST(ParseExpectation, ReadsBackEveryNameAndNothingElse) {
  for (Expectation e : {Expectation::kDeliver, Expectation::kRefuse,
                        Expectation::kDeliverOrRefuse}) {
    EXPECT_EQ(ParseExpectation(ExpectationName(e)), e);
  }
  EXPECT_EQ(ParseExpectation("Deliver"), std::nullopt);
  EXPECT_EQ(ParseExpectation(""), std::nullopt);
}

TEST(ScriptedPauses, AddsDelaysQuietWindowsAndDripGapsOverAllConnections) {
  auto r = ParseScenario(
      "Summary: s\n"
      "S: 220 ready\n"           // 11 bytes queued with its CRLF
      "write drip=4 gap=10ms\n"  // 3 gaps
      "C: EHLO *\n"
      "S: 250 ok\n"
      "write delay=1s\n"
      "C: STARTTLS\n"
      "send data=\"220 go\\r\\n\"\n"        // 8 bytes
      "write quiet=250ms drip=3 gap=1ms\n"  // 3 gaps
      "connection\n"
      "S: 220 again\n"
      "write delay=2s\n"
      "serve\n",
      "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(ScriptedPauses(*r),
            std::chrono::milliseconds(30 + 1000 + 250 + 3 + 2000));
}

TEST(ScriptedPauses, IsZeroForAScriptThatHoldsNothing) {
  auto r = ParseScenario(kMinimal, "t.smtp");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(ScriptedPauses(*r), std::chrono::milliseconds(0));
}

TEST(ParseScenario, ProtocolDefaultsToSmtpAndNamesOnlyAKnownProtocol) {
  auto plain = ParseScenario(kMinimal, "t.smtp");
  ASSERT_TRUE(plain.has_value());
  EXPECT_EQ(plain->protocol, &protocol::Smtp());
  auto smtp = ParseScenario("Summary: s\nProtocol: smtp\nS: 220 ready\nserve\n",
                            "t.smtp");
  ASSERT_TRUE(smtp.has_value()) << smtp.error().ToString();
  EXPECT_EQ(smtp->protocol->name(), "smtp");
  EXPECT_EQ(
      ErrorOf("Summary: x\nProtocol:  gopher\nS: 220\n"),
      "t.smtp:2:12: unknown protocol \"gopher\" (known: smtp, imap, pop3)");
}

TEST(ParseScenario, ImapScenariosWordTheGoalAsLoggingIn) {
  auto r = ParseScenario(
      "Summary: s\nProtocol: imap\nExpect: log-in-or-refuse\nserve\n",
      "t.imap");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->protocol, &protocol::Imap());
  EXPECT_EQ(r->expect, Expectation::kDeliverOrRefuse);
  EXPECT_EQ(ExpectationName(r->expect, *r->protocol), "log-in-or-refuse");
  EXPECT_EQ(ErrorOf("Summary: x\nProtocol: imap\nExpect: deliver\nserve\n"),
            "t.smtp:3:9: Expect must be log-in, refuse or log-in-or-refuse, "
            "not \"deliver\"");
}

TEST(ParseScenario, TheProtocolComesBeforeTheFieldsItGivesMeaningTo) {
  EXPECT_EQ(ErrorOf("Summary: x\nExpect: refuse\nProtocol: imap\nserve\n"),
            "t.smtp:3:1: \"Protocol:\" must come before \"Expect:\" (line 2)");
}

constexpr std::string_view kFamily =
    "Summary: one certificate behind every protocol's STARTTLS\n"
    "Protocol: smtp, imap, pop3\n"
    "Expect: refuse\n"
    "Certificate: expired\n"
    "\n"
    "serve\n";

TEST(ParseScenarios, AFamilyIsPlayedOncePerProtocolItListsNamedByProtocol) {
  auto r = ParseScenarios(kFamily, "certificates/expired.scenario");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->size(), 3u);
  std::vector<std::string> paths;
  for (const Scenario& s : *r) {
    paths.push_back(s.path);
    EXPECT_EQ(s.name, "expired");
    EXPECT_EQ(s.source, "certificates/expired.scenario");
    EXPECT_EQ(s.certificate, "expired");
    EXPECT_EQ(s.expect, Expectation::kRefuse);
    EXPECT_EQ(s.family.size(), 3u);
  }
  EXPECT_THAT(paths, ElementsAre("certificates/expired.smtp",
                                 "certificates/expired.imap",
                                 "certificates/expired.pop3"));
  EXPECT_EQ((*r)[1].protocol, &protocol::Imap());
  EXPECT_EQ((*r)[2].protocol, &protocol::Pop3());
}

TEST(ParseScenarios, AScenarioOfOneProtocolIsOneScenarioAndNoFamily) {
  auto r = ParseScenarios(kMinimal, "t.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_TRUE(r->front().family.empty());
  EXPECT_EQ(r->front().path, "t.smtp");
}

TEST(ParseScenarios, AFamilyWordsItsGoalForEveryProtocol) {
  auto r = ParseScenarios(
      "Summary: s\nProtocol: imap, pop3\nExpect: goal-or-refuse\nserve\n",
      "t.scenario");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->front().expect, Expectation::kDeliverOrRefuse);
  EXPECT_EQ(ErrorOf("Summary: x\nProtocol: smtp, imap\nExpect: deliver\n"
                    "serve\n"),
            "t.smtp:3:9: a scenario for several protocols expects goal, "
            "refuse or goal-or-refuse, not \"deliver\"");
  // A scenario of one protocol may use the shared words too.
  auto one = ParseScenario("Summary: s\nExpect: goal\nserve\n", "t.smtp");
  ASSERT_TRUE(one.has_value()) << one.error().ToString();
  EXPECT_EQ(one->expect, Expectation::kDeliver);
}

TEST(ParseScenarios, AFamilyCannotSayAnyProtocolsWords) {
  EXPECT_EQ(ErrorOf("Summary: x\nProtocol: smtp, pop3\n\nS: 220 ready\n"
                    "serve\n"),
            "t.smtp:4:1: a scenario for several protocols (Protocol:, line 2) "
            "cannot script protocol lines (\"S:\"); write one scenario per "
            "protocol instead");
  EXPECT_THAT(ErrorOf("Summary: x\nProtocol: smtp, pop3\nsend data=x\n"),
              HasSubstr("t.smtp:3:1: a scenario for several protocols"));
  EXPECT_EQ(ErrorOf("Summary: x\nProtocol: smtp, imap\nCapabilities: X\n"
                    "serve\n"),
            "t.smtp:3:1: a scenario for several protocols (Protocol:, line 2) "
            "cannot list capabilities: their words differ by protocol");
  EXPECT_EQ(ErrorOf("Summary: x\nProtocol: smtp, imap, smtp\nserve\n"),
            "t.smtp:2:11: protocol \"smtp\" is listed twice");
  EXPECT_EQ(ErrorOf("Summary: x\nProtocol: smtp,, imap\nserve\n"),
            "t.smtp:2:11: unknown protocol \"\" (known: smtp, imap, pop3)");
}

// A directory of its own under the test's temporary directory.
std::filesystem::path FreshDir(std::string_view name) {
  auto dir = std::filesystem::path(::testing::TempDir()) / name;
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir;
}

void WriteFile(const std::filesystem::path& path, std::string_view text) {
  std::ofstream(path, std::ios::binary) << text;
}

TEST(LoadScenarios, AMemberIsLoadedByItsOwnNameFromTheFamilyFile) {
  auto dir = FreshDir("family-member");
  WriteFile(dir / "expired.scenario", kFamily);
  auto r = LoadScenarios(dir / "expired.pop3");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  ASSERT_EQ(r->size(), 1u);
  EXPECT_EQ(r->front().protocol, &protocol::Pop3());
  EXPECT_EQ(r->front().path, (dir / "expired.pop3").string());
  EXPECT_EQ(r->front().source, (dir / "expired.scenario").string());
  auto one = LoadScenario(dir / "expired.imap");
  ASSERT_TRUE(one.has_value()) << one.error().ToString();
  EXPECT_EQ(one->protocol, &protocol::Imap());
  auto all = LoadScenarios(dir / "expired.scenario");
  ASSERT_TRUE(all.has_value()) << all.error().ToString();
  EXPECT_EQ(all->size(), 3u);
}

TEST(LoadScenarios, AFileOfTheMembersNameWinsOverTheFamily) {
  auto dir = FreshDir("family-shadowed");
  WriteFile(dir / "expired.scenario", kFamily);
  WriteFile(dir / "expired.smtp", kMinimal);
  auto r = LoadScenario(dir / "expired.smtp");
  ASSERT_TRUE(r.has_value()) << r.error().ToString();
  EXPECT_EQ(r->summary, "minimal");
  EXPECT_TRUE(r->family.empty());
}

TEST(LoadScenarios, AProtocolTheFamilyDoesNotListIsNoScenario) {
  auto dir = FreshDir("family-unlisted");
  WriteFile(dir / "x.scenario",
            "Summary: s\nProtocol: smtp, imap\nExpect: refuse\nserve\n");
  auto r = LoadScenarios(dir / "x.pop3");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().ToString(),
            (dir / "x.pop3").string() + ": no such file, and " +
                (dir / "x.scenario").string() + " is not a scenario for pop3");
  auto missing = LoadScenarios(dir / "y.pop3");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(missing.error().ToString(),
            (dir / "y.pop3").string() + ": cannot read the file");
}

TEST(LoadScenario, AFamilyFileIsNotOneScenarioAndTheErrorNamesItsMembers) {
  auto dir = FreshDir("family-whole");
  WriteFile(dir / "x.scenario",
            "Summary: s\nProtocol: smtp, imap\nExpect: refuse\nserve\n");
  auto r = LoadScenario(dir / "x.scenario");
  ASSERT_FALSE(r.has_value());
  EXPECT_EQ(r.error().ToString(),
            (dir / "x.scenario").string() +
                ": a scenario for several protocols; name one of its "
                "members: " +
                (dir / "x.smtp").string() + ", " + (dir / "x.imap").string());
}

}  // namespace
}  // namespace starttls::server
