#include "server/report.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

namespace starttls::server {
namespace {

using nlohmann::json;

// TLS records are opaque: the report keeps their size and first bytes (the
// record headers), enough to tell a handshake from stray plaintext.
constexpr size_t kRecordHexBytes = 32;

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * bytes.size());
  for (unsigned char c : bytes) {
    out += kDigits[c >> 4];
    out += kDigits[c & 0xf];
  }
  return out;
}

json EventJson(const Event& e) {
  json j = {{"t", static_cast<double>(e.at.count()) / 1e6},
            {"kind", KindName(e.kind)},
            {"from", PeerName(e.from)}};
  if (e.kind == Event::Kind::kBytes) {
    j["layer"] = LayerName(e.layer);
    j["offset"] = e.offset;
    j["size"] = e.bytes.size();
    if (e.layer == Layer::kTlsRecord) {
      j["hex"] = Hex(std::string_view(e.bytes).substr(0, kRecordHexBytes));
    } else {
      j["data"] = e.bytes;
    }
  } else if (!e.note.empty()) {
    j["note"] = e.note;
  }
  return j;
}

}  // namespace

json SessionReport(const Scenario& scenario, const SessionRecord& record,
                   const Verdict& verdict) {
  json events = json::array();
  for (const Event& e : record.events.events()) events.push_back(EventJson(e));
  json messages = json::array();
  for (const ReceivedMessage& m : record.messages) {
    messages.push_back({{"mail_from", m.mail_from},
                        {"rcpt_to", m.rcpt_to},
                        {"over_tls", m.over_tls},
                        {"data", m.data}});
  }
  json oracles = json::array();
  for (const Finding& f : verdict.findings) {
    json evidence = json::array();
    for (const Evidence& e : f.evidence) {
      evidence.push_back({{"event", e.event},
                          {"t", static_cast<double>(e.at.count()) / 1e6},
                          {"offset", e.offset},
                          {"detail", e.detail}});
    }
    oracles.push_back(
        {{"id", f.id}, {"message", f.message}, {"evidence", evidence}});
  }
  json mismatch = nullptr;
  if (record.mismatch) {
    mismatch = {{"line", record.mismatch->line},
                {"expected", record.mismatch->expected},
                {"actual", record.mismatch->actual}};
  }
  return {
      {"scenario", record.scenario},
      {"scenario_path", record.scenario_path},
      {"summary", scenario.summary},
      {"connection", record.connection},
      {"script_connection", record.script_connection},
      {"certificate", scenario.certificate},
      {"peer", record.peer},
      {"started_at",
       fmt::format(
           "{:%Y-%m-%dT%H:%M:%SZ}",
           fmt::gmtime(std::chrono::system_clock::to_time_t(record.started)))},
      {"duration_s", static_cast<double>(record.duration.count()) / 1e6},
      {"script",
       {{"completed", record.script_completed},
        {"matched", !record.mismatch.has_value()},
        {"mismatch", mismatch}}},
      {"tls",
       {{"established", record.tls.established},
        {"version", record.tls.version},
        {"cipher", record.tls.cipher},
        {"sni", record.tls.sni},
        {"client_alert", record.tls.client_alert},
        {"error", record.tls.error}}},
      {"delivered", !record.messages.empty()},
      {"messages", messages},
      {"ended", record.ended},
      {"expected", ExpectationName(scenario.expect)},
      {"observed", OutcomeName(verdict.observed)},
      {"verdict", verdict.pass ? "pass" : "fail"},
      {"reasons", verdict.reasons},
      {"oracles", oracles},
      {"events", events},
  };
}

std::string DumpReport(const json& report) {
  return report.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace starttls::server
