#include "judge/report.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>

namespace starttls::server {
namespace {

TEST(SessionReport, TlsRecordsShowTheirFirst32BytesAsLowercaseHex) {
  Scenario scenario;
  SessionRecord record;
  std::string record_bytes("\x16\x03\x01\x00\xab", 5);
  record_bytes += std::string(40, '\xff');
  record.events.Bytes(Peer::kClient, Layer::kTlsRecord, record_bytes);
  record.events.Bytes(Peer::kServer, Layer::kPlain, "220 ok\r\n");
  nlohmann::json report =
      SessionReport(scenario, record, Judge(scenario, record));
  const nlohmann::json& tls = report["events"][0];
  EXPECT_EQ(tls["size"], 45);
  // As strings: g++ 12 -O3 warns falsely (-Warray-bounds) on json == string.
  EXPECT_EQ(tls["hex"].get<std::string>(), "16030100ab" + std::string(54, 'f'));
  EXPECT_FALSE(tls.contains("data"));
  const nlohmann::json& plain = report["events"][1];
  EXPECT_EQ(plain["data"].get<std::string>(), "220 ok\r\n");
  EXPECT_FALSE(plain.contains("hex"));
}

TEST(SessionReport, EachReasonCarriesItsKindAndItsOracle) {
  Scenario scenario;
  scenario.expect = Expectation::kDeliver;
  SessionRecord record;
  record.timed_out = true;
  nlohmann::json reasons =
      SessionReport(scenario, record, Judge(scenario, record))["reasons"];
  ASSERT_EQ(reasons.size(), 2u);
  EXPECT_EQ(reasons[0]["kind"].get<std::string>(), "outcome");
  EXPECT_FALSE(reasons[0].contains("oracle"));
  EXPECT_EQ(reasons[0]["expected"].get<std::string>(), "deliver");
  EXPECT_EQ(reasons[0]["observed"].get<std::string>(), "hung");
  EXPECT_EQ(reasons[0]["text"].get<std::string>(),
            "expected the client to deliver, observed hung");
  EXPECT_EQ(reasons[1]["kind"].get<std::string>(), "oracle");
  EXPECT_EQ(reasons[1]["oracle"].get<std::string>(), "hang");
  EXPECT_FALSE(reasons[1].contains("expected"));
}

// The server writes reports with SessionReportText() (the stream's lines,
// the per-session files); the in-process server (FakeSmtpServer) hands out
// SessionReport()'s tree. Both must agree to the byte, including nlohmann's
// number formatting, escaping and U+FFFD for bytes that are not UTF-8.
TEST(SessionReportText, EqualsTheDumpedTree) {
  Scenario scenario;
  scenario.summary = "summary with \"quotes\", \\ and \t tab \x7f \x01";
  SessionRecord record;
  record.scenario = "s\xc3\xa9nario";
  record.scenario_path = "/a/b.smtp";
  record.connection = 17;
  record.script_connection = 2;
  record.peer = "127.0.0.1:4242";
  record.started = std::chrono::system_clock::from_time_t(1795000000);
  record.duration = std::chrono::microseconds(1234567);
  record.ended = "the client quit\r\n";
  record.tls.established = true;
  record.tls.version = "TLSv1.3";
  record.tls.cipher = "TLS_AES_128_GCM_SHA256";
  record.tls.sni = "mail.example.test";
  record.tls.client_alert = "unknown_ca";
  record.tls.error = "bad \xff\xfe byte";
  record.mismatch = Mismatch{7, "EHLO *", "HELO \x80x"};
  record.messages.push_back(
      {.mail_from = "<a@b>", .rcpt_to = {"<c@d>", "<e@f>"}, .data = "x\r\n"});
  record.messages.push_back({.mail_from = "", .rcpt_to = {}, .over_tls = true});
  record.events.Bytes(Peer::kServer, Layer::kPlain, "220 ok\r\n");
  record.events.Bytes(
      Peer::kClient, Layer::kPlain,
      std::string("EHLO \0\x1f\b\f\xe2\x82\xac\xe2\x82\r\n", 16));
  record.events.Mark(Event::Kind::kTlsStart, Peer::kServer, "3 bytes");
  record.events.Bytes(Peer::kClient, Layer::kTlsRecord,
                      std::string(300, '\x17'));
  record.events.Bytes(Peer::kServer, Layer::kTlsData, "250 \xf0\x9f\x98\x80");
  record.events.Mark(Event::Kind::kClosed, Peer::kClient, "");
  Verdict verdict = Judge(scenario, record);
  verdict.findings.push_back(
      {.id = "early-tls",
       .message = "m \"q\"",
       .evidence = {{.event = 1,
                     .at = std::chrono::microseconds(0),
                     .offset = 5,
                     .detail = "d\xc0"},
                    {.event = 2, .at = std::chrono::microseconds(10)}}});
  verdict.findings.push_back({.id = "empty"});
  verdict.reasons = {
      {.kind = Reason::Kind::kOutcome,
       .expected = "deliver",
       .observed = "refused",
       .text = "one"},
      {.kind = Reason::Kind::kOracle, .oracle = "early-tls", .text = "two \n"}};
  EXPECT_EQ(SessionReportText(scenario, record, verdict),
            DumpReport(SessionReport(scenario, record, verdict)));

  // Times across nlohmann's notations: 0.0, fixed and exponent.
  for (int64_t us : {0L, 1L, 9L, 10L, 99L, 100L, 1000L, 123456L, 1000000L,
                     7200000000L, 123456789012345L}) {
    SessionRecord r;
    r.duration = std::chrono::microseconds(us);
    Verdict v = Judge(scenario, r);
    v.findings.push_back(
        {.id = "t", .evidence = {{.at = std::chrono::microseconds(us)}}});
    EXPECT_EQ(SessionReportText(scenario, r, v),
              DumpReport(SessionReport(scenario, r, v)))
        << us;
  }

  // Nothing at all: empty arrays and strings.
  SessionRecord empty;
  Scenario bare;
  Verdict none = Judge(bare, empty);
  EXPECT_EQ(SessionReportText(bare, empty, none),
            DumpReport(SessionReport(bare, empty, none)));
}

// The pretty layout without its line breaks and the indentation after them.
std::string WithoutBreaks(std::string_view pretty) {
  std::string out;
  for (size_t at = 0; at < pretty.size();) {
    size_t lf = std::min(pretty.find('\n', at), pretty.size());
    out.append(pretty.substr(at, lf - at));
    at = lf + 1;
    while (at < pretty.size() && pretty[at] == ' ') ++at;
  }
  return out;
}

TEST(SessionReportText, OneLineIsThePrettyReportWithoutItsBreaks) {
  Scenario scenario;
  scenario.summary = "two  spaces,\n   and a line break kept as an escape";
  SessionRecord record;
  record.ended = "the client quit\r\n    indented";
  record.events.Bytes(Peer::kServer, Layer::kPlain, "250-a\r\n  250 b\r\n");
  record.events.Mark(Event::Kind::kClosed, Peer::kClient, "");
  Verdict verdict = Judge(scenario, record);
  std::string line =
      SessionReportText(scenario, record, verdict, ReportLayout::kOneLine);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_EQ(line, WithoutBreaks(SessionReportText(scenario, record, verdict)));
  EXPECT_EQ(nlohmann::json::parse(line),
            SessionReport(scenario, record, verdict));
  // Empty containers and the bare report too.
  Scenario bare;
  SessionRecord empty;
  Verdict none = Judge(bare, empty);
  EXPECT_EQ(SessionReportText(bare, empty, none, ReportLayout::kOneLine),
            WithoutBreaks(SessionReportText(bare, empty, none)));
  EXPECT_EQ(WithoutBreaks("{\n  \"a\": [\n    1,\n    2\n  ]\n}"),
            "{\"a\": [1,2]}");
}

}  // namespace
}  // namespace starttls::server
