#include "certs/issuer.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>

namespace starttls::certs {
namespace {

using tl::unexpected;

bool IsIpAddress(std::string_view host) {
  unsigned char buf[16];
  std::string s(host);
  return inet_pton(AF_INET, s.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

tl::expected<void, std::string> SetRandomSerial(X509* cert) {
  ossl::BignumPtr bn(BN_new());
  // 127 bits keeps the DER INTEGER positive and within RFC 5280's 20 octets.
  if (!bn || BN_rand(bn.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      !BN_to_ASN1_INTEGER(bn.get(), X509_get_serialNumber(cert))) {
    return unexpected("serial number: " + ossl::DrainErrors());
  }
  return {};
}

tl::expected<void, std::string> SetSubject(X509* cert, const CertSpec& spec) {
  X509_NAME* name = X509_get_subject_name(cert);
  auto add = [&](const char* field, const std::string& value) {
    return value.empty() ||
           X509_NAME_add_entry_by_txt(
               name, field, MBSTRING_UTF8,
               reinterpret_cast<const unsigned char*>(value.c_str()), -1, -1,
               0) == 1;
  };
  if (!add("O", spec.organization) || !add("CN", spec.common_name)) {
    return unexpected("subject name: " + ossl::DrainErrors());
  }
  return {};
}

}  // namespace

std::vector<Extension> CaExtensions() {
  return {{"basicConstraints", "critical,CA:TRUE"},
          {"keyUsage", "critical,keyCertSign,cRLSign"},
          {"subjectKeyIdentifier", "hash"}};
}

std::vector<Extension> ServerExtensions(const std::vector<std::string>& hosts) {
  std::string san;
  for (const std::string& host : hosts) {
    if (!san.empty()) san += ',';
    san += IsIpAddress(host) ? "IP:" + host : "DNS:" + host;
  }
  return {{"basicConstraints", "critical,CA:FALSE"},
          {"keyUsage", "critical,digitalSignature,keyEncipherment"},
          {"extendedKeyUsage", "serverAuth"},
          {"subjectAltName", san},
          {"subjectKeyIdentifier", "hash"},
          {"authorityKeyIdentifier", "keyid:always"}};
}

tl::expected<ossl::PkeyPtr, std::string> GenerateKey(KeyType type) {
  EVP_PKEY* key = nullptr;
  switch (type) {
    case KeyType::kEcP256:
      key = EVP_EC_gen("P-256");
      break;
    case KeyType::kRsa2048:
      key = EVP_RSA_gen(2048);
      break;
    case KeyType::kRsa1024:
      key = EVP_RSA_gen(1024);
      break;
  }
  if (key == nullptr)
    return unexpected("key generation: " + ossl::DrainErrors());
  return ossl::PkeyPtr(key);
}

tl::expected<ossl::X509Ptr, std::string> Issue(const CertSpec& spec,
                                               EVP_PKEY* subject_key,
                                               X509* issuer_cert,
                                               EVP_PKEY* issuer_key) {
  ossl::X509Ptr cert(X509_new());
  if (!cert || X509_set_version(cert.get(), X509_VERSION_3) != 1 ||
      X509_set_pubkey(cert.get(), subject_key) != 1) {
    return unexpected("certificate: " + ossl::DrainErrors());
  }
  if (auto r = SetRandomSerial(cert.get()); !r) return unexpected(r.error());
  if (auto r = SetSubject(cert.get(), spec); !r) return unexpected(r.error());

  X509* issuer = issuer_cert != nullptr ? issuer_cert : cert.get();
  if (X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer)) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(cert.get()),
                      spec.not_before.count()) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(cert.get()), spec.not_after.count()) ==
          nullptr) {
    return unexpected("issuer or validity: " + ossl::DrainErrors());
  }

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert.get(), nullptr, nullptr, 0);
  for (const Extension& ext : spec.extensions) {
    ossl::X509ExtPtr x(
        X509V3_EXT_nconf(nullptr, &ctx, ext.name.c_str(), ext.value.c_str()));
    if (!x || X509_add_ext(cert.get(), x.get(), -1) != 1) {
      return unexpected(fmt::format("extension {}={}: {}", ext.name, ext.value,
                                    ossl::DrainErrors()));
    }
  }

  const EVP_MD* md = EVP_get_digestbyname(
      spec.digest.empty() ? "SHA256" : spec.digest.c_str());
  if (md == nullptr) return unexpected("unknown digest " + spec.digest);
  if (X509_sign(cert.get(), issuer_key, md) == 0) {
    return unexpected("signing: " + ossl::DrainErrors());
  }
  return cert;
}

tl::expected<std::string, std::string> CertToPem(X509* cert) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509(bio.get(), cert) != 1) {
    return unexpected("PEM: " + ossl::DrainErrors());
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

tl::expected<std::string, std::string> KeyToPem(EVP_PKEY* key) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0,
                                       nullptr, nullptr) != 1) {
    return unexpected("PEM: " + ossl::DrainErrors());
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace starttls::certs
