// `starttls-mock certs`: issues the certificate catalogue into a directory, or
// documents it. main.cc only parses the command line into CertsOptions.
#ifndef STARTTLS_CERTS_CERTS_COMMAND_H_
#define STARTTLS_CERTS_CERTS_COMMAND_H_

#include <nlohmann/json.hpp>
#include <ostream>
#include <string>
#include <vector>

namespace starttls::certs {

inline constexpr char kDefaultHost[] = "mail.example.test";

struct CertsOptions {
  std::string out;                    // directory to create; unused by list
  std::vector<std::string> hosts;     // empty: kDefaultHost
  std::vector<std::string> profiles;  // empty: every profile
  bool list = false;                  // document the catalogue instead
  bool json = false;                  // with list: JSON instead of a table
};

// Exit statuses of RunCertsCommand.
inline constexpr int kCertsOk = 0;
inline constexpr int kCertsFailed = 1;    // OpenSSL could not issue
inline constexpr int kCertsBadInput = 2;  // unknown profile, bad host or --out

// Runs the command, printing results to `out` and at most one line to `err`.
// Bad input is detected before anything is written, and a failed write
// leaves nothing behind.
[[nodiscard]] int RunCertsCommand(const CertsOptions& options,
                                  std::ostream& out, std::ostream& err);

// The catalogue as a human-readable table: name, fault, expected verify
// error, alert, policy-dependent, twin; one row per profile.
[[nodiscard]] std::string ProfileTable();

// The catalogue as a JSON array, one object per profile with every field of
// Profile except its steps.
[[nodiscard]] nlohmann::json ProfilesJson();

}  // namespace starttls::certs

#endif  // STARTTLS_CERTS_CERTS_COMMAND_H_
