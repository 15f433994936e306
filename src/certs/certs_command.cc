#include "certs/certs_command.h"

#include <fmt/format.h>
#include <fmt/ostream.h>
#include <openssl/x509.h>

#include <algorithm>
#include <array>

#include "certs/catalogue.h"

namespace starttls::certs {
namespace {

nlohmann::json OutcomeJson(const Outcome& o) {
  return {
      {"verify_error", o.verify_error},
      {"verify_code", o.verify_code},
      // The words OpenSSL (and clients built on it) print for the code.
      {"verify_reason", X509_verify_cert_error_string(o.verify_code)},
      {"alert", o.alert.empty() ? nlohmann::json() : nlohmann::json(o.alert)},
      {"alert_code", o.alert_code}};
}

std::string VerifyColumn(const Profile& p) {
  if (!p.strict) return std::string(p.openssl.verify_error);
  return fmt::format("{} or {}", p.openssl.verify_error,
                     p.strict->verify_error);
}

std::string AlertColumn(const Profile& p) {
  std::string_view alert = p.openssl.alert.empty() ? "-" : p.openssl.alert;
  if (!p.strict) return std::string(alert);
  return fmt::format("{} or {}", alert, p.strict->alert);
}

}  // namespace

nlohmann::json ProfilesJson() {
  nlohmann::json out = nlohmann::json::array();
  for (const Profile& p : Profiles()) {
    nlohmann::json row = {
        {"name", p.name},
        {"description", p.description},
        {"fault", p.fault},
        {"good", p.good()},
        {"policy_dependent", p.policy_dependent()},
        {"twin", p.twin.empty() ? nlohmann::json() : nlohmann::json(p.twin)},
        {"needs_crl", p.needs_crl},
        {"must_be_refused", p.must_be_refused()},
        {"identity",
         p.identity == Identity::kIpAddress ? "ip-address" : "host-name"},
        {"openssl", OutcomeJson(p.openssl)},
        {"strict", p.strict ? OutcomeJson(*p.strict) : nlohmann::json()}};
    // The headline answer, flattened for quick filtering.
    row["verify_error"] = p.openssl.verify_error;
    row["verify_code"] = p.openssl.verify_code;
    row["verify_reason"] = row["openssl"]["verify_reason"];
    row["alert"] = row["openssl"]["alert"];
    out.push_back(std::move(row));
  }
  return out;
}

std::string ProfileTable() {
  using Row = std::array<std::string, 6>;
  std::vector<Row> rows = {
      {"PROFILE", "FAULT", "VERIFY ERROR", "ALERT", "POLICY", "TWIN"}};
  for (const Profile& p : Profiles()) {
    rows.push_back({std::string(p.name), std::string(p.fault), VerifyColumn(p),
                    AlertColumn(p), p.policy_dependent() ? "yes" : "no",
                    p.twin.empty() ? "-" : std::string(p.twin)});
  }
  std::array<size_t, 6> width{};
  for (const Row& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      width[i] = std::max(width[i], row[i].size());
    }
  }
  std::string out;
  for (const Row& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += i + 1 < row.size() ? fmt::format("{:<{}}  ", row[i], width[i])
                                 : row[i];
    }
    out += line + "\n";
  }
  return out;
}

int RunCertsCommand(const CertsOptions& options, std::ostream& out,
                    std::ostream& err) {
  auto fail = [&](int status, const std::string& message) {
    fmt::print(err, "starttls-mock certs: {}\n", message);
    return status;
  };
  if (options.list) {
    if (options.json) {
      out << ProfilesJson().dump(2) << "\n";
    } else {
      out << ProfileTable();
    }
    return kCertsOk;
  }
  if (options.out.empty()) return fail(kCertsBadInput, "--out is required");

  std::vector<std::string> hosts = options.hosts;
  if (hosts.empty()) hosts.emplace_back(kDefaultHost);
  if (auto r = CheckCatalogueHosts(hosts); !r) {
    return fail(kCertsBadInput, r.error());
  }
  for (const std::string& name : options.profiles) {
    if (FindProfile(name) == nullptr) {
      return fail(kCertsBadInput,
                  fmt::format("unknown profile '{}' (see --list)", name));
    }
  }
  auto catalogue = IssueCatalogue(hosts, options.profiles);
  if (!catalogue) return fail(kCertsFailed, catalogue.error());
  auto files = WriteCatalogue(*catalogue, options.out);
  if (!files) return fail(kCertsBadInput, files.error());
  fmt::print(out, "wrote {} and {} profiles under {}\n",
             files->ca_file.string(), files->profiles.size(),
             files->dir.string());
  return kCertsOk;
}

}  // namespace starttls::certs
