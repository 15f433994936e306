#include "scenario/scenario.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <utility>
#include <variant>

#include "certs/catalogue.h"
#include "common/ascii.h"
#include "protocol/protocol.h"
#include "scenario/tls_alert.h"

namespace starttls::server {
namespace {

using tl::unexpected;

// What an option's value must be.
enum class OptionType {
  kBytes,     // any bytes; quote and escape them: data="220 ok\r\n"
  kDuration,  // 0ms to 1h
  kCount,     // a whole number from 1
  kOffsets,   // ascending whole numbers from 1, comma-separated
  kVersion,   // a TLS version: 1.0, 1.1, 1.2, 1.3
  kLevel,     // an OpenSSL security level, 0 to 5
  kText,      // an OpenSSL list (ciphers, groups), passed through
  kChoice,    // one of `choices`
  kAlert,     // a TLS alert name (scenario/tls_alert.h)
  kRepeat,    // a count from 1, or `forever` (stored as 0)
  kProfile,   // a certificate profile of the catalogue (certs/catalogue.h)
};

// A checked value, as its OptionType gives it: the bytes, text or choice;
// the duration; the count, level, wire version or alert code; the offsets.
using OptionValue = std::variant<std::string, std::chrono::milliseconds,
                                 int64_t, std::vector<int64_t>>;

struct OptionSpec {
  OptionType type;
  // Puts the checked value in its place in the typed step.
  void (*store)(const OptionValue& value, Step* step);
  std::vector<std::string_view> choices = {};
};

struct WordStep {
  Step::Kind kind;
  std::map<std::string, OptionSpec, std::less<>> options;
  std::vector<std::string_view> required = {};
};

const std::string& Text(const OptionValue& v) { return std::get<0>(v); }
std::chrono::milliseconds Duration(const OptionValue& v) {
  return std::get<1>(v);
}
int Number(const OptionValue& v) {
  // Counts are capped at INT_MAX by CheckValue.
  return static_cast<int>(std::get<2>(v));
}

// The schema of the steps named by a word: their options, each with its type
// and where its value goes. Error messages list names from here.
// In the order the messages list them.
const std::vector<std::pair<std::string_view, WordStep>>& WordSteps() {
  using V = const OptionValue&;
  using T = OptionType;
  static const auto* steps = new std::vector<
      std::pair<std::string_view, WordStep>>{
      {"send",
       {Step::Kind::kRaw,
        {{"data", {T::kBytes, [](V v, Step* s) { s->text = Text(v); }}},
         // Expanded by CheckCombination, which also bounds the result.
         {"repeat",
          {T::kCount, [](V v, Step* s) { s->write.repeat = Number(v); }}}},
        {"data"}}},
      {"write",
       {Step::Kind::kWrite,
        {{"delay",
          {T::kDuration, [](V v, Step* s) { s->write.delay = Duration(v); }}},
         {"quiet",
          {T::kDuration, [](V v, Step* s) { s->write.quiet = Duration(v); }}},
         {"split",
          {T::kOffsets,
           [](V v, Step* s) {
             for (int64_t at : std::get<3>(v)) {
               s->write.shape.split.push_back(static_cast<size_t>(at));
             }
           }}},
         {"drip",
          {T::kCount,
           [](V v, Step* s) {
             s->write.shape.drip = static_cast<size_t>(Number(v));
           }}},
         {"gap",
          {T::kDuration,
           [](V v, Step* s) { s->write.shape.gap = Duration(v); }}},
         {"corrupt",
          {T::kCount,
           [](V v, Step* s) { s->write.shape.corrupt_record = Number(v); }}},
         {"truncate",
          {T::kCount,
           [](V v, Step* s) { s->write.shape.truncate_record = Number(v); }}},
         {"repeat",
          {T::kRepeat,
           [](V v, Step* s) {
             s->write.repeat = std::max(Number(v), 1);
             s->write.forever = Number(v) == 0;
           }}}}}},
      {"tls",
       {Step::Kind::kTls,
        {{"min",
          {T::kVersion, [](V v, Step* s) { s->tls.min_version = Number(v); }}},
         {"max",
          {T::kVersion, [](V v, Step* s) { s->tls.max_version = Number(v); }}},
         {"seclevel",
          {T::kLevel, [](V v, Step* s) { s->tls.security_level = Number(v); }}},
         {"ciphers",
          {T::kText, [](V v, Step* s) { s->tls.ciphers = Text(v); }}},
         {"ciphersuites",
          {T::kText, [](V v, Step* s) { s->tls.ciphersuites = Text(v); }}},
         {"groups", {T::kText, [](V v, Step* s) { s->tls.groups = Text(v); }}},
         {"abort",
          {T::kChoice,
           [](V v, Step* s) {
             using A = TlsOptions::Abort;
             const std::string& how = Text(v);
             s->tls.abort = how == "alert"   ? A::kAlert
                            : how == "stall" ? A::kStall
                            : how == "close" ? A::kClose
                                             : A::kReset;
           },
           {"alert", "stall", "close", "reset"}}},
         {"alert",
          {T::kAlert,
           [](V v, Step* s) {
             s->tls.alert = static_cast<uint8_t>(Number(v));
           }}},
         {"corrupt",
          {T::kCount, [](V v, Step* s) { s->tls.corrupt_record = Number(v); }}},
         {"truncate",
          {T::kCount,
           [](V v, Step* s) { s->tls.truncate_record = Number(v); }}}}}},
      {"serve", {Step::Kind::kServe, {}}},
      {"stall", {Step::Kind::kStall, {}}},
      {"close",
       {Step::Kind::kClose,
        {{"how",
          {T::kChoice,
           [](V v, Step* s) {
             using H = CloseOptions::How;
             const std::string& how = Text(v);
             s->close.how = how == "reset"  ? H::kReset
                            : how == "half" ? H::kHalf
                                            : H::kFin;
           },
           {"fin", "reset", "half"}}},
         {"notify",
          {T::kChoice,
           [](V v, Step* s) { s->close.notify = Text(v) == "yes"; },
           {"yes", "no"}}}}}},
      {"connection",
       {Step::Kind::kConnection,
        {{"certificate",
          {T::kProfile, [](V v, Step* s) { s->certificate = Text(v); }}}}}},
  };
  return *steps;
}

// The TLS versions a scenario may name, as wire versions.
constexpr std::pair<std::string_view, int> kTlsVersions[] = {
    {"1.0", 0x0301}, {"1.1", 0x0302}, {"1.2", 0x0303}, {"1.3", 0x0304}};

const WordStep* FindWordStep(std::string_view word) {
  for (const auto& [name, spec] : WordSteps()) {
    if (name == word) return &spec;
  }
  return nullptr;
}

// "S:, C:, send, write, ..." for messages.
std::string StepNames() {
  std::vector<std::string_view> names = {"S:", "C:"};
  for (const auto& [word, spec] : WordSteps()) names.push_back(word);
  return fmt::format("{}", fmt::join(names, ", "));
}

// "delay, quiet, ..." for messages.
std::string OptionNames(const WordStep& spec) {
  std::vector<std::string_view> names;
  for (const auto& [key, option] : spec.options) names.push_back(key);
  return fmt::format("{}", fmt::join(names, ", "));
}

// What one `send repeat=` may queue: enough for any line a client should
// bound, far below what a session may hold.
constexpr size_t kMaxRepeatedBytes = 16 << 20;

// Longer waits would only hide a hang.
constexpr std::chrono::milliseconds kMaxTimeout = std::chrono::hours(1);
constexpr std::chrono::milliseconds kMaxSessionTimeout = std::chrono::hours(24);

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool IsHeaderName(std::string_view s) {
  return s.size() >= 2 && std::isalpha(static_cast<unsigned char>(s[0])) &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '-';
         });
}

// The schema of the header fields: each checks its value (already trimmed,
// never empty) and stores it in the scenario, or says what is wrong with it.
struct HeaderSpec {
  std::string_view name;
  std::optional<std::string> (*store)(std::string_view value, Scenario* s);
};

std::optional<std::string> StoreDuration(std::string_view name,
                                         std::string_view value,
                                         std::chrono::milliseconds max,
                                         std::string_view range,
                                         std::chrono::milliseconds* out) {
  auto d = ParseDuration(value);
  if (!d || d->count() == 0 || *d > max) {
    return fmt::format("{} must be a duration from {}, not \"{}\"", name, range,
                       value);
  }
  *out = *d;
  return std::nullopt;
}

// In the order the messages list them.
constexpr HeaderSpec kHeaders[] = {
    {"Summary",
     [](std::string_view v, Scenario* s) -> std::optional<std::string> {
       s->summary = std::string(v);
       return std::nullopt;
     }},
    {"Protocol",
     [](std::string_view v, Scenario* s) -> std::optional<std::string> {
       // One protocol, or a family's comma-separated list.
       std::vector<const protocol::Protocol*> listed;
       while (true) {
         size_t comma = v.find(',');
         std::string_view item = Trim(v.substr(0, comma));
         const protocol::Protocol* p = protocol::FindProtocol(item);
         if (p == nullptr) {
           return fmt::format("unknown protocol \"{}\" (known: {})", item,
                              fmt::join(protocol::ProtocolNames(), ", "));
         }
         if (std::find(listed.begin(), listed.end(), p) != listed.end()) {
           return fmt::format("protocol \"{}\" is listed twice", item);
         }
         listed.push_back(p);
         if (comma == std::string_view::npos) break;
         v.remove_prefix(comma + 1);
       }
       s->protocol = listed.front();
       if (listed.size() > 1) s->family = std::move(listed);
       return std::nullopt;
     }},
    {"Host",
     [](std::string_view v, Scenario* s) -> std::optional<std::string> {
       if (!IsHostName(v)) return fmt::format("invalid host name \"{}\"", v);
       s->host = std::string(v);
       return std::nullopt;
     }},
    {"Expect",
     [](std::string_view v, Scenario* s) -> std::optional<std::string> {
       if (!s->family.empty()) {
         // Its members' goals have different words.
         if (v != kGoal && v != kGoalOrRefuse && v != "refuse") {
           return fmt::format(
               "a scenario for several protocols expects {}, refuse or {}, "
               "not \"{}\"",
               kGoal, kGoalOrRefuse, v);
         }
       }
       auto expect = ParseExpectation(v, *s->protocol);
       if (!expect) {
         return fmt::format(
             "Expect must be {}, {} or {}, not \"{}\"",
             ExpectationName(Expectation::kDeliver, *s->protocol),
             ExpectationName(Expectation::kRefuse, *s->protocol),
             ExpectationName(Expectation::kDeliverOrRefuse, *s->protocol), v);
       }
       s->expect = *expect;
       return std::nullopt;
     }},
    {"Timeout",
     [](std::string_view v, Scenario* s) {
       return StoreDuration("Timeout", v, kMaxTimeout,
                            "1ms to 1h such as 500ms or 10s", &s->timeout);
     }},
    {"Session-Timeout",
     [](std::string_view v, Scenario* s) {
       std::chrono::milliseconds d{0};
       auto error = StoreDuration("Session-Timeout", v, kMaxSessionTimeout,
                                  "1ms to 24h such as 2s or 300s", &d);
       if (!error) s->session_timeout = d;
       return error;
     }},
    {"Capabilities",
     [](std::string_view v, Scenario* s) -> std::optional<std::string> {
       while (!v.empty()) {
         size_t comma = v.find(',');
         std::string_view item = Trim(v.substr(0, comma));
         if (item.empty()) return "empty capability in the list";
         s->capabilities.emplace_back(item);
         v = comma == std::string_view::npos ? std::string_view()
                                             : v.substr(comma + 1);
       }
       return std::nullopt;
     }},
    {"Certificate",
     [](std::string_view v, Scenario* s) -> std::optional<std::string> {
       if (certs::FindProfile(v) == nullptr) {
         return fmt::format(
             "unknown certificate profile \"{}\" (see `starttls-mock certs "
             "--list`)",
             v);
       }
       s->certificate = std::string(v);
       return std::nullopt;
     }},
};

const HeaderSpec* FindHeader(std::string_view name) {
  for (const HeaderSpec& h : kHeaders) {
    if (h.name == name) return &h;
  }
  return nullptr;
}

std::string HeaderNames() {
  std::vector<std::string_view> names;
  for (const HeaderSpec& h : kHeaders) names.push_back(h.name);
  return fmt::format("{}", fmt::join(names, ", "));
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view file) : text_(text) {
    scenario_.path = std::string(file);
    scenario_.source = std::string(file);
    scenario_.name = std::filesystem::path(file).stem().string();
  }

  tl::expected<Scenario, ParseError> Parse() {
    int line_no = 0;
    size_t pos = 0;
    while (pos < text_.size()) {
      size_t end = text_.find('\n', pos);
      std::string_view line = text_.substr(pos, end == std::string_view::npos
                                                    ? std::string_view::npos
                                                    : end - pos);
      pos = end == std::string_view::npos ? text_.size() : end + 1;
      ++line_no;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      if (auto r = ParseLine(line, line_no); !r) return unexpected(r.error());
    }
    if (!seen_.contains("Summary")) {
      return unexpected(Error(1, 1, "missing header field \"Summary:\""));
    }
    if (scenario_.session_timeout &&
        *scenario_.session_timeout < scenario_.timeout) {
      // A session cut before one wait could end would report a hang the
      // scenario's own Timeout does not mean.
      Position at = seen_.at("Session-Timeout");
      auto timeout = seen_.find("Timeout");
      return unexpected(
          Error(at.line, at.column,
                fmt::format("Session-Timeout ({}ms) is shorter than Timeout "
                            "({}ms{})",
                            scenario_.session_timeout->count(),
                            scenario_.timeout.count(),
                            timeout != seen_.end()
                                ? fmt::format(", line {}", timeout->second.line)
                                : std::string(", the default"))));
    }
    if (scenario_.steps.empty()) {
      return unexpected(Error(line_no + 1, 1, "the scenario has no steps"));
    }
    if (scenario_.steps.back().kind == Step::Kind::kConnection) {
      return unexpected(Error(scenario_.steps.back().line, 1,
                              "\"connection\" is not followed by any step"));
    }
    return std::move(scenario_);
  }

 private:
  ParseError Error(int line, int column, std::string message) const {
    return ParseError{scenario_.path, line, column, std::move(message)};
  }

  tl::expected<void, ParseError> ParseLine(std::string_view line, int n) {
    if (Trim(line).empty() || line.front() == '#') return {};
    if (line.starts_with("S:") || line.starts_with("C:")) {
      return ParseTranscriptLine(line, n);
    }
    size_t colon = line.find(':');
    size_t space = line.find_first_of(" \t");
    if (colon != std::string_view::npos && colon < space &&
        IsHeaderName(line.substr(0, colon))) {
      return ParseHeader(line.substr(0, colon), line.substr(colon + 1), n);
    }
    return ParseWordStep(line, n);
  }

  tl::expected<void, ParseError> ParseHeader(std::string_view name,
                                             std::string_view raw_value,
                                             int n) {
    if (!scenario_.steps.empty()) {
      return unexpected(Error(n, 1,
                              fmt::format("header field \"{}:\" after the "
                                          "first step (line {})",
                                          name, scenario_.steps[0].line)));
    }
    const HeaderSpec* spec = FindHeader(name);
    if (spec == nullptr) {
      return unexpected(
          Error(n, 1,
                fmt::format("unknown header field \"{}:\" (known: {})", name,
                            HeaderNames())));
    }
    if (seen_.contains(name)) {
      return unexpected(
          Error(n, 1, fmt::format("duplicate header field \"{}:\"", name)));
    }
    if (spec->name == "Protocol") {
      // It says what the words of these fields mean (Expect:'s goal).
      for (std::string_view after : {"Expect", "Capabilities"}) {
        if (auto at = seen_.find(after); at != seen_.end()) {
          return unexpected(Error(
              n, 1,
              fmt::format("\"Protocol:\" must come before \"{}:\" (line {})",
                          after, at->second.line)));
        }
      }
    }
    if (spec->name == "Capabilities" && !scenario_.family.empty()) {
      return unexpected(Error(
          n, 1,
          fmt::format("a scenario for several protocols (Protocol:, line {}) "
                      "cannot list capabilities: their words differ by "
                      "protocol",
                      seen_.at("Protocol").line)));
    }
    std::string_view value = Trim(raw_value);
    if (value.empty()) {
      return unexpected(
          Error(n, static_cast<int>(name.size()) + 2,
                fmt::format("header field \"{}:\" has no value", name)));
    }
    // Column of the value's first character (raw_value starts after ':').
    int value_col =
        static_cast<int>(name.size() + 2 + raw_value.find_first_not_of(" \t"));
    if (auto error = spec->store(value, &scenario_)) {
      return unexpected(Error(n, value_col, std::move(*error)));
    }
    seen_.emplace(spec->name, Position{n, value_col});
    return {};
  }

  tl::expected<void, ParseError> ParseTranscriptLine(std::string_view line,
                                                     int n) {
    if (auto r = CheckReachable(n); !r) return r;
    if (auto r = CheckNeutral(n, line.substr(0, 2)); !r) return r;
    bool send = line[0] == 'S';
    std::string_view rest = line.substr(2);
    if (!rest.empty() && rest[0] != ' ') {
      return unexpected(Error(
          n, 3,
          fmt::format("expected a space after \"{}\"", line.substr(0, 2))));
    }
    if (!rest.empty()) rest.remove_prefix(1);
    if (!send && Trim(rest).empty()) {
      return unexpected(
          Error(n, 3, "\"C:\" needs a pattern for the client's line"));
    }
    for (size_t i = 0; i < rest.size(); ++i) {
      unsigned char c = static_cast<unsigned char>(rest[i]);
      if (c < 0x20 && c != '\t') {
        return unexpected(Error(n, static_cast<int>(i) + 4,
                                fmt::format("control character 0x{:02x} in a "
                                            "transcript line",
                                            c)));
      }
    }
    if (!send) {
      // Every alternative of "A | B" must say something.
      size_t at = 0;
      for (std::string_view alternative : PatternAlternatives(rest)) {
        if (Trim(alternative).empty()) {
          return unexpected(Error(n, static_cast<int>(at) + 4,
                                  "empty alternative in a \"C:\" pattern "
                                  "(alternatives are separated by \" | \")"));
        }
        at += alternative.size() + 3;
      }
    }
    scenario_.steps.push_back(
        Step{.kind = send ? Step::Kind::kSend : Step::Kind::kExpect,
             .text = std::string(rest),
             .line = n});
    return {};
  }

  tl::expected<void, ParseError> ParseWordStep(std::string_view line, int n) {
    if (line.front() == ' ' || line.front() == '\t') {
      return unexpected(
          Error(n, 1, "a step starts at the beginning of its line"));
    }
    size_t word_end = line.find_first_of(" \t");
    std::string_view word = line.substr(0, word_end);
    const WordStep* found = FindWordStep(word);
    if (found == nullptr) {
      return unexpected(Error(
          n, 1,
          fmt::format("unknown step \"{}\" (steps: {})", word, StepNames())));
    }
    const WordStep& spec = *found;
    if (spec.kind != Step::Kind::kConnection) {
      if (auto r = CheckReachable(n, spec.kind); !r) return r;
    }
    if (spec.kind == Step::Kind::kRaw) {
      if (auto r = CheckNeutral(n, word); !r) return r;
    }
    Step step{.kind = spec.kind, .line = n};
    if (step.kind == Step::Kind::kTls) {
      if (tls_line_ != 0) {
        return unexpected(Error(
            n, 1,
            fmt::format("TLS was already started at line {}", tls_line_)));
      }
      tls_line_ = n;
    }
    if (step.kind == Step::Kind::kConnection) {
      if (scenario_.steps.empty() ||
          scenario_.steps.back().kind == Step::Kind::kConnection) {
        return unexpected(Error(n, 1,
                                "\"connection\" must follow the previous "
                                "connection's steps"));
      }
      tls_line_ = 0;
    }
    std::set<std::string, std::less<>> given;  // the option keys, once each
    size_t pos = word_end;
    while (pos != std::string_view::npos && pos < line.size()) {
      pos = line.find_first_not_of(" \t", pos);
      if (pos == std::string_view::npos) break;
      int col = static_cast<int>(pos) + 1;
      size_t eq = line.find('=', pos);
      size_t blank = line.find_first_of(" \t", pos);
      if (eq == std::string_view::npos || eq == pos || eq > blank) {
        return unexpected(
            Error(n, col,
                  fmt::format("expected key=value, found \"{}\"",
                              line.substr(pos, blank == std::string_view::npos
                                                   ? std::string_view::npos
                                                   : blank - pos))));
      }
      std::string key(line.substr(pos, eq - pos));
      auto option = spec.options.find(key);
      if (option == spec.options.end()) {
        return unexpected(
            Error(n, col,
                  spec.options.empty()
                      ? fmt::format("unknown option \"{}\" for step \"{}\" (it "
                                    "takes none)",
                                    key, word)
                      : fmt::format("unknown option \"{}\" for step \"{}\" "
                                    "(options: {})",
                                    key, word, OptionNames(spec))));
      }
      auto value = ReadValue(line, eq + 1, n, &pos);
      if (!value) return unexpected(value.error());
      int value_col = static_cast<int>(eq) + 2;
      auto checked = CheckValue(option->second, key, *value, n, value_col);
      if (!checked) return unexpected(checked.error());
      if (!given.insert(key).second) {
        return unexpected(
            Error(n, col, fmt::format("option \"{}\" given twice", key)));
      }
      option->second.store(*checked, &step);
    }
    for (std::string_view key : spec.required) {
      if (!given.contains(key)) {
        return unexpected(
            Error(n, 1, fmt::format("step \"{}\" needs {}=", word, key)));
      }
    }
    if (auto r = CheckCombination(step, given, n); !r) {
      return unexpected(r.error());
    }
    if (step.kind == Step::Kind::kRaw && step.write.repeat > 1) {
      if (step.text.size() > kMaxRepeatedBytes / step.write.repeat) {
        return unexpected(Error(
            n, 1,
            fmt::format("send repeat= would queue more than {} MiB; write "
                        "an answer that never ends with `write "
                        "repeat=forever`",
                        kMaxRepeatedBytes >> 20)));
      }
      std::string one = std::move(step.text);
      step.text.reserve(one.size() * step.write.repeat);
      for (int k = 0; k < step.write.repeat; ++k) step.text += one;
      step.write.repeat = 1;
    }
    scenario_.steps.push_back(std::move(step));
    return {};
  }

  // Reads a bare value (up to the next blank) or a quoted one with C escapes
  // starting at line[start]; leaves *end just past it.
  tl::expected<std::string, ParseError> ReadValue(std::string_view line,
                                                  size_t start, int n,
                                                  size_t* end) const {
    if (start >= line.size() || line[start] != '"') {
      size_t blank = line.find_first_of(" \t", start);
      *end = blank;
      return std::string(line.substr(start, blank == std::string_view::npos
                                                ? std::string_view::npos
                                                : blank - start));
    }
    size_t close = start + 1;
    while (close < line.size() && line[close] != '"') {
      close += line[close] == '\\' ? 2 : 1;
    }
    if (close >= line.size()) {
      return unexpected(
          Error(n, static_cast<int>(start) + 1, "unterminated quoted value"));
    }
    auto value = Unescape(line.substr(start + 1, close - start - 1));
    if (!value) {
      return unexpected(Error(n, static_cast<int>(start + 2 + value.error()),
                              "bad escape (use \\\\ \\\" \\r \\n \\t \\0 or "
                              "\\xHH)"));
    }
    *end = close + 1;
    if (*end < line.size() && line[*end] != ' ' && line[*end] != '\t') {
      return unexpected(Error(n, static_cast<int>(*end) + 1,
                              "expected a blank after the quoted value"));
    }
    return std::move(*value);
  }

  // The value of option `key` as its type gives it, or why it is wrong.
  tl::expected<OptionValue, ParseError> CheckValue(const OptionSpec& spec,
                                                   const std::string& key,
                                                   const std::string& value,
                                                   int n, int col) const {
    auto bad = [&](std::string_view what) {
      return unexpected(Error(
          n, col, fmt::format("{}= must be {}, not \"{}\"", key, what, value)));
    };
    auto count = [](std::string_view s) -> std::optional<int64_t> {
      int64_t v = 0;
      auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
      if (ec != std::errc() || end != s.data() + s.size() || v < 1 ||
          v > std::numeric_limits<int>::max()) {
        return std::nullopt;
      }
      return v;
    };
    switch (spec.type) {
      case OptionType::kBytes:
        if (value.empty()) return bad("at least one byte");
        return value;
      case OptionType::kDuration: {
        auto d = ParseDuration(value);
        if (!d || *d > kMaxTimeout) {
          return bad("a duration from 0ms to 1h such as 250ms or 2s");
        }
        return *d;
      }
      case OptionType::kCount:
        if (auto v = count(value)) return *v;
        return bad("a whole number from 1");
      case OptionType::kOffsets: {
        std::vector<int64_t> offsets;
        std::string_view rest = value;
        while (true) {
          size_t comma = rest.find(',');
          auto v = count(rest.substr(0, comma));
          if (!v || (!offsets.empty() && *v <= offsets.back())) {
            return bad("ascending byte offsets from 1, such as 3 or 1,5");
          }
          offsets.push_back(*v);
          if (comma == std::string_view::npos) break;
          rest.remove_prefix(comma + 1);
        }
        return offsets;
      }
      case OptionType::kVersion:
        for (const auto& [name, version] : kTlsVersions) {
          if (value == name) return int64_t{version};
        }
        return bad("a TLS version: 1.0, 1.1, 1.2 or 1.3");
      case OptionType::kLevel:
        if (value.size() != 1 || value[0] < '0' || value[0] > '5') {
          return bad("a security level from 0 to 5");
        }
        return int64_t{value[0] - '0'};
      case OptionType::kText:
        if (value.empty()) return bad("a list");
        return value;
      case OptionType::kChoice:
        if (std::find(spec.choices.begin(), spec.choices.end(), value) ==
            spec.choices.end()) {
          return bad(fmt::format("one of {}", fmt::join(spec.choices, ", ")));
        }
        return value;
      case OptionType::kAlert:
        if (auto code = AlertCode(value)) return int64_t{*code};
        return bad("a TLS alert name such as handshake_failure");
      case OptionType::kRepeat:
        if (value == "forever") return int64_t{0};
        if (auto v = count(value)) return *v;
        return bad("a whole number from 1 or \"forever\"");
      case OptionType::kProfile:
        if (certs::FindProfile(value) != nullptr) return value;
        return bad("a certificate profile (see `starttls-mock certs --list`)");
    }
    return bad("valid");
  }

  // Options that only make sense together. `given` holds the keys the
  // step was written with; `step` has their values.
  tl::expected<void, ParseError> CheckCombination(
      const Step& step, const std::set<std::string, std::less<>>& given,
      int n) const {
    auto has = [&](std::string_view key) { return given.contains(key); };
    if (step.kind == Step::Kind::kWrite && tls_line_ == 0 &&
        (has("corrupt") || has("truncate"))) {
      return unexpected(Error(n, 1,
                              "corrupt= and truncate= of a write need TLS: "
                              "put the write after `tls`"));
    }
    if (has("gap") && !has("drip")) {
      return unexpected(Error(n, 1, "gap= needs drip="));
    }
    if (has("drip") && has("split")) {
      return unexpected(Error(n, 1, "use either drip= or split=, not both"));
    }
    if (has("alert") && step.tls.abort != TlsOptions::Abort::kAlert) {
      return unexpected(Error(n, 1, "alert= needs abort=alert"));
    }
    if (has("notify") && step.close.how == CloseOptions::How::kReset) {
      return unexpected(
          Error(n, 1,
                "notify= does not apply to how=reset (a reset sends "
                "nothing)"));
    }
    if (has("min") && has("max") &&
        step.tls.min_version > step.tls.max_version) {
      return unexpected(Error(n, 1, "min= is above max="));
    }
    if (step.kind == Step::Kind::kWrite && step.write.forever &&
        step.write.delay.count() == 0) {
      // Without a pause a client that keeps reading would fill the record
      // as fast as loopback carries bytes.
      return unexpected(
          Error(n, 1,
                "repeat=forever needs delay= (the pause before each copy, "
                "at least 1ms)"));
    }
    return {};
  }

  // A family's script is played in every protocol it lists, so it may not
  // say a protocol's words (`what`: the S:, C: or send that would).
  tl::expected<void, ParseError> CheckNeutral(int n,
                                              std::string_view what) const {
    if (scenario_.family.empty()) return {};
    return unexpected(Error(
        n, 1,
        fmt::format("a scenario for several protocols (Protocol:, line {}) "
                    "cannot script protocol lines (\"{}\"); write one "
                    "scenario per protocol instead",
                    seen_.at("Protocol").line, what)));
  }

  // Steps after `serve`, `stall` or `close` could never run, except the next
  // `connection` and a `close` after `serve`.
  tl::expected<void, ParseError> CheckReachable(
      int n, std::optional<Step::Kind> next = std::nullopt) const {
    if (!scenario_.steps.empty()) {
      const Step& last = scenario_.steps.back();
      // `close` after `serve` says how the server ends the connection once
      // the responder is done.
      bool close_after_serve =
          last.kind == Step::Kind::kServe && next == Step::Kind::kClose;
      if ((IsFinal(last.kind) || IsEndless(last)) && !close_after_serve) {
        return unexpected(
            Error(n, 1,
                  fmt::format("step after \"{}\" at line {} can never run",
                              IsEndless(last) ? "write repeat=forever"
                                              : FinalName(last.kind),
                              last.line)));
      }
    }
    return {};
  }

  static bool IsEndless(const Step& step) {
    return step.kind == Step::Kind::kWrite && step.write.forever;
  }

  static bool IsFinal(Step::Kind kind) {
    return kind == Step::Kind::kServe || kind == Step::Kind::kClose ||
           kind == Step::Kind::kStall;
  }

  static std::string_view FinalName(Step::Kind kind) {
    switch (kind) {
      case Step::Kind::kServe:
        return "serve";
      case Step::Kind::kStall:
        return "stall";
      default:
        return "close";
    }
  }

  std::string_view text_;
  Scenario scenario_;
  struct Position {
    int line;
    int column;  // of the value
  };
  // The header fields given so far, and where their values are.
  std::map<std::string_view, Position> seen_;
  int tls_line_ = 0;  // of the current connection
};

// Glob match where `*` matches any run of characters.
bool Glob(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0, star = std::string_view::npos, mark = 0;
  while (si < s.size()) {
    if (pi < p.size() && p[pi] == '*') {
      star = pi++;
      mark = si;
    } else if (pi < p.size() && p[pi] == s[si]) {
      ++pi;
      ++si;
    } else if (star != std::string_view::npos) {
      pi = star + 1;
      si = ++mark;
    } else {
      return false;
    }
  }
  while (pi < p.size() && p[pi] == '*') ++pi;
  return pi == p.size();
}

}  // namespace

std::optional<std::chrono::milliseconds> ParseDuration(std::string_view s) {
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || !std::isfinite(value) || value < 0) {
    return std::nullopt;
  }
  std::string_view unit(end, s.data() + s.size() - end);
  if (value > 1e9) return std::nullopt;
  if (unit == "ms") return std::chrono::milliseconds(static_cast<long>(value));
  if (unit == "s")
    return std::chrono::milliseconds(static_cast<long>(value * 1000));
  return std::nullopt;
}

tl::expected<std::string, size_t> Unescape(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\') {
      out += s[i];
      continue;
    }
    if (i + 1 >= s.size()) return unexpected(i);
    switch (s[i + 1]) {
      case '\\':
        out += '\\';
        break;
      case '"':
        out += '"';
        break;
      case 'r':
        out += '\r';
        break;
      case 'n':
        out += '\n';
        break;
      case 't':
        out += '\t';
        break;
      case '0':
        out += '\0';
        break;
      case 'x': {
        unsigned value = 0;
        if (i + 3 >= s.size()) return unexpected(i);
        auto [end, ec] =
            std::from_chars(s.data() + i + 2, s.data() + i + 4, value, 16);
        if (ec != std::errc() || end != s.data() + i + 4) return unexpected(i);
        out += static_cast<char>(value);
        i += 2;
        break;
      }
      default:
        return unexpected(i);
    }
    ++i;
  }
  return out;
}

std::chrono::milliseconds SessionTimeout(const Scenario& scenario) {
  return scenario.session_timeout.value_or(kSessionTimeoutFactor *
                                           scenario.timeout);
}

std::chrono::milliseconds ScriptedPauses(const Scenario& scenario) {
  std::chrono::milliseconds total{0};
  size_t queued = 0;
  for (const Step& step : scenario.steps) {
    switch (step.kind) {
      case Step::Kind::kSend:
        queued += step.text.size() + 2;  // and its CRLF
        continue;
      case Step::Kind::kRaw:
        queued += step.text.size();
        continue;
      case Step::Kind::kWrite: {
        total += step.write.delay + step.write.quiet;
        if (size_t drip = step.write.shape.drip; drip > 0) {
          auto gaps = static_cast<int64_t>((queued + drip - 1) / drip);
          total += gaps * step.write.shape.gap;
        }
        break;
      }
      default:
        break;
    }
    queued = 0;
  }
  return total;
}

bool Stalls(const Scenario& scenario) {
  return std::any_of(
      scenario.steps.begin(), scenario.steps.end(), [](const Step& s) {
        return s.kind == Step::Kind::kStall ||
               (s.kind == Step::Kind::kWrite && s.write.forever) ||
               (s.kind == Step::Kind::kTls &&
                s.tls.abort == TlsOptions::Abort::kStall);
      });
}

int ConnectionCount(const Scenario& scenario) {
  return 1 +
         static_cast<int>(std::count_if(
             scenario.steps.begin(), scenario.steps.end(),
             [](const Step& s) { return s.kind == Step::Kind::kConnection; }));
}

std::span<const Step> ConnectionSteps(const Scenario& scenario, int n) {
  auto begin = scenario.steps.begin();
  for (int k = 1; k < n && begin != scenario.steps.end(); ++k) {
    begin = std::find_if(begin, scenario.steps.end(), [](const Step& s) {
      return s.kind == Step::Kind::kConnection;
    });
    if (begin != scenario.steps.end()) ++begin;
  }
  auto end = std::find_if(begin, scenario.steps.end(), [](const Step& s) {
    return s.kind == Step::Kind::kConnection;
  });
  return {begin, end};
}

const std::string& ConnectionCertificate(const Scenario& scenario, int n) {
  int k = 1;
  const std::string* profile = &scenario.certificate;
  for (const Step& s : scenario.steps) {
    if (s.kind != Step::Kind::kConnection) continue;
    if (++k > n) break;
    if (!s.certificate.empty()) profile = &s.certificate;
  }
  return *profile;
}

std::vector<std::string> Certificates(const Scenario& scenario) {
  std::vector<std::string> profiles;
  for (int n = 1; n <= ConnectionCount(scenario); ++n) {
    const std::string& p = ConnectionCertificate(scenario, n);
    if (std::find(profiles.begin(), profiles.end(), p) == profiles.end()) {
      profiles.push_back(p);
    }
  }
  return profiles;
}

bool IsHostName(std::string_view s) {
  return !s.empty() && s.size() <= 253 &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                  c == '-' || c == ':';
         });
}

std::string ParseError::ToString() const {
  if (line == 0) return fmt::format("{}: {}", file, message);
  return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

tl::expected<Scenario, ParseError> ParseScenario(std::string_view text,
                                                 std::string_view file) {
  return Parser(text, file).Parse();
}

tl::expected<std::vector<Scenario>, ParseError> ParseScenarios(
    std::string_view text, std::string_view file) {
  auto parsed = ParseScenario(text, file);
  if (!parsed) return unexpected(parsed.error());
  if (parsed->family.empty()) return std::vector<Scenario>{std::move(*parsed)};
  std::vector<Scenario> members;
  for (const protocol::Protocol* p : parsed->family) {
    Scenario& member = members.emplace_back(*parsed);
    member.protocol = p;
    member.path = std::filesystem::path(file)
                      .replace_extension(std::string(p->name()))
                      .string();
  }
  return members;
}

namespace {

tl::expected<std::vector<Scenario>, ParseError> ReadScenarios(
    const std::filesystem::path& file) {
  // An ifstream opens a directory and reads nothing from it.
  std::error_code ec;
  if (std::filesystem::is_directory(file, ec)) {
    return unexpected(
        ParseError{file.string(), 0, 0, "a directory, not a scenario file"});
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return unexpected(ParseError{file.string(), 0, 0, "cannot read the file"});
  }
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    return unexpected(ParseError{file.string(), 0, 0, "cannot read the file"});
  }
  return ParseScenarios(buf.str(), file.string());
}

}  // namespace

tl::expected<std::vector<Scenario>, ParseError> LoadScenarios(
    const std::filesystem::path& file) {
  std::error_code ec;
  std::filesystem::path family =
      std::filesystem::path(file).replace_extension(kFamilyExtension);
  const protocol::Protocol* member =
      file.has_extension()
          ? protocol::FindProtocol(file.extension().string().substr(1))
          : nullptr;
  if (member == nullptr || std::filesystem::exists(file, ec) ||
      !std::filesystem::exists(family, ec)) {
    return ReadScenarios(file);
  }
  auto members = ReadScenarios(family);
  if (!members) return members;
  for (Scenario& s : *members) {
    if (s.protocol == member && !s.family.empty()) {
      // Named as it was asked for, which is the member's own name.
      s.path = file.string();
      return std::vector<Scenario>{std::move(s)};
    }
  }
  return unexpected(
      ParseError{file.string(), 0, 0,
                 fmt::format("no such file, and {} is not a scenario for {}",
                             family.string(), member->name())});
}

tl::expected<Scenario, ParseError> LoadScenario(
    const std::filesystem::path& file) {
  auto scenarios = LoadScenarios(file);
  if (!scenarios) return unexpected(scenarios.error());
  if (scenarios->size() == 1) return std::move(scenarios->front());
  std::vector<std::string> names;
  for (const Scenario& s : *scenarios) names.push_back(s.path);
  return unexpected(ParseError{
      file.string(), 0, 0,
      fmt::format("a scenario for several protocols; name one of its "
                  "members: {}",
                  fmt::join(names, ", "))});
}

namespace {

// One alternative of a `C:` pattern. The pattern's first word and the line's
// first word compare without regard to case; `*` matches any run of
// characters anywhere, across the space between verb and argument too.
bool MatchesOne(std::string_view pattern, std::string_view line) {
  auto lower_verb = [](std::string_view s) {
    size_t sp = s.find(' ');
    return AsciiLower(s.substr(0, sp)) +
           std::string(sp == std::string_view::npos ? "" : s.substr(sp));
  };
  std::string p = lower_verb(pattern);
  std::string l = lower_verb(line);
  if (Glob(p, l)) return true;
  // "EHLO *" also matches a bare "EHLO".
  return p.ends_with(" *") &&
         Glob(std::string_view(p).substr(0, p.size() - 2), l) &&
         l.find(' ') == std::string::npos;
}

}  // namespace

std::vector<std::string_view> PatternAlternatives(std::string_view pattern) {
  std::vector<std::string_view> out;
  while (true) {
    size_t bar = pattern.find(" | ");
    out.push_back(pattern.substr(0, bar));
    if (bar == std::string_view::npos) return out;
    pattern.remove_prefix(bar + 3);
  }
}

bool MatchesClientLine(std::string_view pattern, std::string_view line) {
  for (std::string_view alternative : PatternAlternatives(pattern)) {
    if (MatchesOne(alternative, line)) return true;
  }
  return false;
}

std::optional<Expectation> ParseExpectation(
    std::string_view name, const protocol::Protocol& protocol) {
  for (Expectation e : {Expectation::kDeliver, Expectation::kRefuse,
                        Expectation::kDeliverOrRefuse}) {
    if (ExpectationName(e, protocol) == name) return e;
  }
  if (name == kGoal) return Expectation::kDeliver;
  if (name == kGoalOrRefuse) return Expectation::kDeliverOrRefuse;
  return std::nullopt;
}

std::string ExpectationName(Expectation e, const protocol::Protocol& protocol) {
  switch (e) {
    case Expectation::kDeliver:
      return std::string(protocol.GoalVerb());
    case Expectation::kRefuse:
      return "refuse";
    case Expectation::kDeliverOrRefuse:
      return fmt::format("{}-or-refuse", protocol.GoalVerb());
  }
  return "?";
}

}  // namespace starttls::server
