#include "server/scenario.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>

namespace starttls::server {
namespace {

using tl::unexpected;

// The steps named by a word, and the options each accepts.
const std::map<std::string_view, std::pair<Step::Kind, std::set<std::string>>>&
WordSteps() {
  static const auto* steps =
      new std::map<std::string_view,
                   std::pair<Step::Kind, std::set<std::string>>>{
          {"tls", {Step::Kind::kTls, {}}},
          {"serve", {Step::Kind::kServe, {}}},
          {"close", {Step::Kind::kClose, {}}},
      };
  return *steps;
}

// Longer waits would only hide a hang.
constexpr std::chrono::milliseconds kMaxTimeout = std::chrono::hours(1);

constexpr std::string_view kHeaders[] = {"Summary", "Host", "Expect", "Timeout",
                                         "Capabilities"};

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

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

// Parses "250ms", "10s" or "1.5s".
std::optional<std::chrono::milliseconds> ParseDuration(std::string_view s) {
  double value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || !std::isfinite(value) || value < 0) {
    return std::nullopt;
  }
  std::string_view unit(end, s.data() + s.size() - end);
  if (unit == "ms") return std::chrono::milliseconds(static_cast<long>(value));
  if (unit == "s")
    return std::chrono::milliseconds(static_cast<long>(value * 1000));
  return std::nullopt;
}

bool IsHostName(std::string_view s) {
  return !s.empty() && s.size() <= 253 &&
         std::all_of(s.begin(), s.end(), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) || c == '.' ||
                  c == '-' || c == ':';
         });
}

class Parser {
 public:
  Parser(std::string_view text, std::string_view file) : text_(text) {
    scenario_.path = std::string(file);
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
    if (scenario_.steps.empty()) {
      return unexpected(Error(line_no + 1, 1, "the scenario has no steps"));
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
    auto known = std::find(std::begin(kHeaders), std::end(kHeaders), name);
    if (known == std::end(kHeaders)) {
      return unexpected(Error(
          n, 1,
          fmt::format("unknown header field \"{}:\" (known: Summary, Host, "
                      "Expect, Timeout, Capabilities)",
                      name)));
    }
    if (!seen_.insert(std::string(name)).second) {
      return unexpected(
          Error(n, 1, fmt::format("duplicate header field \"{}:\"", name)));
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
    if (name == "Summary") {
      scenario_.summary = std::string(value);
    } else if (name == "Host") {
      if (!IsHostName(value)) {
        return unexpected(Error(
            n, value_col, fmt::format("invalid host name \"{}\"", value)));
      }
      scenario_.host = std::string(value);
    } else if (name == "Expect") {
      if (value == "deliver") {
        scenario_.expect = Expectation::kDeliver;
      } else if (value == "refuse") {
        scenario_.expect = Expectation::kRefuse;
      } else {
        return unexpected(
            Error(n, value_col,
                  fmt::format("Expect must be deliver or refuse, not \"{}\"",
                              value)));
      }
    } else if (name == "Timeout") {
      auto d = ParseDuration(value);
      if (!d || d->count() == 0 || *d > kMaxTimeout) {
        return unexpected(Error(
            n, value_col,
            fmt::format("Timeout must be a duration from 1ms to 1h such as "
                        "500ms or 10s, not \"{}\"",
                        value)));
      }
      scenario_.timeout = *d;
    } else if (name == "Capabilities") {
      std::string_view rest = value;
      while (!rest.empty()) {
        size_t comma = rest.find(',');
        std::string_view item = Trim(rest.substr(0, comma));
        if (item.empty()) {
          return unexpected(
              Error(n, value_col, "empty capability in the list"));
        }
        scenario_.capabilities.emplace_back(item);
        rest = comma == std::string_view::npos ? std::string_view()
                                               : rest.substr(comma + 1);
      }
    }
    return {};
  }

  tl::expected<void, ParseError> ParseTranscriptLine(std::string_view line,
                                                     int n) {
    if (auto r = CheckReachable(n); !r) return r;
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
    auto it = WordSteps().find(word);
    if (it == WordSteps().end()) {
      return unexpected(Error(n, 1,
                              fmt::format("unknown step \"{}\" (steps: S:, C:, "
                                          "tls, serve, close)",
                                          word)));
    }
    if (auto r = CheckReachable(n); !r) return r;
    Step step{.kind = it->second.first, .line = n};
    if (step.kind == Step::Kind::kTls) {
      if (tls_line_ != 0) {
        return unexpected(Error(
            n, 1,
            fmt::format("TLS was already started at line {}", tls_line_)));
      }
      tls_line_ = n;
    }
    size_t pos = word_end;
    while (pos != std::string_view::npos && pos < line.size()) {
      pos = line.find_first_not_of(" \t", pos);
      if (pos == std::string_view::npos) break;
      size_t end = line.find_first_of(" \t", pos);
      std::string_view token = line.substr(pos, end == std::string_view::npos
                                                    ? std::string_view::npos
                                                    : end - pos);
      int col = static_cast<int>(pos) + 1;
      size_t eq = token.find('=');
      if (eq == std::string_view::npos || eq == 0) {
        return unexpected(Error(
            n, col, fmt::format("expected key=value, found \"{}\"", token)));
      }
      std::string key(token.substr(0, eq));
      if (!it->second.second.contains(key)) {
        return unexpected(Error(
            n, col,
            fmt::format("unknown option \"{}\" for step \"{}\"", key, word)));
      }
      if (!step.options.emplace(key, std::string(token.substr(eq + 1)))
               .second) {
        return unexpected(
            Error(n, col, fmt::format("option \"{}\" given twice", key)));
      }
      pos = end;
    }
    scenario_.steps.push_back(std::move(step));
    return {};
  }

  // Steps after `serve` or `close` could never run.
  tl::expected<void, ParseError> CheckReachable(int n) const {
    if (!scenario_.steps.empty()) {
      const Step& last = scenario_.steps.back();
      if (last.kind == Step::Kind::kServe || last.kind == Step::Kind::kClose) {
        return unexpected(Error(
            n, 1,
            fmt::format("step after \"{}\" at line {} can never run",
                        last.kind == Step::Kind::kServe ? "serve" : "close",
                        last.line)));
      }
    }
    return {};
  }

  std::string_view text_;
  Scenario scenario_;
  std::set<std::string> seen_;
  int tls_line_ = 0;
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

std::string ParseError::ToString() const {
  if (line == 0) return fmt::format("{}: {}", file, message);
  return fmt::format("{}:{}:{}: {}", file, line, column, message);
}

tl::expected<Scenario, ParseError> ParseScenario(std::string_view text,
                                                 std::string_view file) {
  return Parser(text, file).Parse();
}

tl::expected<Scenario, ParseError> LoadScenario(
    const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return unexpected(ParseError{file.string(), 0, 0, "cannot read the file"});
  }
  std::stringstream buf;
  buf << in.rdbuf();
  if (in.bad()) {
    return unexpected(ParseError{file.string(), 0, 0, "cannot read the file"});
  }
  return ParseScenario(buf.str(), file.string());
}

bool MatchesClientLine(std::string_view pattern, std::string_view line) {
  auto split = [](std::string_view s) {
    size_t sp = s.find(' ');
    return std::pair{s.substr(0, sp), sp == std::string_view::npos
                                          ? std::string_view()
                                          : s.substr(sp)};
  };
  auto [pverb, prest] = split(pattern);
  auto [lverb, lrest] = split(line);
  if (!Glob(Lower(pverb), Lower(lverb))) return false;
  if (Glob(prest, lrest)) return true;
  return prest == " *" && lrest.empty();
}

std::vector<std::string> ResponderCapabilities(const Scenario& scenario) {
  if (!scenario.capabilities.empty()) return scenario.capabilities;
  std::optional<std::vector<std::string>> found;
  const auto& steps = scenario.steps;
  for (size_t i = 0; i < steps.size(); ++i) {
    if (steps[i].kind != Step::Kind::kExpect ||
        !Lower(steps[i].text).starts_with("ehlo")) {
      continue;
    }
    std::vector<std::string> keywords;
    bool first = true;
    for (size_t j = i + 1;
         j < steps.size() && steps[j].kind == Step::Kind::kSend &&
         steps[j].text.starts_with("250");
         ++j) {
      std::string_view text = steps[j].text;
      if (!first && text.size() > 4) keywords.emplace_back(text.substr(4));
      first = false;
      if (text.size() < 4 || text[3] != '-') break;
    }
    if (!first) found = std::move(keywords);
  }
  // A scripted one-line EHLO reply means "no extensions", STARTTLS included.
  if (found) return *found;
  return {"PIPELINING", "SIZE 10485760", "8BITMIME", "ENHANCEDSTATUSCODES",
          "STARTTLS"};
}

std::string_view ExpectationName(Expectation e) {
  return e == Expectation::kDeliver ? "deliver" : "refuse";
}

}  // namespace starttls::server
