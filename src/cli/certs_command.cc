// starttls-mock certs --out DIR [--host NAME]... [--profile NAME]...
// starttls-mock certs --list [--json]
#include "certs/certs_command.h"

#include <iostream>
#include <memory>
#include <string>

#include "cli/command.h"

namespace starttls::cli {

Runner AddCerts(CLI::App* sub) {
  auto options = std::make_shared<certs::CertsOptions>();
  CLI::Option* out = sub->add_option(
      "--out", options->out, "directory to create (must not exist yet)");
  sub->add_option("--host", options->hosts,
                  "DNS name or IP address to certify (repeatable; default " +
                      std::string(certs::kDefaultHost) + ")");
  sub->add_option("--profile", options->profiles,
                  "profile to issue (repeatable; default: all)");
  CLI::Option* list = sub->add_flag("--list", options->list,
                                    "print the profiles instead of issuing");
  sub->add_flag("--json", options->json, "with --list: print JSON")
      ->needs(list);
  out->excludes(list);
  sub->callback([options] {
    if (!options->list && options->out.empty()) {
      throw CLI::RequiredError("--out or --list");
    }
  });
  return [options] {
    return certs::RunCertsCommand(*options, std::cout, std::cerr);
  };
}

}  // namespace starttls::cli
