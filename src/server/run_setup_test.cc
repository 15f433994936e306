#include "server/run_setup.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

namespace starttls::server {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

TEST(ParseHostPort, TakesANameOrAnAddressAndADecimalPort) {
  auto hp = ParseHostPort("mail.example.test:587", "--upstream");
  ASSERT_TRUE(hp) << hp.error();
  EXPECT_EQ(hp->host, "mail.example.test");
  EXPECT_EQ(hp->port, 587);
  auto v6 = ParseHostPort("[::1]:0", "--listen");
  ASSERT_TRUE(v6) << v6.error();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 0);
}

TEST(ParseHostPort, EveryMalformedValueNamesTheOption) {
  EXPECT_EQ(ParseHostPort("nohost", "--upstream").error(),
            "--upstream nohost: expected HOST:PORT");
  EXPECT_EQ(ParseHostPort(":25", "--upstream").error(),
            "--upstream :25: expected HOST:PORT");
  for (const char* bad : {"h:", "h:x", "h:25x", "h:65536", "h:-1", "h: 25"}) {
    EXPECT_EQ(ParseHostPort(bad, "--listen").error(),
              std::string("--listen ") + bad + ": bad port")
        << bad;
  }
}

TEST(ParseListenAddress, NeedsANumericAddress) {
  auto ep = ParseListenAddress("127.0.0.1:25", "--listen");
  ASSERT_TRUE(ep) << ep.error();
  EXPECT_EQ(ep->port(), 25);
  EXPECT_TRUE(ParseListenAddress("[::1]:0", "--listen"));
  EXPECT_EQ(ParseListenAddress("localhost:25", "--listen").error(),
            "--listen localhost:25: bad address \"localhost\"");
  EXPECT_FALSE(ParseListenAddress("[::1:25", "--listen"));
}

class RunDirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (fs::temp_directory_path() / "run-setup.XXXXXX");
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    scratch_ = tmpl;
  }
  void TearDown() override { fs::remove_all(scratch_); }
  fs::path scratch_;
};

TEST_F(RunDirectoryTest, ADirectoryMadeHereIsPrivateAndGoesUnlessKept) {
  fs::path wanted = scratch_ / "run";
  {
    auto dir = RunDirectory::Make(wanted, "unused");
    ASSERT_TRUE(dir) << dir.error();
    EXPECT_EQ(dir->path(), fs::absolute(wanted));
    EXPECT_EQ(fs::status(wanted).permissions() & fs::perms::all,
              fs::perms::owner_all);
  }
  EXPECT_FALSE(fs::exists(wanted));
  {
    auto dir = RunDirectory::Make(wanted, "unused");
    ASSERT_TRUE(dir) << dir.error();
    dir->Keep();
  }
  EXPECT_TRUE(fs::exists(wanted));
}

TEST_F(RunDirectoryTest, ADirectoryThatExistedStays) {
  {
    auto dir = RunDirectory::Make(scratch_, "unused");
    ASSERT_TRUE(dir) << dir.error();
  }
  EXPECT_TRUE(fs::exists(scratch_));
}

TEST_F(RunDirectoryTest, NoDirectoryWantedIsANewTemporaryOne) {
  fs::path made;
  {
    auto dir = RunDirectory::Make({}, "run-setup-test");
    ASSERT_TRUE(dir) << dir.error();
    made = dir->path();
    EXPECT_THAT(made.filename().string(), HasSubstr("run-setup-test."));
    EXPECT_TRUE(fs::is_directory(made));
  }
  EXPECT_FALSE(fs::exists(made));
}

TEST_F(RunDirectoryTest, AnUncreatableDirectoryIsOneLineNamingIt) {
  fs::path file = scratch_ / "file";
  FILE* f = fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  fclose(f);
  auto dir = RunDirectory::Make(file / "run", "unused");
  ASSERT_FALSE(dir);
  EXPECT_THAT(dir.error(), HasSubstr("--run-dir " + (file / "run").string()));
}

TEST_F(RunDirectoryTest, ThePkiHasAContextForEachProfileAskedForOnly) {
  std::vector<std::string> hosts{"127.0.0.1", "mail.example.test",
                                 "mail.example.test"};
  std::vector<std::string> profiles{"valid", "expired", "valid"};
  auto pki = IssueRunPki(hosts, profiles, scratch_ / "pki");
  ASSERT_TRUE(pki) << pki.error();
  EXPECT_TRUE(fs::exists(pki->ca_file));
  EXPECT_NE(pki->Context("valid"), nullptr);
  EXPECT_NE(pki->Context("expired"), nullptr);
  EXPECT_EQ(pki->Context("self-signed"), nullptr);
  EXPECT_EQ(pki->contexts.size(), 2u);
}

TEST_F(RunDirectoryTest, OnlyIpAddressesStillGetTheDnsNameTheCatalogueNeeds) {
  std::vector<std::string> hosts{"127.0.0.1"};
  std::vector<std::string> profiles{"valid"};
  auto pki = IssueRunPki(hosts, profiles, scratch_ / "pki");
  ASSERT_TRUE(pki) << pki.error();
  EXPECT_NE(pki->Context("valid"), nullptr);
}

TEST_F(RunDirectoryTest, AnUnknownProfileIsNamed) {
  std::vector<std::string> hosts{"mail.example.test"};
  std::vector<std::string> profiles{"no-such-profile"};
  auto pki = IssueRunPki(hosts, profiles, scratch_ / "pki");
  ASSERT_FALSE(pki);
  EXPECT_EQ(pki.error(), "unknown certificate profile \"no-such-profile\"");
  EXPECT_FALSE(fs::exists(scratch_ / "pki"));
}

}  // namespace
}  // namespace starttls::server
