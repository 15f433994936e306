#include "judge/oracles.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace starttls::server {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::Not;

// A session's event log written by hand, one call per event. Each call
// returns the index of the event it added, for checking evidence.
class Transcript {
 public:
  size_t S(std::string_view bytes) {
    return Add(Peer::kServer, Layer::kPlain, bytes);
  }
  size_t C(std::string_view bytes) {
    return Add(Peer::kClient, Layer::kPlain, bytes);
  }
  // Application data inside TLS.
  size_t TlsS(std::string_view bytes) {
    return Add(Peer::kServer, Layer::kTlsData, bytes);
  }
  size_t TlsC(std::string_view bytes) {
    return Add(Peer::kClient, Layer::kTlsData, bytes);
  }
  // TLS records as the wire carries them.
  size_t RecordC(std::string_view bytes) {
    return Add(Peer::kClient, Layer::kTlsRecord, bytes);
  }
  size_t RecordS(std::string_view bytes) {
    return Add(Peer::kServer, Layer::kTlsRecord, bytes);
  }
  size_t Mark(Event::Kind kind, Peer from, std::string note = "") {
    record.events.Mark(kind, from, std::move(note));
    return record.events.events().size() - 1;
  }
  // A complete handshake: the marks and a record either way.
  void Handshake() {
    Mark(Event::Kind::kTlsStart, Peer::kServer);
    RecordC(kClientHello);
    RecordS("\x16\x03\x03\x00\x01\x02");
    Mark(Event::Kind::kTlsEstablished, Peer::kServer, "TLSv1.3 x");
  }

  std::vector<Finding> Run(bool bad_certificate = false) const {
    return RunOracles({.record = &record,
                       .protocol = protocol,
                       .bad_certificate = bad_certificate});
  }

  static constexpr std::string_view kClientHello{"\x16\x03\x01\x00\x05hello",
                                                 10};

  SessionRecord record;
  const protocol::Protocol* protocol = &protocol::Smtp();

 private:
  size_t Add(Peer from, Layer layer, std::string_view bytes) {
    record.events.Bytes(from, layer, bytes);
    return record.events.events().size() - 1;
  }
};

std::vector<std::string> Ids(const std::vector<Finding>& findings) {
  std::vector<std::string> ids;
  for (const Finding& f : findings) ids.push_back(f.id);
  return ids;
}

// The plaintext session up to the client's STARTTLS.
void UpToStartTls(Transcript& t) {
  t.S("220 mx ESMTP\r\n");
  t.C("EHLO c\r\n");
  t.S("250-mx\r\n250 STARTTLS\r\n");
}

// A correct session up to an established TLS session.
void UpToTls(Transcript& t) {
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("220 go\r\n");
  t.Handshake();
}

TEST(Oracles, EveryOracleHasAUniqueIdAndARule) {
  std::set<std::string_view> ids;
  for (const OracleInfo& info : Oracles()) {
    EXPECT_TRUE(ids.insert(info.id).second) << info.id;
    EXPECT_FALSE(info.rule.empty()) << info.id;
  }
  EXPECT_EQ(ids.size(), 16u);
}

TEST(Oracles, ACorrectStartTlsSessionTripsNothing) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("220 2.0.0 go ahead\r\n");
  t.Handshake();
  t.TlsC("EHLO c\r\n");
  t.TlsS("250-mx\r\n250 SIZE 100\r\n");
  t.TlsC("MAIL FROM:<a@b>\r\n");
  t.TlsS("250 ok\r\n");
  t.TlsC("QUIT\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

// Lines are joined across the reads that carried them.

TEST(Oracles, AStartTlsLineInPiecesIsOneLineAndTripsNothing) {
  Transcript t;
  UpToStartTls(t);
  t.C("STAR");
  t.C("TTLS\r");
  t.C("\n");
  t.S("220 2.0.0 go ahead\r\n");
  t.Handshake();
  t.TlsC("EHLO c\r\n");
  t.TlsS("250 mx\r\n");
  t.TlsC("QUIT\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Oracles, EarlyTlsFiresAfterAStartTlsLineInPieces) {
  Transcript t;
  UpToStartTls(t);
  t.C("STAR");
  size_t rest =
      t.C(std::string("TTLS\r\n") + std::string(Transcript::kClientHello));
  t.S("220 go\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("early-tls"));
  EXPECT_EQ(findings[0].evidence[0].event, rest);
  EXPECT_EQ(findings[0].evidence[0].offset, 18u) << "EHLO c, STARTTLS";
}

// early-tls

TEST(Oracles, EarlyTlsFiresWhenTheClientHelloComesBeforeThe220) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  size_t hello = t.C(Transcript::kClientHello);
  t.S("220 go\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("early-tls"));
  ASSERT_EQ(findings[0].evidence.size(), 1u);
  EXPECT_EQ(findings[0].evidence[0].event, hello);
  EXPECT_EQ(findings[0].evidence[0].offset, 18u) << "EHLO c, STARTTLS";
  EXPECT_EQ(findings[0].evidence[0].at, t.record.events.events()[hello].at);
}

TEST(Oracles, EarlyTlsFiresWhenTheClientHelloRidesWithStartTls) {
  Transcript t;
  UpToStartTls(t);
  size_t both =
      t.C(std::string("STARTTLS\r\n") + std::string(Transcript::kClientHello));
  t.S("220 go\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("early-tls"));
  EXPECT_EQ(findings[0].evidence[0].event, both);
  EXPECT_EQ(findings[0].evidence[0].offset, 18u)
      << "the first byte after the STARTTLS line, not the line itself";
  EXPECT_THAT(findings[0].evidence[0].detail, HasSubstr("\\x16\\x03\\x01"));
}

TEST(Oracles, EarlyTlsIsQuietWhenTheClientHelloFollowsTheComplete220) {
  Transcript t;
  UpToTls(t);
  t.TlsC("EHLO c\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Oracles, EarlyTlsIsQuietWhenTheClientHelloIsReadAsPlaintextAfterThe220) {
  // The server read the ClientHello in a later event, before it started TLS
  // (e.g. while holding a later reply): it still came after the 220.
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("220 go\r\n");
  t.C(Transcript::kClientHello);
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Oracles, EarlyTlsIsQuietWhenThe220ArrivedInPiecesBeforeTheClientHello) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("2");
  t.S("20 go");
  t.S("\r\n");
  t.C(Transcript::kClientHello);
  EXPECT_THAT(t.Run(), IsEmpty());
}

// tls-on-incomplete-reply

TEST(Oracles, TlsOnIncompleteReplyFiresOnA220WithoutItsCrlf) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("220 go");
  size_t hello = t.C(Transcript::kClientHello);
  t.S("\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("tls-on-incomplete-reply"));
  EXPECT_EQ(findings[0].evidence[0].event, hello);
  EXPECT_EQ(findings[0].evidence[0].offset, 18u);
}

TEST(Oracles, TlsOnIncompleteReplyFiresOnA220Continuation) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("220-go\r\n");
  size_t hello = t.C(Transcript::kClientHello);
  t.S("220 ahead\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("tls-on-incomplete-reply"));
  EXPECT_EQ(findings[0].evidence[0].event, hello);
}

TEST(Oracles, TlsOnIncompleteReplyIsQuietAfterTheWholeMultilineReply) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("220-go\r\n");
  t.S("220 ahead\r\n");
  t.C(Transcript::kClientHello);
  EXPECT_THAT(t.Run(), IsEmpty());
}

// pipelined-after-starttls

TEST(Oracles, PipelinedAfterStartTlsFiresOnPlaintextBeforeThe220) {
  Transcript t;
  UpToStartTls(t);
  size_t both = t.C("STARTTLS\r\nMAIL FROM:<a@b>\r\n");
  t.S("220 go\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("pipelined-after-starttls",
                                         "plaintext-after-refusal"));
  EXPECT_EQ(findings[0].evidence[0].event, both);
  EXPECT_EQ(findings[0].evidence[0].offset, 18u);
  EXPECT_THAT(findings[0].evidence[0].detail, HasSubstr("MAIL FROM:<a@b>"));
}

TEST(Oracles, PipelinedAfterStartTlsFiresOnALaterEventBeforeThe220) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  size_t mail = t.C("MAIL FROM:<a@b>\r\n");
  t.S("220 go\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("pipelined-after-starttls",
                                         "plaintext-after-refusal"));
  EXPECT_EQ(findings[0].evidence[0].event, mail);
  EXPECT_EQ(findings[0].evidence[0].offset, 18u);
}

TEST(Oracles, PipelinedAfterStartTlsIsQuietOnQuitAfterA454Refusal) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("454 4.7.0 TLS not available\r\n");
  t.C("QUIT\r\n");
  t.S("221 bye\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

// no-ehlo-after-tls

TEST(Oracles, NoEhloAfterTlsFiresWhenTheFirstCommandOverTlsIsMail) {
  Transcript t;
  UpToTls(t);
  size_t mail = t.TlsC("MAIL FROM:<a@b>\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("no-ehlo-after-tls"));
  EXPECT_EQ(findings[0].evidence[0].event, mail);
  EXPECT_EQ(findings[0].evidence[0].offset, 0u);
  EXPECT_EQ(findings[0].evidence[0].detail, "MAIL FROM:<a@b>");
  EXPECT_THAT(findings[0].message, HasSubstr("MAIL"));
}

TEST(Oracles, NoEhloAfterTlsIsQuietForEhloHeloOrQuit) {
  for (std::string_view first : {"EHLO c\r\n", "helo c\r\n", "QUIT\r\n"}) {
    Transcript t;
    UpToStartTls(t);
    t.C("STARTTLS\r\n");
    t.S("220 go\r\n");
    t.Handshake();
    t.TlsC(first);
    EXPECT_THAT(t.Run(), IsEmpty()) << first;
  }
}

// acted-on-injected-reply

TEST(Oracles, ActedOnInjectedReplyFiresWhenMailFollowsEhloUnanswered) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("220 go\r\n250 injected\r\n");
  t.Handshake();
  t.TlsC("EHLO c\r\n");
  size_t mail = t.TlsC("MAIL FROM:<a@b>\r\n");
  t.TlsS("250 mx\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("acted-on-injected-reply"));
  EXPECT_EQ(findings[0].evidence[0].event, mail);
  EXPECT_EQ(findings[0].evidence[0].offset, 8u) << "just after EHLO c";
  EXPECT_THAT(findings[0].evidence[0].detail, HasSubstr("MAIL FROM"));
}

// HELO is a greeting like EHLO: the same rule holds for it.
TEST(Oracles, ActedOnInjectedReplyFiresWhenMailFollowsHeloUnanswered) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("220 go\r\n250 injected\r\n");
  t.Handshake();
  t.TlsC("HELO c\r\n");
  size_t mail = t.TlsC("MAIL FROM:<a@b>\r\n");
  t.TlsS("250 mx\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("acted-on-injected-reply"));
  EXPECT_EQ(findings[0].evidence[0].event, mail);
  EXPECT_THAT(findings[0].message, HasSubstr("answered its HELO"));
}

TEST(Oracles, ActedOnInjectedReplyIsQuietWhenHeloWasAnsweredBeforeMail) {
  Transcript t;
  UpToTls(t);
  t.TlsC("HELO c\r\n");
  t.TlsS("250 mx\r\n");
  t.TlsC("MAIL FROM:<a@b>\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Oracles, ActedOnInjectedReplyFiresWhenMailRidesWithEhlo) {
  Transcript t;
  t.Handshake();
  size_t both = t.TlsC("EHLO c\r\nMAIL FROM:<a@b>\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("acted-on-injected-reply"));
  EXPECT_EQ(findings[0].evidence[0].event, both);
  EXPECT_EQ(findings[0].evidence[0].offset, 8u);
}

TEST(Oracles, ActedOnInjectedReplyIsQuietWhenEhloWasAnsweredBeforeMail) {
  Transcript t;
  UpToTls(t);
  t.TlsC("EHLO c\r\n");
  t.TlsS("250-mx\r\n");
  t.TlsS("250 SIZE 1\r\n");
  t.TlsC("MAIL FROM:<a@b>\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Oracles, ActedOnInjectedReplyIsQuietWhileTheEhloReplyIsIncomplete) {
  // Only a continuation line arrived: a client that waits has sent nothing.
  Transcript t;
  t.Handshake();
  t.TlsC("EHLO c\r\n");
  t.TlsS("250-mx\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

// plaintext-after-refusal

TEST(Oracles, PlaintextAfterRefusalFiresOnMailWithoutStartTls) {
  Transcript t;
  t.S("220 mx\r\n");
  t.C("EHLO c\r\n");
  t.S("250 mx\r\n");
  size_t mail = t.C("MAIL FROM:<a@b>\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("plaintext-after-refusal"));
  EXPECT_EQ(findings[0].evidence[0].event, mail);
  EXPECT_EQ(findings[0].evidence[0].offset, 8u);
  EXPECT_EQ(findings[0].evidence[0].detail, "MAIL FROM:<a@b>");
}

// Every mail verb counts, whichever comes first in plain text.
TEST(Oracles, PlaintextAfterRefusalFiresOnRcptDataOrBdatAsTheFirstMailVerb) {
  for (std::string_view line :
       {"RCPT TO:<c@d>", "DATA", "BDAT 10 LAST", "bdat 5"}) {
    Transcript t;
    t.S("220 mx\r\n");
    t.C("EHLO c\r\n");
    t.S("250 mx\r\n");
    size_t sent = t.C(std::string(line) + "\r\n");
    auto findings = t.Run();
    ASSERT_THAT(Ids(findings), ElementsAre("plaintext-after-refusal")) << line;
    EXPECT_EQ(findings[0].evidence[0].event, sent) << line;
    EXPECT_EQ(findings[0].evidence[0].detail, line);
  }
}

TEST(Oracles, PlaintextAfterRefusalFiresOnMailAfterA454) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("454 not now\r\n");
  size_t mail = t.C("mail FROM:<a@b>\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("plaintext-after-refusal"));
  EXPECT_EQ(findings[0].evidence[0].event, mail);
  EXPECT_EQ(findings[0].evidence[0].offset, 18u);
}

TEST(Oracles, PlaintextAfterRefusalFiresOnCommandsWhereTlsRecordsBelong) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("220 go\r\n");
  t.Mark(Event::Kind::kTlsStart, Peer::kServer);
  t.RecordC(Transcript::kClientHello);
  t.Mark(Event::Kind::kTlsFailed, Peer::kServer, "handshake failed");
  size_t ehlo = t.RecordC("EHLO c\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("plaintext-after-refusal"));
  EXPECT_EQ(findings[0].evidence[0].event, ehlo);
  EXPECT_EQ(findings[0].evidence[0].offset, 10u) << "after the ClientHello";
  EXPECT_THAT(findings[0].message, HasSubstr("EHLO"));
}

TEST(Oracles, PlaintextAfterRefusalFiresOnABareEhloAfterAFailedHandshake) {
  Transcript t;
  t.Mark(Event::Kind::kTlsStart, Peer::kServer);
  t.RecordC(Transcript::kClientHello);
  t.Mark(Event::Kind::kTlsFailed, Peer::kServer, "handshake failed");
  size_t ehlo = t.RecordC("EHLO\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("plaintext-after-refusal"));
  EXPECT_EQ(findings[0].evidence[0].event, ehlo);
}

TEST(Oracles, PlaintextAfterRefusalIsQuietWhenTheClientQuits) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("454 not now\r\n");
  t.C("QUIT\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Oracles, PlaintextAfterRefusalIsQuietWhenTheClientClosesAfterAFailure) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("220 go\r\n");
  t.Mark(Event::Kind::kTlsStart, Peer::kServer);
  t.RecordC(Transcript::kClientHello);
  t.Mark(Event::Kind::kTlsFailed, Peer::kServer, "handshake failed");
  t.RecordC("\x15\x03\x03\x00\x02\x02\x30");  // the client's alert
  t.Mark(Event::Kind::kClosed, Peer::kClient, "fin");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Oracles, PlaintextAfterRefusalFiresOnMailAfterPlainAuth) {
  Transcript t;
  t.S("220 mx\r\n");
  t.C("AUTH PLAIN AGEAYg==\r\n");
  size_t mail = t.C("MAIL FROM:<a@b>\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("plaintext-after-refusal",
                                         "credentials-in-plaintext"));
  EXPECT_EQ(findings[0].evidence[0].event, mail);
}

// credentials-in-plaintext

TEST(Oracles, CredentialsInPlaintextFiresOnAuthBeforeTls) {
  Transcript t;
  UpToStartTls(t);
  size_t auth = t.C("AUTH PLAIN AGEAYg==\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("credentials-in-plaintext"))
      << "AUTH alone is not mail sent in plain text";
  EXPECT_EQ(findings[0].evidence[0].event, auth);
  EXPECT_EQ(findings[0].evidence[0].offset, 8u);
  EXPECT_EQ(findings[0].evidence[0].detail, "AUTH PLAIN AGEAYg==");
}

TEST(Oracles, CredentialsInPlaintextIsQuietForAuthOverTls) {
  Transcript t;
  UpToTls(t);
  t.TlsC("EHLO c\r\n");
  t.TlsS("250 AUTH PLAIN\r\n");
  t.TlsC("AUTH PLAIN AGEAYg==\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

// proceeded-after-bad-certificate

TEST(Oracles, ProceededAfterBadCertificateFiresOnAnyDataOverTls) {
  Transcript t;
  UpToTls(t);
  size_t ehlo = t.TlsC("EHLO c\r\n");
  auto findings = t.Run(/*bad_certificate=*/true);
  ASSERT_THAT(Ids(findings), ElementsAre("proceeded-after-bad-certificate"));
  EXPECT_EQ(findings[0].evidence[0].event, ehlo);
  EXPECT_EQ(findings[0].evidence[0].offset, 0u);
}

TEST(Oracles, ProceededAfterBadCertificateIsQuietWhenTheClientAborts) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("220 go\r\n");
  t.Mark(Event::Kind::kTlsStart, Peer::kServer);
  t.RecordC(Transcript::kClientHello);
  t.RecordS("\x16\x03\x03\x00\x01\x02");
  t.RecordC("\x15\x03\x03\x00\x02\x02\x30");  // unknown_ca
  t.Mark(Event::Kind::kTlsFailed, Peer::kServer, "alert unknown_ca");
  EXPECT_THAT(t.Run(/*bad_certificate=*/true), IsEmpty());
}

TEST(Oracles, ProceededAfterBadCertificateIsQuietWithAGoodCertificate) {
  Transcript t;
  t.Handshake();
  t.TlsC("EHLO c\r\n");
  EXPECT_THAT(t.Run(/*bad_certificate=*/false), IsEmpty());
}

// second-starttls

TEST(Oracles, SecondStartTlsFiresOnStartTlsOverTls) {
  Transcript t;
  UpToTls(t);
  t.TlsC("EHLO c\r\n");
  t.TlsS("250 STARTTLS\r\n");
  size_t again = t.TlsC("STARTTLS\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("second-starttls"));
  EXPECT_EQ(findings[0].evidence[0].event, again);
  EXPECT_EQ(findings[0].evidence[0].offset, 8u);
}

TEST(Oracles, SecondStartTlsIsQuietForOneStartTlsInPlaintext) {
  Transcript t;
  UpToTls(t);
  t.TlsC("EHLO c\r\n");
  t.TlsS("250 mx\r\n");
  t.TlsC("QUIT\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

// downgrade-by-reconnect

TEST(Oracles, DowngradeByReconnectFiresOnPlainMailAfterAnEarlierFailure) {
  Transcript t;
  t.record.earlier_tls_failure = true;
  t.S("220 mx\r\n");
  t.C("EHLO c\r\n");
  t.S("250 mx\r\n");
  size_t mail = t.C("MAIL FROM:<a@b>\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("downgrade-by-reconnect"))
      << "reported instead of plaintext-after-refusal";
  EXPECT_EQ(findings[0].evidence[0].event, mail);
  EXPECT_EQ(findings[0].evidence[0].offset, 8u);
}

TEST(Oracles, DowngradeByReconnectFiresOnPlainAuthAfterAnEarlierFailure) {
  Transcript t;
  t.record.earlier_tls_failure = true;
  t.S("220 mx\r\n");
  t.C("AUTH LOGIN\r\n");
  EXPECT_THAT(Ids(t.Run()), ElementsAre("credentials-in-plaintext",
                                        "downgrade-by-reconnect"));
}

TEST(Oracles, DowngradeByReconnectIsQuietWhenTheClientTriesTlsAgain) {
  Transcript t;
  t.record.earlier_tls_failure = true;
  UpToTls(t);
  t.TlsC("EHLO c\r\n");
  t.TlsS("250 mx\r\n");
  t.TlsC("MAIL FROM:<a@b>\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Oracles, DowngradeByReconnectIsQuietWithoutAnEarlierFailure) {
  Transcript t;
  t.S("220 mx\r\n");
  t.C("MAIL FROM:<a@b>\r\n");
  EXPECT_THAT(Ids(t.Run()), ElementsAre("plaintext-after-refusal"));
}

// hang

TEST(Oracles, HangFiresWhenTheServersWaitRanOut) {
  Transcript t;
  t.S("220 mx\r\n");
  t.C("EHLO c\r\n");
  size_t last = t.S("250 mx\r\n");
  t.record.timed_out = true;
  t.record.ended = "the client sent nothing before the deadline";
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("hang"));
  EXPECT_EQ(findings[0].evidence[0].event, last);
  EXPECT_EQ(findings[0].evidence[0].at, t.record.events.events()[last].at);
  EXPECT_EQ(findings[0].evidence[0].detail, t.record.ended);
}

TEST(Oracles, HangFiresOnAnEmptyLog) {
  Transcript t;
  t.record.timed_out = true;
  EXPECT_THAT(Ids(t.Run()), ElementsAre("hang"));
}

// hang reads SessionRecord::timed_out, which only the engine sets: its
// quiet proof is a real session whose client gives up before the deadline
// (SessionFaultTest.StallEndsWithTheClientsCloseWhenItCloses and
// TlsAbortStallEndsWithTheClientsCloseWhenItGivesUp).

// Point by point: what a legal client does is quiet, and the findings are
// judged by what the client acted on, not by when.

TEST(Oracles, ProceededAfterBadCertificateIsQuietForALoneQuitOverTls) {
  // Postfix with smtp_tls_security_level=secure: the handshake completes,
  // the certificate does not verify, the client sends only QUIT.
  Transcript t;
  UpToTls(t);
  t.TlsC("QUIT\r\n");
  t.TlsS("221 bye\r\n");
  EXPECT_THAT(t.Run(/*bad_certificate=*/true), IsEmpty());
}

TEST(Oracles, ProceededAfterBadCertificateIsQuietForAQuitCutShort) {
  Transcript t;
  UpToTls(t);
  t.TlsC("QU");
  EXPECT_THAT(t.Run(/*bad_certificate=*/true), IsEmpty());
}

TEST(Oracles, ProceededAfterBadCertificateFiresOnEhloAfterAQuit) {
  Transcript t;
  UpToTls(t);
  t.TlsC("QUIT\r\n");
  size_t ehlo = t.TlsC("EHLO c\r\n");
  auto findings = t.Run(/*bad_certificate=*/true);
  ASSERT_THAT(Ids(findings), ElementsAre("proceeded-after-bad-certificate"));
  EXPECT_EQ(findings[0].evidence[0].event, ehlo);
  EXPECT_EQ(findings[0].evidence[0].offset, 6u);
}

TEST(Oracles, PipelinedAfterStartTlsIsQuietForAQuitWhileTheReplyIsAwaited) {
  // The client's own timeout ran out waiting for the 220: giving up with
  // QUIT is refusing, not pipelining.
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.C("QUIT\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Oracles, PipelinedAfterStartTlsIsQuietForWhatFollowsTheServersClose) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.Mark(Event::Kind::kClosed, Peer::kServer, "fin");
  t.C("RSET\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Oracles,
     PipelinedAfterStartTlsStillFiresForACommandBeforeTheServersClose) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.C("RSET\r\n");
  t.Mark(Event::Kind::kClosed, Peer::kServer, "fin");
  EXPECT_THAT(Ids(t.Run()), ElementsAre("pipelined-after-starttls"));
}

TEST(Oracles, TlsWithout220FiresOnAHandshakeAfterA454) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("454 4.7.0 not now\r\n");
  size_t hello = t.C(Transcript::kClientHello);
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("tls-without-220"));
  EXPECT_THAT(findings[0].message, HasSubstr("with 454"));
  EXPECT_EQ(findings[0].evidence[0].event, hello);
}

TEST(Oracles, TlsWithout220FiresOnAHandshakeAfterA250Or354) {
  for (std::string_view reply : {"250 ok\r\n", "354 go\r\n", "252 x\r\n"}) {
    Transcript t;
    UpToStartTls(t);
    t.C("STARTTLS\r\n");
    t.S(reply);
    t.C(Transcript::kClientHello);
    EXPECT_THAT(Ids(t.Run()), ElementsAre("tls-without-220")) << reply;
  }
}

TEST(Oracles, TlsWithout220FiresEvenWhenTheHandshakeCameBeforeTheRefusal) {
  // An injected 220 taken as the answer: the real answer is 454 whenever
  // the client acted.
  Transcript t;
  UpToStartTls(t);
  t.S("220 injected\r\n");
  t.C("STARTTLS\r\n");
  t.C(Transcript::kClientHello);
  t.S("454 4.7.0 not now\r\n");
  EXPECT_THAT(Ids(t.Run()), ElementsAre("tls-without-220"));
}

TEST(Oracles, TlsWithout220IsQuietAfterA220) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("220 go\r\n");
  t.C(Transcript::kClientHello);
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Oracles, TlsWithout220IsQuietWhenTheClientQuitsAfterA454) {
  Transcript t;
  UpToStartTls(t);
  t.C("STARTTLS\r\n");
  t.S("454 4.7.0 not now\r\n");
  t.C("QUIT\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Oracles, TlsWithoutStartTlsFiresOnAClientHelloAfterEhlo) {
  // Postfix on an unsolicited 220: STARTTLS never went out, the
  // ClientHello did.
  Transcript t;
  UpToStartTls(t);
  t.S("220 injected\r\n");
  size_t hello = t.C(Transcript::kClientHello);
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("tls-without-starttls"));
  EXPECT_EQ(findings[0].evidence[0].event, hello);
  EXPECT_EQ(findings[0].evidence[0].offset, 8u);
}

TEST(Oracles, TlsWithoutStartTlsFiresOnAClientHelloInTheSameWriteAsEhlo) {
  Transcript t;
  t.S("220 mx\r\n");
  t.C(std::string("EHLO c\r\n") + std::string(Transcript::kClientHello));
  EXPECT_THAT(Ids(t.Run()), ElementsAre("tls-without-starttls"));
}

TEST(Oracles, TlsWithoutStartTlsIsQuietOnA0x16ByteThatStartsAWriteMidLine) {
  // A handshake byte counts only where a line starts; one that starts a
  // write in the middle of a line (here, of a message body sent a byte at a
  // time) is a byte of that line.
  Transcript t;
  t.S("220 mx\r\n");
  t.C("EHLO c\r\n");
  t.S("250 mx\r\n");
  t.C("MAIL FROM:<a");
  t.C(Transcript::kClientHello);
  t.C(">\r\n");
  EXPECT_THAT(Ids(t.Run()), Not(Contains("tls-without-starttls")));
}

TEST(Oracles, TlsWithoutStartTlsIsQuietAfterStartTls) {
  Transcript t;
  UpToTls(t);
  t.C(Transcript::kClientHello);  // a second ClientHello, still after it
  EXPECT_THAT(t.Run(), IsEmpty());
}

// A TLS session that reaches DATA; the server's answer to DATA is `reply`.
void UpToDataOverTls(Transcript& t, std::string_view reply) {
  UpToTls(t);
  t.TlsC("EHLO c\r\n");
  t.TlsS("250 mx\r\n");
  t.TlsC("MAIL FROM:<a@b>\r\n");
  t.TlsS("250 ok\r\n");
  t.TlsC("RCPT TO:<c@d>\r\n");
  t.TlsS("550 5.1.1 no\r\n");
  t.TlsC("DATA\r\n");
  t.TlsS(reply);
}

TEST(Oracles, ActedOnInjectedReplyFiresOnTheMessageAfterARefusedData) {
  // aiosmtplib: replies injected before TLS parsed lazily, so the next
  // command always comes after the real reply; but the message goes out
  // after a 554 to DATA, on the strength of an injected 354.
  Transcript t;
  UpToDataOverTls(t, "554 5.5.1 No valid recipients\r\n");
  size_t body = t.TlsC("From: <a@b>\r\n\r\nhello\r\n.\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("acted-on-injected-reply"));
  EXPECT_EQ(findings[0].evidence[0].event, body);
  EXPECT_THAT(findings[0].message, HasSubstr("554 5.5.1"));
}

TEST(Oracles, ActedOnInjectedReplyFiresOnAMessagePipelinedWithData) {
  Transcript t;
  UpToTls(t);
  t.TlsC("EHLO c\r\n");
  t.TlsS("250 mx\r\n");
  t.TlsC("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\nSubject: x\r\n");
  t.TlsS("250 ok\r\n550 no\r\n554 no recipients\r\n");
  EXPECT_THAT(Ids(t.Run()), ElementsAre("acted-on-injected-reply"));
}

TEST(Oracles, ActedOnInjectedReplyFiresOnAMessageAfterADataNeverAnswered) {
  // swaks: every reply read from plaintext injected before TLS, so DATA,
  // the message and QUIT go out at once; the connection is reset before
  // the server answers DATA.
  Transcript t;
  UpToTls(t);
  t.TlsC("EHLO c\r\n");
  t.TlsS("250 mx\r\n");
  t.TlsC("MAIL FROM:<a@b>\r\n");
  t.TlsS("250 ok\r\n");
  t.TlsC("RCPT TO:<c@d>\r\n");
  t.TlsS("550 5.1.1 no\r\n");
  t.TlsC("DATA\r\n");
  size_t body = t.TlsC("Subject: x\r\n\r\nhello\r\n.\r\nQUIT\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("acted-on-injected-reply"));
  EXPECT_EQ(findings[0].evidence[0].event, body);
  EXPECT_THAT(findings[0].message, HasSubstr("never answered DATA"));
}

TEST(Oracles, ActedOnInjectedReplyIsQuietWhenADataNeverAnsweredIsTheLastLine) {
  Transcript t;
  UpToTls(t);
  t.TlsC("EHLO c\r\n");
  t.TlsS("250 mx\r\n");
  t.TlsC("MAIL FROM:<a@b>\r\nRCPT TO:<c@d>\r\nDATA\r\n");
  t.TlsS("250 ok\r\n250 ok\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Oracles, ActedOnInjectedReplyIsQuietWhenTheClientQuitsAfterARefusedData) {
  Transcript t;
  UpToDataOverTls(t, "554 5.5.1 No valid recipients\r\n");
  t.TlsC("RSET\r\nQUIT\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Oracles, ActedOnInjectedReplyIsQuietForAMessageAfter354) {
  Transcript t;
  UpToDataOverTls(t, "354 go ahead\r\n");
  t.TlsC("Subject: x\r\n\r\nhello\r\n.\r\n");
  t.TlsS("250 accepted\r\n");
  t.TlsC("QUIT\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Oracles, FindingsComeInTheDocumentedOrder) {
  Transcript t;
  t.record.timed_out = true;
  t.S("220 mx\r\n");
  t.C("AUTH PLAIN x\r\n");
  t.C("STARTTLS\r\nMAIL FROM:<a@b>\r\n");
  t.S("220 go\r\n");
  t.Handshake();
  t.TlsC("STARTTLS\r\n");
  EXPECT_THAT(Ids(t.Run()),
              ElementsAre("pipelined-after-starttls", "no-ehlo-after-tls",
                          "plaintext-after-refusal", "credentials-in-plaintext",
                          "second-starttls", "hang"));
}

// The same oracles over IMAP (protocol::Imap): tagged replies end a
// command's answer; untagged lines do not.

// An IMAP session up to the client's STARTTLS, tag a1.
Transcript ImapUpToStartTls() {
  Transcript t;
  t.protocol = &protocol::Imap();
  t.S("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n");
  t.C("a0 CAPABILITY\r\n");
  t.S("* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED\r\na0 OK done\r\n");
  t.C("a1 STARTTLS\r\n");
  return t;
}

TEST(ImapOracles, ACorrectImapStartTlsSessionTripsNothing) {
  Transcript t = ImapUpToStartTls();
  t.S("a1 OK Begin TLS negotiation now\r\n");
  t.Handshake();
  t.TlsC("a2 CAPABILITY\r\n");
  t.TlsS("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na2 OK done\r\n");
  t.TlsC("a3 LOGIN user secret\r\n");
  t.TlsS("a3 OK logged in\r\n");
  t.TlsC("a4 LOGOUT\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(ImapOracles, TlsOnAnUntaggedAnswerIsTlsOnAnIncompleteReply) {
  Transcript t = ImapUpToStartTls();
  t.S("* OK go on\r\n");  // untagged: not the answer to a1
  t.C(Transcript::kClientHello);
  t.S("a1 OK Begin TLS negotiation now\r\n");
  EXPECT_THAT(Ids(t.Run()), ElementsAre("tls-on-incomplete-reply"));
}

TEST(ImapOracles, AnOkWithAnotherTagDoesNotAnswerStartTls) {
  Transcript t = ImapUpToStartTls();
  t.S("a0 OK injected\r\n");
  t.C(Transcript::kClientHello);
  EXPECT_THAT(Ids(t.Run()), ElementsAre("tls-on-incomplete-reply"));
}

TEST(ImapOracles, EarlyTlsFiresWhenTheClientHelloComesBeforeAnyAnswer) {
  Transcript t = ImapUpToStartTls();
  t.C(Transcript::kClientHello);
  t.S("a1 OK Begin TLS negotiation now\r\n");
  EXPECT_THAT(Ids(t.Run()), ElementsAre("early-tls"));
}

TEST(ImapOracles, TlsAfterATaggedNoNamesTheStatus) {
  Transcript t = ImapUpToStartTls();
  t.S("a1 NO TLS not available\r\n");
  t.C(Transcript::kClientHello);
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("tls-without-220"));
  EXPECT_THAT(findings[0].message,
              HasSubstr("answered STARTTLS with NO, not OK"));
}

// RFC 9051 section 6.2.1 asks only that capabilities from before TLS be
// discarded; asking CAPABILITY again is a SHOULD.
TEST(ImapOracles, LoggingInOverTlsWithoutAskingCapabilityAgainIsNoFinding) {
  Transcript t = ImapUpToStartTls();
  t.S("a1 OK go\r\n");
  t.Handshake();
  t.TlsC("a2 LOGIN user secret\r\n");
  t.TlsS("a2 OK logged in\r\n");
  t.TlsC("a3 SELECT INBOX\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(ImapOracles,
     CapabilitiesFromBeforeTlsFiresOnAMechanismOnlyAnnouncedBefore) {
  Transcript t;
  t.protocol = &protocol::Imap();
  t.S("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n");
  t.C("a1 STARTTLS\r\n");
  t.S("a1 OK go\r\n");
  t.Handshake();
  size_t sent = t.TlsC("a2 AUTHENTICATE PLAIN AGJvYgBzZWNyZXQ=\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("capabilities-from-before-tls"));
  EXPECT_EQ(findings[0].evidence[0].event, sent);
  EXPECT_THAT(findings[0].message, HasSubstr("AUTHENTICATE, which needs "
                                             "AUTH=PLAIN"));
}

TEST(ImapOracles, CapabilitiesFromBeforeTlsFiresOnAnInjectedCapabilityUsed) {
  Transcript t = ImapUpToStartTls();
  // Injected behind the tagged OK: never announced over TLS.
  t.S("a1 OK go\r\n* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\n");
  t.Handshake();
  t.TlsC("a2 CAPABILITY\r\n");
  t.TlsS("* CAPABILITY IMAP4rev1\r\na2 OK done\r\n");
  t.TlsC("a3 AUTHENTICATE PLAIN\r\n");
  EXPECT_THAT(Ids(t.Run()), ElementsAre("capabilities-from-before-tls"));
}

TEST(ImapOracles,
     CapabilitiesFromBeforeTlsFiresOnACommandPipelinedBeforeTheAnswer) {
  Transcript t;
  t.protocol = &protocol::Imap();
  t.S("* OK [CAPABILITY IMAP4rev1 STARTTLS ID] ready\r\n");
  t.C("a1 STARTTLS\r\n");
  t.S("a1 OK go\r\n");
  t.Handshake();
  t.TlsC("a2 CAPABILITY\r\na3 ID NIL\r\n");
  t.TlsS("* CAPABILITY IMAP4rev1 ID\r\na2 OK done\r\n");
  EXPECT_THAT(Ids(t.Run()), ElementsAre("capabilities-from-before-tls"));
}

TEST(ImapOracles, CapabilitiesFromBeforeTlsIsQuietWhenAnnouncedAgainOverTls) {
  Transcript t;
  t.protocol = &protocol::Imap();
  t.S("* OK [CAPABILITY IMAP4rev1 STARTTLS AUTH=PLAIN] ready\r\n");
  t.C("a1 STARTTLS\r\n");
  t.S("a1 OK go\r\n");
  t.Handshake();
  t.TlsC("a2 CAPABILITY\r\n");
  t.TlsS("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na2 OK done\r\n");
  t.TlsC("a3 AUTHENTICATE PLAIN\r\n");
  t.TlsS("a3 OK [CAPABILITY IMAP4rev1 ID] logged in\r\n");
  t.TlsC("a4 ID NIL\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(ImapOracles,
     CapabilitiesFromBeforeTlsIsQuietForACapabilityNeverAnnounced) {
  Transcript t = ImapUpToStartTls();
  t.S("a1 OK go\r\n");
  t.Handshake();
  t.TlsC("a2 ID NIL\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(ImapOracles,
     LoginWhileDisabledFiresOnLoginAfterTheGreetingSaidLogindisabled) {
  Transcript t;
  t.protocol = &protocol::Imap();
  t.S("* OK [CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED] ready\r\n");
  size_t login = t.C("a1 LOGIN bob secret\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings),
              ElementsAre("credentials-in-plaintext", "login-while-disabled"));
  EXPECT_EQ(findings[1].evidence[0].event, login);
  EXPECT_THAT(findings[1].message, HasSubstr("included LOGINDISABLED"));
}

TEST(ImapOracles, LoginWhileDisabledFiresOverTlsWhenStillDisabledThere) {
  Transcript t = ImapUpToStartTls();
  t.S("a1 OK go\r\n");
  t.Handshake();
  t.TlsC("a2 CAPABILITY\r\n");
  t.TlsS("* CAPABILITY IMAP4rev1 AUTH=PLAIN LOGINDISABLED\r\na2 OK done\r\n");
  t.TlsC("a3 LOGIN bob secret\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("login-while-disabled"));
  EXPECT_THAT(findings[0].message, HasSubstr("capabilities over TLS"));
}

TEST(ImapOracles,
     LoginWhileDisabledIsQuietOverTlsAfterAPlaintextLogindisabled) {
  // The only LOGINDISABLED came before TLS: the client discarded it.
  Transcript t = ImapUpToStartTls();
  t.S("a1 OK go\r\n");
  t.Handshake();
  t.TlsC("a2 CAPABILITY\r\n");
  t.TlsS("* CAPABILITY IMAP4rev1 AUTH=PLAIN\r\na2 OK done\r\n");
  t.TlsC("a3 LOGIN bob secret\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(ImapOracles,
     LoginWhileDisabledIsQuietForALoginOnItsWayBeforeTheAnnouncement) {
  Transcript t;
  t.protocol = &protocol::Imap();
  t.S("* OK ready\r\n");
  t.C("a1 CAPABILITY\r\na2 LOGIN bob secret\r\n");
  t.S("* CAPABILITY IMAP4rev1 LOGINDISABLED\r\na1 OK done\r\n");
  EXPECT_THAT(Ids(t.Run()), ElementsAre("credentials-in-plaintext"));
}

Transcript Preauth() {
  Transcript t;
  t.protocol = &protocol::Imap();
  t.S("* PREAUTH [CAPABILITY IMAP4rev1] logged in as bob\r\n");
  return t;
}

TEST(ImapOracles, ContinuedAfterPreauthFiresOnSelectInPlaintext) {
  Transcript t = Preauth();
  t.C("a1 CAPABILITY\r\n");
  t.S("* CAPABILITY IMAP4rev1\r\na1 OK done\r\n");
  size_t select = t.C("a2 SELECT INBOX\r\n");
  auto findings = t.Run();
  // The more precise finding replaces plaintext-after-refusal.
  ASSERT_THAT(Ids(findings), ElementsAre("continued-after-preauth"));
  EXPECT_EQ(findings[0].evidence[0].event, select);
  EXPECT_THAT(findings[0].message, HasSubstr("went on with SELECT"));
}

TEST(ImapOracles, ContinuedAfterPreauthIsQuietWhenTheClientLogsOut) {
  Transcript t = Preauth();
  t.C("a1 CAPABILITY\r\n");
  t.S("* CAPABILITY IMAP4rev1\r\na1 OK done\r\n");
  t.C("a2 STARTTLS\r\n");
  t.S("a2 BAD already authenticated\r\n");
  t.C("a3 LOGOUT\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(ImapOracles, ContinuedAfterPreauthIsQuietAfterAnOkGreeting) {
  Transcript t;
  t.protocol = &protocol::Imap();
  t.S("* OK [CAPABILITY IMAP4rev1] ready\r\n");
  t.C("a1 SELECT INBOX\r\n");
  EXPECT_THAT(Ids(t.Run()), ElementsAre("plaintext-after-refusal"));
}

TEST(ImapOracles, ALoginBeforeTlsIsCredentialsInPlaintext) {
  Transcript t;
  t.protocol = &protocol::Imap();
  t.S("* OK [CAPABILITY IMAP4rev1 STARTTLS] ready\r\n");
  t.C("a1 LOGIN user secret\r\n");
  EXPECT_THAT(Ids(t.Run()), testing::Contains("credentials-in-plaintext"));
}

TEST(ImapOracles, ALogoutCutShortAfterABadCertificateIsNoProceeding) {
  Transcript t = ImapUpToStartTls();
  t.S("a1 OK go\r\n");
  t.Handshake();
  t.TlsC("a2 LOGO");
  EXPECT_THAT(t.Run(/*bad_certificate=*/true), IsEmpty());
  Transcript u = ImapUpToStartTls();
  u.S("a1 OK go\r\n");
  u.Handshake();
  u.TlsC("a2 CAPABILITY\r\n");
  u.TlsS("* CAPABILITY IMAP4rev1\r\na2 OK done\r\n");
  u.TlsC("a3 LOGIN user secret\r\n");
  EXPECT_THAT(Ids(u.Run(/*bad_certificate=*/true)),
              ElementsAre("proceeded-after-bad-certificate"));
}

// The same oracles over POP3 (protocol::Pop3): commands answered in order
// with +OK or -ERR; CAPA answered over several lines up to ".".

// A POP3 session up to the client's STLS.
Transcript Pop3UpToStls() {
  Transcript t;
  t.protocol = &protocol::Pop3();
  t.S("+OK POP3 ready\r\n");
  t.C("CAPA\r\n");
  t.S("+OK Capability list follows\r\nSTLS\r\nUSER\r\nSASL PLAIN\r\n"
      ".\r\n");
  t.C("STLS\r\n");
  return t;
}

TEST(Pop3Oracles, ACorrectStlsSessionTripsNothing) {
  Transcript t = Pop3UpToStls();
  t.S("+OK Begin TLS negotiation\r\n");
  t.Handshake();
  t.TlsC("CAPA\r\n");
  t.TlsS("+OK\r\nUSER\r\nSASL PLAIN\r\n.\r\n");
  t.TlsC("AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n");
  t.TlsS("+OK logged in\r\n");
  t.TlsC("STAT\r\n");
  t.TlsS("+OK 2 320\r\n");
  t.TlsC("QUIT\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

// RFC 2595 section 4: asking CAPA again after TLS is only advised.
TEST(Pop3Oracles, LoggingInOverTlsWithoutAskingCapaAgainIsNoFinding) {
  Transcript t = Pop3UpToStls();
  t.S("+OK go\r\n");
  t.Handshake();
  t.TlsC("USER bob\r\n");
  t.TlsS("+OK\r\n");
  t.TlsC("PASS secret\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Pop3Oracles, UserOrApopBeforeTlsAreCredentialsInPlaintext) {
  for (std::string_view command :
       {"USER bob\r\n", "APOP bob 0123456789abcdef0123456789abcdef\r\n",
        "AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n"}) {
    Transcript t;
    t.protocol = &protocol::Pop3();
    t.S("+OK POP3 ready <1.2@mail.example.test>\r\n");
    t.C(command);
    EXPECT_THAT(Ids(t.Run()), ElementsAre("credentials-in-plaintext"))
        << command;
  }
}

TEST(Pop3Oracles, MailboxCommandsAfterARefusedStlsArePlaintextAfterRefusal) {
  Transcript t = Pop3UpToStls();
  t.S("-ERR TLS not available\r\n");
  t.C("USER bob\r\n");
  t.S("+OK\r\n");
  t.C("PASS secret\r\n");
  t.S("+OK\r\n");
  t.C("RETR 1\r\n");
  // In the documented order of the oracles.
  EXPECT_THAT(Ids(t.Run()), ElementsAre("plaintext-after-refusal",
                                        "credentials-in-plaintext"));
}

TEST(Pop3Oracles, TlsAfterErrNamesTheStatus) {
  Transcript t = Pop3UpToStls();
  t.S("-ERR not now\r\n");
  t.C(Transcript::kClientHello);
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("tls-without-220"));
  EXPECT_THAT(findings[0].message,
              HasSubstr("answered STLS with -ERR, not +OK"));
}

TEST(Pop3Oracles, EarlyTlsAndPipeliningAfterStlsFireBeforeTheAnswer) {
  Transcript t = Pop3UpToStls();
  t.C(Transcript::kClientHello);
  t.S("+OK go\r\n");
  EXPECT_THAT(Ids(t.Run()), ElementsAre("early-tls"));
  Transcript u = Pop3UpToStls();
  u.C("CAPA\r\n");
  u.S("+OK go\r\n");
  EXPECT_THAT(Ids(u.Run()), ElementsAre("pipelined-after-starttls"));
}

TEST(Pop3Oracles, CapabilitiesFromBeforeTlsFiresOnAnInjectedCapaAnswerUsed) {
  Transcript t = Pop3UpToStls();
  // Behind the +OK, an answer to the CAPA the client sends over TLS.
  t.S("+OK go\r\n+OK\r\nSASL CRAM-MD5\r\n.\r\n");
  t.Handshake();
  t.TlsC("CAPA\r\n");
  t.TlsS("+OK\r\nUSER\r\n.\r\n");
  size_t sent = t.TlsC("AUTH CRAM-MD5\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("capabilities-from-before-tls"));
  EXPECT_EQ(findings[0].evidence[0].event, sent);
  EXPECT_THAT(findings[0].message,
              HasSubstr("AUTH, which needs SASL=CRAM-MD5"));
}

TEST(Pop3Oracles, CapabilitiesFromBeforeTlsFiresOnAMechanismOfThePlainCapa) {
  Transcript t = Pop3UpToStls();
  t.S("+OK go\r\n");
  t.Handshake();
  t.TlsC("CAPA\r\n");
  t.TlsS("+OK\r\nUSER\r\n.\r\n");  // SASL PLAIN is gone over TLS
  t.TlsC("AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n");
  EXPECT_THAT(Ids(t.Run()), ElementsAre("capabilities-from-before-tls"));
}

TEST(Pop3Oracles, CapabilitiesFromBeforeTlsIsQuietWhenAnnouncedOverTls) {
  Transcript t = Pop3UpToStls();
  t.S("+OK go\r\n");
  t.Handshake();
  t.TlsC("CAPA\r\n");
  t.TlsS("+OK\r\nSASL PLAIN\r\n.\r\n");
  t.TlsC("AUTH PLAIN AGJvYgBzZWNyZXQ=\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

TEST(Pop3Oracles, ANextCommandBeforeTheFirstAnswerOverTlsActedOnAnInjection) {
  Transcript t = Pop3UpToStls();
  t.S("+OK go\r\n+OK\r\nUSER\r\n.\r\n");
  t.Handshake();
  t.TlsC("CAPA\r\n");
  size_t next = t.TlsC("USER bob\r\n");  // the answer over TLS is held
  t.TlsS("+OK\r\nUSER\r\n.\r\n");
  auto findings = t.Run();
  ASSERT_THAT(Ids(findings), ElementsAre("acted-on-injected-reply"));
  EXPECT_EQ(findings[0].evidence[0].event, next);
  EXPECT_THAT(findings[0].message, HasSubstr("answered its CAPA"));
}

TEST(Pop3Oracles, QuitBeforeTheFirstAnswerOverTlsIsGivingUpNotActingOnAReply) {
  for (std::string_view quit : {"QUIT\r\n", "QU"}) {
    Transcript t = Pop3UpToStls();
    t.S("+OK go\r\n");
    t.Handshake();
    t.TlsC("CAPA\r\n");
    t.TlsC(quit);  // its own deadline passed: the answer never came
    EXPECT_THAT(t.Run(), IsEmpty()) << quit;
  }
}

TEST(Pop3Oracles, AResponseToASaslChallengeIsNoCommandSentTooSoon) {
  Transcript t;
  t.protocol = &protocol::Pop3();
  t.S("+OK POP3 ready\r\n");
  t.C("STLS\r\n");
  t.S("+OK go\r\n");
  t.Handshake();
  t.TlsC("AUTH PLAIN\r\n");
  t.TlsS("+ \r\n");
  t.TlsC("AGJvYgBzZWNyZXQ=\r\n");
  t.TlsS("+OK logged in\r\n");
  t.TlsC("QUIT\r\n");
  EXPECT_THAT(t.Run(), IsEmpty());
}

}  // namespace
}  // namespace starttls::server
