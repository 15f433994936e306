#include "judge/judge.h"

#include <fmt/format.h>

namespace starttls::server {

Outcome ObserveOutcome(const SessionRecord& record) {
  if (record.reached_goal) return Outcome::kDelivered;
  if (record.interrupted) return Outcome::kInterrupted;
  if (record.timed_out) return Outcome::kHung;
  return Outcome::kRefused;
}

Verdict Judge(const Scenario& scenario, const SessionRecord& record,
              bool bad_certificate) {
  Verdict v{.observed = ObserveOutcome(record),
            .findings = RunOracles({.record = &record,
                                    .protocol = scenario.protocol,
                                    .bad_certificate = bad_certificate})};
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
  for (const Finding& f : v.findings) {
    v.reasons.push_back({.kind = Reason::Kind::kOracle,
                         .oracle = f.id,
                         .text = fmt::format("{}: {}", f.id, f.message)});
  }
  if (record.mismatch) {
    // Off script the outcome says little: the responder, not the scenario,
    // answered the rest. Oracles still judge what the client did.
    if (v.reasons.empty()) {
      v.off_script = true;
      v.off_script_reason = fmt::format(
          "off script: the client sent \"{}\" where scenario line {} "
          "expected \"{}\"; the responder served the rest, so the outcome "
          "({}) is not judged",
          record.mismatch->actual, record.mismatch->line,
          record.mismatch->expected,
          OutcomeName(v.observed, *scenario.protocol));
    }
    return v;
  }
  if (!allowed) {
    v.reasons.insert(
        v.reasons.begin(),
        {.kind = Reason::Kind::kOutcome,
         .expected =
             std::string(ExpectationName(scenario.expect, *scenario.protocol)),
         .observed = std::string(OutcomeName(v.observed, *scenario.protocol)),
         .text =
             fmt::format("expected the client to {}, observed {}",
                         ExpectationName(scenario.expect, *scenario.protocol),
                         OutcomeName(v.observed, *scenario.protocol))});
  }
  v.pass = v.reasons.empty();
  return v;
}

std::string_view VerdictName(const Verdict& v) {
  if (v.pass) return "pass";
  return v.off_script ? "off-script" : "fail";
}

std::string_view ReasonKindName(Reason::Kind k) {
  switch (k) {
    case Reason::Kind::kOutcome:
      return "outcome";
    case Reason::Kind::kOracle:
      return "oracle";
  }
  return "?";
}

std::string OutcomeName(Outcome o, const protocol::Protocol& protocol) {
  switch (o) {
    case Outcome::kDelivered:
      return std::string(protocol.GoalReached());
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
