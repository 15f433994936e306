#include "server/report.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace starttls::server
