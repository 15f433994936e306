// Certificate revocation lists for the test PKI.
#ifndef STARTTLS_CERTS_CRL_H_
#define STARTTLS_CERTS_CRL_H_

#include <chrono>
#include <string>
#include <tl/expected.hpp>
#include <vector>

#include "starttls/ossl.h"

namespace starttls::certs {

// Issues a v2 CRL signed by `issuer_key` in the name of `issuer` (which must
// carry a subject key identifier: the CRL's authority key identifier is copied
// from it), valid from a day ago for `lifetime`, listing `revoked` (by serial
// number, revoked a day ago, reason keyCompromise).
[[nodiscard]] tl::expected<ossl::X509CrlPtr, std::string> IssueCrl(
    X509* issuer, EVP_PKEY* issuer_key, const std::vector<X509*>& revoked,
    std::chrono::seconds lifetime = std::chrono::hours(24 * 30));

[[nodiscard]] tl::expected<std::string, std::string> CrlToPem(X509_CRL* crl);

}  // namespace starttls::certs

#endif  // STARTTLS_CERTS_CRL_H_
