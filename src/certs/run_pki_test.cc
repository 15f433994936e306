#include "certs/run_pki.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include "starttls/ossl.h"

namespace starttls::certs {
namespace {

class RunPkiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/run_pki_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

ossl::X509Ptr ReadCert(const std::filesystem::path& p) {
  ossl::BioPtr bio(BIO_new_file(p.c_str(), "r"));
  return ossl::X509Ptr(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
}

TEST_F(RunPkiTest, WritesCaChainAndPrivateKeyReadableOnlyByOwner) {
  auto files = IssueRunPki(dir_, {"mail.example.test"});
  ASSERT_TRUE(files.has_value()) << files.error();
  struct stat st;
  ASSERT_EQ(stat(files->key_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  ASSERT_EQ(stat(files->ca_file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0644u);
  // Only the three files: no temporary left behind.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(dir_),
                          std::filesystem::directory_iterator()),
            3);
}

TEST_F(RunPkiTest, LeafVerifiesAgainstTheWrittenCaForTheHost) {
  auto files = IssueRunPki(dir_, {"mail.example.test", "127.0.0.1"});
  ASSERT_TRUE(files.has_value()) << files.error();
  ossl::X509Ptr ca = ReadCert(files->ca_file);
  ossl::X509Ptr leaf = ReadCert(files->chain_file);
  ASSERT_TRUE(ca && leaf);
  ossl::X509StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.get());
  for (const char* host : {"mail.example.test", "other.example.test"}) {
    ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
    X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr);
    X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx.get()), host, 0);
    bool ok = X509_verify_cert(ctx.get()) == 1;
    EXPECT_EQ(ok, std::string(host) == "mail.example.test") << host;
  }
}

TEST_F(RunPkiTest, TwoRunsHaveDifferentCaNames) {
  auto a = IssueRunPki(dir_ / ".", {"h"});
  ASSERT_TRUE(a.has_value());
  ossl::X509Ptr ca_a = ReadCert(a->ca_file);
  auto b = IssueRunPki(dir_, {"h"});
  ASSERT_TRUE(b.has_value());
  ossl::X509Ptr ca_b = ReadCert(b->ca_file);
  EXPECT_NE(X509_NAME_cmp(X509_get_subject_name(ca_a.get()),
                          X509_get_subject_name(ca_b.get())),
            0);
}

TEST_F(RunPkiTest, HostNamesLongerThanACommonNameAllowsAreStillCertified) {
  std::string host = std::string(70, 'a') + ".example.test";
  auto files = IssueRunPki(dir_, {host});
  ASSERT_TRUE(files.has_value()) << files.error();
  ossl::X509Ptr leaf = ReadCert(files->chain_file);
  ossl::X509Ptr ca = ReadCert(files->ca_file);
  ossl::X509StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), ca.get());
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), leaf.get(), nullptr);
  X509_VERIFY_PARAM_set1_host(X509_STORE_CTX_get0_param(ctx.get()),
                              host.c_str(), 0);
  EXPECT_EQ(X509_verify_cert(ctx.get()), 1);
}

TEST_F(RunPkiTest, UnwritableDirectoryIsAnErrorNamingThePath) {
  auto files = IssueRunPki(dir_ / "missing", {"mail.example.test"});
  ASSERT_FALSE(files.has_value());
  EXPECT_NE(files.error().find("missing"), std::string::npos) << files.error();
}

}  // namespace
}  // namespace starttls::certs
