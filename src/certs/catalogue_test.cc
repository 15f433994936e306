#include "certs/catalogue.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <set>

#include "common/atomic_file.h"
#include "starttls/ossl.h"

namespace starttls::certs {
namespace {

constexpr char kHost[] = "mail.example.test";

std::vector<ossl::X509Ptr> ParseCerts(const std::string& pem) {
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<ossl::X509Ptr> out;
  while (X509* cert = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(cert);
  }
  ERR_clear_error();  // the end of the PEM stream queues an error
  return out;
}

std::vector<ossl::X509CrlPtr> ParseCrls(const std::string& pem) {
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  std::vector<ossl::X509CrlPtr> out;
  while (X509_CRL* crl =
             PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr)) {
    out.emplace_back(crl);
  }
  ERR_clear_error();
  return out;
}

ossl::PkeyPtr ParseKey(const std::string& pem) {
  ossl::BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  return ossl::PkeyPtr(
      PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
}

const IssuedCatalogue& Catalogue() {
  static const IssuedCatalogue* catalogue = [] {
    auto issued = IssueCatalogue({kHost});
    EXPECT_TRUE(issued.has_value()) << issued.error();
    return new IssuedCatalogue(std::move(*issued));
  }();
  return *catalogue;
}

const IssuedProfile& Issued(std::string_view name) {
  for (const IssuedProfile& p : Catalogue().profiles) {
    if (p.profile->name == name) return p;
  }
  ADD_FAILURE() << "profile " << name << " not issued";
  return Catalogue().profiles.front();
}

// The store a client builds from the one cafile, plus the profile's CRLs and
// CRL checking when the profile needs them.
ossl::X509StorePtr ClientStore(const IssuedCatalogue& catalogue,
                               const IssuedProfile& issued) {
  ossl::X509StorePtr store(X509_STORE_new());
  for (const auto& ca : ParseCerts(catalogue.ca_pem)) {
    X509_STORE_add_cert(store.get(), ca.get());
  }
  if (issued.profile->needs_crl) {
    for (const auto& crl : ParseCrls(issued.crl_pem)) {
      X509_STORE_add_crl(store.get(), crl.get());
    }
    X509_STORE_set_flags(store.get(),
                         X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL);
  }
  return store;
}

// Verifies the chain the server sends the way libssl does for a client at
// security level 2, and returns OpenSSL's verify error.
int Verify(const IssuedCatalogue& catalogue, const IssuedProfile& issued,
           unsigned int host_flags = 0) {
  ossl::X509StorePtr store = ClientStore(catalogue, issued);
  std::vector<ossl::X509Ptr> chain = ParseCerts(issued.chain_pem);
  EXPECT_FALSE(chain.empty());
  STACK_OF(X509)* untrusted = sk_X509_new_null();
  for (size_t i = 1; i < chain.size(); ++i) {
    sk_X509_push(untrusted, chain[i].get());
  }
  ossl::X509StoreCtxPtr ctx(X509_STORE_CTX_new());
  X509_STORE_CTX_init(ctx.get(), store.get(), chain[0].get(), untrusted);
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_SERVER);
  X509_VERIFY_PARAM* param = X509_STORE_CTX_get0_param(ctx.get());
  X509_VERIFY_PARAM_set_auth_level(param, 2);
  if (issued.profile->identity == Identity::kIpAddress) {
    X509_VERIFY_PARAM_set1_ip_asc(param, catalogue.ip.c_str());
  } else {
    X509_VERIFY_PARAM_set1_host(param, kHost, 0);
    X509_VERIFY_PARAM_set_hostflags(param, host_flags);
  }
  X509_verify_cert(ctx.get());
  int error = X509_STORE_CTX_get_error(ctx.get());
  sk_X509_free(untrusted);
  return error;
}

struct HandshakeResult {
  bool client_done = false;
  int client_alert = -1;  // the alert description the client sent, if any
};

void RecordSentAlert(const SSL* ssl, int where, int ret) {
  if ((where & SSL_CB_WRITE_ALERT) != 0) {
    static_cast<HandshakeResult*>(SSL_get_app_data(ssl))->client_alert =
        ret & 0xff;
  }
}

// Runs a TLS handshake over a BIO pair between a server presenting `issued`
// and a client that verifies it like a correct OpenSSL client (SSL_VERIFY_PEER,
// host or IP check, security level 2).
HandshakeResult Handshake(const IssuedCatalogue& catalogue,
                          const IssuedProfile& issued) {
  HandshakeResult result;
  ossl::SslCtxPtr server_ctx(SSL_CTX_new(TLS_server_method()));
  // The weak leaves (rsa-1024, sha1-signature) only load at level 0.
  SSL_CTX_set_security_level(server_ctx.get(), 0);
  std::vector<ossl::X509Ptr> chain = ParseCerts(issued.chain_pem);
  ossl::PkeyPtr key = ParseKey(issued.key_pem);
  EXPECT_EQ(SSL_CTX_use_certificate(server_ctx.get(), chain[0].get()), 1)
      << ossl::DrainErrors();
  for (size_t i = 1; i < chain.size(); ++i) {
    SSL_CTX_add1_chain_cert(server_ctx.get(), chain[i].get());
  }
  EXPECT_EQ(SSL_CTX_use_PrivateKey(server_ctx.get(), key.get()), 1)
      << ossl::DrainErrors();

  ossl::SslCtxPtr client_ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_security_level(client_ctx.get(), 2);
  SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_PEER, nullptr);
  SSL_CTX_set_cert_store(client_ctx.get(),
                         ClientStore(catalogue, issued).release());
  SSL_CTX_set_info_callback(client_ctx.get(), RecordSentAlert);

  ossl::SslPtr server(SSL_new(server_ctx.get()));
  ossl::SslPtr client(SSL_new(client_ctx.get()));
  SSL_set_app_data(client.get(), &result);
  if (issued.profile->identity == Identity::kIpAddress) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(client.get()),
                                  catalogue.ip.c_str());
  } else {
    SSL_set_tlsext_host_name(client.get(), kHost);
    SSL_set1_host(client.get(), kHost);
  }
  BIO* client_bio = nullptr;
  BIO* server_bio = nullptr;
  BIO_new_bio_pair(&client_bio, 0, &server_bio, 0);
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_bio(server.get(), server_bio, server_bio);
  SSL_set_connect_state(client.get());
  SSL_set_accept_state(server.get());

  bool server_done = false;
  for (int round = 0; round < 20 && !(result.client_done && server_done);
       ++round) {
    int rc = SSL_do_handshake(client.get());
    if (rc == 1) {
      result.client_done = true;
    } else if (int e = SSL_get_error(client.get(), rc);
               e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      break;
    }
    rc = SSL_do_handshake(server.get());
    if (rc == 1) {
      server_done = true;
    } else if (int e = SSL_get_error(server.get(), rc);
               e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) {
      break;
    }
  }
  ERR_clear_error();
  return result;
}

std::string ParamName(const testing::TestParamInfo<std::string>& info) {
  std::string name = info.param;
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

std::vector<std::string> ProfileNames() {
  std::vector<std::string> names;
  for (const Profile& p : Profiles()) names.emplace_back(p.name);
  return names;
}

class EveryProfile : public testing::TestWithParam<std::string> {
 protected:
  const IssuedProfile& issued() const { return Issued(GetParam()); }
  const Profile& profile() const { return *issued().profile; }
};

TEST_P(EveryProfile, X509VerifyCertReportsTheDocumentedError) {
  EXPECT_EQ(Verify(Catalogue(), issued()), profile().openssl.verify_code)
      << "documented " << profile().openssl.verify_error << ", got "
      << X509_verify_cert_error_string(Verify(Catalogue(), issued()));
}

TEST_P(EveryProfile, ClientSendsTheDocumentedAlertOrCompletesTheHandshake) {
  HandshakeResult r = Handshake(Catalogue(), issued());
  EXPECT_EQ(r.client_alert, profile().openssl.alert_code)
      << "documented " << profile().openssl.alert << ", got "
      << (r.client_alert < 0 ? "none"
                             : SSL_alert_desc_string_long(r.client_alert));
  EXPECT_EQ(r.client_done, profile().openssl.verify_code == X509_V_OK);
}

TEST_P(EveryProfile, BadProfileNamesAGoodTwinThatDiffersInOneStep) {
  if (profile().good()) {
    EXPECT_EQ(profile().openssl.verify_code, X509_V_OK);
    return;
  }
  const Profile* twin = FindProfile(profile().twin);
  ASSERT_NE(twin, nullptr) << profile().twin;
  EXPECT_TRUE(twin->good()) << twin->name;
  EXPECT_EQ(twin->openssl.verify_code, X509_V_OK);
  EXPECT_EQ(twin->identity, profile().identity);
  EXPECT_EQ(twin->needs_crl, profile().needs_crl);
}

TEST_P(EveryProfile, ServerChainStartsWithALeafWhoseKeyIsTheWrittenKey) {
  std::vector<ossl::X509Ptr> chain = ParseCerts(issued().chain_pem);
  ossl::PkeyPtr key = ParseKey(issued().key_pem);
  ASSERT_FALSE(chain.empty());
  ASSERT_NE(key, nullptr);
  EXPECT_EQ(X509_check_private_key(chain[0].get(), key.get()), 1);
  EXPECT_EQ(issued().crl_pem.empty(), !profile().needs_crl);
}

TEST_P(EveryProfile, EveryCertificateHasKeyIdentifiersAndARandomSerial) {
  for (const auto& cert : ParseCerts(issued().chain_pem)) {
    EXPECT_NE(X509_get0_subject_key_id(cert.get()), nullptr);
    EXPECT_NE(X509_get0_authority_key_id(cert.get()), nullptr);
    ossl::BignumPtr serial(
        ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert.get()), nullptr));
    EXPECT_GT(BN_num_bits(serial.get()), 64);
  }
}

TEST_P(EveryProfile, KeysAreP256UnlessTheFaultIsTheKey) {
  std::vector<ossl::X509Ptr> chain = ParseCerts(issued().chain_pem);
  for (size_t i = 0; i < chain.size(); ++i) {
    EVP_PKEY* key = X509_get0_pubkey(chain[i].get());
    if (i == 0 && profile().name == "rsa-1024") {
      EXPECT_TRUE(EVP_PKEY_is_a(key, "RSA"));
      EXPECT_EQ(EVP_PKEY_get_bits(key), 1024);
      continue;
    }
    char group[32] = {};
    EXPECT_TRUE(EVP_PKEY_is_a(key, "EC"));
    EXPECT_EQ(EVP_PKEY_get_utf8_string_param(key, "group", group, sizeof group,
                                             nullptr),
              1);
    EXPECT_STREQ(group, "prime256v1");
  }
}

INSTANTIATE_TEST_SUITE_P(Catalogue, EveryProfile,
                         testing::ValuesIn(ProfileNames()), ParamName);

TEST(ProfileTable, HasEveryProfileTheIssueAsksForWithUniqueNames) {
  std::set<std::string_view> names;
  for (const Profile& p : Profiles()) {
    EXPECT_TRUE(names.insert(p.name).second) << p.name;
    EXPECT_FALSE(p.description.empty()) << p.name;
    EXPECT_FALSE(p.fault.empty()) << p.name;
  }
  for (const char* name : {"valid",
                           "expired",
                           "not-yet-valid",
                           "expired-intermediate",
                           "wrong-host",
                           "cn-matches-san-does-not",
                           "wildcard-too-broad",
                           "ip-mismatch",
                           "self-signed",
                           "untrusted-root",
                           "untrusted-root-not-sent",
                           "incomplete-chain",
                           "bad-signature",
                           "sha1-signature",
                           "rsa-1024",
                           "no-serverauth-eku",
                           "ku-without-digitalsignature",
                           "ca-as-leaf",
                           "intermediate-not-ca",
                           "pathlen-exceeded",
                           "name-constraints-violation",
                           "unknown-critical-extension",
                           "revoked",
                           "cn-only-no-san",
                           "no-eku"}) {
    EXPECT_NE(FindProfile(name), nullptr) << name;
  }
  EXPECT_EQ(FindProfile("no-such-profile"), nullptr);
}

TEST(ProfileTable, OnlyPolicyDependentProfilesHaveAStrictAnswer) {
  for (const Profile& p : Profiles()) {
    if (!p.policy_dependent()) continue;
    EXPECT_EQ(p.openssl.verify_code, X509_V_OK) << p.name;
    EXPECT_NE(p.strict->verify_code, X509_V_OK) << p.name;
  }
  EXPECT_TRUE(FindProfile("cn-only-no-san")->policy_dependent());
  EXPECT_TRUE(FindProfile("no-eku")->policy_dependent());
  EXPECT_FALSE(FindProfile("expired")->policy_dependent());
}

TEST(ProfileTable, CnOnlyNoSanIsRefusedByAClientThatNeverChecksTheSubject) {
  const IssuedProfile& issued = Issued("cn-only-no-san");
  EXPECT_EQ(Verify(Catalogue(), issued, X509_CHECK_FLAG_NEVER_CHECK_SUBJECT),
            issued.profile->strict->verify_code);
}

TEST(CaFile, HoldsOnlyTheRunsRootWhichSignsNoUntrustedChain) {
  std::vector<ossl::X509Ptr> cas = ParseCerts(Catalogue().ca_pem);
  ASSERT_EQ(cas.size(), 1u);
  EXPECT_EQ(X509_self_signed(cas[0].get(), 1), 1);
  for (const char* name : {"untrusted-root", "untrusted-root-not-sent"}) {
    for (const auto& cert : ParseCerts(Issued(name).chain_pem)) {
      EXPECT_NE(X509_NAME_cmp(X509_get_issuer_name(cert.get()),
                              X509_get_subject_name(cas[0].get())),
                0)
          << name;
    }
  }
}

TEST(CaFile, TwoIssuancesHaveDifferentCaNames) {
  auto a = IssueCatalogue({kHost}, {"valid"});
  auto b = IssueCatalogue({kHost}, {"valid"});
  ASSERT_TRUE(a && b);
  EXPECT_NE(
      X509_NAME_cmp(X509_get_subject_name(ParseCerts(a->ca_pem)[0].get()),
                    X509_get_subject_name(ParseCerts(b->ca_pem)[0].get())),
      0);
}

TEST(IssueCatalogue, IssuesOnlyTheNamedProfilesInTheGivenOrder) {
  auto issued = IssueCatalogue({kHost}, {"revoked", "expired", "revoked"});
  ASSERT_TRUE(issued.has_value()) << issued.error();
  ASSERT_EQ(issued->profiles.size(), 2u);
  EXPECT_EQ(issued->profiles[0].profile->name, "revoked");
  EXPECT_EQ(issued->profiles[1].profile->name, "expired");
}

TEST(IssueCatalogue, UnknownProfileIsAnErrorNamingIt) {
  auto issued = IssueCatalogue({kHost}, {"valid", "bogus"});
  ASSERT_FALSE(issued.has_value());
  EXPECT_NE(issued.error().find("'bogus'"), std::string::npos);
}

TEST(IssueCatalogue, InvalidHostsAreRefusedWithOneLine) {
  for (std::vector<std::string> hosts : std::vector<std::vector<std::string>>{
           {}, {"bad_host.test"}, {"127.0.0.1"}, {kHost, "x.invalid"}}) {
    auto issued = IssueCatalogue(hosts);
    ASSERT_FALSE(issued.has_value());
    EXPECT_FALSE(issued.error().empty());
    EXPECT_EQ(issued.error().find('\n'), std::string::npos);
  }
}

TEST(IssueCatalogue, IpHostsAreInTheSanAndAreTheIpIdentity) {
  auto issued = IssueCatalogue({kHost, "192.0.2.7"},
                               {"valid", "ip-mismatch", "ip-match"});
  ASSERT_TRUE(issued.has_value()) << issued.error();
  EXPECT_EQ(issued->ip, "192.0.2.7");
  EXPECT_EQ(Verify(*issued, issued->profiles[0]), X509_V_OK);
  EXPECT_EQ(Verify(*issued, issued->profiles[1]),
            X509_V_ERR_IP_ADDRESS_MISMATCH);
  EXPECT_EQ(Verify(*issued, issued->profiles[2]), X509_V_OK);
}

TEST(IssueCatalogue, DefaultIpIdentityIsLoopback) {
  EXPECT_EQ(Catalogue().ip, "127.0.0.1");
}

class WriteCatalogueTest : public testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/catalogue_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(root_); }

  size_t Entries(const std::filesystem::path& dir) {
    return static_cast<size_t>(
        std::distance(std::filesystem::directory_iterator(dir),
                      std::filesystem::directory_iterator()));
  }

  std::filesystem::path root_;
};

mode_t Mode(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(stat(p.c_str(), &st), 0) << p;
  return st.st_mode & 0777;
}

TEST_F(WriteCatalogueTest, WritesCaAndPerProfileChainKeyAndCrl) {
  auto files = WriteCatalogue(Catalogue(), root_ / "out");
  ASSERT_TRUE(files.has_value()) << files.error();
  EXPECT_EQ(files->ca_file, root_ / "out" / "ca.pem");
  EXPECT_EQ(Mode(files->ca_file), 0644u);
  EXPECT_EQ(files->profiles.size(), Profiles().size());
  // ca.pem plus one directory per profile, nothing else.
  EXPECT_EQ(Entries(root_ / "out"), Profiles().size() + 1);
  EXPECT_EQ(Entries(root_), 1u);
  for (const Profile& p : Profiles()) {
    auto it = files->profiles.find(p.name);
    ASSERT_NE(it, files->profiles.end()) << p.name;
    EXPECT_EQ(it->second.chain_file,
              root_ / "out" / std::string(p.name) / "chain.pem");
    EXPECT_EQ(Mode(it->second.key_file), 0600u) << p.name;
    EXPECT_EQ(it->second.crl_file.has_value(), p.needs_crl) << p.name;
    EXPECT_EQ(Entries(root_ / "out" / std::string(p.name)),
              p.needs_crl ? 3u : 2u);
  }
}

TEST_F(WriteCatalogueTest, WrittenChainAndKeyLoadIntoAServerContext) {
  auto files = WriteCatalogue(Catalogue(), root_ / "out");
  ASSERT_TRUE(files.has_value()) << files.error();
  const ProfileFiles& valid = files->profiles.find("valid")->second;
  ossl::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  EXPECT_EQ(
      SSL_CTX_use_certificate_chain_file(ctx.get(), valid.chain_file.c_str()),
      1);
  EXPECT_EQ(SSL_CTX_use_PrivateKey_file(ctx.get(), valid.key_file.c_str(),
                                        SSL_FILETYPE_PEM),
            1);
  EXPECT_EQ(SSL_CTX_check_private_key(ctx.get()), 1);
}

TEST_F(WriteCatalogueTest, AnExistingEmptyDirectoryIsFilled) {
  std::filesystem::create_directory(root_ / "out");
  auto files = WriteCatalogue(Catalogue(), root_ / "out");
  ASSERT_TRUE(files.has_value()) << files.error();
  EXPECT_TRUE(std::filesystem::exists(root_ / "out" / "ca.pem"));
}

TEST_F(WriteCatalogueTest, ANonEmptyTargetIsRefusedAndLeftAlone) {
  std::filesystem::create_directory(root_ / "out");
  ASSERT_TRUE(WriteFileAtomically(root_ / "out" / "mine", "x").has_value());
  auto files = WriteCatalogue(Catalogue(), root_ / "out");
  ASSERT_FALSE(files.has_value());
  EXPECT_NE(files.error().find("not empty"), std::string::npos)
      << files.error();
  EXPECT_EQ(Entries(root_ / "out"), 1u);
  EXPECT_EQ(Entries(root_), 1u);
}

TEST_F(WriteCatalogueTest, AMissingParentIsAnErrorAndLeavesNothingBehind) {
  auto files = WriteCatalogue(Catalogue(), root_ / "missing" / "out");
  ASSERT_FALSE(files.has_value());
  EXPECT_NE(files.error().find("missing"), std::string::npos) << files.error();
  EXPECT_EQ(Entries(root_), 0u);
}

TEST(Profile, MustBeRefusedOnlyWhenBadForEveryPolicyAndWithoutACrl) {
  auto must = [](const char* name) {
    const Profile* p = FindProfile(name);
    EXPECT_NE(p, nullptr) << name;
    return p != nullptr && p->must_be_refused();
  };
  EXPECT_TRUE(must("expired"));
  EXPECT_TRUE(must("self-signed"));
  EXPECT_FALSE(must("valid"));           // good
  EXPECT_FALSE(must("not-revoked"));     // good, CRL-checked
  EXPECT_FALSE(must("revoked"));         // bad only given the CRL
  EXPECT_FALSE(must("cn-only-no-san"));  // policy-dependent
  EXPECT_FALSE(must("no-eku"));          // policy-dependent
}

}  // namespace
}  // namespace starttls::certs
