// The PKI of one run: a fresh root CA and a server certificate for the
// scenario's host, written as PEM files into the run directory.
#ifndef STARTTLS_CERTS_RUN_PKI_H_
#define STARTTLS_CERTS_RUN_PKI_H_

#include <filesystem>
#include <string>
#include <tl/expected.hpp>
#include <vector>

namespace starttls::certs {

struct RunPkiFiles {
  std::filesystem::path ca_file;     // what clients trust
  std::filesystem::path chain_file;  // leaf first, as the server presents it
  std::filesystem::path key_file;    // the leaf's private key, mode 0600
};

// Issues a root CA whose name carries a random run id, and one leaf for all of
// `hosts` (DNS names or IP literals; the first is also the CN), and writes
// them into `dir`, which must exist. Each file is written atomically.
[[nodiscard]] tl::expected<RunPkiFiles, std::string> IssueRunPki(
    const std::filesystem::path& dir, const std::vector<std::string>& hosts);

}  // namespace starttls::certs

#endif  // STARTTLS_CERTS_RUN_PKI_H_
