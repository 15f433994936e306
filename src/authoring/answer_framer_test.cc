#include "authoring/answer_framer.h"

#include <gtest/gtest.h>

namespace starttls::server {
namespace {

using Place = AnswerFramer::Place;

TEST(AnswerFramer, APop3AnswerToCapaRunsFromItsOkToTheDotWhateverItsLinesSay) {
  AnswerFramer f(protocol::Pop3());
  EXPECT_EQ(f.Server("+OK ready"), Place::kOwn);  // the greeting
  f.Command("CAPA");
  EXPECT_EQ(f.Server("+OK capabilities follow"), Place::kOpened);
  EXPECT_TRUE(f.open());
  EXPECT_EQ(f.end(), ".");
  EXPECT_EQ(f.Server("STLS"), Place::kInside);
  EXPECT_EQ(f.Server("+OK looks like a status"), Place::kInside);
  EXPECT_EQ(f.Server("-ERR so does this"), Place::kInside);
  EXPECT_EQ(f.Server("."), Place::kEnd);
  EXPECT_FALSE(f.open());
  f.Command("STLS");
  EXPECT_EQ(f.Server("+OK Begin TLS"), Place::kOwn);
}

TEST(AnswerFramer, AnswersGoToTheCommandsInTheOrderTheyWereSent) {
  AnswerFramer f(protocol::Pop3());
  f.Command("STAT");
  f.Command("RETR 1");  // pipelined
  EXPECT_EQ(f.Server("+OK 2 320"), Place::kOwn);
  EXPECT_EQ(f.Server("+OK 120 octets"), Place::kOpened);
}

TEST(AnswerFramer, ARefusalOpensNothing) {
  AnswerFramer f(protocol::Pop3());
  f.Command("CAPA");
  EXPECT_EQ(f.Server("-ERR no"), Place::kOwn);
  f.Command("NOOP");
  EXPECT_EQ(f.Server("+OK"), Place::kOwn);
}

TEST(AnswerFramer, ResetForgetsCommandsAndAnOpenAnswer) {
  AnswerFramer f(protocol::Pop3());
  f.Command("CAPA");
  EXPECT_EQ(f.Server("+OK"), Place::kOpened);
  f.Reset();
  EXPECT_FALSE(f.open());
  EXPECT_EQ(f.Server("+OK"), Place::kOwn);  // no command waits for it
}

TEST(AnswerFramer, SmtpAndImapLinesAlwaysSayThemselvesWhereARepliesEnd) {
  AnswerFramer smtp(protocol::Smtp());
  smtp.Command("EHLO x");
  EXPECT_EQ(smtp.Server("250-mail.example.test"), Place::kOwn);
  EXPECT_EQ(smtp.Server("250 STARTTLS"), Place::kOwn);
  AnswerFramer imap(protocol::Imap());
  imap.Command("a1 CAPABILITY");
  EXPECT_EQ(imap.Server("* CAPABILITY IMAP4rev1"), Place::kOwn);
  EXPECT_EQ(imap.Server("a1 OK done"), Place::kOwn);
}

}  // namespace
}  // namespace starttls::server
