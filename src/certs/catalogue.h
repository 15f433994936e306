// The certificate catalogue: good and bad server certificates, issued fresh
// for each run from one root CA, each bad one paired with a known-good twin.
//
// Profiles() is the single table the issuer, `starttls-mock certs --list` and
// its JSON come from. A profile is metadata (what is wrong, what a correct
// OpenSSL 3.0 client reports) plus a short list of steps saying how it differs
// from `valid` (root → intermediate → leaf, SAN = the hosts, serverAuth).
//
// WriteCatalogue() lays the files out as
//
//   DIR/ca.pem                the one CA file clients trust for every profile
//   DIR/<profile>/chain.pem   what the server presents, leaf first
//   DIR/<profile>/key.pem     the leaf's private key (mode 0600)
//   DIR/<profile>/crl.pem     CRLs of the root and the leaf's issuer, only for
//                             profiles with needs_crl
//
// A server presents a profile with SSL_CTX_use_certificate_chain_file(chain)
// and SSL_CTX_use_PrivateKey_file(key). Some leaves (rsa-1024,
// sha1-signature) are below OpenSSL's default security level; such a server
// context needs SSL_CTX_set_security_level(ctx, 0) to load them.
#ifndef STARTTLS_CERTS_CATALOGUE_H_
#define STARTTLS_CERTS_CATALOGUE_H_

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace starttls::certs {

// What the client checks the certificate against.
enum class Identity {
  kHostName,   // the scenario's host name (any DNS host of the issuance)
  kIpAddress,  // IssuedCatalogue::ip, the address the client connects to
};

// The answer a client gives, spelled as OpenSSL names it.
struct Outcome {
  std::string_view verify_error;  // "X509_V_OK" or an X509_V_ERR_* name
  int verify_code;                // its numeric value
  std::string_view alert;         // TLS alert the client sends, "" for none
  int alert_code;                 // its numeric value, -1 for none
};

// Mutable description of one leaf and what the server sends with it; the
// steps of a profile edit a plan that starts as `valid`. Defined in
// catalogue.cc.
struct LeafPlan;
using Step = std::function<void(LeafPlan&)>;

struct Profile {
  std::string_view name;
  std::string_view description;  // one line: what the profile probes
  std::string_view fault;        // what is wrong with it; "none" when good
  // What a correct OpenSSL 3.0 client reports with default settings (purpose
  // sslserver, host name check, security level 2, CRL checks when needs_crl).
  Outcome openssl;
  // Set only for policy-dependent profiles: the other acceptable answer, the
  // one a stricter client gives.
  std::optional<Outcome> strict;
  // The good profile from the same CA that differs in the faulty field only;
  // empty for good profiles.
  std::string_view twin;
  bool needs_crl = false;
  Identity identity = Identity::kHostName;
  std::vector<Step> steps;  // how it differs from `valid`

  [[nodiscard]] bool good() const { return twin.empty(); }
  [[nodiscard]] bool policy_dependent() const { return strict.has_value(); }
  // Every correct client refuses it, whatever its policy: a bad profile
  // that is not policy-dependent and needs no CRL check (a client that does
  // not fetch CRLs is not wrong to accept a revoked leaf).
  [[nodiscard]] bool must_be_refused() const {
    return !good() && !policy_dependent() && !needs_crl;
  }
};

// Every profile, in presentation order; names are unique.
[[nodiscard]] const std::vector<Profile>& Profiles();
// Null when no profile has that name.
[[nodiscard]] const Profile* FindProfile(std::string_view name);

struct IssuedProfile {
  const Profile* profile;
  std::string chain_pem;  // leaf first, then what the server sends with it
  std::string key_pem;    // the leaf's private key, PKCS#8
  std::string crl_pem;    // root and issuer CRLs; empty unless needs_crl
};

struct IssuedCatalogue {
  std::vector<std::string> hosts;  // as given: the leaves' SAN
  std::string ip;                  // identity of kIpAddress profiles
  std::string ca_pem;              // the trust anchor for every profile
  std::vector<IssuedProfile> profiles;
};

// Checks `hosts` as IssueCatalogue() requires them (see there); the error is
// one line.
[[nodiscard]] tl::expected<void, std::string> CheckCatalogueHosts(
    const std::vector<std::string>& hosts);

// Issues a fresh root and intermediate (ECDSA P-256, the run's random id in
// their names) and the leaves of `profile_names` (empty: every profile) for
// `hosts`. Each host is a DNS name or an IP literal and at least one must be a
// DNS name (the first is the leaves' CN); names under `.invalid` are reserved
// for the catalogue's deliberately wrong names. `ip` is the first IP literal
// of `hosts`, else 127.0.0.1. Errors (an invalid host, an unknown profile) are
// one line.
[[nodiscard]] tl::expected<IssuedCatalogue, std::string> IssueCatalogue(
    const std::vector<std::string>& hosts,
    const std::vector<std::string>& profile_names = {});

struct ProfileFiles {
  std::filesystem::path chain_file;
  std::filesystem::path key_file;
  std::optional<std::filesystem::path> crl_file;
};

struct CatalogueFiles {
  std::filesystem::path dir;
  std::filesystem::path ca_file;
  std::map<std::string, ProfileFiles, std::less<>> profiles;
};

// Writes `catalogue` into `dir` with the layout above, all or nothing: the
// files go to a temporary directory beside `dir` that is then renamed to it.
// `dir` may exist only as an empty directory; its parent must exist. The
// error is one line naming the path.
[[nodiscard]] tl::expected<CatalogueFiles, std::string> WriteCatalogue(
    const IssuedCatalogue& catalogue, const std::filesystem::path& dir);

}  // namespace starttls::certs

#endif  // STARTTLS_CERTS_CATALOGUE_H_
