// The built-in SMTP responder, line by line: every reply is whole CRLF lines
// with a 2yz..5yz code, and nothing the client sends can make it misbehave.
#include <string>
#include <string_view>
#include <vector>

#include "engine/smtp_responder.h"
#include "fuzz/targets.h"

namespace starttls::fuzz {
namespace {

void CheckReply(std::string_view reply) {
  while (!reply.empty()) {
    size_t crlf = reply.find("\r\n");
    FUZZ_CHECK(crlf != std::string_view::npos);
    std::string_view line = reply.substr(0, crlf);
    FUZZ_CHECK(line.size() >= 3);
    FUZZ_CHECK(line[0] >= '2' && line[0] <= '5');
    FUZZ_CHECK(line[1] >= '0' && line[1] <= '9');
    FUZZ_CHECK(line[2] >= '0' && line[2] <= '9');
    FUZZ_CHECK(line.size() == 3 || line[3] == ' ' || line[3] == '-');
    FUZZ_CHECK(line.find('\n') == std::string_view::npos);
    reply.remove_prefix(crlf + 2);
  }
}

}  // namespace

int FuzzResponder(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  size_t first = input.find('\n');
  std::string_view head = input.substr(0, first);
  input = first == std::string_view::npos ? "" : input.substr(first + 1);

  // The first line: space-separated capabilities (e.g. "STARTTLS SIZE 100").
  server::ResponderConfig config{.max_message_size = 4096};
  while (!head.empty()) {
    size_t space = head.find(' ');
    std::string_view word = head.substr(0, space);
    if (word == "SIZE" && space != std::string_view::npos) {
      size_t next = head.find(' ', space + 1);
      config.capabilities.emplace_back(head.substr(0, next));
      head = next == std::string_view::npos ? "" : head.substr(next + 1);
      continue;
    }
    if (!word.empty()) config.capabilities.emplace_back(word);
    head = space == std::string_view::npos ? "" : head.substr(space + 1);
  }

  server::SmtpResponder responder(config);
  size_t delivered = 0;
  while (!input.empty()) {
    size_t lf = input.find('\n');
    std::string_view line = input.substr(0, lf);
    input = lf == std::string_view::npos ? "" : input.substr(lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    bool was_in_data = responder.in_data();
    server::Responder::Response r = responder.OnLine(line);
    CheckReply(r.reply);
    if (!was_in_data) FUZZ_CHECK(!r.reply.empty());
    switch (r.action) {
      case server::Responder::Action::kStartTls:
        FUZZ_CHECK(!responder.tls_active());
        FUZZ_CHECK(r.reply.starts_with("220"));
        responder.OnTlsStarted();
        FUZZ_CHECK(responder.tls_active());
        break;
      case server::Responder::Action::kClose:
        break;
      case server::Responder::Action::kNone:
        break;
    }
    if (responder.tls_active()) {
      for (const std::string& c : responder.AdvertisedCapabilities()) {
        FUZZ_CHECK(c != "STARTTLS");
      }
    }
    FUZZ_CHECK(responder.messages().size() >= delivered);
    delivered = responder.messages().size();
    if (delivered > 0) {
      FUZZ_CHECK(responder.messages().back().data.size() <= 4096);
    }
  }
  return 0;
}

}  // namespace starttls::fuzz
