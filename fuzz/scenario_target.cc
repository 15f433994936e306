// The scenario parser: any bytes either parse into a scenario whose every
// accessor works, or give an error with a position inside the text.
#include <algorithm>
#include <string>
#include <string_view>

#include "fuzz/targets.h"
#include "scenario/scenario.h"

namespace starttls::fuzz {

int FuzzScenario(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto scenario = server::ParseScenario(text, "fuzz.smtp");
  if (!scenario) {
    const server::ParseError& e = scenario.error();
    FUZZ_CHECK(e.line >= 1);
    FUZZ_CHECK(e.column >= 1);
    FUZZ_CHECK(!e.message.empty());
    FUZZ_CHECK(e.ToString().find('\n') == std::string::npos);
    return 0;
  }
  // A family is played once per protocol it lists, each member protocol-
  // neutral: no step says a protocol's words.
  auto members = server::ParseScenarios(text, "fuzz.scenario");
  FUZZ_CHECK(members.has_value());
  FUZZ_CHECK(members->size() == std::max<size_t>(1, scenario->family.size()));
  for (const server::Scenario& member : *members) {
    FUZZ_CHECK(member.steps.size() == scenario->steps.size());
    if (scenario->family.empty()) continue;
    FUZZ_CHECK(member.path == "fuzz." + std::string(member.protocol->name()));
    for (const server::Step& step : member.steps) {
      FUZZ_CHECK(step.kind != server::Step::Kind::kSend &&
                 step.kind != server::Step::Kind::kExpect &&
                 step.kind != server::Step::Kind::kRaw);
    }
  }
  int connections = server::ConnectionCount(*scenario);
  FUZZ_CHECK(connections >= 1);
  size_t steps = 0;
  for (int c = 1; c <= connections; ++c) {
    for (const server::Step& step : server::ConnectionSteps(*scenario, c)) {
      ++steps;
      FUZZ_CHECK(step.line >= 1);
      // The typed options hold only what the engine can act on.
      const server::WriteOptions& write = step.write;
      FUZZ_CHECK(write.delay.count() >= 0 && write.quiet.count() >= 0);
      FUZZ_CHECK(
          std::is_sorted(write.shape.split.begin(), write.shape.split.end()));
      FUZZ_CHECK(write.shape.split.empty() || write.shape.split[0] >= 1);
      FUZZ_CHECK(write.shape.drip == 0 || write.shape.split.empty());
      FUZZ_CHECK(write.shape.corrupt_record >= 0 &&
                 write.shape.truncate_record >= 0);
      const server::TlsOptions& tls = step.tls;
      for (int version : {tls.min_version, tls.max_version}) {
        FUZZ_CHECK(version == 0 || (version >= 0x0301 && version <= 0x0304));
      }
      FUZZ_CHECK(tls.min_version == 0 || tls.max_version == 0 ||
                 tls.min_version <= tls.max_version);
      FUZZ_CHECK(tls.security_level >= -1 && tls.security_level <= 5);
      FUZZ_CHECK(tls.corrupt_record >= 0 && tls.truncate_record >= 0);
      if (step.kind == server::Step::Kind::kExpect) {
        (void)server::MatchesClientLine(step.text, step.text);
        (void)server::MatchesClientLine(step.text, text.substr(0, 64));
      }
    }
  }
  // Every step belongs to exactly one connection; the separators to none.
  size_t separators = static_cast<size_t>(connections - 1);
  FUZZ_CHECK(steps + separators == scenario->steps.size());
  FUZZ_CHECK(scenario->timeout.count() > 0);
  (void)server::ParseDuration(text.substr(0, 32));
  (void)server::Unescape(text.substr(0, 256));
  return 0;
}

}  // namespace starttls::fuzz
