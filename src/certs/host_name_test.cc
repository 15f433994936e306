#include "certs/host_name.h"

#include <gtest/gtest.h>

namespace starttls::certs {
namespace {

TEST(IsIpLiteral, RecognisesIpv4AndIpv6ButNotNames) {
  EXPECT_TRUE(IsIpLiteral("127.0.0.1"));
  EXPECT_TRUE(IsIpLiteral("::1"));
  EXPECT_TRUE(IsIpLiteral("2001:db8::25"));
  EXPECT_FALSE(IsIpLiteral("mail.example.test"));
  EXPECT_FALSE(IsIpLiteral("[::1]"));
  EXPECT_FALSE(IsIpLiteral("127.0.0"));
}

TEST(CheckHost, AcceptsHostNamesAndIpLiterals) {
  for (const char* host : {"mail.example.test", "localhost", "a-b.c9.test.",
                           "127.0.0.1", "::1", "xn--bcher-kva.test"}) {
    EXPECT_TRUE(CheckHost(host).has_value()) << host;
  }
}

TEST(CheckHost, RefusesMalformedNamesWithOneLineNamingTheHost) {
  for (const char* host :
       {"", ".", "mail..example.test", "-mail.example.test",
        "mail-.example.test", "mail_x.example.test", "*.example.test",
        "mail example.test", "mail.example.test:25"}) {
    auto r = CheckHost(host);
    ASSERT_FALSE(r.has_value()) << host;
    EXPECT_NE(r.error().find(std::string("'") + host + "'"), std::string::npos)
        << r.error();
    EXPECT_EQ(r.error().find('\n'), std::string::npos);
  }
}

TEST(CheckHost, RefusesOverlongLabelsAndNames) {
  EXPECT_FALSE(CheckHost(std::string(64, 'a') + ".test").has_value());
  EXPECT_TRUE(CheckHost(std::string(63, 'a') + ".test").has_value());
  std::string long_name;
  while (long_name.size() < 260) long_name += "abcdefghi.";
  EXPECT_FALSE(CheckHost(long_name + "test").has_value());
}

}  // namespace
}  // namespace starttls::certs
