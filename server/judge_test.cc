#include "server/judge.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace starttls::server {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

Scenario Expecting(Expectation e) {
  Scenario s;
  s.expect = e;
  return s;
}

SessionRecord Delivered() {
  SessionRecord r;
  r.messages.push_back(
      {.mail_from = "a@b", .rcpt_to = {"c@d"}, .data = "x\r\n"});
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
  EXPECT_THAT(v.reasons,
              ElementsAre("expected the client to deliver, observed refused"));
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

TEST(Judge, ScriptMismatchFailsEvenWithTheRightOutcome) {
  SessionRecord r;
  r.mismatch =
      Mismatch{.line = 7, .expected = "STARTTLS", .actual = "MAIL FROM:<a@b>"};
  Verdict v = Judge(Expecting(Expectation::kRefuse), r);
  EXPECT_FALSE(v.pass);
  EXPECT_THAT(v.reasons,
              ElementsAre("the client sent \"MAIL FROM:<a@b>\" where "
                          "scenario line 7 expected \"STARTTLS\""));
}

}  // namespace
}  // namespace starttls::server
