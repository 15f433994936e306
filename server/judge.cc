#include "server/judge.h"

#include <fmt/format.h>

namespace starttls::server {

Outcome ObserveOutcome(const SessionRecord& record) {
  if (!record.messages.empty()) return Outcome::kDelivered;
  if (record.interrupted) return Outcome::kInterrupted;
  if (record.timed_out) return Outcome::kHung;
  return Outcome::kRefused;
}

Verdict Judge(const Scenario& scenario, const SessionRecord& record) {
  Verdict v{.observed = ObserveOutcome(record)};
  Outcome wanted = scenario.expect == Expectation::kDeliver
                       ? Outcome::kDelivered
                       : Outcome::kRefused;
  if (v.observed != wanted) {
    v.reasons.push_back(fmt::format("expected the client to {}, observed {}",
                                    ExpectationName(scenario.expect),
                                    OutcomeName(v.observed)));
  }
  if (record.mismatch) {
    v.reasons.push_back(fmt::format(
        "the client sent \"{}\" where scenario line {} expected \"{}\"",
        record.mismatch->actual, record.mismatch->line,
        record.mismatch->expected));
  }
  v.pass = v.reasons.empty();
  return v;
}

std::string_view OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kDelivered:
      return "delivered";
    case Outcome::kRefused:
      return "refused";
    case Outcome::kHung:
      return "hung";
    case Outcome::kInterrupted:
      return "interrupted";
  }
  return "?";
}

}  // namespace starttls::server
