// The verdict on one session: what a correct client would have done with the
// scenario (its Expect header) against what this client did on the wire.
#ifndef STARTTLS_SERVER_JUDGE_H_
#define STARTTLS_SERVER_JUDGE_H_

#include <string>
#include <vector>

#include "server/oracles.h"
#include "server/scenario.h"
#include "server/session.h"

namespace starttls::server {

enum class Outcome {
  kDelivered,    // at least one message was accepted
  kRefused,      // no message, and the client ended the session itself
  kHung,         // no message, and the server's wait for the client ran out
  kInterrupted,  // the server was stopped before the session ended
};

struct Verdict {
  Outcome observed;
  bool pass = false;
  std::vector<Finding> findings;  // the oracles that fired
  // Why the verdict is a failure, one sentence each; empty on a pass.
  std::vector<std::string> reasons;
};

[[nodiscard]] Outcome ObserveOutcome(const SessionRecord& record);
// `bad_certificate`: the session presented a certificate a correct client
// must reject.
[[nodiscard]] Verdict Judge(const Scenario& scenario,
                            const SessionRecord& record,
                            bool bad_certificate = false);
[[nodiscard]] std::string_view OutcomeName(Outcome o);

}  // namespace starttls::server

#endif  // STARTTLS_SERVER_JUDGE_H_
