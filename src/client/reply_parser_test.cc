#include "starttls/reply_parser.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace starttls::client {
namespace {

using ::testing::ElementsAre;

// Feeds `bytes` and returns the first reply, failing the test if there is
// none.
Reply ParseOne(std::string_view bytes) {
  ReplyParser parser;
  parser.Feed(bytes);
  auto reply = parser.Next();
  EXPECT_TRUE(reply) << reply.error().message;
  if (!reply || !*reply) {
    ADD_FAILURE() << "no complete reply in " << bytes;
    return {};
  }
  return **reply;
}

ErrorCode ParseError(std::string_view bytes) {
  ReplyParser parser;
  parser.Feed(bytes);
  auto reply = parser.Next();
  EXPECT_FALSE(reply) << "parsed " << bytes;
  return reply ? ErrorCode::kUsage : reply.error().code;
}

TEST(ReplyParser, ASingleLineReplyCarriesItsCodeAndText) {
  Reply reply = ParseOne("220 mail.example.test ESMTP\r\n");
  EXPECT_EQ(reply.code, 220);
  EXPECT_THAT(reply.lines, ElementsAre("mail.example.test ESMTP"));
}

TEST(ReplyParser, AMultiLineReplyEndsOnlyAtTheLineWithASpace) {
  ReplyParser parser;
  parser.Feed("250-mail.example.test\r\n250-PIPELINING\r\n");
  auto none = parser.Next();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  parser.Feed("250 STARTTLS\r\n");
  auto reply = parser.Next();
  ASSERT_TRUE(reply && *reply);
  EXPECT_EQ((*reply)->code, 250);
  EXPECT_THAT((*reply)->lines,
              ElementsAre("mail.example.test", "PIPELINING", "STARTTLS"));
}

TEST(ReplyParser, ABareCodeEndsAReply) {
  Reply reply = ParseOne("250-first\r\n250\r\n");
  EXPECT_THAT(reply.lines, ElementsAre("first", ""));
}

TEST(ReplyParser, AReplyIsCompleteOnlyAfterItsLineFeed) {
  ReplyParser parser;
  const std::string bytes = "220 ready\r\n";
  for (std::size_t i = 0; i + 1 < bytes.size(); ++i) {
    parser.Feed(bytes.substr(i, 1));
    auto reply = parser.Next();
    ASSERT_TRUE(reply);
    EXPECT_FALSE(*reply) << "complete after " << i + 1 << " bytes";
  }
  parser.Feed("\n");
  auto reply = parser.Next();
  ASSERT_TRUE(reply && *reply);
  EXPECT_EQ((*reply)->code, 220);
}

TEST(ReplyParser, RepliesArriveInOrderAndLeaveTheRestBuffered) {
  ReplyParser parser;
  parser.Feed("250 one\r\n251 two\r\n252 par");
  auto first = parser.Next();
  ASSERT_TRUE(first && *first);
  EXPECT_EQ((*first)->code, 250);
  EXPECT_EQ(parser.buffered(), "251 two\r\n252 par");
  auto second = parser.Next();
  ASSERT_TRUE(second && *second);
  EXPECT_EQ((*second)->code, 251);
  EXPECT_EQ(parser.buffered(), "252 par");
  auto third = parser.Next();
  ASSERT_TRUE(third);
  EXPECT_FALSE(*third);
}

TEST(ReplyParser, NothingIsBufferedAfterTheLastReplyIsTaken) {
  ReplyParser parser;
  parser.Feed("220 go ahead\r\n");
  ASSERT_TRUE(parser.Next());
  EXPECT_TRUE(parser.buffered().empty());
}

TEST(ReplyParser, BareLineFeedsAreAcceptedButRecorded) {
  ReplyParser parser;
  parser.Feed("250-a\r\n250 b\n");
  auto reply = parser.Next();
  ASSERT_TRUE(reply && *reply);
  EXPECT_THAT((*reply)->lines, ElementsAre("a", "b"));
  EXPECT_TRUE(parser.saw_bare_lf());
}

TEST(ReplyParser, CrlfLinesAreNotReportedAsBareLineFeeds) {
  ReplyParser parser;
  parser.Feed("250 ok\r\n");
  ASSERT_TRUE(parser.Next());
  EXPECT_FALSE(parser.saw_bare_lf());
}

TEST(ReplyParser, LinesOfOneReplyMustShareTheirCode) {
  EXPECT_EQ(ParseError("250-a\r\n251 b\r\n"), ErrorCode::kProtocol);
}

TEST(ReplyParser, ANonDigitCodeIsMalformed) {
  EXPECT_EQ(ParseError("22X ready\r\n"), ErrorCode::kProtocol);
}

TEST(ReplyParser, AShortLineIsMalformed) {
  EXPECT_EQ(ParseError("22\r\n"), ErrorCode::kProtocol);
  EXPECT_EQ(ParseError("\r\n"), ErrorCode::kProtocol);
}

TEST(ReplyParser, CodesOutsideTwoToFiveHundredsAreMalformed) {
  EXPECT_EQ(ParseError("199 hm\r\n"), ErrorCode::kProtocol);
  EXPECT_EQ(ParseError("600 hm\r\n"), ErrorCode::kProtocol);
  EXPECT_EQ(ParseError("260 hm\r\n"), ErrorCode::kProtocol);
}

TEST(ReplyParser, AnythingButSpaceOrHyphenAfterTheCodeIsMalformed) {
  EXPECT_EQ(ParseError("250+ok\r\n"), ErrorCode::kProtocol);
  EXPECT_EQ(ParseError("2500 ok\r\n"), ErrorCode::kProtocol);
}

TEST(ReplyParser, AnOverlongLineIsAnErrorEvenBeforeItEnds) {
  ReplyParser parser;
  parser.Feed("250 ");
  parser.Feed(std::string(ReplyParser::kMaxLineLength, 'a'));
  auto reply = parser.Next();
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, ErrorCode::kProtocol);
}

TEST(ReplyParser, ALineAtTheLengthLimitIsAccepted) {
  const std::string line =
      "250 " + std::string(ReplyParser::kMaxLineLength - 4, 'a');
  Reply reply = ParseOne(line + "\r\n");
  EXPECT_EQ(reply.code, 250);
}

TEST(ReplyParser, AMultiLineReplyThatNeverEndsIsAnErrorAtTheBound) {
  ReplyParser parser;
  const std::string line = "250-PIPELINING\r\n";
  std::size_t fed = 0;
  tl::expected<std::optional<Reply>, Error> reply = std::nullopt;
  while (fed <= ReplyParser::kMaxReply + line.size()) {
    parser.Feed(line);
    fed += line.size();
    reply = parser.Next();
    if (!reply) break;
    EXPECT_FALSE(*reply) << "no reply is complete";
  }
  ASSERT_FALSE(reply) << "still waiting after " << fed << " bytes";
  EXPECT_EQ(reply.error().code, ErrorCode::kProtocol);
  EXPECT_THAT(reply.error().message, ::testing::HasSubstr("multi-line reply"));
  EXPECT_GT(fed, ReplyParser::kMaxReply);
}

TEST(ReplyParser, ALongMultiLineReplyUnderTheBoundIsAccepted) {
  std::string bytes;
  while (bytes.size() < ReplyParser::kMaxReply - 64) bytes += "250-X\r\n";
  Reply reply = ParseOne(bytes + "250 end\r\n");
  EXPECT_EQ(reply.lines.back(), "end");
}

TEST(ReplyParser, ErrorsAreSticky) {
  ReplyParser parser;
  parser.Feed("bad\r\n");
  ASSERT_FALSE(parser.Next());
  parser.Feed("250 ok\r\n");
  EXPECT_FALSE(parser.Next());
}

TEST(ReplyParser, ErrorMessagesQuoteTheOffendingLineSafely) {
  ReplyParser parser;
  parser.Feed("2\x01X\r\n");
  auto reply = parser.Next();
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().message, R"(malformed reply code in "2\x01X")");
}

TEST(Summarize, ShowsTheCodeAndFirstLine) {
  EXPECT_EQ(Summarize(Reply{554, {"5.7.1 no", "more"}}), "554 5.7.1 no");
  EXPECT_EQ(Summarize(Reply{250, {""}}), "250");
}

}  // namespace
}  // namespace starttls::client
