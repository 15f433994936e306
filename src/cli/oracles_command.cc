// starttls-mock oracles [--json]: the one list of oracle ids and rules, for
// people and for the Python plugin, which reads it instead of keeping its
// own.
#include <iostream>
#include <memory>
#include <nlohmann/json.hpp>

#include "cli/command.h"
#include "judge/oracles.h"

namespace starttls::cli {

Runner AddOracles(CLI::App* sub) {
  auto as_json = std::make_shared<bool>(false);
  sub->add_flag("--json", *as_json, "print JSON");
  return [as_json] {
    if (*as_json) {
      nlohmann::json out = nlohmann::json::array();
      for (const auto& o : server::Oracles()) {
        out.push_back({{"id", o.id}, {"rule", o.rule}});
      }
      std::cout << out.dump(2) << "\n";
      return 0;
    }
    for (const auto& o : server::Oracles()) {
      std::cout << o.id << "\t" << o.rule << "\n";
    }
    return 0;
  };
}

}  // namespace starttls::cli
