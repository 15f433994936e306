// The JSON report of a session; every other rendering is made from it.
// The schema is documented in docs/reports.md.
#ifndef STARTTLS_JUDGE_REPORT_H_
#define STARTTLS_JUDGE_REPORT_H_

#include <nlohmann/json.hpp>
#include <string>

#include "events/session_record.h"
#include "judge/judge.h"
#include "scenario/scenario.h"

namespace starttls::server {

[[nodiscard]] nlohmann::json SessionReport(const Scenario& scenario,
                                           const SessionRecord& record,
                                           const Verdict& verdict);

// DumpReport(SessionReport(...)), byte for byte, written directly: the
// per-session report file without building a JSON tree.
[[nodiscard]] std::string SessionReportText(const Scenario& scenario,
                                            const SessionRecord& record,
                                            const Verdict& verdict);

// `report` (SessionReportText's output) on one line, for a JSON Lines
// stream: the line breaks and indentation between tokens are dropped
// (strings hold none: theirs are escaped).
[[nodiscard]] std::string OnOneLine(std::string_view report);

// Serializes a report; bytes that are not UTF-8 become U+FFFD.
[[nodiscard]] std::string DumpReport(const nlohmann::json& report);

}  // namespace starttls::server

#endif  // STARTTLS_JUDGE_REPORT_H_
