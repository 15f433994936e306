#include "starttls/imap_response_reader.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace starttls::client {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ImapResponse One(ImapResponseReader& reader) {
  auto next = reader.Next();
  EXPECT_TRUE(next) << next.error().message;
  EXPECT_TRUE(next && *next);
  return next && *next ? **next : ImapResponse{};
}

TEST(ImapResponseReader, ATaggedResponseNeedsItsWholeLine) {
  ImapResponseReader reader;
  reader.Feed("a1 OK Begin");
  auto none = reader.Next();
  ASSERT_TRUE(none);
  EXPECT_FALSE(*none);
  reader.Feed(" TLS\r");
  EXPECT_FALSE(*reader.Next());
  reader.Feed("\n");
  ImapResponse r = One(reader);
  EXPECT_EQ(r.kind, ImapResponse::Kind::kTagged);
  EXPECT_EQ(r.tag, "a1");
  EXPECT_EQ(r.status, "OK");
  EXPECT_EQ(r.text, "a1 OK Begin TLS");
  EXPECT_TRUE(reader.buffered().empty());
}

TEST(ImapResponseReader, BytesBehindAResponseStayBuffered) {
  ImapResponseReader reader;
  reader.Feed("a1 OK go\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n");
  EXPECT_EQ(One(reader).status, "OK");
  EXPECT_EQ(reader.buffered(), "* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n");
}

TEST(ImapResponseReader, UntaggedResponsesNameTheirWordAndCapabilities) {
  ImapResponseReader reader;
  reader.Feed(
      "* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n"
      "* PREAUTH logged in\r\n"
      "* 3 EXISTS\r\n"
      "+ go on\r\n");
  ImapResponse greeting = One(reader);
  EXPECT_EQ(greeting.kind, ImapResponse::Kind::kUntagged);
  EXPECT_EQ(greeting.status, "OK");
  ASSERT_TRUE(greeting.capabilities);
  EXPECT_THAT(*greeting.capabilities, ElementsAre("IMAP4rev1", "STARTTLS"));
  EXPECT_EQ(One(reader).status, "PREAUTH");
  EXPECT_EQ(One(reader).status, "EXISTS");
  EXPECT_EQ(One(reader).kind, ImapResponse::Kind::kContinuation);
}

TEST(ImapResponseReader, ALiteralIsReadWholeWithTheLineAfterIt) {
  ImapResponseReader reader;
  reader.Feed("* 1 FETCH (BODY[] {5}\r\nab\r\n");
  EXPECT_FALSE(*reader.Next());  // the literal is not complete
  // The five bytes are "ab\r\nc"; ")\r\n" ends the FETCH response.
  reader.Feed("c)\r\na2 OK done\r\n");
  ImapResponse fetch = One(reader);
  EXPECT_EQ(fetch.status, "FETCH");
  EXPECT_EQ(fetch.text, "* 1 FETCH (BODY[] {5}\r\nab\r\nc)");
  EXPECT_EQ(One(reader).tag, "a2");
}

TEST(ImapResponseReader, MalformedStreamsAreProtocolErrorsThatStick) {
  ImapResponseReader bare_lf;
  bare_lf.Feed("* OK ready\n");
  auto error = bare_lf.Next();
  ASSERT_FALSE(error);
  EXPECT_EQ(error.error().code, ErrorCode::kProtocol);
  EXPECT_THAT(error.error().message, HasSubstr("CRLF"));
  bare_lf.Feed("* OK again\r\n");
  EXPECT_FALSE(bare_lf.Next());

  ImapResponseReader no_status;
  no_status.Feed("lonely\r\n");
  EXPECT_FALSE(no_status.Next());

  ImapResponseReader long_line;
  long_line.Feed(std::string(ImapResponseReader::kMaxLineLength + 2, 'x'));
  EXPECT_FALSE(long_line.Next());

  ImapResponseReader huge_literal;
  huge_literal.Feed("* 1 FETCH (BODY[] {99999999}\r\n");
  EXPECT_FALSE(huge_literal.Next());
}

}  // namespace
}  // namespace starttls::client
