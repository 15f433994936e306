// Scenario files: an RFC-style transcript of one SMTP session, as the server
// plays it. The format is documented in scenarios/README.md.
#ifndef STARTTLS_SERVER_SCENARIO_H_
#define STARTTLS_SERVER_SCENARIO_H_

#include <chrono>
#include <filesystem>
#include <map>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

namespace starttls::server {

struct Step {
  enum class Kind {
    kSend,    // S: text       the server sends text + CRLF
    kExpect,  // C: pattern    the next client line must match pattern
    kTls,     // tls           server-side TLS handshake on this connection
    kServe,   // serve         the built-in responder answers the rest
    kClose,   // close         the server closes the connection
  };
  Kind kind;
  std::string text;  // S: payload or C: pattern; empty for the other kinds
  std::map<std::string, std::string> options;  // key=value, validated per kind
  int line = 0;  // 1-based line in the scenario file
};

// What a correct client that requires TLS does with this scenario.
enum class Expectation { kDeliver, kRefuse };

struct Scenario {
  std::string name;  // the file name without its extension
  std::string path;
  std::string summary;
  std::string host = "mail.example.test";  // the identity the server proves
  Expectation expect = Expectation::kDeliver;
  // How long the server waits for any one thing from the client.
  std::chrono::milliseconds timeout{10000};
  // EHLO keywords the built-in responder advertises; empty means "as the
  // script's own EHLO reply, or the defaults" (see ResponderCapabilities).
  std::vector<std::string> capabilities;
  std::vector<Step> steps;
};

struct ParseError {
  std::string file;
  int line = 0;  // 1-based; 0 when the file could not be read at all
  int column = 0;
  std::string message;
  // "file:line:col: message", or "file: message" without a position.
  [[nodiscard]] std::string ToString() const;
};

// Parses a scenario held in memory; `file` is used for names and messages.
[[nodiscard]] tl::expected<Scenario, ParseError> ParseScenario(
    std::string_view text, std::string_view file);

// Reads and parses a scenario file.
[[nodiscard]] tl::expected<Scenario, ParseError> LoadScenario(
    const std::filesystem::path& file);

// True when a client line matches a `C:` pattern: `*` matches any run of
// characters, the verb (first word) compares without regard to case, and a
// pattern ending in " *" also matches the line without that argument.
[[nodiscard]] bool MatchesClientLine(std::string_view pattern,
                                     std::string_view line);

// The EHLO keywords the responder offers for `scenario`: its Capabilities
// header, else the keywords of the last scripted EHLO reply, else defaults.
[[nodiscard]] std::vector<std::string> ResponderCapabilities(
    const Scenario& scenario);

[[nodiscard]] std::string_view ExpectationName(Expectation e);

}  // namespace starttls::server

#endif  // STARTTLS_SERVER_SCENARIO_H_
