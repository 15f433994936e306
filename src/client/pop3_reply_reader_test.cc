#include "starttls/pop3_reply_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace starttls::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using Kind = Pop3Reply::Kind;

TEST(Pop3ReplyReader, AStatusLineIsAReplyOnceItsCrlfHasCome) {
  Pop3ReplyReader r;
  r.Feed("+OK re");
  EXPECT_EQ(*r.Next(), std::nullopt);
  r.Feed("ady\r");
  EXPECT_EQ(*r.Next(), std::nullopt);
  r.Feed("\n");
  auto reply = r.Next();
  ASSERT_TRUE(reply && *reply);
  EXPECT_EQ((*reply)->kind, Kind::kOk);
  EXPECT_EQ((*reply)->status_line, "+OK ready");
  EXPECT_TRUE(r.buffered().empty());
}

TEST(Pop3ReplyReader, ErrAndChallengesAreToldApart) {
  Pop3ReplyReader r;
  r.Feed("-ERR no\r\n+ \r\n+ VXNlcm5hbWU6\r\n");
  EXPECT_EQ((*r.Next())->kind, Kind::kErr);
  EXPECT_EQ((*r.Next())->kind, Kind::kChallenge);
  EXPECT_EQ((*r.Next())->status_line, "+ VXNlcm5hbWU6");
}

TEST(Pop3ReplyReader, AMultiLineReplyEndsAtALoneDotWithStuffingUndone) {
  Pop3ReplyReader r;
  r.ExpectMultiLine(true);
  r.Feed("+OK list\r\nSTLS\r\n..leading dot\r\n");
  EXPECT_EQ(*r.Next(), std::nullopt);  // not ended yet
  r.Feed(".\r\n+OK next\r\n");
  auto reply = r.Next();
  ASSERT_TRUE(reply && *reply);
  EXPECT_THAT((*reply)->lines, ElementsAre("STLS", ".leading dot"));
  // What follows is not read into it.
  EXPECT_EQ(r.buffered(), "+OK next\r\n");
}

TEST(Pop3ReplyReader, AnErrToAMultiLineCommandIsOneLine) {
  Pop3ReplyReader r;
  r.ExpectMultiLine(true);
  r.Feed("-ERR no such message\r\n");
  auto reply = r.Next();
  ASSERT_TRUE(reply && *reply);
  EXPECT_EQ((*reply)->kind, Kind::kErr);
  EXPECT_TRUE((*reply)->lines.empty());
}

TEST(Pop3ReplyReader, ASingleLineReplyLeavesWhatFollowsBuffered) {
  Pop3ReplyReader r;
  r.Feed("+OK Begin TLS\r\n+OK\r\nSASL PLAIN\r\n.\r\n");
  EXPECT_EQ((*r.Next())->status_line, "+OK Begin TLS");
  EXPECT_EQ(r.buffered(), "+OK\r\nSASL PLAIN\r\n.\r\n");
}

TEST(Pop3ReplyReader, AnythingButAStatusOrChallengeIsAProtocolErrorThatSticks) {
  Pop3ReplyReader r;
  r.Feed("+Okay, do your thing\r\n");
  auto reply = r.Next();
  ASSERT_FALSE(reply);
  EXPECT_EQ(reply.error().code, ErrorCode::kProtocol);
  EXPECT_THAT(reply.error().message, HasSubstr("not a POP3 reply"));
  r.Feed("+OK fine\r\n");
  EXPECT_FALSE(r.Next());
}

TEST(Pop3ReplyReader, ALineWithoutCrlfIsAProtocolError) {
  Pop3ReplyReader r;
  r.Feed("+OK bare\n");
  EXPECT_FALSE(r.Next());
}

// Found by fuzz/pop3_target.cc: a CR inside a line is no line end, and a
// reply must not carry one to whoever prints it.
TEST(Pop3ReplyReader, ABareCrInsideALineIsAProtocolError) {
  Pop3ReplyReader r;
  r.Feed("+OK a\rb\r\n");
  auto reply = r.Next();
  ASSERT_FALSE(reply);
  EXPECT_THAT(reply.error().message, HasSubstr("bare CR"));
}

TEST(Pop3ReplyReader, AnEndlessLineIsBounded) {
  Pop3ReplyReader r;
  r.Feed("+OK " + std::string(Pop3ReplyReader::kMaxLineLength, 'x'));
  auto reply = r.Next();
  ASSERT_FALSE(reply);
  EXPECT_THAT(reply.error().message, HasSubstr("longer than"));
}

TEST(Pop3ReplyReader, AnEndlessMultiLineReplyIsBounded) {
  Pop3ReplyReader r;
  r.ExpectMultiLine(true);
  r.Feed("+OK\r\n");
  std::string line(1000, 'y');
  line += "\r\n";
  for (std::size_t i = 0; i <= Pop3ReplyReader::kMaxReply / line.size(); ++i) {
    r.Feed(line);
  }
  auto reply = r.Next();
  ASSERT_FALSE(reply);
  EXPECT_THAT(reply.error().message, HasSubstr("multi-line reply longer"));
}

}  // namespace
}  // namespace starttls::client
