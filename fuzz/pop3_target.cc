// POP3 from both ends. Byte 0 picks the side:
//   even: the reference client's reply reader. Byte 1 sets the chunk size
//         the rest is fed in, and its bits (one a reply, cycling) whether
//         each reply may go on over more lines. Chunks of any size give the
//         same replies as all at once; no reply holds a CR or LF in a line;
//         what a reply leaves buffered is what follows it; errors are
//         sticky.
//   odd:  the built-in responder. The first line names the capabilities
//         (comma-separated CAPA lines), every further line is a client
//         line. Every answer is whole CRLF lines and begins with "+OK",
//         "-ERR" or a "+ " challenge; after STLS's go-ahead and the
//         handshake, STLS is no longer offered.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/pop3_responder.h"
#include "fuzz/targets.h"
#include "starttls/pop3_reply_reader.h"

namespace starttls::fuzz {
namespace {

using client::Pop3Reply;
using client::Pop3ReplyReader;

struct Outcome {
  std::vector<Pop3Reply> replies;
  bool failed = false;
};

Outcome Read(std::string_view bytes, size_t chunk, uint8_t multi_line_bits) {
  Pop3ReplyReader reader;
  Outcome out;
  if (chunk == 0) chunk = bytes.size() + 1;
  auto expect = [&] {
    reader.ExpectMultiLine((multi_line_bits >> (out.replies.size() % 8)) & 1);
  };
  expect();
  for (size_t at = 0; at < bytes.size() && !out.failed; at += chunk) {
    reader.Feed(bytes.substr(at, chunk));
    while (true) {
      size_t before = reader.buffered().size();
      auto next = reader.Next();
      if (!next) {
        out.failed = true;
        FUZZ_CHECK(!reader.Next());  // sticky
        break;
      }
      if (!*next) break;
      FUZZ_CHECK(reader.buffered().size() < before);
      const Pop3Reply& reply = **next;
      FUZZ_CHECK(reply.status_line.find_first_of("\r\n") == std::string::npos);
      for (const std::string& line : reply.lines) {
        FUZZ_CHECK(line.find_first_of("\r\n") == std::string::npos);
      }
      FUZZ_CHECK(reply.kind == Pop3Reply::Kind::kOk || reply.lines.empty());
      out.replies.push_back(**next);
      expect();
    }
  }
  return out;
}

bool Same(const Outcome& a, const Outcome& b) {
  if (a.failed != b.failed || a.replies.size() != b.replies.size()) {
    return false;
  }
  for (size_t i = 0; i < a.replies.size(); ++i) {
    if (a.replies[i].kind != b.replies[i].kind ||
        a.replies[i].status_line != b.replies[i].status_line ||
        a.replies[i].lines != b.replies[i].lines) {
      return false;
    }
  }
  return true;
}

void CheckAnswer(std::string_view reply) {
  if (reply.empty()) return;
  FUZZ_CHECK(reply.starts_with("+OK") || reply.starts_with("-ERR") ||
             reply.starts_with("+ "));
  FUZZ_CHECK(reply.ends_with("\r\n"));
  for (size_t at = 0; at < reply.size();) {
    size_t crlf = reply.find("\r\n", at);
    FUZZ_CHECK(crlf != std::string_view::npos);
    FUZZ_CHECK(reply.substr(at, crlf - at).find('\n') == std::string::npos);
    at = crlf + 2;
  }
}

void Responder(std::string_view input) {
  size_t first = input.find('\n');
  std::string_view head = input.substr(0, first);
  input = first == std::string_view::npos ? "" : input.substr(first + 1);
  server::ResponderConfig config;
  while (!head.empty()) {
    size_t comma = head.find(',');
    std::string_view cap = head.substr(0, comma);
    while (cap.starts_with(' ')) cap.remove_prefix(1);
    if (!cap.empty()) config.capabilities.emplace_back(cap);
    head = comma == std::string_view::npos ? "" : head.substr(comma + 1);
  }
  server::Pop3Responder responder(config);
  CheckAnswer(responder.Greeting());
  while (!input.empty()) {
    size_t lf = input.find('\n');
    std::string_view line = input.substr(0, lf);
    input = lf == std::string_view::npos ? "" : input.substr(lf + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    server::Responder::Response r = responder.OnLine(line);
    FUZZ_CHECK(!r.reply.empty());
    CheckAnswer(r.reply);
    if (r.action == server::Responder::Action::kStartTls) {
      FUZZ_CHECK(!responder.tls_active());
      FUZZ_CHECK(r.reply.starts_with("+OK"));
      responder.OnTlsStarted();
    }
    if (responder.tls_active()) {
      for (const std::string& c : responder.AdvertisedCapabilities()) {
        FUZZ_CHECK(!c.starts_with("STLS"));
      }
    }
    if (r.action == server::Responder::Action::kClose) break;
  }
}

}  // namespace

int FuzzPop3(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);
  if (data[0] % 2 == 1) {
    Responder(input);
    return 0;
  }
  Outcome whole = Read(input, 0, data[1]);
  Outcome chunked = Read(input, 1 + data[1] % 17, data[1]);
  FUZZ_CHECK(Same(whole, chunked));
  return 0;
}

}  // namespace starttls::fuzz
