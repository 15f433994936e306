#include "certs/run_pki.h"

#include <fmt/format.h>
#include <openssl/rand.h>

#include "certs/issuer.h"
#include "common/atomic_file.h"

namespace starttls::certs {

tl::expected<RunPkiFiles, std::string> IssueRunPki(
    const std::filesystem::path& dir, const std::vector<std::string>& hosts) {
  if (hosts.empty()) return tl::unexpected(std::string("no host to certify"));
  unsigned char id[4];
  if (RAND_bytes(id, sizeof id) != 1)
    return tl::unexpected(ossl::DrainErrors());
  std::string run_id =
      fmt::format("{:02x}{:02x}{:02x}{:02x}", id[0], id[1], id[2], id[3]);

  auto ca_key = GenerateKey(KeyType::kEcP256);
  if (!ca_key) return tl::unexpected(ca_key.error());
  CertSpec ca_spec{.common_name = "starttls-mock root CA " + run_id,
                   .not_after = std::chrono::hours(24 * 365),
                   .extensions = CaExtensions()};
  auto ca = Issue(ca_spec, ca_key->get(), nullptr, ca_key->get());
  if (!ca) return tl::unexpected(ca.error());

  auto leaf_key = GenerateKey(KeyType::kEcP256);
  if (!leaf_key) return tl::unexpected(leaf_key.error());
  // X.509 caps a CN at 64 characters; the SAN carries the name anyway.
  CertSpec leaf_spec{
      .common_name = hosts.front().size() <= 64 ? hosts.front() : "",
      .extensions = ServerExtensions(hosts)};
  auto leaf = Issue(leaf_spec, leaf_key->get(), ca->get(), ca_key->get());
  if (!leaf) return tl::unexpected(leaf.error());

  auto ca_pem = CertToPem(ca->get());
  auto leaf_pem = CertToPem(leaf->get());
  auto key_pem = KeyToPem(leaf_key->get());
  if (!ca_pem) return tl::unexpected(ca_pem.error());
  if (!leaf_pem) return tl::unexpected(leaf_pem.error());
  if (!key_pem) return tl::unexpected(key_pem.error());

  RunPkiFiles files{.ca_file = dir / "ca.pem",
                    .chain_file = dir / "server-chain.pem",
                    .key_file = dir / "server-key.pem"};
  if (auto r = WriteFileAtomically(files.key_file, *key_pem, 0600); !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = WriteFileAtomically(files.chain_file, *leaf_pem); !r) {
    return tl::unexpected(r.error());
  }
  if (auto r = WriteFileAtomically(files.ca_file, *ca_pem); !r) {
    return tl::unexpected(r.error());
  }
  return files;
}

}  // namespace starttls::certs
