#include "certs/issuer.h"

#include <gtest/gtest.h>

namespace starttls::certs {
namespace {

struct Chain {
  ossl::PkeyPtr ca_key;
  ossl::X509Ptr ca;
  ossl::PkeyPtr leaf_key;
  ossl::X509Ptr leaf;
};

Chain IssueChain(CertSpec leaf_spec) {
  Chain c;
  c.ca_key = *GenerateKey(KeyType::kEcP256);
  c.ca = *Issue({.common_name = "test root", .extensions = CaExtensions()},
                c.ca_key.get(), nullptr, c.ca_key.get());
  c.leaf_key = *GenerateKey(KeyType::kEcP256);
  auto leaf = Issue(leaf_spec, c.leaf_key.get(), c.ca.get(), c.ca_key.get());
  EXPECT_TRUE(leaf.has_value()) << leaf.error();
  c.leaf = std::move(*leaf);
  return c;
}

// Verifies `chain.leaf` against `chain.ca` for `host` the way a TLS client
// does, and returns OpenSSL's verify error (X509_V_OK on success).
int VerifyFor(const Chain& chain, const std::string& host) {
  ossl::X509StorePtr store(X509_STORE_new());
  X509_STORE_add_cert(store.get(), chain.ca.get());
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), chain.leaf.get(), nullptr);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
  if (host.find(':') != std::string::npos || isdigit(host[0])) {
    X509_VERIFY_PARAM_set1_ip_asc(param, host.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, host.c_str(), 0);
  }
  X509_verify_cert(ctx.get());
  return X509_STORE_CTX_get_error(ctx.get());
}

TEST(Issue, ServerLeafVerifiesAgainstItsCaForItsHostName) {
  Chain c = IssueChain({.common_name = "mail.example.test",
                        .extensions = ServerExtensions({"mail.example.test"})});
  EXPECT_EQ(VerifyFor(c, "mail.example.test"), X509_V_OK);
}

TEST(Issue, ServerLeafIsRefusedForAnotherHostName) {
  Chain c = IssueChain({.common_name = "mail.example.test",
                        .extensions = ServerExtensions({"mail.example.test"})});
  EXPECT_EQ(VerifyFor(c, "other.example.test"), X509_V_ERR_HOSTNAME_MISMATCH);
}

TEST(Issue, IpAddressIdentityGoesIntoTheSanAsAnIpEntry) {
  Chain c = IssueChain({.common_name = "127.0.0.1",
                        .extensions = ServerExtensions({"127.0.0.1", "::1"})});
  EXPECT_EQ(VerifyFor(c, "127.0.0.1"), X509_V_OK);
  EXPECT_EQ(VerifyFor(c, "::1"), X509_V_OK);
  EXPECT_EQ(VerifyFor(c, "127.0.0.2"), X509_V_ERR_IP_ADDRESS_MISMATCH);
}

TEST(Issue, ValidityWindowIsRelativeToNow) {
  Chain c = IssueChain({.common_name = "mail.example.test",
                        .not_before = -std::chrono::hours(48),
                        .not_after = -std::chrono::hours(24),
                        .extensions = ServerExtensions({"mail.example.test"})});
  EXPECT_EQ(VerifyFor(c, "mail.example.test"), X509_V_ERR_CERT_HAS_EXPIRED);
}

TEST(Issue, SerialsAreRandomAndPositive) {
  Chain a = IssueChain({.common_name = "a"});
  Chain b = IssueChain({.common_name = "b"});
  const ASN1_INTEGER* sa = X509_get0_serialNumber(a.leaf.get());
  const ASN1_INTEGER* sb = X509_get0_serialNumber(b.leaf.get());
  EXPECT_NE(ASN1_INTEGER_cmp(sa, sb), 0);
  ossl::BignumPtr bn(ASN1_INTEGER_to_BN(sa, nullptr));
  EXPECT_FALSE(BN_is_negative(bn.get()));
  EXPECT_FALSE(BN_is_zero(bn.get()));
}

TEST(Issue, MalformedExtensionIsAnErrorNamingIt) {
  auto key = GenerateKey(KeyType::kEcP256);
  ASSERT_TRUE(key.has_value());
  auto cert =
      Issue({.common_name = "x", .extensions = {{"keyUsage", "noSuchUsage"}}},
            key->get(), nullptr, key->get());
  ASSERT_FALSE(cert.has_value());
  EXPECT_NE(cert.error().find("keyUsage=noSuchUsage"), std::string::npos)
      << cert.error();
}

TEST(PemEncoding, CertificateAndKeyRoundTrip) {
  Chain c = IssueChain({.common_name = "mail.example.test"});
  auto pem = CertToPem(c.leaf.get());
  ASSERT_TRUE(pem.has_value());
  EXPECT_TRUE(pem->starts_with("-----BEGIN CERTIFICATE-----"));
  ossl::BioPtr bio(BIO_new_mem_buf(pem->data(), static_cast<int>(pem->size())));
  ossl::X509Ptr back(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(X509_cmp(back.get(), c.leaf.get()), 0);

  auto key_pem = KeyToPem(c.leaf_key.get());
  ASSERT_TRUE(key_pem.has_value());
  EXPECT_TRUE(key_pem->starts_with("-----BEGIN PRIVATE KEY-----"));
}

}  // namespace
}  // namespace starttls::certs
