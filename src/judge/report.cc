#include "judge/report.h"

#include <fmt/chrono.h>
#include <fmt/format.h>

#include <array>
#include <cmath>

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

// Writes JSON exactly as nlohmann::json::dump(2, ' ', false,
// error_handler_t::replace) lays out the same values, without building a
// tree: SessionReportText() must stay byte for byte equal to
// DumpReport(SessionReport()), which report_test checks; on one line, the
// same without the line breaks and indentation. Objects are written with
// their keys in sorted order, as nlohmann's std::map holds them.
class PrettyWriter {
 public:
  // `one_line`: no line breaks or indentation between tokens.
  PrettyWriter(std::string* out, bool one_line)
      : out_(*out), one_line_(one_line) {}

  void BeginObject() { Open('{'); }
  void EndObject() { Close('}'); }
  void BeginArray() { Open('['); }
  void EndArray() { Close(']'); }

  // Starts a member of the current object; keys are plain ASCII.
  void Key(std::string_view key) {
    NextElement();
    out_ += '"';
    out_.append(key);
    out_.append("\": ", 3);
    after_key_ = true;
  }

  void String(std::string_view s) {
    NextElement();
    Escaped(s);
  }
  // A member with a scalar value. Named by type: an overloaded Field() would
  // take a string literal as bool.
  void StringField(std::string_view key, std::string_view v) {
    Key(key);
    String(v);
  }
  void IntField(std::string_view key, int64_t v) {
    Key(key);
    Int(v);
  }
  void UintField(std::string_view key, uint64_t v) {
    Key(key);
    Uint(v);
  }
  void BoolField(std::string_view key, bool v) {
    Key(key);
    Bool(v);
  }
  void DoubleField(std::string_view key, double v) {
    Key(key);
    Double(v);
  }
  void Hex(std::string_view bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    NextElement();
    out_ += '"';
    for (unsigned char c : bytes) {
      out_ += kDigits[c >> 4];
      out_ += kDigits[c & 0xf];
    }
    out_ += '"';
  }
  void Uint(uint64_t v) {
    NextElement();
    out_ += fmt::format_int(v).c_str();
  }
  void Int(int64_t v) {
    NextElement();
    out_ += fmt::format_int(v).c_str();
  }
  void Bool(bool v) {
    NextElement();
    out_ += v ? "true" : "false";
  }
  void Null() {
    NextElement();
    out_ += "null";
  }
  void Double(double v) {
    NextElement();
    if (!std::isfinite(v)) {
      out_ += "null";
      return;
    }
    // nlohmann's own shortest round-trip formatting ("0.0", "1e-06", ...).
    std::array<char, 64> buf;
    char* end =
        nlohmann::detail::to_chars(buf.data(), buf.data() + buf.size(), v);
    out_.append(buf.data(), end);
  }

 private:
  void Open(char c) {
    NextElement();
    out_ += c;
    ++depth_;  // the report nests 4 deep, far from kMaxDepth
    first_[depth_] = true;
  }
  void Close(char c) {
    if (!one_line_ && !first_[depth_])
      out_.append(kBreak + 1, 1 + 2 * (depth_ - 1));
    --depth_;
    out_ += c;
  }
  // Separates and indents an element of the current container; a value right
  // after its key goes on the key's line.
  void NextElement() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (depth_ == 0) return;
    // One append: the comma (not before the first element), the line break
    // and the indentation.
    bool first = first_[depth_];
    first_[depth_] = false;
    if (one_line_) {
      if (!first) out_ += ',';
      return;
    }
    out_.append(kBreak + (first ? 1 : 0), (first ? 1 : 2) + 2 * depth_);
  }

  static constexpr int kMaxDepth = 15;
  // ",\n" and the indentation of the deepest level.
  static constexpr char kBreak[] = ",\n                              ";
  static_assert(sizeof kBreak - 1 == 2 + 2 * kMaxDepth);
  // nlohmann's escaping with ensure_ascii false. Bytes from 0x80 up may be
  // invalid UTF-8, whose replacement by U+FFFD nlohmann does with its own
  // rules: such strings go through nlohmann itself.
  void Escaped(std::string_view s) {
    for (unsigned char c : s) {
      if (c >= 0x80) {
        out_ += json(s).dump(-1, ' ', false, json::error_handler_t::replace);
        return;
      }
    }
    static constexpr char kDigits[] = "0123456789abcdef";
    out_ += '"';
    size_t plain = 0;  // start of the bytes not yet copied
    for (size_t i = 0; i < s.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(s[i]);
      if (c >= 0x20 && c != '"' && c != '\\') continue;
      out_.append(s.data() + plain, i - plain);
      plain = i + 1;
      out_ += '\\';
      switch (c) {
        case '"':
          out_ += '"';
          break;
        case '\\':
          out_ += '\\';
          break;
        case '\b':
          out_ += 'b';
          break;
        case '\t':
          out_ += 't';
          break;
        case '\n':
          out_ += 'n';
          break;
        case '\f':
          out_ += 'f';
          break;
        case '\r':
          out_ += 'r';
          break;
        default:
          out_ += "u00";
          out_ += kDigits[c >> 4];
          out_ += kDigits[c & 0xf];
      }
    }
    out_.append(s.data() + plain, s.size() - plain);
    out_ += '"';
  }

  std::string& out_;
  const bool one_line_;
  int depth_ = 0;
  bool after_key_ = false;
  std::array<bool, kMaxDepth + 1> first_{};  // per depth: nothing written
};

double Seconds(std::chrono::microseconds d) {
  return static_cast<double>(d.count()) / 1e6;
}

}  // namespace

std::string SessionReportText(const Scenario& scenario,
                              const SessionRecord& record,
                              const Verdict& verdict, ReportLayout layout) {
  std::string out;
  // Typical reports (a handful of events) fit without growing.
  out.reserve(4096 + 256 * record.events.events().size());
  PrettyWriter w(&out, layout == ReportLayout::kOneLine);
  // Keys in sorted order, as in SessionReport's std::map.
  w.BeginObject();
  w.StringField("certificate",
                ConnectionCertificate(scenario, record.script_connection));
  w.IntField("connection", record.connection);
  w.BoolField("delivered", !record.messages.empty());
  w.DoubleField("duration_s", Seconds(record.duration));
  w.StringField("ended", record.ended);
  w.Key("events");
  w.BeginArray();
  for (const Event& e : record.events.events()) {
    w.BeginObject();
    bool bytes = e.kind == Event::Kind::kBytes;
    bool record_layer = bytes && e.layer == Layer::kTlsRecord;
    if (bytes && !record_layer) {
      w.StringField("data", e.bytes);
    }
    w.StringField("from", PeerName(e.from));
    if (record_layer) {
      w.Key("hex");
      w.Hex(std::string_view(e.bytes).substr(0, kRecordHexBytes));
    }
    w.StringField("kind", KindName(e.kind));
    if (bytes) {
      w.StringField("layer", LayerName(e.layer));
    } else if (!e.note.empty()) {
      w.StringField("note", e.note);
    }
    if (bytes) {
      w.UintField("offset", e.offset);
      w.UintField("size", e.bytes.size());
    }
    w.DoubleField("t", Seconds(e.at));
    w.EndObject();
  }
  w.EndArray();
  w.StringField("expected",
                ExpectationName(scenario.expect, *scenario.protocol));
  w.StringField("goal", scenario.protocol->GoalReached());
  w.BoolField("goal_reached", record.reached_goal);
  w.Key("messages");
  w.BeginArray();
  for (const ReceivedMessage& m : record.messages) {
    w.BeginObject();
    w.StringField("data", m.data);
    w.StringField("mail_from", m.mail_from);
    w.BoolField("over_tls", m.over_tls);
    w.Key("rcpt_to");
    w.BeginArray();
    for (const std::string& r : m.rcpt_to) w.String(r);
    w.EndArray();
    w.EndObject();
  }
  w.EndArray();
  w.StringField("observed", OutcomeName(verdict.observed, *scenario.protocol));
  w.StringField("off_script", verdict.off_script_reason);
  w.Key("oracles");
  w.BeginArray();
  for (const Finding& f : verdict.findings) {
    w.BeginObject();
    w.Key("evidence");
    w.BeginArray();
    for (const Evidence& e : f.evidence) {
      w.BeginObject();
      w.StringField("detail", e.detail);
      w.UintField("event", e.event);
      w.UintField("offset", e.offset);
      w.DoubleField("t", Seconds(e.at));
      w.EndObject();
    }
    w.EndArray();
    w.StringField("id", f.id);
    w.StringField("message", f.message);
    w.EndObject();
  }
  w.EndArray();
  w.StringField("peer", record.peer);
  w.StringField("protocol", scenario.protocol->name());
  w.Key("reasons");
  w.BeginArray();
  for (const Reason& r : verdict.reasons) {
    // Keys in nlohmann's (sorted) order.
    w.BeginObject();
    bool outcome = r.kind == Reason::Kind::kOutcome;
    if (outcome) w.StringField("expected", r.expected);
    w.StringField("kind", ReasonKindName(r.kind));
    if (outcome) w.StringField("observed", r.observed);
    if (!outcome) w.StringField("oracle", r.oracle);
    w.StringField("text", r.text);
    w.EndObject();
  }
  w.EndArray();
  w.StringField("scenario", record.scenario);
  w.StringField("scenario_path", record.scenario_path);
  w.Key("script");
  w.BeginObject();
  w.BoolField("completed", record.script_completed);
  w.BoolField("matched", !record.mismatch.has_value());
  w.Key("mismatch");
  if (record.mismatch) {
    w.BeginObject();
    w.StringField("actual", record.mismatch->actual);
    w.StringField("expected", record.mismatch->expected);
    w.IntField("line", record.mismatch->line);
    w.EndObject();
  } else {
    w.Null();
  }
  w.EndObject();
  w.IntField("script_connection", record.script_connection);
  w.StringField(
      "started_at",
      fmt::format(
          "{:%Y-%m-%dT%H:%M:%SZ}",
          fmt::gmtime(std::chrono::system_clock::to_time_t(record.started))));
  w.StringField("summary", scenario.summary);
  w.Key("tls");
  w.BeginObject();
  w.StringField("cipher", record.tls.cipher);
  w.StringField("client_alert", record.tls.client_alert);
  w.StringField("error", record.tls.error);
  w.BoolField("established", record.tls.established);
  w.StringField("sni", record.tls.sni);
  w.StringField("version", record.tls.version);
  w.EndObject();
  w.StringField("verdict", VerdictName(verdict));
  w.EndObject();
  if (layout == ReportLayout::kPretty) out += '\n';
  return out;
}

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
  json reasons = json::array();
  for (const Reason& r : verdict.reasons) {
    json reason = {{"kind", ReasonKindName(r.kind)}, {"text", r.text}};
    if (r.kind == Reason::Kind::kOracle) {
      reason["oracle"] = r.oracle;
    } else {
      reason["expected"] = r.expected;
      reason["observed"] = r.observed;
    }
    reasons.push_back(std::move(reason));
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
      {"certificate",
       ConnectionCertificate(scenario, record.script_connection)},
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
      {"expected", ExpectationName(scenario.expect, *scenario.protocol)},
      {"goal", scenario.protocol->GoalReached()},
      {"goal_reached", record.reached_goal},
      {"protocol", scenario.protocol->name()},
      {"observed", OutcomeName(verdict.observed, *scenario.protocol)},
      {"verdict", VerdictName(verdict)},
      {"off_script", verdict.off_script_reason},
      {"reasons", reasons},
      {"oracles", oracles},
      {"events", events},
  };
}

std::string DumpReport(const json& report) {
  return report.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace starttls::server
