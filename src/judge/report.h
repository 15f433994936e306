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

// How SessionReportText() lays a report out.
enum class ReportLayout {
  // DumpReport(SessionReport(...)), byte for byte: a per-session file.
  kPretty,
  // The same tokens on one line, for a JSON Lines stream: kPretty without
  // its line breaks and indentation (strings hold none: theirs are escaped)
  // and without a final line feed.
  kOneLine,
};

// A session's report written directly, without building a JSON tree.
[[nodiscard]] std::string SessionReportText(
    const Scenario& scenario, const SessionRecord& record,
    const Verdict& verdict, ReportLayout layout = ReportLayout::kPretty);

// Serializes a report; bytes that are not UTF-8 become U+FFFD.
[[nodiscard]] std::string DumpReport(const nlohmann::json& report);

}  // namespace starttls::server

#endif  // STARTTLS_JUDGE_REPORT_H_
