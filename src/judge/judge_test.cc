#include "judge/judge.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace starttls::server {
namespace {

using ::testing::AllOf;
using ::testing::ElementsAre;
using ::testing::Field;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// A reason about the outcome, whose sentence is `text`.
::testing::Matcher<const Reason&> OutcomeReason(const std::string& text) {
  return AllOf(Field(&Reason::kind, Reason::Kind::kOutcome),
               Field(&Reason::oracle, IsEmpty()), Field(&Reason::text, text));
}

// ... and whose fields say what was expected and observed.
::testing::Matcher<const Reason&> OutcomeReason(const std::string& expected,
                                                const std::string& observed) {
  return OutcomeReason("expected the client to " + expected + ", observed " +
                       observed);
}

// A reason naming the oracle `id`, in its field and first in its sentence.
::testing::Matcher<const Reason&> OracleReason(const std::string& id) {
  return AllOf(Field(&Reason::kind, Reason::Kind::kOracle),
               Field(&Reason::oracle, id),
               Field(&Reason::text, StartsWith(id + ": ")));
}

Scenario Expecting(Expectation e) {
  Scenario s;
  s.expect = e;
  return s;
}

SessionRecord Delivered() {
  SessionRecord r;
  r.messages.push_back(
      {.mail_from = "a@b", .rcpt_to = {"c@d"}, .data = "x\r\n"});
  r.reached_goal = true;
  return r;
}

TEST(Judge, DeliveryPassesWhereDeliveryIsExpected) {
  Verdict v = Judge(Expecting(Expectation::kDeliver), Delivered());
  EXPECT_TRUE(v.pass);
  EXPECT_EQ(v.observed, Outcome::kDelivered);
  EXPECT_THAT(v.reasons, IsEmpty());
}

TEST(Judge, NoDeliveryFailsWhereDeliveryIsExpected) {
  Verdict v = Judge(Expecting(Expectation::kDeliver), SessionRecord{});
  EXPECT_FALSE(v.pass);
  EXPECT_EQ(v.observed, Outcome::kRefused);
  EXPECT_THAT(v.reasons, ElementsAre(OutcomeReason("deliver", "refused")));
  EXPECT_EQ(v.reasons[0].expected, "deliver");
  EXPECT_EQ(v.reasons[0].observed, "refused");
}

TEST(Judge, RefusalPassesWhereRefusalIsExpected) {
  EXPECT_TRUE(Judge(Expecting(Expectation::kRefuse), SessionRecord{}).pass);
}

TEST(Judge, DeliveryFailsWhereRefusalIsExpected) {
  EXPECT_FALSE(Judge(Expecting(Expectation::kRefuse), Delivered()).pass);
}

TEST(Judge, AClientThatHangsHasNotRefused) {
  SessionRecord r;
  r.timed_out = true;
  Verdict v = Judge(Expecting(Expectation::kRefuse), r);
  EXPECT_FALSE(v.pass);
  EXPECT_EQ(v.observed, Outcome::kHung);
}

TEST(Judge, OffScriptWithoutAFindingIsNeitherPassNorFail) {
  SessionRecord r;
  r.mismatch = Mismatch{.line = 7, .expected = "STARTTLS", .actual = "VRFY x"};
  // Delivered where refusal is expected: off script the outcome is the
  // responder's doing, not the scenario's, and is not judged.
  r.messages.push_back({});
  r.reached_goal = true;
  Verdict v = Judge(Expecting(Expectation::kRefuse), r);
  EXPECT_FALSE(v.pass);
  EXPECT_TRUE(v.off_script);
  EXPECT_THAT(v.reasons, IsEmpty());
  EXPECT_EQ(v.off_script_reason,
            "off script: the client sent \"VRFY x\" where scenario line 7 "
            "expected \"STARTTLS\"; the responder served the rest, so the "
            "outcome (delivered) is not judged");
}

TEST(Judge, OnScriptTheOutcomeIsJudged) {
  SessionRecord r;
  r.messages.push_back({});
  r.reached_goal = true;
  Verdict v = Judge(Expecting(Expectation::kRefuse), r);
  EXPECT_FALSE(v.pass);
  EXPECT_FALSE(v.off_script);
  EXPECT_THAT(v.reasons,
              ElementsAre(OutcomeReason(
                  "expected the client to refuse, observed delivered")));
}

TEST(Judge, DeliveryPassesWhereDeliveryOrRefusalIsExpected) {
  Verdict v = Judge(Expecting(Expectation::kDeliverOrRefuse), Delivered());
  EXPECT_TRUE(v.pass);
  EXPECT_EQ(v.observed, Outcome::kDelivered);
}

TEST(Judge, RefusalPassesWhereDeliveryOrRefusalIsExpected) {
  Verdict v = Judge(Expecting(Expectation::kDeliverOrRefuse), SessionRecord{});
  EXPECT_TRUE(v.pass);
  EXPECT_EQ(v.observed, Outcome::kRefused);
}

TEST(Judge, AHangFailsWhereDeliveryOrRefusalIsExpected) {
  SessionRecord r;
  r.timed_out = true;
  Verdict v = Judge(Expecting(Expectation::kDeliverOrRefuse), r);
  EXPECT_FALSE(v.pass);
  EXPECT_EQ(v.observed, Outcome::kHung);
  EXPECT_THAT(v.reasons,
              ElementsAre(OutcomeReason("expected the client to "
                                        "deliver-or-refuse, observed hung"),
                          OracleReason("hang")));
  EXPECT_EQ(ReasonKindName(v.reasons[0].kind), "outcome");
  EXPECT_EQ(ReasonKindName(v.reasons[1].kind), "oracle");
}

TEST(Judge, AnInterruptedSessionFailsWhereDeliveryOrRefusalIsExpected) {
  SessionRecord r;
  r.interrupted = true;
  Verdict v = Judge(Expecting(Expectation::kDeliverOrRefuse), r);
  EXPECT_FALSE(v.pass);
  EXPECT_EQ(v.observed, Outcome::kInterrupted);
}

TEST(Judge, AnOracleFindingFailsADeliveryOrRefusal) {
  // Refused, as allowed, but after sending MAIL in plain text.
  SessionRecord r;
  r.events.Bytes(Peer::kServer, Layer::kPlain, "220 mx\r\n");
  r.events.Bytes(Peer::kClient, Layer::kPlain, "MAIL FROM:<a@b>\r\n");
  Verdict v = Judge(Expecting(Expectation::kDeliverOrRefuse), r);
  EXPECT_FALSE(v.pass);
  EXPECT_EQ(v.observed, Outcome::kRefused);
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_EQ(v.findings[0].id, "plaintext-after-refusal");
  EXPECT_THAT(v.reasons, ElementsAre(OracleReason("plaintext-after-refusal")));
}

TEST(Judge, ABadCertificateIsPassedToTheOracles) {
  SessionRecord r = Delivered();
  r.events.Bytes(Peer::kClient, Layer::kTlsData, "EHLO c\r\n");
  EXPECT_TRUE(Judge(Expecting(Expectation::kDeliverOrRefuse), r).pass);
  Verdict v = Judge(Expecting(Expectation::kDeliverOrRefuse), r,
                    /*bad_certificate=*/true);
  EXPECT_FALSE(v.pass);
  ASSERT_EQ(v.findings.size(), 1u);
  EXPECT_EQ(v.findings[0].id, "proceeded-after-bad-certificate");
}

}  // namespace
}  // namespace starttls::server
