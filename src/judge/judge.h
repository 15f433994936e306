// The verdict on one session: what a correct client would have done with the
// scenario (its Expect header) against what this client did on the wire.
#ifndef STARTTLS_JUDGE_JUDGE_H_
#define STARTTLS_JUDGE_JUDGE_H_

#include <string>
#include <vector>

#include "events/session_record.h"
#include "judge/oracles.h"
#include "scenario/scenario.h"

namespace starttls::server {

enum class Outcome {
  kDelivered,    // at least one message was accepted
  kRefused,      // no message, and the client ended the session itself
  kHung,         // no message, and the server's wait for the client ran out
  kInterrupted,  // the server was stopped before the session ended
};

// Why a verdict is a failure. Programs read the kind and the oracle id;
// the text is for people (the Python side never parses it).
struct Reason {
  enum class Kind {
    kOutcome,  // the outcome is not one the scenario allows
    kOracle,   // an oracle fired
  };
  Kind kind = Kind::kOutcome;
  std::string oracle;  // kOracle: the id of the oracle that fired
  // kOutcome: what the scenario expects and what was observed, as
  // ExpectationName() and OutcomeName() spell them.
  std::string expected;
  std::string observed;
  std::string text;  // one sentence
};

// "outcome" or "oracle", as reports spell the kind.
[[nodiscard]] std::string_view ReasonKindName(Reason::Kind k);

struct Verdict {
  Outcome observed;
  // A pass: no oracle fired, the outcome is one the scenario allows, and the
  // client stayed on the script.
  bool pass = false;
  // Neither pass nor fail: the client took another path than the script's
  // (the responder served it from there), no oracle fired, and the outcome
  // is not judged because the scenario's later steps never ran.
  bool off_script = false;
  std::vector<Finding> findings;  // the oracles that fired
  // Why the verdict is a failure; empty otherwise. An outcome reason, if
  // any, comes first, then one per finding in the findings' order.
  std::vector<Reason> reasons;
  // Where and why the client left the script, when off_script.
  std::string off_script_reason;
};

// "pass", "fail" or "off-script".
[[nodiscard]] std::string_view VerdictName(const Verdict& v);

[[nodiscard]] Outcome ObserveOutcome(const SessionRecord& record);
// `bad_certificate`: the session presented a certificate a correct client
// must reject.
[[nodiscard]] Verdict Judge(const Scenario& scenario,
                            const SessionRecord& record,
                            bool bad_certificate = false);
// "delivered" (the protocol's goal reached: IMAP "logged-in"), "refused",
// "hung" or "interrupted".
[[nodiscard]] std::string OutcomeName(
    Outcome o, const protocol::Protocol& protocol = protocol::Smtp());

}  // namespace starttls::server

#endif  // STARTTLS_JUDGE_JUDGE_H_
