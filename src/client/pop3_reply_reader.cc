#include "starttls/pop3_reply_reader.h"

#include <fmt/format.h>

#include "common/ascii.h"
#include "quote.h"

namespace starttls::client {
namespace {

bool IsStatus(std::string_view line, std::string_view status) {
  return StartsWithNoCase(line, status) &&
         (line.size() == status.size() || line[status.size()] == ' ');
}

}  // namespace

void Pop3ReplyReader::Feed(std::string_view bytes) { buffer_ += bytes; }

tl::unexpected<Error> Pop3ReplyReader::Fail(std::string message) {
  error_ = Error{ErrorCode::kProtocol, std::move(message)};
  return tl::unexpected(*error_);
}

tl::expected<std::optional<Pop3Reply>, Error> Pop3ReplyReader::Next() {
  if (error_) return tl::unexpected(*error_);
  // Walk line by line until one ends the reply; nothing is consumed until
  // it is complete.
  Pop3Reply reply;
  std::size_t at = 0;
  bool first = true;
  while (true) {
    std::size_t lf = buffer_.find('\n', at);
    if (lf == std::string::npos) {
      if (buffer_.size() - at > kMaxLineLength) {
        return Fail(
            fmt::format("a reply line longer than {} bytes", kMaxLineLength));
      }
      return std::nullopt;
    }
    if (lf - at > kMaxLineLength) {
      return Fail(
          fmt::format("a reply line longer than {} bytes", kMaxLineLength));
    }
    if (lf == at || buffer_[lf - 1] != '\r') {
      return Fail(fmt::format("a reply line without CRLF: {}",
                              Quote(buffer_.substr(at, lf + 1 - at))));
    }
    std::string_view line(buffer_.data() + at, lf - 1 - at);
    if (line.find('\r') != std::string_view::npos) {
      return Fail(fmt::format("a reply line with a bare CR: {}", Quote(line)));
    }
    at = lf + 1;
    if (first) {
      first = false;
      reply.status_line = std::string(line);
      if (IsStatus(line, "+OK")) {
        reply.kind = Pop3Reply::Kind::kOk;
        if (multi_line_) continue;
      } else if (IsStatus(line, "-ERR")) {
        reply.kind = Pop3Reply::Kind::kErr;
      } else if (line == "+" || line.starts_with("+ ")) {
        reply.kind = Pop3Reply::Kind::kChallenge;
      } else {
        return Fail(fmt::format("not a POP3 reply: {}", Quote(line)));
      }
      break;
    }
    if (line == ".") break;
    if (at > kMaxReply) {
      return Fail(
          fmt::format("a multi-line reply longer than {} bytes", kMaxReply));
    }
    // RFC 1939 section 3: a line that begins with "." was sent with
    // another one in front.
    if (line.starts_with('.')) line.remove_prefix(1);
    reply.lines.emplace_back(line);
  }
  buffer_.erase(0, at);
  return reply;
}

}  // namespace starttls::client
