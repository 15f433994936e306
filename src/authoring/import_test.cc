#include "authoring/import.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

namespace starttls::server {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// The scenario text without its comment lines.
std::string WithoutComments(std::string_view text) {
  std::string out;
  std::istringstream in{std::string(text)};
  for (std::string line; std::getline(in, line);) {
    if (!line.starts_with("#")) out += line + "\n";
  }
  return out;
}

std::string Import(std::string_view text,
                   ImportFormat format = ImportFormat::kAuto) {
  auto r = ImportTranscript(text, {.format = format, .summary = "t"});
  if (!r) {
    return "error at " + std::to_string(r.error().line) + ": " +
           r.error().message;
  }
  return *r;
}

// "line: message" of a refusal, or "imported".
std::string Refusal(std::string_view text,
                    ImportFormat format = ImportFormat::kAuto) {
  auto r = ImportTranscript(text, {.format = format, .summary = "t"});
  if (r) return "imported";
  return std::to_string(r.error().line) + ": " + r.error().message;
}

void ExpectParses(const std::string& scenario) {
  auto parsed = ParseScenario(scenario, "imported.smtp");
  EXPECT_TRUE(parsed.has_value()) << parsed.error().ToString() << "\n"
                                  << scenario;
}

// --- the article -------------------------------------------------------------

TEST(ImportTelnet, TheArticlesSessionImportsToTheCommittedHotmailScenario) {
  std::string article = ReadFile(
      STARTTLS_SOURCE_DIR "/src/authoring/testdata/hotmail-2009-article.txt");
  std::string committed =
      ReadFile(STARTTLS_SOURCE_DIR "/scenarios/control/hotmail-2009.smtp");
  ASSERT_FALSE(article.empty());
  // As published: a blank line of one no-break space, the prompt, blank
  // lines, and "ready at" followed by a no-break space and a space.
  ASSERT_THAT(article, HasSubstr("\xC2\xA0\n\n>telnet smtp.live.com 587\n\n"));
  ASSERT_THAT(article, HasSubstr("ready at\xC2\xA0 Mon"));
  auto imported = ImportTranscript(
      article, {.summary = "smtp.live.com:587 in 2009: EHLO, STARTTLS, 220, "
                           "deferred TLS handshake, delivery",
                .host = "mail.example.test"});
  ASSERT_TRUE(imported.has_value())
      << imported.error().line << ": " << imported.error().message;
  EXPECT_EQ(WithoutComments(*imported), WithoutComments(committed));
}

TEST(ImportTelnet, TheHostIsTheOneThePastedCommandLineNamesUnlessGiven) {
  std::string article = ReadFile(
      STARTTLS_SOURCE_DIR "/src/authoring/testdata/hotmail-2009-article.txt");
  auto imported = ImportTranscript(article, {.summary = "s"});
  ASSERT_TRUE(imported.has_value()) << imported.error().message;
  EXPECT_THAT(*imported, HasSubstr("\nHost: smtp.live.com\n"));
  EXPECT_THAT(*imported, HasSubstr("# Host: the host the pasted command line "
                                   "connected to.\n"));
  auto given = ImportTranscript(article, {.summary = "s", .host = "mx.test"});
  ASSERT_TRUE(given.has_value());
  EXPECT_THAT(*given, HasSubstr("\nHost: mx.test\n"));
  EXPECT_THAT(*given, Not(HasSubstr("pasted command line")));
}

class ConsolePrompt : public ::testing::TestWithParam<const char*> {};

TEST_P(ConsolePrompt, AConsoleCommandLineBeforeTheGreetingNamesTheHost) {
  std::string paste = std::string(GetParam()) +
                      "\n\n220 mx.example.test ESMTP\nQUIT\n221 bye\n";
  auto t = ParseTranscript(paste, ImportFormat::kAuto);
  ASSERT_TRUE(t.has_value()) << t.error().line << ": " << t.error().message;
  EXPECT_EQ(t->host, "mx.example.test");
  EXPECT_EQ(t->items.front().bytes, "220 mx.example.test ESMTP\r\n");
}

INSTANTIATE_TEST_SUITE_P(
    Forms, ConsolePrompt,
    ::testing::Values(
        ">telnet mx.example.test 587", "C:\\>telnet mx.example.test 25",
        "C:\\Users\\me>telnet mx.example.test 25",
        "$ telnet mx.example.test 25", "% nc -C mx.example.test 25",
        "user@box:~$ ncat -v mx.example.test 25", "telnet mx.example.test 25"));

TEST(ImportTelnet, ACommandLineAfterTheGreetingIsNoPrompt) {
  auto t = ParseTranscript("220 ready\n>telnet other.test 25\n",
                           ImportFormat::kTelnet);
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().line, 2);
}

TEST(ImportTelnet, ANoBreakSpaceIsTheSpaceItStandsFor) {
  auto t = ParseTranscript("\xC2\xA0\n220 a\xC2\xA0 b\nQUIT\n221 bye\n",
                           ImportFormat::kTelnet);
  ASSERT_TRUE(t.has_value()) << t.error().message;
  EXPECT_EQ(t->items.front().bytes, "220 a  b\r\n");
}

TEST(ImportTelnet, TelnetChatterIsSkippedAndAForeignHostCloseIsAClose) {
  std::string out = Import(
      "$ telnet mail.example.test 25\n"
      "Trying 192.0.2.1...\n"
      "Connected to mail.example.test.\n"
      "Escape character is '^]'.\n"
      "220 mail.example.test ESMTP\n"
      "QUIT\n"
      "221 2.0.0 Bye\n"
      "Connection closed by foreign host.\n");
  EXPECT_EQ(WithoutComments(out),
            "Summary: t\nHost: mail.example.test\nExpect: refuse\n\n"
            "S: 220 mail.example.test ESMTP\nC: QUIT\nS: 221 2.0.0 Bye\n"
            "close\n");
  ExpectParses(out);
}

TEST(ImportTelnet, MessageLinesThatLookLikeRepliesBelongToTheClient) {
  std::string out = Import(
      "220 ready\r\nEHLO a\r\n250 ok\r\nMAIL FROM:<a@b>\r\n250 ok\r\n"
      "RCPT TO:<c@d>\r\n250 ok\r\nDATA\r\n354 go\r\nSubject: x\r\n\r\n"
      "250 apples\r\n.\r\n250 queued\r\n");
  EXPECT_THAT(out, HasSubstr("C: Subject: x\nC: *\nC: 250 apples\nC: .\n"
                             "S: 250 queued\n"));
  ExpectParses(out);
}

TEST(ImportTelnet, ALineThatIsNeitherReplyNorCommandIsRefusedWithItsLine) {
  EXPECT_EQ(Refusal("220 ready\nEHLO a\n250 ok\nthanks, server\n"),
            "4: neither a server reply (three digits, then a space or '-') "
            "nor an SMTP command (a verb of 4 to 8 letters)");
}

TEST(ImportTelnet, AClientLineInsideAMultiLineReplyIsRefused) {
  EXPECT_THAT(Refusal("220 ready\nEHLO a\n250-first\nSTARTTLS\n250 last\n"),
              ::testing::StartsWith("4: a client line inside the multi-line "
                                    "reply begun on line 3"));
}

TEST(ImportTelnet, ACodeChangeInsideAMultiLineReplyIsRefused) {
  EXPECT_EQ(Refusal("220 ready\nEHLO a\n250-first\n220 last\n"),
            "4: reply code 220 inside the multi-line 250 reply begun on line "
            "3");
}

TEST(ImportTelnet, AnUnfinishedMultiLineReplyIsRefusedAtItsFirstLine) {
  EXPECT_THAT(Refusal("220 ready\nEHLO a\n250-first\n250-second\n"),
              ::testing::StartsWith("3: the multi-line 250 reply begun here "
                                    "never ends"));
}

TEST(ImportTelnet, TextAfterThe220ToStarttlsIsRefused) {
  EXPECT_THAT(Refusal("220 ready\nEHLO a\n250 STARTTLS\nSTARTTLS\n"
                      "220 go ahead\nEHLO a\n"),
              ::testing::StartsWith("6: telnet cannot show what follows the "
                                    "220 reply to STARTTLS on line 5"));
}

TEST(ImportTelnet, ASessionThatStartsWithAClientLineIsRefused) {
  EXPECT_THAT(Refusal("EHLO a\n250 ok\n"),
              ::testing::StartsWith("1: the session must start with the "
                                    "server's greeting"));
}

TEST(ImportTelnet, TwoRepliesWithoutATypedLineBetweenAreRefused) {
  EXPECT_THAT(Refusal("220 ready\nEHLO a\n250 ok\n250 again\n"),
              ::testing::StartsWith("4: a second reply with no client line "
                                    "since the reply that ended on line 3"));
}

TEST(ImportTelnet, DigitsWithoutASeparatorAreRefused) {
  EXPECT_THAT(Refusal("220 ready\nEHLO a\n250ok\n"),
              ::testing::StartsWith("3: starts with three digits but is not a "
                                    "reply line"));
}

TEST(ImportTelnet, InputWithoutAnyReplyIsRefused) {
  EXPECT_THAT(Refusal("\n\n"), HasSubstr("no server reply found"));
}

// --- S:/C:
// ---------------------------------------------------------------------

TEST(ImportScript, ATranscriptBecomesStepsWithTlsAfterThe220ToStarttls) {
  std::string out = Import(
      "S: 220 mail.example.test ESMTP\n"
      "C: EHLO client.example.test\n"
      "S: 250-mail.example.test\n"
      "S: 250 STARTTLS\n"
      "C: STARTTLS\n"
      "S: 220 2.0.0 go ahead\n"
      "C: EHLO client.example.test\n"
      "S: 250 mail.example.test\n"
      "C: QUIT\n"
      "S: 221 bye\n");
  EXPECT_EQ(WithoutComments(out),
            "Summary: t\nHost: mail.example.test\nExpect: deliver\n\n"
            "S: 220 mail.example.test ESMTP\nC: EHLO *\n"
            "S: 250-mail.example.test\nS: 250 STARTTLS\nC: STARTTLS\n"
            "S: 220 2.0.0 go ahead\ntls\nC: EHLO *\n"
            "S: 250 mail.example.test\nC: QUIT\nS: 221 bye\n");
  ExpectParses(out);
}

TEST(ImportScript, TheReadmesShortenedSessionIsRefusedAtItsElision) {
  // README.md shows the article's session with an elided EHLO reply.
  EXPECT_EQ(Refusal("S: 220 BLU0-SMTP8.blu0.hotmail.com Microsoft ESMTP\n"
                    "C: EHLO\n"
                    "S: 250-BLU0-SMTP8.blu0.hotmail.com Hello [131.107.0.75]\n"
                    "S: 250-TURN\n"
                    "   ... (SIZE, ETRN, PIPELINING, DSN, ENHANCEDSTATUSCODES\n"
                    "S: 250-STARTTLS\n"),
            "5: an indented line is an annotation or an elision, not "
            "something either side sent: write out every line with S: or C:");
}

TEST(ImportScript, ALineWithoutAMarkerIsRefused) {
  EXPECT_EQ(Refusal("S: 220 ready\nC: EHLO a\n250 ok\n", ImportFormat::kScript),
            "3: neither an S: nor a C: line");
}

TEST(ImportScript, AServerLineInsideAMessageIsRefused) {
  EXPECT_THAT(Refusal("S: 220 ready\nC: DATA\nS: 354 go\nC: hi\nS: 250 ok\n"),
              ::testing::StartsWith("5: a server line inside the message "
                                    "begun on line 4"));
}

// --- swaks
// ---------------------------------------------------------------------

constexpr std::string_view kSwaks =
    "=== Trying 127.0.0.1:2525...\n"
    "=== Connected to 127.0.0.1.\n"
    "<-  220 mail.example.test ESMTP\n"
    " -> EHLO client.example.test\n"
    "<-  250-mail.example.test\n"
    "<-  250-AUTH PLAIN LOGIN\n"
    "<-  250 STARTTLS\n"
    " -> STARTTLS\n"
    "<-  220 2.0.0 Ready to start TLS\n"
    "=== TLS started with cipher TLSv1.3:TLS_AES_256_GCM_SHA384:256\n"
    "=== TLS no local certificate set\n"
    "=== TLS peer DN=\"/CN=mail.example.test\"\n"
    " ~> EHLO client.example.test\n"
    "<~  250-mail.example.test\n"
    "<~  250 AUTH PLAIN LOGIN\n"
    " ~> AUTH PLAIN AHVzZXIAaHVudGVyMg==\n"
    "<~  235 2.7.0 Authentication successful\n"
    " ~> MAIL FROM:<a@example.test> SIZE=321\n"
    "<~  250 OK\n"
    " ~> RCPT TO:<b@example.test>\n"
    "<~  250 OK\n"
    " ~> DATA\n"
    "<~  354 End data with <CR><LF>.<CR><LF>\n"
    " ~> Date: Mon, 14 Sep 2009 16:44:33 -0700\n"
    " ~> To: b@example.test\n"
    " ~> Subject: test Mon, 14 Sep 2009 16:44:33 -0700\n"
    " ~> Message-Id: <20090914164433.012345@client.example.test>\n"
    " ~> X-Mailer: swaks v20201014.0 jetmore.org/john/code/swaks/\n"
    " ~> \n"
    " ~> This is a test mailing\n"
    " ~> \n"
    " ~> .\n"
    "<~  250 2.0.0 queued\n"
    " ~> QUIT\n"
    "<~  221 Bye\n"
    "=== Connection closed with remote host.\n";

TEST(ImportSwaks, TheDialogueOverTlsIsKeptWithVolatilePartsAsWildcards) {
  std::string out = Import(kSwaks);
  EXPECT_THAT(out, HasSubstr("swaks format"));
  EXPECT_THAT(out, HasSubstr("S: 220 2.0.0 Ready to start TLS\ntls\n"
                             "C: EHLO *\n"));
  EXPECT_THAT(out, HasSubstr("C: MAIL FROM:<a@example.test> SIZE=*\n"));
  EXPECT_THAT(out, HasSubstr("C: Date: *\nC: To: b@example.test\n"
                             "C: Subject: test *\nC: Message-Id: *\n"));
  EXPECT_THAT(out, HasSubstr("C: .\nS: 250 2.0.0 queued\n"));
  ExpectParses(out);
}

TEST(ImportSwaks, AuthSecretsAreNeverWrittenOut) {
  std::string out = Import(kSwaks);
  EXPECT_THAT(out, HasSubstr("C: AUTH PLAIN *\n"));
  EXPECT_THAT(out, Not(HasSubstr("AHVzZXIAaHVudGVyMg")));
}

TEST(ImportSwaks, AnswersToAuthLoginChallengesAreNeverWrittenOut) {
  std::string out = Import(
      "<-  220 ready\n -> EHLO a\n<-  250 STARTTLS\n -> STARTTLS\n"
      "<-  220 go\n ~> EHLO a\n<~  250 AUTH LOGIN\n ~> AUTH LOGIN\n"
      "<~  334 VXNlcm5hbWU6\n ~> dXNlcg==\n<~  334 UGFzc3dvcmQ6\n"
      " ~> aHVudGVyMg==\n<~  235 ok\n");
  EXPECT_THAT(out, HasSubstr("C: AUTH LOGIN\nS: 334 VXNlcm5hbWU6\n"));
  EXPECT_THAT(out, Not(HasSubstr("dXNlcg==")));
  EXPECT_THAT(out, Not(HasSubstr("aHVudGVyMg==")));
  ExpectParses(out);
}

TEST(ImportSwaks, ATlsMarkerBeforeTheUpgradeIsRefused) {
  EXPECT_EQ(Refusal("<-  220 ready\n ~> EHLO a\n"),
            "2: a TLS line (~) before TLS started");
}

TEST(ImportSwaks, APlainMarkerAfterTheUpgradeIsRefused) {
  EXPECT_EQ(Refusal("<-  220 ready\n -> STARTTLS\n<-  220 go\n -> EHLO a\n"),
            "4: a plain-text line after TLS started on line 3");
}

TEST(ImportSwaks, AnUnknownHintIsRefused) {
  EXPECT_THAT(Refusal("<-  220 ready\n?? what\n", ImportFormat::kSwaks),
              ::testing::StartsWith("2: not a line of swaks output"));
}

TEST(ImportSwaks, RawTextIsRefused) {
  EXPECT_THAT(Refusal("<-  220 ready\n  > EHLO a\n", ImportFormat::kSwaks),
              ::testing::StartsWith("2: raw text (--show-raw-text) is not "
                                    "supported"));
}

TEST(ImportSwaks, SuppressedDataHandsTheMessageToTheResponder) {
  std::string out = Import(
      "<-  220 ready\n -> STARTTLS\n<-  220 go\n ~> EHLO a\n<~  250 ok\n"
      " ~> MAIL FROM:<a@b>\n<~  250 ok\n ~> RCPT TO:<c@d>\n<~  250 ok\n"
      " ~> DATA\n<~  354 go\n ~> 12 lines sent\n<~  250 queued\n");
  EXPECT_THAT(out, HasSubstr("S: 354 go\n# The source does not show the "
                             "message: the built-in responder takes over.\n"
                             "serve\n"));
  ExpectParses(out);
}

// --- curl -v
// -------------------------------------------------------------------

constexpr std::string_view kCurl =
    "*   Trying 127.0.0.1:2525...\n"
    "* Connected to mail.example.test (127.0.0.1) port 2525 (#0)\n"
    "< 220 mail.example.test ESMTP\n"
    "> EHLO client\n"
    "< 250-mail.example.test\n"
    "< 250 STARTTLS\n"
    "> STARTTLS\n"
    "< 220 2.0.0 Ready to start TLS\n"
    "* ALPN: offers smtp\n"
    "} [5 bytes data]\n"
    "* TLSv1.3 (OUT), TLS handshake, Client hello (1):\n"
    "* SSL connection using TLSv1.3 / TLS_AES_256_GCM_SHA384\n"
    "> EHLO client\n"
    "< 250-mail.example.test\n"
    "< 250 SIZE 1000000\n"
    "> MAIL FROM:<a@example.test> SIZE=40\n"
    "< 250 OK\n"
    "> RCPT TO:<b@example.test>\n"
    "< 250 OK\n"
    "> DATA\n"
    "< 354 go ahead\n"
    "} [40 bytes data]\n"
    "* We are completely uploaded and fine\n"
    "< 250 queued\n"
    "> QUIT\n"
    "< 221 bye\n"
    "* Closing connection 0\n";

TEST(ImportCurl, TheDialogueIsKeptAndTheResponderTakesTheUnseenMessage) {
  std::string out = Import(kCurl);
  EXPECT_THAT(out, HasSubstr("curl format"));
  EXPECT_EQ(WithoutComments(out),
            "Summary: t\nHost: mail.example.test\nExpect: deliver\n\n"
            "S: 220 mail.example.test ESMTP\nC: EHLO *\n"
            "S: 250-mail.example.test\nS: 250 STARTTLS\nC: STARTTLS\n"
            "S: 220 2.0.0 Ready to start TLS\ntls\nC: EHLO *\n"
            "S: 250-mail.example.test\nS: 250 SIZE 1000000\n"
            "C: MAIL FROM:<a@example.test> SIZE=*\nS: 250 OK\n"
            "C: RCPT TO:<b@example.test>\nS: 250 OK\nC: DATA\nS: 354 go ahead\n"
            "serve\n");
  ExpectParses(out);
}

TEST(ImportCurl, ALineWithoutACurlMarkerIsRefused) {
  EXPECT_THAT(Refusal("< 220 ready\n> EHLO a\n250 ok\n", ImportFormat::kCurl),
              ::testing::StartsWith("3: not a line of curl -v output"));
}

TEST(ImportCurl, AServerLineWithoutAReplyCodeIsRefused) {
  EXPECT_THAT(Refusal("< 220 ready\n> EHLO a\n< hello\n"),
              ::testing::StartsWith("3: a server line without a reply code"));
}

// --- IMAP ------------------------------------------------------------------

ImportOptions Imap(ImportFormat format) {
  return {.format = format, .protocol = &protocol::Imap()};
}

TEST(ImportImap, AScriptUpgradesOnTheTaggedOkWithItsTagOnly) {
  auto out = ImportTranscript(
      "S: * OK [CAPABILITY IMAP4rev1 STARTTLS] ready\n"
      "C: a1 STARTTLS\n"
      "S: * OK untagged, not the answer\n"
      "S: a1 OK Begin TLS\n"
      "C: a2 LOGIN bob secret\n"
      "S: a2 OK in\n",
      Imap(ImportFormat::kScript));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_THAT(*out, HasSubstr("Protocol: imap\nExpect: log-in\n"));
  EXPECT_THAT(*out, HasSubstr("C: STARTTLS\nS: * OK untagged, not the answer\n"
                              "S: $tag OK Begin TLS\ntls\n# a secret was sent "
                              "here; it is not recorded\nC: LOGIN bob *\n"));
  EXPECT_THAT(*out, Not(HasSubstr("secret\n")));
  auto parsed = ParseScenario(*out, "imported.imap");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
}

TEST(ImportImap, ARefusedStartTlsStaysInPlainTextAndExpectsARefusal) {
  auto out = ImportTranscript(
      "S: * OK [CAPABILITY IMAP4rev1 STARTTLS] ready\n"
      "C: a1 STARTTLS\n"
      "S: a1 NO not now\n"
      "C: a2 LOGOUT\n",
      Imap(ImportFormat::kScript));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_THAT(*out, HasSubstr("Expect: refuse\n"));
  EXPECT_THAT(*out, Not(HasSubstr("\ntls\n")));
}

TEST(ImportImap, CurlOutputWithAnUnseenLiteralLeavesThatCommandToTheResponder) {
  auto out = ImportTranscript(
      "< * OK [CAPABILITY IMAP4rev1 STARTTLS] ready\n"
      "> A001 STARTTLS\n"
      "< A001 OK go\n"
      "* SSL connection using TLSv1.3\n"
      "> A002 LOGIN bob secret\n"
      "< A002 OK in\n"
      "> A003 UID FETCH 1 BODY[]\n"
      "< * 1 FETCH (UID 1 BODY[] {210}\n"
      "* Found 210 bytes to download\n"
      "< )\n"
      "< A003 OK done\n",
      Imap(ImportFormat::kCurl));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_THAT(*out, HasSubstr("S: $tag OK in\n# The source does not show"));
  EXPECT_THAT(*out, Not(HasSubstr("UID FETCH")));
  EXPECT_THAT(*out, Not(HasSubstr("{210}")));
  auto parsed = ParseScenario(*out, "imported.imap");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
}

TEST(ImportImap, TheTelnetAndSwaksFormatsReadSmtpOnly) {
  for (ImportFormat f : {ImportFormat::kTelnet, ImportFormat::kSwaks}) {
    auto out = ImportTranscript("* OK ready\na1 STARTTLS\n", Imap(f));
    ASSERT_FALSE(out.has_value());
    EXPECT_THAT(out.error().message, HasSubstr("reads SMTP sessions only"));
  }
}

TEST(ImportImap, AServerLineThatIsNoImapResponseIsRefusedWithItsLine) {
  auto out =
      ImportTranscript("< * OK ready\n< lonely\n", Imap(ImportFormat::kCurl));
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().line, 2);
  EXPECT_THAT(out.error().message, HasSubstr("\"* \", \"+\" or a tag"));
}

// --- POP3 ------------------------------------------------------------------

ImportOptions Pop3(ImportFormat format) {
  return {.format = format, .protocol = &protocol::Pop3()};
}

TEST(ImportPop3, AnswersOverSeveralLinesAreFramedByTheCommandTheyAnswer) {
  auto out = ImportTranscript(
      "S: +OK POP3 ready <1.1@mail.example.test>\n"
      "C: CAPA\n"
      "S: +OK capabilities follow\n"
      "S: STLS\n"
      "S: +OK a line of the answer, not a status\n"
      "S: .\n"
      "C: STLS\n"
      "S: +OK Begin TLS\n"
      "C: CAPA\n"
      "S: +OK\n"
      "S: USER\n"
      "S: .\n"
      "C: USER bob\n"
      "S: +OK\n"
      "C: PASS hunter2\n"
      "S: +OK logged in\n"
      "C: RETR 1\n"
      "S: +OK 20 octets\n"
      "S: -ERR a message line, not a refusal\n"
      "S: ..stuffed\n"
      "S: .\n"
      "C: QUIT\n"
      "S: +OK bye\n",
      Pop3(ImportFormat::kScript));
  ASSERT_TRUE(out.has_value())
      << out.error().line << ": " << out.error().message;
  EXPECT_THAT(*out, HasSubstr("Protocol: pop3\nExpect: log-in\n"));
  // TLS starts at the +OK to STLS, not at the +OK line inside CAPA's answer.
  EXPECT_THAT(*out, HasSubstr("C: STLS\nS: +OK Begin TLS\ntls\nC: CAPA *\n"));
  EXPECT_THAT(*out, HasSubstr("S: -ERR a message line, not a refusal\n"
                              "S: ..stuffed\nS: .\nC: QUIT\n"));
  EXPECT_THAT(*out, HasSubstr("C: USER bob\n"));
  EXPECT_THAT(*out, HasSubstr("# a secret was sent here; it is not recorded\n"
                              "C: PASS *\n"));
  EXPECT_THAT(*out, Not(HasSubstr("hunter2")));
  auto parsed = ParseScenario(*out, "imported.pop3");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  EXPECT_EQ(parsed->protocol, &protocol::Pop3());
}

TEST(ImportPop3, AnAnswerWhoseEndIsMissingIsRefusedWhereItBegan) {
  auto out = ImportTranscript(
      "S: +OK ready\n"
      "C: CAPA\n"
      "S: +OK\n"
      "S: STLS\n",
      Pop3(ImportFormat::kScript));
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().line, 3);
  EXPECT_EQ(out.error().message,
            "the answer over several lines begun here never ends (no \".\" "
            "line)");
}

TEST(ImportPop3, AClientLineInsideAnAnswerIsRefusedWhenTheSourceShowsAnswers) {
  auto out = ImportTranscript("S: +OK ready\nC: CAPA\nS: +OK\nC: STLS\n",
                              Pop3(ImportFormat::kScript));
  ASSERT_FALSE(out.has_value());
  EXPECT_EQ(out.error().line, 4);
  EXPECT_EQ(out.error().message,
            "a client line inside the answer over several lines begun on "
            "line 3 (its \".\" line is missing)");
}

TEST(ImportPop3, ARefusedStlsStaysInPlainTextAndExpectsARefusal) {
  auto out = ImportTranscript(
      "S: +OK ready\nC: STLS\nS: -ERR not now\nC: QUIT\nS: +OK bye\n",
      Pop3(ImportFormat::kScript));
  ASSERT_TRUE(out.has_value()) << out.error().message;
  EXPECT_THAT(*out, HasSubstr("Expect: refuse\n"));
  EXPECT_THAT(*out, Not(HasSubstr("\ntls\n")));
}

TEST(ImportPop3,
     CurlOutputWithAnUnseenMessageLeavesItsRetrievalToTheResponder) {
  // curl -v shows CAPA's lines but not the message RETR brings: it goes to
  // the output.
  auto out = ImportTranscript(
      "< +OK POP3 ready\n"
      "> CAPA\n"
      "< +OK\n"
      "< STLS\n"
      "< SASL PLAIN\n"
      "< .\n"
      "> STLS\n"
      "< +OK Begin TLS\n"
      "* SSL connection using TLSv1.3\n"
      "> CAPA\n"
      "< +OK\n"
      "< SASL PLAIN\n"
      "< .\n"
      "> AUTH PLAIN AGJvYgBodW50ZXIy\n"
      "< +OK in\n"
      "> RETR 1\n"
      "< +OK 20 octets\n"
      "> QUIT\n"
      "< +OK bye\n",
      Pop3(ImportFormat::kCurl));
  ASSERT_TRUE(out.has_value())
      << out.error().line << ": " << out.error().message;
  EXPECT_THAT(*out, HasSubstr("C: AUTH PLAIN *\nS: +OK in\n# The source does "
                              "not show"));
  EXPECT_THAT(*out, Not(HasSubstr("RETR")));
  EXPECT_THAT(*out, Not(HasSubstr("AGJvYgBodW50ZXIy")));
  auto parsed = ParseScenario(*out, "imported.pop3");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
}

// --- openssl s_client
// ---------------------------------------------------------

// The shape of an s_client -starttls smtp -crlf session as a terminal shows
// it (the report shortened to what the reader looks at): a typed line
// echoed into a session-ticket block, "RCPT" taken as s_client's R command,
// "QUIT" as its Q command.
constexpr std::string_view kSClientPaste =
    "$ openssl s_client -starttls smtp -connect mx.example.test:587 -crlf\n"
    "depth=0 CN = mx.example.test\n"
    "verify error:num=18:self-signed certificate\n"
    "verify return:1\n"
    "CONNECTED(00000003)\n"
    "---\n"
    "Certificate chain\n"
    " 0 s:CN = mx.example.test\n"
    "   i:CN = mx.example.test\n"
    "---\n"
    "Server certificate\n"
    "-----BEGIN CERTIFICATE-----\n"
    "MIIB\n"
    "-----END CERTIFICATE-----\n"
    "---\n"
    "SSL handshake has read 1824 bytes and written 436 bytes\n"
    "Verification error: self-signed certificate\n"
    "---\n"
    "New, TLSv1.3, Cipher is TLS_AES_256_GCM_SHA384\n"
    "Verify return code: 18 (self-signed certificate)\n"
    "---\n"
    "250 CHUNKING\n"
    "---\n"
    "Post-Handshake New Session Ticket arrived:\n"
    "SSL-Session:\n"
    "    Protocol  : TLSv1.3\n"
    "EHLO me\n"
    "    0000 - 1b 51 3a 43\n"
    "\n"
    "---\n"
    "read R BLOCK\n"
    "250-mx.example.test\n"
    "250 CHUNKING\n"
    "MAIL FROM:<a@example.test>\n"
    "250 2.1.0 Ok\n"
    "RCPT TO:<b@example.test>\n"
    "RENEGOTIATING\n"
    "40A7:error:0A00010A:SSL routines:can_renegotiate:wrong ssl version\n"
    "QUIT\n"
    "DONE\n";

TEST(ImportSClient, TheReportIsCommentsAndTheDialogueIsTheTlsPart) {
  auto t = ParseTranscript(kSClientPaste, ImportFormat::kAuto);
  ASSERT_TRUE(t.has_value()) << t.error().line << ": " << t.error().message;
  EXPECT_EQ(t->host, "mx.example.test");
  EXPECT_THAT(t->notes,
              ::testing::IsSupersetOf(
                  {"s_client: verify error:num=18:self-signed certificate",
                   "s_client:  0 s:CN = mx.example.test",
                   "s_client: Verify return code: 18 (self-signed "
                   "certificate)",
                   "s_client: line 36 (\"RCPT TO:<b@example.test>\") was "
                   "never sent: s_client took it as its R command",
                   "s_client: line 39 (\"QUIT\") was never sent: s_client "
                   "took it as its Q command"}));
  auto out = ImportTranscript(kSClientPaste, {.summary = "s"});
  ASSERT_TRUE(out.has_value()) << out.error().message;
  // s_client's own plain-text part, ending in the EHLO reply line it shows.
  EXPECT_THAT(*out, HasSubstr("S: 220 mx.example.test ESMTP\nC: EHLO *\n"
                              "S: 250-mx.example.test\nS: 250-STARTTLS\n"
                              "S: 250 CHUNKING\nC: STARTTLS\n"
                              "S: 220 2.0.0 Ready to start TLS\ntls\n"
                              "C: EHLO *\nS: 250-mx.example.test\n"));
  EXPECT_THAT(*out, HasSubstr("C: MAIL FROM:<a@example.test>\n"
                              "S: 250 2.1.0 Ok\n"));
  EXPECT_THAT(*out, Not(HasSubstr("C: RCPT")));
  EXPECT_THAT(*out, Not(HasSubstr("C: QUIT")));
  EXPECT_THAT(*out, HasSubstr("\nHost: mx.example.test\n"));
  ExpectParses(*out);
}

TEST(ImportSClient, OutputWithoutConnectedIsRefused) {
  auto t = ParseTranscript("depth=0 CN = x\nverify return:1\n",
                           ImportFormat::kSClient);
  ASSERT_FALSE(t.has_value());
  EXPECT_THAT(t.error().message, HasSubstr("no \"CONNECTED(\" line"));
}

TEST(ImportSClient, AReportThatNeverEndsIsRefusedAtItsStart) {
  auto t = ParseTranscript(
      "CONNECTED(00000003)\n---\nCertificate chain\n"
      "40A7:error:0A000086:SSL routines::certificate verify failed\n",
      ImportFormat::kSClient);
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().line, 1);
  EXPECT_THAT(t.error().message, HasSubstr("did the handshake fail?"));
}

TEST(ImportSClient, AnotherStartTlsProtocolIsRefusedOnItsCommandLine) {
  auto t = ParseTranscript(
      "$ openssl s_client -starttls imap -connect h:143\nCONNECTED(3)\n",
      ImportFormat::kAuto);
  ASSERT_FALSE(t.has_value());
  EXPECT_EQ(t.error().line, 1);
  EXPECT_THAT(t.error().message, HasSubstr("-starttls imap"));
}

// --- the writer
// ---------------------------------------------------------------

TEST(WriteScenario, SegmentsStaySeparateWritesAndDelaysAreKeptWhenAsked) {
  Transcript t{{{.kind = TranscriptItem::Kind::kServer, .bytes = "220-a\r\n"},
                {.kind = TranscriptItem::Kind::kServer,
                 .bytes = "220 b\r\n",
                 .delay = std::chrono::milliseconds(150)},
                {.kind = TranscriptItem::Kind::kClient, .bytes = "QUIT"}}};
  std::string out = WriteScenario(
      t, {.summary = "s", .min_delay = std::chrono::milliseconds(20)});
  EXPECT_THAT(out, HasSubstr("S: 220-a\nwrite\nS: 220 b\nwrite delay=150ms\n"
                             "C: QUIT\n"));
  ExpectParses(out);
  std::string no_delays = WriteScenario(t, {.summary = "s"});
  EXPECT_THAT(no_delays, HasSubstr("S: 220-a\nwrite\nS: 220 b\nC: QUIT\n"));
}

TEST(WriteScenario, BytesThatAreNotWholePrintableLinesAreSentRaw) {
  Transcript t{{{.kind = TranscriptItem::Kind::kServer,
                 .bytes = std::string("220 ok\r\n250 bin\x01\r\n220 cut", 25)},
                {.kind = TranscriptItem::Kind::kServer, .bytes = "\"\\\n"}}};
  std::string out = WriteScenario(t, {.summary = "s"});
  EXPECT_THAT(out, HasSubstr("S: 220 ok\nsend data=\"250 bin\\x01\\r\\n\"\n"
                             "send data=\"220 cut\"\nwrite\n"
                             "send data=\"\\\"\\\\\\n\"\n"));
  auto parsed = ParseScenario(out, "w.smtp");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  EXPECT_EQ(parsed->steps[1].text, std::string("250 bin\x01\r\n"));
  EXPECT_EQ(parsed->steps[4].text, "\"\\\n");
}

TEST(WriteScenario, ABarBetweenSpacesInAClientLineIsNotAnAlternative) {
  Transcript t{
      {{.kind = TranscriptItem::Kind::kServer, .bytes = "220 x\r\n"},
       {.kind = TranscriptItem::Kind::kClient, .bytes = "X a |  | b |"},
       {.kind = TranscriptItem::Kind::kClient, .bytes = "Y | "}}};
  std::string out = WriteScenario(t, {.summary = "s"});
  EXPECT_THAT(out, HasSubstr("C: X a *  * b |\nC: Y * \n"));
  ExpectParses(out);
  EXPECT_TRUE(MatchesClientLine("X a *  * b |", "X a |  | b |"));
  EXPECT_FALSE(MatchesClientLine("X a *  * b |", "b |"));
}

TEST(WriteScenario, AnImapSessionIsWrittenWithItsProtocolTagsAndNoSecrets) {
  using K = TranscriptItem::Kind;
  Transcript t{{
      {.kind = K::kServer, .bytes = "* OK [CAPABILITY IMAP4rev1 STARTTLS]\r\n"},
      {.kind = K::kClient, .bytes = "A001 STARTTLS"},
      {.kind = K::kServer, .bytes = "A001 OK Begin TLS\r\n"},
      {.kind = K::kTls},
      {.kind = K::kClient, .bytes = "A002 AUTHENTICATE PLAIN"},
      {.kind = K::kServer, .bytes = "+ \r\n"},
      {.kind = K::kClient, .bytes = "AGJvYgBzZWNyZXQ="},
      {.kind = K::kServer, .bytes = "A002 OK [CAPABILITY IMAP4rev1] in\r\n"},
      {.kind = K::kClient, .bytes = "A003 LOGIN bob secret"},
      {.kind = K::kServer, .bytes = "* 1 EXISTS\r\nA003 OK done\r\n"},
  }};
  std::string out =
      WriteScenario(t, {.summary = "s", .protocol = &protocol::Imap()});
  EXPECT_THAT(out, HasSubstr("Protocol: imap\nExpect: log-in\n"));
  EXPECT_THAT(out, HasSubstr("C: STARTTLS\nS: $tag OK Begin TLS\ntls\n"));
  EXPECT_THAT(out, HasSubstr("C: AUTHENTICATE PLAIN\nS: + \n"
                             "# a secret was sent here; it is not recorded\n"
                             "C: *\nS: $tag OK [CAPABILITY IMAP4rev1] in\n"));
  EXPECT_THAT(out, HasSubstr("C: LOGIN bob *\nS: * 1 EXISTS\nS: $tag OK "
                             "done\n"));
  EXPECT_THAT(out, Not(HasSubstr("secret\n")));
  EXPECT_THAT(out, Not(HasSubstr("AGJvYg")));
  auto parsed = ParseScenario(out, "w.imap");
  ASSERT_TRUE(parsed.has_value()) << parsed.error().ToString();
  EXPECT_EQ(parsed->protocol, &protocol::Imap());
}

TEST(WriteScenario, AnSmtpSessionNamesNoProtocol) {
  Transcript t{{{.kind = TranscriptItem::Kind::kServer, .bytes = "220 x\r\n"},
                {.kind = TranscriptItem::Kind::kClient, .bytes = "QUIT"}}};
  EXPECT_THAT(WriteScenario(t, {.summary = "s"}), Not(HasSubstr("Protocol:")));
}

TEST(WriteScenario, ATranscriptEndingAtTheUpgradeIsServedAfterTls) {
  Transcript t{{{.kind = TranscriptItem::Kind::kServer, .bytes = "220 x\r\n"},
                {.kind = TranscriptItem::Kind::kClient, .bytes = "STARTTLS"},
                {.kind = TranscriptItem::Kind::kServer, .bytes = "220 go\r\n"},
                {.kind = TranscriptItem::Kind::kTls}}};
  EXPECT_THAT(WriteScenario(t, {.summary = "s"}),
              HasSubstr("S: 220 go\ntls\nserve\n"));
}

TEST(WriteScenario,
     EachConnectionFollowsAConnectionStepAndCloseEndsOnlyItsOwn) {
  using K = TranscriptItem::Kind;
  Transcript t{{{.kind = K::kServer, .bytes = "220 x\r\n"},
                {.kind = K::kClient, .bytes = "STARTTLS"},
                {.kind = K::kServer, .bytes = "220 go\r\n"},
                {.kind = K::kTls},
                {.kind = K::kConnection},
                {.kind = K::kServer, .bytes = "220 y\r\n"},
                {.kind = K::kServerClose},
                {.kind = K::kConnection},
                {.kind = K::kServer, .bytes = "220 z\r\n"},
                {.kind = K::kClient, .bytes = "EHLO laptop"}}};
  std::string out = WriteScenario(t, {.summary = "s"});
  EXPECT_THAT(out, HasSubstr("S: 220 go\ntls\nserve\nconnection\nS: 220 y\n"
                             "close\nconnection\nS: 220 z\nC: EHLO *\n"));
  // The client ended up without TLS: a client that requires it refuses.
  EXPECT_THAT(out, HasSubstr("Expect: refuse\n"));
  ExpectParses(out);
}

TEST(WriteScenario, TheLastConnectionsUpgradeDecidesTheDefaultExpectation) {
  using K = TranscriptItem::Kind;
  Transcript t{{{.kind = K::kServer, .bytes = "220 x\r\n"},
                {.kind = K::kServerClose},
                {.kind = K::kConnection},
                {.kind = K::kServer, .bytes = "220 y\r\n"},
                {.kind = K::kClient, .bytes = "STARTTLS"},
                {.kind = K::kServer, .bytes = "220 go\r\n"},
                {.kind = K::kTls}}};
  EXPECT_THAT(WriteScenario(t, {.summary = "s"}),
              HasSubstr("Expect: deliver\n"));
}

TEST(WriteScenario, AConnectionWithoutStepsIsServedByTheResponder) {
  using K = TranscriptItem::Kind;
  Transcript t{
      {{.kind = K::kConnection}, {.kind = K::kServer, .bytes = "220 y\r\n"}}};
  std::string out = WriteScenario(t, {.summary = "s"});
  EXPECT_THAT(out, HasSubstr("\nserve\nconnection\nS: 220 y\n"));
  ExpectParses(out);
}

TEST(WriteScenario, TheDialogueStateStartsAfreshOnANewConnection) {
  using K = TranscriptItem::Kind;
  Transcript t{{{.kind = K::kServer, .bytes = "220 x\r\n"},
                {.kind = K::kClient, .bytes = "DATA"},
                {.kind = K::kServer, .bytes = "354 go\r\n"},
                {.kind = K::kClient, .bytes = "Subject: hi"},
                {.kind = K::kConnection},
                {.kind = K::kServer, .bytes = "220 y\r\n"},
                {.kind = K::kClient, .bytes = "MAIL FROM:<a@b> SIZE=123"}}};
  // Inside a message SIZE=123 would be message text and kept as it is.
  EXPECT_THAT(WriteScenario(t, {.summary = "s"}),
              HasSubstr("connection\nS: 220 y\nC: MAIL FROM:<a@b> SIZE=*\n"));
}

TEST(ClientPattern, TheEhloArgumentIsAWildcard) {
  EXPECT_EQ(ClientPattern("EHLO laptop.local", {}), "EHLO *");
  EXPECT_EQ(ClientPattern("ehlo", {}), "ehlo *");
  EXPECT_EQ(ClientPattern("HELO [10.0.0.1]", {}), "HELO *");
}

TEST(ClientPattern, NumericMailParametersAreWildcards) {
  EXPECT_EQ(ClientPattern("MAIL FROM:<a@b> SIZE=1234 BODY=8BITMIME", {}),
            "MAIL FROM:<a@b> SIZE=* BODY=8BITMIME");
}

TEST(ClientPattern, SecretsAreReplacedAndFlagged) {
  bool secret = false;
  EXPECT_EQ(ClientPattern("AUTH PLAIN AGEAYg==", {}, &secret), "AUTH PLAIN *");
  EXPECT_TRUE(secret);
  EXPECT_EQ(ClientPattern("AUTH LOGIN", {}, &secret), "AUTH LOGIN");
  EXPECT_FALSE(secret);
  EXPECT_EQ(ClientPattern("c2VjcmV0", {.auth_secret = true}, &secret), "*");
  EXPECT_TRUE(secret);
}

TEST(ClientPattern, DatesAndMessageIdsInAMessageAreWildcards) {
  ClientLineContext data{.in_data = true};
  EXPECT_EQ(ClientPattern("Date: Tue, 1 Oct 2024 10:00:00 +0000", data),
            "Date: *");
  EXPECT_EQ(ClientPattern("Message-ID: <abc@def>", data), "Message-ID: *");
  EXPECT_EQ(
      ClientPattern("Subject: test Tue, 01 Oct 2024 10:00:00 +0000", data),
      "Subject: test *");
  EXPECT_EQ(ClientPattern("Hello.", data), "Hello.");
  EXPECT_EQ(ClientPattern("", data), "*");
}

TEST(ParseImportFormat, KnowsEveryFormatByName) {
  for (auto f :
       {ImportFormat::kAuto, ImportFormat::kTelnet, ImportFormat::kScript,
        ImportFormat::kSwaks, ImportFormat::kCurl}) {
    EXPECT_EQ(ParseImportFormat(ImportFormatName(f)), f);
  }
  EXPECT_EQ(ParseImportFormat("mbox"), std::nullopt);
}

}  // namespace
}  // namespace starttls::server
