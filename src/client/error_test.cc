#include "starttls/error.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace starttls::client {
namespace {

// The orchestration depends on these numbers and names; changing one is a
// breaking change to the harness contract.
TEST(ExitCode, TheTableIsStable) {
  EXPECT_EQ(kExitDelivered, 0);
  EXPECT_EQ(ExitCode(ErrorCode::kUsage), 2);
  EXPECT_EQ(ExitCode(ErrorCode::kConnect), 3);
  EXPECT_EQ(ExitCode(ErrorCode::kProtocol), 4);
  EXPECT_EQ(ExitCode(ErrorCode::kTlsUnavailable), 5);
  EXPECT_EQ(ExitCode(ErrorCode::kUnexpectedPlaintext), 6);
  EXPECT_EQ(ExitCode(ErrorCode::kCertificate), 7);
  EXPECT_EQ(ExitCode(ErrorCode::kHandshake), 8);
  EXPECT_EQ(ExitCode(ErrorCode::kTimeout), 9);
  EXPECT_EQ(ExitCode(ErrorCode::kConnectionLost), 10);
  EXPECT_EQ(ExitCode(ErrorCode::kRejected), 11);
  EXPECT_EQ(ExitCode(ErrorCode::kAuth), 12);
}

TEST(ErrorName, NamesAreStableAndDistinct) {
  EXPECT_EQ(ErrorName(ErrorCode::kProtocol), "protocol-error");
  EXPECT_EQ(ErrorName(ErrorCode::kCertificate), "certificate-rejected");
  std::set<std::string_view> names;
  for (int i = 0; i <= static_cast<int>(ErrorCode::kAuth); ++i) {
    names.insert(ErrorName(static_cast<ErrorCode>(i)));
  }
  EXPECT_EQ(names.size(), 11u);
}

}  // namespace
}  // namespace starttls::client
