#include "certs/crl.h"

namespace starttls::certs {
namespace {

using tl::unexpected;

constexpr long kBackdate = -24 * 60 * 60;

tl::expected<void, std::string> AddRevoked(X509_CRL* crl, X509* cert) {
  ossl::X509RevokedPtr entry(X509_REVOKED_new());
  ossl::Asn1TimePtr when(X509_gmtime_adj(nullptr, kBackdate));
  ossl::Asn1EnumeratedPtr reason(ASN1_ENUMERATED_new());
  if (!entry || !when || !reason ||
      X509_REVOKED_set_serialNumber(entry.get(), X509_get_serialNumber(cert)) !=
          1 ||
      X509_REVOKED_set_revocationDate(entry.get(), when.get()) != 1 ||
      ASN1_ENUMERATED_set(reason.get(), CRL_REASON_KEY_COMPROMISE) != 1 ||
      X509_REVOKED_add1_ext_i2d(entry.get(), NID_crl_reason, reason.get(), 0,
                                0) != 1) {
    return unexpected("CRL entry: " + ossl::DrainErrors());
  }
  // On success the CRL owns the entry.
  if (X509_CRL_add0_revoked(crl, entry.get()) != 1) {
    return unexpected("CRL entry: " + ossl::DrainErrors());
  }
  entry.release();
  return {};
}

}  // namespace

tl::expected<ossl::X509CrlPtr, std::string> IssueCrl(
    X509* issuer, EVP_PKEY* issuer_key, const std::vector<X509*>& revoked,
    std::chrono::seconds lifetime) {
  ossl::X509CrlPtr crl(X509_CRL_new());
  ossl::Asn1TimePtr last(X509_gmtime_adj(nullptr, kBackdate));
  ossl::Asn1TimePtr next(X509_gmtime_adj(nullptr, lifetime.count()));
  if (!crl || !last || !next || X509_CRL_set_version(crl.get(), 1) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer)) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 ||
      X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1) {
    return unexpected("CRL: " + ossl::DrainErrors());
  }
  for (X509* cert : revoked) {
    if (auto r = AddRevoked(crl.get(), cert); !r) return unexpected(r.error());
  }
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, nullptr, nullptr, crl.get(), 0);
  ossl::X509ExtPtr akid(X509V3_EXT_nconf(
      nullptr, &ctx, "authorityKeyIdentifier", "keyid:always"));
  ossl::Asn1IntegerPtr number(ASN1_INTEGER_new());
  if (!akid || !number || X509_CRL_add_ext(crl.get(), akid.get(), -1) != 1 ||
      ASN1_INTEGER_set(number.get(), 1) != 1 ||
      X509_CRL_add1_ext_i2d(crl.get(), NID_crl_number, number.get(), 0, 0) !=
          1 ||
      X509_CRL_sort(crl.get()) != 1 ||
      X509_CRL_sign(crl.get(), issuer_key, EVP_sha256()) == 0) {
    return unexpected("CRL: " + ossl::DrainErrors());
  }
  return crl;
}

tl::expected<std::string, std::string> CrlToPem(X509_CRL* crl) {
  ossl::BioPtr bio(BIO_new(BIO_s_mem()));
  if (!bio || PEM_write_bio_X509_CRL(bio.get(), crl) != 1) {
    return unexpected("PEM: " + ossl::DrainErrors());
  }
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

}  // namespace starttls::certs
