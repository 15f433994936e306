// Issues X.509 certificates from small declarative descriptions.
//
// A certificate is described by a CertSpec (names, validity window relative
// to now, extensions in OpenSSL's configuration syntax); Issue() turns a spec,
// a subject key and an issuer into a signed certificate. Profiles (a good leaf,
// an expired one, a CA, ...) are CertSpec values, not code.
#ifndef STARTTLS_CERTS_ISSUER_H_
#define STARTTLS_CERTS_ISSUER_H_

#include <chrono>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "starttls/ossl.h"

namespace starttls::certs {

enum class KeyType { kEcP256, kRsa2048, kRsa1024 };

// One X.509v3 extension as `openssl x509 -extfile` would spell it, e.g.
// {"keyUsage", "critical,digitalSignature"}.
struct Extension {
  std::string name;
  std::string value;
};

struct CertSpec {
  std::string common_name;
  // Appended to the subject as O=; lets a run make its CA names unique.
  std::string organization = "starttls-mock test PKI";
  // Validity window relative to the moment of issuing.
  std::chrono::seconds not_before = -std::chrono::hours(24);
  std::chrono::seconds not_after = std::chrono::hours(24 * 30);
  std::vector<Extension> extensions;
  // Digest for the signature; empty picks SHA-256.
  std::string digest;
};

// The extensions of a CA certificate that may sign leaves.
[[nodiscard]] std::vector<Extension> CaExtensions();
// The extensions of a TLS server certificate for `hosts` (DNS names or IP
// address literals, all in the SAN): serverAuth EKU, digitalSignature usage.
[[nodiscard]] std::vector<Extension> ServerExtensions(
    const std::vector<std::string>& hosts);

[[nodiscard]] tl::expected<ossl::PkeyPtr, std::string> GenerateKey(
    KeyType type);

// Signs a certificate for `subject_key` as described by `spec`.
// `issuer_cert` null means self-signed (then `issuer_key` must be the subject
// key). The returned certificate does not reference the arguments.
[[nodiscard]] tl::expected<ossl::X509Ptr, std::string> Issue(
    const CertSpec& spec, EVP_PKEY* subject_key, X509* issuer_cert,
    EVP_PKEY* issuer_key);

[[nodiscard]] tl::expected<std::string, std::string> CertToPem(X509* cert);
[[nodiscard]] tl::expected<std::string, std::string> KeyToPem(EVP_PKEY* key);

}  // namespace starttls::certs

#endif  // STARTTLS_CERTS_ISSUER_H_
