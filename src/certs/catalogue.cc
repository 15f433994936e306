#include "certs/catalogue.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <system_error>

#include "certs/crl.h"
#include "certs/host_name.h"
#include "certs/issuer.h"
#include "common/ascii.h"
#include "common/atomic_file.h"
#include "starttls/ossl.h"

namespace starttls::certs {

using std::chrono::hours;
using tl::unexpected;

namespace {

// The CAs a leaf can be signed by. Only `kRoot` is in ca.pem.
enum class Ca {
  kRoot,
  kIntermediate,
  kExpiredIntermediate,
  kNotCaIntermediate,
  kPathLenZeroIntermediate,
  kSubCaBelowPathLenZero,
  kConstrainedIntermediate,
  kUntrustedRoot,
};

struct CaDecl {
  Ca ca;
  std::optional<Ca> parent;  // nullopt: a self-signed root
  std::string_view label;    // the CN, before the run id
  std::chrono::seconds not_before = -hours(24);
  std::chrono::seconds not_after = hours(24 * 365);
  std::string_view basic_constraints = "critical,CA:TRUE";
  std::string_view name_constraints;  // empty: none
};

// Names under .invalid never resolve (RFC 6761) and are refused as hosts, so
// a certificate for them can never match the name a client checks.
constexpr std::string_view kWrongName = "wrong-host.invalid";

const std::vector<CaDecl>& CaDecls() {
  static const std::vector<CaDecl> decls = {
      {.ca = Ca::kRoot, .label = "starttls-mock root CA"},
      {.ca = Ca::kIntermediate,
       .parent = Ca::kRoot,
       .label = "starttls-mock intermediate CA"},
      {.ca = Ca::kExpiredIntermediate,
       .parent = Ca::kRoot,
       .label = "starttls-mock expired intermediate CA",
       .not_before = -hours(24 * 60),
       .not_after = -hours(24 * 30)},
      {.ca = Ca::kNotCaIntermediate,
       .parent = Ca::kRoot,
       .label = "starttls-mock not-a-CA intermediate",
       .basic_constraints = "critical,CA:FALSE"},
      {.ca = Ca::kPathLenZeroIntermediate,
       .parent = Ca::kRoot,
       .label = "starttls-mock pathlen:0 intermediate CA",
       .basic_constraints = "critical,CA:TRUE,pathlen:0"},
      {.ca = Ca::kSubCaBelowPathLenZero,
       .parent = Ca::kPathLenZeroIntermediate,
       .label = "starttls-mock sub-CA below pathlen:0"},
      // Permits one DNS subtree and one IPv4 address no host can be, so every
      // host, DNS or IP, violates it.
      {.ca = Ca::kConstrainedIntermediate,
       .parent = Ca::kRoot,
       .label = "starttls-mock name-constrained intermediate CA",
       .name_constraints = "critical,permitted;DNS:allowed.invalid,"
                           "permitted;IP:192.0.2.0/255.255.255.255"},
      {.ca = Ca::kUntrustedRoot, .label = "starttls-mock untrusted root CA"},
  };
  return decls;
}

const CaDecl& DeclOf(Ca ca) {
  const auto& decls = CaDecls();
  return *std::find_if(decls.begin(), decls.end(),
                       [&](const CaDecl& d) { return d.ca == ca; });
}

}  // namespace

// A leaf as `valid` has it; profile steps edit it before it is issued.
struct LeafPlan {
  std::string primary_host;  // the first DNS host
  std::string ip;            // the identity of kIpAddress profiles
  KeyType key = KeyType::kEcP256;
  std::string common_name;
  std::vector<std::string> san;  // DNS names or IP literals; empty: no SAN
  std::chrono::seconds not_before = -hours(24);
  std::chrono::seconds not_after = hours(24 * 30);
  // Besides SAN and the key identifiers, which are added from the fields.
  std::vector<Extension> extensions = {
      {"basicConstraints", "critical,CA:FALSE"},
      {"keyUsage", "critical,digitalSignature,keyEncipherment"},
      {"extendedKeyUsage", "serverAuth"}};
  std::string digest;                            // empty: SHA-256
  std::optional<Ca> signer = Ca::kIntermediate;  // nullopt: self-signed
  bool stray_signing_key = false;  // issuer named as usual, another key signs
  bool send_intermediates = true;  // the CAs between leaf and root
  bool send_root = false;
  std::optional<bool> crl_lists_leaf;  // set: CRLs are issued
};

namespace {

// ---- Steps: each edits one aspect of the plan. ----

Step Key(KeyType type) {
  return [type](LeafPlan& p) { p.key = type; };
}
Step Validity(std::chrono::seconds not_before, std::chrono::seconds not_after) {
  return [=](LeafPlan& p) {
    p.not_before = not_before;
    p.not_after = not_after;
  };
}
// Subject CN and SAN both name a host the client does not check.
Step NamesAnotherHost() {
  return [](LeafPlan& p) {
    p.common_name = kWrongName;
    p.san = {std::string(kWrongName)};
  };
}
Step SanNamesAnotherHost() {
  return [](LeafPlan& p) { p.san = {std::string(kWrongName)}; };
}
// CN and SAN are "*.<top-level domain of the host>", a wildcard OpenSSL
// refuses to match because it covers a whole public suffix.
Step WildcardOverTopLevelDomain() {
  return [](LeafPlan& p) {
    size_t dot = p.primary_host.rfind('.');
    std::string tld = dot == std::string::npos ? p.primary_host
                                               : p.primary_host.substr(dot + 1);
    p.common_name = "*." + tld;
    p.san = {p.common_name};
  };
}
Step DnsNamesOnly() {
  return [](LeafPlan& p) { std::erase_if(p.san, IsIpLiteral); };
}
Step AlsoNamesTheIp() {
  return [](LeafPlan& p) {
    if (std::find(p.san.begin(), p.san.end(), p.ip) == p.san.end()) {
      p.san.push_back(p.ip);
    }
  };
}
Step NoSan() {
  return [](LeafPlan& p) { p.san.clear(); };
}
Step SetExtension(std::string name, std::string value) {
  return [name = std::move(name), value = std::move(value)](LeafPlan& p) {
    auto it = std::find_if(p.extensions.begin(), p.extensions.end(),
                           [&](const Extension& e) { return e.name == name; });
    if (it != p.extensions.end()) {
      it->value = value;
    } else {
      p.extensions.push_back({name, value});
    }
  };
}
Step DropExtension(std::string name) {
  return [name = std::move(name)](LeafPlan& p) {
    std::erase_if(p.extensions,
                  [&](const Extension& e) { return e.name == name; });
  };
}
Step Digest(std::string digest) {
  return [digest = std::move(digest)](LeafPlan& p) { p.digest = digest; };
}
Step SignedBy(Ca ca) {
  return [ca](LeafPlan& p) { p.signer = ca; };
}
Step SelfSigned() {
  return [](LeafPlan& p) { p.signer.reset(); };
}
Step SignedWithStrayKey() {
  return [](LeafPlan& p) { p.stray_signing_key = true; };
}
Step SendsRoot() {
  return [](LeafPlan& p) { p.send_root = true; };
}
Step SendsLeafOnly() {
  return [](LeafPlan& p) { p.send_intermediates = false; };
}
Step WithCrl(bool lists_leaf) {
  return [lists_leaf](LeafPlan& p) { p.crl_lists_leaf = lists_leaf; };
}

// ---- Outcomes. ----

struct VerifyError {
  std::string_view name;
  int code;
};
// Keeps an X509_V_ERR_* name and its value from drifting apart.
#define STARTTLS_VERIFY_ERROR(e) \
  VerifyError { #e, e }

struct Alert {
  std::string_view name;  // as RFC 8446 spells it
  int code;
};
constexpr Alert kBadCertificate{"bad_certificate", SSL_AD_BAD_CERTIFICATE};
constexpr Alert kUnsupportedCertificate{"unsupported_certificate",
                                        SSL_AD_UNSUPPORTED_CERTIFICATE};
constexpr Alert kCertificateRevoked{"certificate_revoked",
                                    SSL_AD_CERTIFICATE_REVOKED};
constexpr Alert kCertificateExpired{"certificate_expired",
                                    SSL_AD_CERTIFICATE_EXPIRED};
constexpr Alert kCertificateUnknown{"certificate_unknown",
                                    SSL_AD_CERTIFICATE_UNKNOWN};
constexpr Alert kUnknownCa{"unknown_ca", SSL_AD_UNKNOWN_CA};
constexpr Alert kDecryptError{"decrypt_error", SSL_AD_DECRYPT_ERROR};

constexpr Outcome Verifies() { return {"X509_V_OK", X509_V_OK, "", -1}; }
constexpr Outcome Refused(VerifyError error, Alert alert) {
  return {error.name, error.code, alert.name, alert.code};
}

std::vector<Profile> MakeProfiles() {
  using enum Identity;
  const auto kExpired = STARTTLS_VERIFY_ERROR(X509_V_ERR_CERT_HAS_EXPIRED);
  const auto kHostMismatch =
      STARTTLS_VERIFY_ERROR(X509_V_ERR_HOSTNAME_MISMATCH);
  const auto kIssuerNotFound =
      STARTTLS_VERIFY_ERROR(X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
  const auto kInvalidPurpose =
      STARTTLS_VERIFY_ERROR(X509_V_ERR_INVALID_PURPOSE);
  return {
      // ---- Good profiles: `valid` and the twins that need more than it.
      {.name = "valid",
       .description = "root -> intermediate -> leaf, SAN = the hosts, "
                      "serverAuth; must be accepted",
       .fault = "none",
       .openssl = Verifies()},
      {.name = "ip-match",
       .description = "valid, with the IP address in the SAN; the client "
                      "checks the IP address",
       .fault = "none",
       .openssl = Verifies(),
       .identity = kIpAddress,
       .steps = {AlsoNamesTheIp()}},
      {.name = "not-revoked",
       .description = "valid, with CRLs that do not list it; the client "
                      "checks CRLs",
       .fault = "none",
       .openssl = Verifies(),
       .needs_crl = true,
       .steps = {WithCrl(false)}},
      // ---- Validity.
      {.name = "expired",
       .description = "does the client check the leaf's notAfter?",
       .fault = "leaf notAfter in the past",
       .openssl = Refused(kExpired, kCertificateExpired),
       .twin = "valid",
       .steps = {Validity(-hours(24 * 60), -hours(24))}},
      {.name = "not-yet-valid",
       .description = "does the client check the leaf's notBefore?",
       .fault = "leaf notBefore in the future",
       .openssl = Refused(STARTTLS_VERIFY_ERROR(X509_V_ERR_CERT_NOT_YET_VALID),
                          kBadCertificate),
       .twin = "valid",
       .steps = {Validity(hours(24), hours(24 * 60))}},
      {.name = "expired-intermediate",
       .description = "does the client check every certificate's validity?",
       .fault = "intermediate CA expired",
       .openssl = Refused(kExpired, kCertificateExpired),
       .twin = "valid",
       .steps = {SignedBy(Ca::kExpiredIntermediate)}},
      // ---- Identity.
      {.name = "wrong-host",
       .description = "does the client check the host name at all?",
       .fault = "SAN and CN name another host",
       .openssl = Refused(kHostMismatch, kBadCertificate),
       .twin = "valid",
       .steps = {NamesAnotherHost()}},
      {.name = "cn-matches-san-does-not",
       .description = "does the client ignore the CN once a DNS SAN exists?",
       .fault = "CN = host, SAN names another host",
       .openssl = Refused(kHostMismatch, kBadCertificate),
       .twin = "valid",
       .steps = {SanNamesAnotherHost()}},
      {.name = "wildcard-too-broad",
       .description = "does the client refuse a wildcard over a top-level "
                      "domain?",
       .fault = "CN and SAN *.<tld> (e.g. *.test for mail.example.test)",
       .openssl = Refused(kHostMismatch, kBadCertificate),
       .twin = "valid",
       .steps = {WildcardOverTopLevelDomain()}},
      {.name = "ip-mismatch",
       .description = "does a client connecting to an IP address check it "
                      "against IP SANs?",
       .fault = "the client checks an IP address, the SAN has DNS names only",
       .openssl = Refused(STARTTLS_VERIFY_ERROR(X509_V_ERR_IP_ADDRESS_MISMATCH),
                          kBadCertificate),
       .twin = "ip-match",
       .identity = kIpAddress,
       .steps = {DnsNamesOnly()}},
      // ---- Trust.
      {.name = "self-signed",
       .description = "does the client refuse a certificate signed by itself?",
       .fault = "leaf signed by its own key, no chain",
       .openssl = Refused(
           STARTTLS_VERIFY_ERROR(X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT),
           kUnknownCa),
       .twin = "valid",
       .steps = {SelfSigned()}},
      {.name = "untrusted-root",
       .description = "does the client refuse a root it was not told to "
                      "trust, even when the server sends it?",
       .fault = "chain from another root, root sent",
       .openssl =
           Refused(STARTTLS_VERIFY_ERROR(X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN),
                   kUnknownCa),
       .twin = "valid",
       .steps = {SignedBy(Ca::kUntrustedRoot), SendsRoot()}},
      {.name = "untrusted-root-not-sent",
       .description = "does the client refuse a chain to an unknown root?",
       .fault = "chain from another root, root left out",
       .openssl = Refused(kIssuerNotFound, kUnknownCa),
       .twin = "valid",
       .steps = {SignedBy(Ca::kUntrustedRoot)}},
      {.name = "incomplete-chain",
       .description = "does the client refuse a chain it cannot complete "
                      "(no AIA fetching)?",
       .fault = "the server leaves the intermediate out",
       .openssl = Refused(kIssuerNotFound, kUnknownCa),
       .twin = "valid",
       .steps = {SendsLeafOnly()}},
      {.name = "bad-signature",
       .description = "does the client check signatures?",
       .fault = "issuer name and key id right, signed with another key",
       .openssl =
           Refused(STARTTLS_VERIFY_ERROR(X509_V_ERR_CERT_SIGNATURE_FAILURE),
                   kDecryptError),
       .twin = "valid",
       .steps = {SignedWithStrayKey()}},
      // ---- Algorithms (OpenSSL security level 2).
      {.name = "sha1-signature",
       .description = "does the client refuse SHA-1 signatures?",
       .fault = "leaf signed with ecdsa-with-SHA1",
       .openssl = Refused(STARTTLS_VERIFY_ERROR(X509_V_ERR_CA_MD_TOO_WEAK),
                          kBadCertificate),
       .twin = "valid",
       .steps = {Digest("SHA1")}},
      {.name = "rsa-1024",
       .description = "does the client refuse keys below 112-bit security?",
       .fault = "1024-bit RSA leaf key",
       .openssl = Refused(STARTTLS_VERIFY_ERROR(X509_V_ERR_EE_KEY_TOO_SMALL),
                          kBadCertificate),
       .twin = "valid",
       .steps = {Key(KeyType::kRsa1024)}},
      // ---- Extensions and CA rules.
      {.name = "no-serverauth-eku",
       .description = "does the client check the extended key usage?",
       .fault = "extendedKeyUsage clientAuth only",
       .openssl = Refused(kInvalidPurpose, kUnsupportedCertificate),
       .twin = "valid",
       .steps = {SetExtension("extendedKeyUsage", "clientAuth")}},
      {.name = "ku-without-digitalsignature",
       .description = "does the client check the key usage?",
       .fault = "keyUsage cRLSign only",
       .openssl = Refused(kInvalidPurpose, kUnsupportedCertificate),
       .twin = "valid",
       .steps = {SetExtension("keyUsage", "critical,cRLSign")}},
      {.name = "ca-as-leaf",
       .description = "does the client refuse a CA certificate as the "
                      "server's?",
       .fault = "leaf with CA:TRUE and keyUsage keyCertSign only",
       .openssl = Refused(kInvalidPurpose, kUnsupportedCertificate),
       .twin = "valid",
       .steps = {SetExtension("basicConstraints", "critical,CA:TRUE"),
                 SetExtension("keyUsage", "critical,keyCertSign")}},
      {.name = "intermediate-not-ca",
       .description = "does the client refuse an issuer that is not a CA?",
       .fault = "intermediate with CA:FALSE",
       .openssl =
           Refused(STARTTLS_VERIFY_ERROR(X509_V_ERR_INVALID_CA), kUnknownCa),
       .twin = "valid",
       .steps = {SignedBy(Ca::kNotCaIntermediate)}},
      {.name = "pathlen-exceeded",
       .description = "does the client enforce pathLenConstraint?",
       .fault = "pathlen:0 intermediate, then a sub-CA that signs the leaf",
       .openssl = Refused(
           STARTTLS_VERIFY_ERROR(X509_V_ERR_PATH_LENGTH_EXCEEDED), kUnknownCa),
       .twin = "valid",
       .steps = {SignedBy(Ca::kSubCaBelowPathLenZero)}},
      {.name = "name-constraints-violation",
       .description = "does the client enforce name constraints?",
       .fault = "intermediate permits allowed.invalid only",
       .openssl = Refused(STARTTLS_VERIFY_ERROR(X509_V_ERR_PERMITTED_VIOLATION),
                          kCertificateUnknown),
       .twin = "valid",
       .steps = {SignedBy(Ca::kConstrainedIntermediate)}},
      {.name = "unknown-critical-extension",
       .description = "does the client refuse a critical extension it does "
                      "not know?",
       .fault = "private OID 1.3.6.1.4.1.32473.1 marked critical",
       .openssl = Refused(
           STARTTLS_VERIFY_ERROR(X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION),
           kCertificateUnknown),
       .twin = "valid",
       // 32473 is the example enterprise number of RFC 5612.
       .steps = {SetExtension("1.3.6.1.4.1.32473.1", "critical,ASN1:NULL")}},
      {.name = "revoked",
       .description = "does a client that checks CRLs refuse a revoked leaf?",
       .fault = "leaf listed in the intermediate's CRL (crl.pem beside it)",
       .openssl = Refused(STARTTLS_VERIFY_ERROR(X509_V_ERR_CERT_REVOKED),
                          kCertificateRevoked),
       .twin = "not-revoked",
       .needs_crl = true,
       .steps = {WithCrl(true)}},
      // ---- Strictness probes: either answer is acceptable.
      {.name = "cn-only-no-san",
       .description = "policy: does the client still accept a host name "
                      "found only in the CN?",
       .fault = "host only in CN, no SAN",
       .openssl = Verifies(),
       .strict = Refused(kHostMismatch, kBadCertificate),
       .twin = "valid",
       .steps = {NoSan()}},
      {.name = "no-eku",
       .description = "policy: does the client require an extended key "
                      "usage (Web PKI) or not (RFC 5280)?",
       .fault = "no extendedKeyUsage at all",
       .openssl = Verifies(),
       .strict = Refused(kInvalidPurpose, kUnsupportedCertificate),
       .twin = "valid",
       .steps = {DropExtension("extendedKeyUsage")}},
  };
}

#undef STARTTLS_VERIFY_ERROR

// ---- Issuing. ----

struct IssuedCa {
  ossl::PkeyPtr key;
  ossl::X509Ptr cert;
};

// Issues the CAs a run needs, each once, on first use.
class CaSet {
 public:
  explicit CaSet(std::string run_id) : run_id_(std::move(run_id)) {}

  tl::expected<const IssuedCa*, std::string> Get(Ca ca) {
    if (auto it = issued_.find(ca); it != issued_.end()) return &it->second;
    const CaDecl& decl = DeclOf(ca);
    const IssuedCa* parent = nullptr;
    if (decl.parent) {
      auto p = Get(*decl.parent);
      if (!p) return unexpected(p.error());
      parent = *p;
    }
    auto key = GenerateKey(KeyType::kEcP256);
    if (!key) return unexpected(key.error());
    CertSpec spec{.common_name = fmt::format("{} {}", decl.label, run_id_),
                  .not_before = decl.not_before,
                  .not_after = decl.not_after,
                  .extensions = {
                      {"basicConstraints", std::string(decl.basic_constraints)},
                      {"keyUsage", "critical,keyCertSign,cRLSign"},
                      {"subjectKeyIdentifier", "hash"},
                      {"authorityKeyIdentifier", "keyid:always"}}};
    if (!decl.name_constraints.empty()) {
      spec.extensions.push_back(
          {"nameConstraints", std::string(decl.name_constraints)});
    }
    auto cert =
        parent ? Issue(spec, key->get(), parent->cert.get(), parent->key.get())
               : Issue(spec, key->get(), nullptr, key->get());
    if (!cert) return unexpected(cert.error());
    auto [it, _] = issued_.emplace(
        ca, IssuedCa{.key = std::move(*key), .cert = std::move(*cert)});
    return &it->second;
  }

  // The CAs from `ca` up to its root, nearest first.
  std::vector<Ca> PathToRoot(Ca ca) const {
    std::vector<Ca> path = {ca};
    while (auto parent = DeclOf(path.back()).parent) path.push_back(*parent);
    return path;
  }

  // A key no certificate names, for forged signatures.
  tl::expected<EVP_PKEY*, std::string> StrayKey() {
    if (!stray_key_) {
      auto key = GenerateKey(KeyType::kEcP256);
      if (!key) return unexpected(key.error());
      stray_key_ = std::move(*key);
    }
    return stray_key_.get();
  }

 private:
  std::string run_id_;
  std::map<Ca, IssuedCa> issued_;
  ossl::PkeyPtr stray_key_;
};

std::string SanValue(const std::vector<std::string>& names) {
  std::string san;
  for (const std::string& name : names) {
    if (!san.empty()) san += ',';
    san += (IsIpLiteral(name) ? "IP:" : "DNS:") + name;
  }
  return san;
}

tl::expected<IssuedProfile, std::string> IssueProfile(const Profile& profile,
                                                      LeafPlan plan,
                                                      CaSet& cas) {
  for (const Step& step : profile.steps) step(plan);
  auto fail = [&](const std::string& why) {
    return unexpected(fmt::format("profile {}: {}", profile.name, why));
  };

  CertSpec spec{.common_name = plan.common_name,
                .not_before = plan.not_before,
                .not_after = plan.not_after,
                .extensions = plan.extensions,
                .digest = plan.digest};
  if (!plan.san.empty()) {
    spec.extensions.push_back({"subjectAltName", SanValue(plan.san)});
  }
  spec.extensions.push_back({"subjectKeyIdentifier", "hash"});
  spec.extensions.push_back({"authorityKeyIdentifier", "keyid:always"});

  auto key = GenerateKey(plan.key);
  if (!key) return fail(key.error());
  std::vector<X509*> sent_cas;
  const IssuedCa* signer = nullptr;
  const IssuedCa* root = nullptr;
  if (plan.signer) {
    for (Ca ca : cas.PathToRoot(*plan.signer)) {
      auto issued = cas.Get(ca);
      if (!issued) return fail(issued.error());
      if (signer == nullptr) signer = *issued;
      bool is_root = !DeclOf(ca).parent;
      if (is_root) root = *issued;
      if (is_root ? plan.send_root : plan.send_intermediates) {
        sent_cas.push_back((*issued)->cert.get());
      }
    }
  }
  EVP_PKEY* signing_key = signer ? signer->key.get() : key->get();
  if (plan.stray_signing_key) {
    auto stray = cas.StrayKey();
    if (!stray) return fail(stray.error());
    signing_key = *stray;
  }
  auto leaf = Issue(spec, key->get(), signer ? signer->cert.get() : nullptr,
                    signing_key);
  if (!leaf) return fail(leaf.error());

  IssuedProfile out{.profile = &profile};
  auto leaf_pem = CertToPem(leaf->get());
  auto key_pem = KeyToPem(key->get());
  if (!leaf_pem) return fail(leaf_pem.error());
  if (!key_pem) return fail(key_pem.error());
  out.chain_pem = std::move(*leaf_pem);
  out.key_pem = std::move(*key_pem);
  for (X509* ca : sent_cas) {
    auto pem = CertToPem(ca);
    if (!pem) return fail(pem.error());
    out.chain_pem += *pem;
  }

  if (plan.crl_lists_leaf && signer != nullptr) {
    // With CRL_CHECK_ALL every certificate in the path needs a CRL: the
    // root's covers the CAs below it, the signer's covers the leaf.
    std::vector<X509*> revoked;
    if (*plan.crl_lists_leaf) revoked.push_back(leaf->get());
    auto root_crl = IssueCrl(root->cert.get(), root->key.get(), {});
    if (!root_crl) return fail(root_crl.error());
    auto signer_crl = IssueCrl(signer->cert.get(), signer->key.get(), revoked);
    if (!signer_crl) return fail(signer_crl.error());
    for (X509_CRL* crl : {root_crl->get(), signer_crl->get()}) {
      auto pem = CrlToPem(crl);
      if (!pem) return fail(pem.error());
      out.crl_pem += *pem;
    }
  }
  return out;
}

}  // namespace

tl::expected<void, std::string> CheckCatalogueHosts(
    const std::vector<std::string>& hosts) {
  if (hosts.empty()) return unexpected(std::string("no host to certify"));
  bool any_dns = false;
  for (const std::string& host : hosts) {
    if (auto r = CheckHost(host); !r) return r;
    if (IsIpLiteral(host)) continue;
    any_dns = true;
    std::string lower = AsciiLower(host);
    if (lower.ends_with('.')) lower.pop_back();
    if (lower == "invalid" || lower.ends_with(".invalid")) {
      return unexpected(fmt::format(
          "host name '{}': names under .invalid are reserved for the "
          "catalogue's wrong names",
          host));
    }
  }
  if (!any_dns) {
    return unexpected(
        std::string("at least one host must be a DNS name, not an IP address"));
  }
  return {};
}

namespace {

tl::expected<std::string, std::string> RandomRunId() {
  unsigned char id[4];
  if (RAND_bytes(id, sizeof id) != 1) {
    return unexpected("random run id: " + ossl::DrainErrors());
  }
  return fmt::format("{:02x}{:02x}{:02x}{:02x}", id[0], id[1], id[2], id[3]);
}

}  // namespace

const std::vector<Profile>& Profiles() {
  static const std::vector<Profile> profiles = MakeProfiles();
  return profiles;
}

const Profile* FindProfile(std::string_view name) {
  for (const Profile& p : Profiles()) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

tl::expected<IssuedCatalogue, std::string> IssueCatalogue(
    const std::vector<std::string>& hosts,
    const std::vector<std::string>& profile_names) {
  if (auto r = CheckCatalogueHosts(hosts); !r) return unexpected(r.error());
  std::vector<const Profile*> selected;
  if (profile_names.empty()) {
    for (const Profile& p : Profiles()) selected.push_back(&p);
  }
  for (const std::string& name : profile_names) {
    const Profile* p = FindProfile(name);
    if (p == nullptr) {
      return unexpected(fmt::format(
          "unknown certificate profile '{}' (see `starttls-mock certs "
          "--list`)",
          name));
    }
    if (std::find(selected.begin(), selected.end(), p) == selected.end()) {
      selected.push_back(p);
    }
  }

  IssuedCatalogue out{.hosts = hosts, .ip = "127.0.0.1"};
  auto ip = std::find_if(hosts.begin(), hosts.end(), IsIpLiteral);
  if (ip != hosts.end()) out.ip = *ip;
  LeafPlan valid{.ip = out.ip, .san = hosts};
  valid.primary_host =
      *std::find_if(hosts.begin(), hosts.end(),
                    [](const std::string& h) { return !IsIpLiteral(h); });
  // X.509 caps a CN at 64 characters; the SAN carries the name anyway.
  if (valid.primary_host.size() <= 64) valid.common_name = valid.primary_host;

  auto run_id = RandomRunId();
  if (!run_id) return unexpected(run_id.error());
  CaSet cas(*run_id);
  auto root = cas.Get(Ca::kRoot);
  if (!root) return unexpected(root.error());
  auto ca_pem = CertToPem((*root)->cert.get());
  if (!ca_pem) return unexpected(ca_pem.error());
  out.ca_pem = std::move(*ca_pem);

  for (const Profile* profile : selected) {
    auto issued = IssueProfile(*profile, valid, cas);
    if (!issued) return unexpected(issued.error());
    out.profiles.push_back(std::move(*issued));
  }
  return out;
}

namespace {

// Removes a temporary directory tree unless released.
class TempDirGuard {
 public:
  explicit TempDirGuard(std::filesystem::path dir) : dir_(std::move(dir)) {}
  ~TempDirGuard() {
    if (!dir_.empty()) {
      std::error_code ignored;
      std::filesystem::remove_all(dir_, ignored);
    }
  }
  TempDirGuard(const TempDirGuard&) = delete;
  TempDirGuard& operator=(const TempDirGuard&) = delete;
  void Release() { dir_.clear(); }

 private:
  std::filesystem::path dir_;
};

std::string ErrnoLine(const std::filesystem::path& path, std::string_view what,
                      int err) {
  return fmt::format("{}: {}: {}", path.string(), what, std::strerror(err));
}

}  // namespace

tl::expected<CatalogueFiles, std::string> WriteCatalogue(
    const IssuedCatalogue& catalogue, const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  fs::path target = dir.lexically_normal();
  if (!target.has_filename()) target = target.parent_path();
  std::error_code ec;
  if (fs::exists(target, ec)) {
    if (!fs::is_directory(target, ec)) {
      return unexpected(
          fmt::format("{}: exists and is not a directory", target.string()));
    }
    if (!fs::is_empty(target, ec) || ec) {
      return unexpected(
          fmt::format("{}: exists and is not empty; refusing to overwrite",
                      target.string()));
    }
  }
  fs::path parent =
      target.parent_path().empty() ? fs::path(".") : target.parent_path();
  std::string tmpl =
      (parent / ("." + target.filename().string() + ".tmp-XXXXXX")).string();
  if (mkdtemp(tmpl.data()) == nullptr) {
    return unexpected(ErrnoLine(target, "cannot create", errno));
  }
  fs::path tmp = tmpl;
  TempDirGuard guard(tmp);
  if (chmod(tmp.c_str(), 0755) != 0) {
    return unexpected(ErrnoLine(tmp, "chmod", errno));
  }

  CatalogueFiles files{.dir = target, .ca_file = target / "ca.pem"};
  if (auto r = WriteFileAtomically(tmp / "ca.pem", catalogue.ca_pem); !r) {
    return unexpected(r.error());
  }
  for (const IssuedProfile& issued : catalogue.profiles) {
    std::string name(issued.profile->name);
    if (mkdir((tmp / name).c_str(), 0755) != 0) {
      return unexpected(ErrnoLine(tmp / name, "mkdir", errno));
    }
    ProfileFiles pf{.chain_file = target / name / "chain.pem",
                    .key_file = target / name / "key.pem"};
    if (auto r =
            WriteFileAtomically(tmp / name / "chain.pem", issued.chain_pem);
        !r) {
      return unexpected(r.error());
    }
    if (auto r =
            WriteFileAtomically(tmp / name / "key.pem", issued.key_pem, 0600);
        !r) {
      return unexpected(r.error());
    }
    if (!issued.crl_pem.empty()) {
      if (auto r = WriteFileAtomically(tmp / name / "crl.pem", issued.crl_pem);
          !r) {
        return unexpected(r.error());
      }
      pf.crl_file = target / name / "crl.pem";
    }
    files.profiles.emplace(std::move(name), std::move(pf));
  }
  // rename(2) replaces an empty directory atomically, and fails if another
  // writer filled it meanwhile.
  if (rename(tmp.c_str(), target.c_str()) != 0) {
    return unexpected(ErrnoLine(target, "cannot create", errno));
  }
  guard.Release();
  return files;
}

}  // namespace starttls::certs
