// Oracles: rules that judge a client from what it did on the wire.
//
// Each oracle reads one session's event log (and what the session knows
// about its scenario) and reports a finding when the client broke its rule.
// They are always on. Every rule is sound under load: a slow machine can
// only make a finding less likely, never make a correct client trip one.
#ifndef STARTTLS_JUDGE_ORACLES_H_
#define STARTTLS_JUDGE_ORACLES_H_

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "events/session_record.h"
#include "protocol/protocol.h"
#include "scenario/scenario.h"

namespace starttls::server {

// Where on the wire a finding was made.
struct Evidence {
  size_t event = 0;                // index into the session's events
  std::chrono::microseconds at{};  // that event's time
  uint64_t offset = 0;  // offset in the client's stream at that layer
  std::string detail;   // what the client sent there, or what was missing
};

struct Finding {
  std::string id;       // stable, e.g. "early-tls"
  std::string message;  // one line for people
  std::vector<Evidence> evidence;
};

struct OracleInfo {
  std::string_view id;
  std::string_view rule;  // what a correct client does
};

// Every oracle, in the order findings are reported.
[[nodiscard]] const std::vector<OracleInfo>& Oracles();

struct OracleInput {
  const SessionRecord* record = nullptr;
  // What the session's words mean (the scenario's Protocol:).
  const protocol::Protocol* protocol = &protocol::Smtp();
  // The server presented a certificate a correct client must reject.
  bool bad_certificate = false;
};

[[nodiscard]] std::vector<Finding> RunOracles(const OracleInput& input);

}  // namespace starttls::server

#endif  // STARTTLS_JUDGE_ORACLES_H_
