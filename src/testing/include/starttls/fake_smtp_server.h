// An in-process mock SMTP server for GoogleTest suites, in the spirit of
// Envoy's FakeUpstream: it serves one scenario (a file or a string) on
// 127.0.0.1 port 0 on a thread of its own, with its own io_context and a
// fresh test CA, and lets the test wait for sessions and assert on their
// verdicts, oracles and transcripts. Every wait takes a timeout.
//
//   auto server = starttls::testing::FakeSmtpServer::Start(
//       {.scenario_file = "scenarios/field/curl-cve-2021-22947.smtp"});
//   ASSERT_TRUE(server) << server.error();
//   RunClientUnderTest("127.0.0.1", (*server)->port(), (*server)->cafile());
//   ASSERT_TRUE((*server)->WaitForSession(std::chrono::seconds(10)));
//   EXPECT_TRUE((*server)->sessions()[0].passed());
#ifndef STARTTLS_TESTING_FAKE_SMTP_SERVER_H_
#define STARTTLS_TESTING_FAKE_SMTP_SERVER_H_

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <tl/expected.hpp>
#include <vector>

namespace starttls::testing {

struct FakeSmtpServerOptions {
  // Exactly one of these: the scenario's text, or its file.
  std::string scenario_text;
  std::filesystem::path scenario_file;
  std::string listen = "127.0.0.1:0";  // ADDR:PORT; port 0: any free port
  // Certificates go under run_dir/pki; empty: a new temporary directory,
  // removed when the server is destroyed.
  std::filesystem::path run_dir;
};

// One session the server played, as judged when it ended.
struct ReplayedSession {
  std::string verdict;               // "pass" or "fail"
  std::string expected;              // the scenario's Expect
  std::string observed;              // delivered, refused, hung, interrupted
  std::vector<std::string> reasons;  // why it failed; empty on a pass
  std::vector<std::string> oracles;  // ids of the oracles that fired
  bool delivered = false;
  // What the client saw, one line each: "S: ..." and "C: ..." for the
  // dialogue (in plain text and inside TLS), "-- TLS --" where TLS began.
  std::string transcript;
  nlohmann::json report;  // the full report (docs/reports.md)

  [[nodiscard]] bool passed() const { return verdict == "pass"; }
};

class FakeSmtpServer {
 public:
  // Parses the scenario, issues the certificates, listens, and starts
  // serving on a thread of its own. Errors are one line for people (a
  // malformed scenario as file:line:col: message).
  [[nodiscard]] static tl::expected<std::unique_ptr<FakeSmtpServer>,
                                    std::string>
  Start(FakeSmtpServerOptions options);

  // Stops accepting, aborts sessions in progress and joins the thread.
  ~FakeSmtpServer();
  FakeSmtpServer(const FakeSmtpServer&) = delete;
  FakeSmtpServer& operator=(const FakeSmtpServer&) = delete;

  [[nodiscard]] uint16_t port() const;
  // The CA file clients must trust (and only it).
  [[nodiscard]] const std::filesystem::path& cafile() const;
  // The name clients must verify: the scenario's Host.
  [[nodiscard]] const std::string& host() const;

  // Succeeds once `count` sessions in all have ended, failing (with what
  // did end) if that has not happened within `timeout`.
  [[nodiscard]] ::testing::AssertionResult WaitForSessions(
      size_t count, std::chrono::milliseconds timeout);
  // Waits for one more session than earlier successful WaitForSession()
  // calls have waited for: the first call succeeds once one session has
  // ended (even before the call), the second once two have, and so on.
  [[nodiscard]] ::testing::AssertionResult WaitForSession(
      std::chrono::milliseconds timeout);

  // Sessions that have ended so far, in the order they ended.
  [[nodiscard]] std::vector<ReplayedSession> sessions() const;

  // Succeeds when session `index` (0-based) has ended and passed; fails
  // with its expected and observed outcome, the reasons and the transcript.
  [[nodiscard]] ::testing::AssertionResult SessionPassed(size_t index) const;

  struct State;  // the implementation

 private:
  explicit FakeSmtpServer(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

}  // namespace starttls::testing

#endif  // STARTTLS_TESTING_FAKE_SMTP_SERVER_H_
