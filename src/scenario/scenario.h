// Scenario files: an RFC-style transcript of one SMTP session, as the server
// plays it. The format is documented in scenarios/README.md.
#ifndef STARTTLS_SCENARIO_SCENARIO_H_
#define STARTTLS_SCENARIO_SCENARIO_H_

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "protocol/protocol.h"
#include "scenario/step.h"

namespace starttls::server {

// What a correct client that requires TLS does with this scenario: reach
// the protocol's goal (SMTP: deliver the message; IMAP: log in), refuse, or
// either. Protocol::GoalVerb() words the goal.
enum class Expectation { kDeliver, kRefuse, kDeliverOrRefuse };

struct Scenario {
  std::string name;  // the file name without its extension
  // The name it is loaded and reported by. For a member of a family (below)
  // that is the family file's path with the protocol as its extension
  // (certificates/expired.scenario plays as certificates/expired.pop3), a
  // file that need not exist.
  std::string path;
  std::string source;  // the file it was read from
  std::string summary;
  // What its words mean (the Protocol: header); never null.
  const protocol::Protocol* protocol = &protocol::Smtp();
  // A family: a scenario written once for several protocols (`Protocol:
  // smtp, imap, pop3`), whose script says nothing protocol-specific (no S:,
  // C: or send). It is played once per protocol listed, as that protocol's
  // member (LoadScenarios). Empty for a scenario of one protocol.
  std::vector<const protocol::Protocol*> family;
  std::string host = "mail.example.test";  // the identity the server proves
  Expectation expect = Expectation::kDeliver;
  // How long the server waits for any one thing from the client.
  std::chrono::milliseconds timeout{10000};
  // How long one connection may last in all (the Session-Timeout header);
  // unset: kSessionTimeoutFactor x timeout. See SessionTimeout().
  std::optional<std::chrono::milliseconds> session_timeout;
  // Capabilities the built-in responder advertises (SMTP's EHLO keywords,
  // IMAP's CAPABILITY); empty means "as the script's own, or the
  // responder's defaults" (engine/responder.h, ResponderCapabilities()).
  std::vector<std::string> capabilities;
  // The certificate profile the server presents at `tls` (see certs/).
  std::string certificate = "valid";
  // All connections' steps, separated by kConnection steps.
  std::vector<Step> steps;
};

// The whole-session deadline when the scenario states none, in Timeouts.
inline constexpr int kSessionTimeoutFactor = 20;

// How long one connection of `scenario` may last in all.
[[nodiscard]] std::chrono::milliseconds SessionTimeout(
    const Scenario& scenario);

// How long the script keeps a correct client waiting on purpose, over all
// its connections: every `write`'s delay= and quiet= window, and the gaps of
// its dripped writes (Q bytes queued, dripped N at a time: ceil(Q/N) gaps).
// A client's own deadline must leave room for it.
[[nodiscard]] std::chrono::milliseconds ScriptedPauses(
    const Scenario& scenario);

// True when the script leaves a client waiting for an answer that never
// comes (a `stall` step, a `tls` step with abort=stall, or a `write
// repeat=forever`, whose answer never ends): a correct client ends such a
// connection by its own deadline or bound.
[[nodiscard]] bool Stalls(const Scenario& scenario);

// How many connections the scenario scripts (1 + its `connection` steps).
[[nodiscard]] int ConnectionCount(const Scenario& scenario);

// The steps of connection `n` (1-based, at most ConnectionCount()).
[[nodiscard]] std::span<const Step> ConnectionSteps(const Scenario& scenario,
                                                    int n);

// The certificate profile connection `n` (1-based) presents: that of the
// latest `connection certificate=` step before it, else the Certificate
// header's. A `connection` step without certificate= keeps the profile.
[[nodiscard]] const std::string& ConnectionCertificate(
    const Scenario& scenario, int n);

// Every profile the scenario's connections present, once each, in order.
[[nodiscard]] std::vector<std::string> Certificates(const Scenario& scenario);

// True for what `Host:` accepts: a host name or an IP address (letters,
// digits, '.', '-' and ':'), at most 253 characters.
[[nodiscard]] bool IsHostName(std::string_view s);

// Parses "250ms", "10s" or "1.5s".
[[nodiscard]] std::optional<std::chrono::milliseconds> ParseDuration(
    std::string_view s);

// Decodes C-style escapes: \\ \" \r \n \t \0 and \xHH. On error returns
// the 0-based index of the bad escape.
[[nodiscard]] tl::expected<std::string, size_t> Unescape(std::string_view s);

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

// The scenarios held in memory: one, or a family's members, one per
// protocol it lists, in the order listed (see Scenario::family).
[[nodiscard]] tl::expected<std::vector<Scenario>, ParseError> ParseScenarios(
    std::string_view text, std::string_view file);

// The extension of a family file (certificates/expired.scenario).
inline constexpr std::string_view kFamilyExtension = ".scenario";

// Reads the scenarios a path names: a scenario file (one), a family file
// (its members), or a family's member by its name (dir/name.pop3 when
// dir/name.scenario lists pop3 and dir/name.pop3 does not exist).
[[nodiscard]] tl::expected<std::vector<Scenario>, ParseError> LoadScenarios(
    const std::filesystem::path& file);

// LoadScenarios() for a path that names exactly one scenario; a family file
// is an error that names its members.
[[nodiscard]] tl::expected<Scenario, ParseError> LoadScenario(
    const std::filesystem::path& file);

// True when a client line matches a `C:` pattern. A pattern is one or more
// alternatives separated by " | " (space, bar, space); a line matches when it
// matches any of them. In an alternative `*` matches any run of characters
// (spaces included), the first word compares without regard to case, and an
// alternative ending in " *" also matches the bare first word ("EHLO *"
// matches "EHLO").
[[nodiscard]] bool MatchesClientLine(std::string_view pattern,
                                     std::string_view line);

// The alternatives of a `C:` pattern, in the order written.
[[nodiscard]] std::vector<std::string_view> PatternAlternatives(
    std::string_view pattern);

// "deliver", "refuse" or "deliver-or-refuse" in SMTP; the goal is the
// protocol's word ("log-in", "log-in-or-refuse" in IMAP).
// ParseExpectation also takes the words every protocol shares, "goal" and
// "goal-or-refuse", which a family's Expect: uses.
inline constexpr std::string_view kGoal = "goal";
inline constexpr std::string_view kGoalOrRefuse = "goal-or-refuse";
[[nodiscard]] std::string ExpectationName(
    Expectation e, const protocol::Protocol& protocol = protocol::Smtp());
// The inverse of ExpectationName; nullopt for any other word.
[[nodiscard]] std::optional<Expectation> ParseExpectation(
    std::string_view name,
    const protocol::Protocol& protocol = protocol::Smtp());

}  // namespace starttls::server

#endif  // STARTTLS_SCENARIO_SCENARIO_H_
