#include "server/judge.h"

#include <fmt/format.h>

namespace starttls::server {

Outcome ObserveOutcome(const SessionRecord& record) {
  if (!record.messages.empty()) return Outcome::kDelivered;
  if (record.interrupted) return Outcome::kInterrupted;
  if (record.timed_out) return Outcome::kHung;
  return Outcome::kRefused;
}

Verdict Judge(const Scenario& scenario, const SessionRecord& record,
              bool bad_certificate) {
  Verdict v{.observed = ObserveOutcome(record),
            .findings = RunOracles(
                {.record = &record, .bad_certificate = bad_certificate})};
  bool allowed = false;
  switch (scenario.expect) {
    case Expectation::kDeliver:
      allowed = v.observed == Outcome::kDelivered;
      break;
    case Expectation::kRefuse:
      allowed = v.observed == Outcome::kRefused;
      break;
    case Expectation::kDeliverOrRefuse:
      allowed =
          v.observed == Outcome::kDelivered || v.observed == Outcome::kRefused;
      break;
  }
  if (!allowed) {
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
  for (const Finding& f : v.findings) {
    v.reasons.push_back(fmt::format("{}: {}", f.id, f.message));
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
