#include "starttls/reply_parser.h"

#include <fmt/format.h>

#include <utility>

#include "quote.h"

namespace starttls::client {
namespace {

bool InRange(char c, char lo, char hi) { return c >= lo && c <= hi; }

}  // namespace

std::string Summarize(const Reply& reply) {
  if (reply.lines.empty() || reply.lines.front().empty()) {
    return fmt::format("{}", reply.code);
  }
  return fmt::format("{} {}", reply.code, reply.lines.front());
}

void ReplyParser::Feed(std::string_view bytes) {
  if (!error_) buffer_.append(bytes);
}

tl::unexpected<Error> ReplyParser::Fail(std::string message) {
  error_ = Error{ErrorCode::kProtocol, std::move(message)};
  return tl::unexpected(*error_);
}

tl::expected<std::optional<Reply>, Error> ReplyParser::Next() {
  if (error_) return tl::unexpected(*error_);
  while (true) {
    const std::size_t lf = buffer_.find('\n', scan_);
    if (lf == std::string::npos) {
      if (buffer_.size() - scan_ > kMaxLineLength) {
        return Fail(
            fmt::format("reply line longer than {} bytes", kMaxLineLength));
      }
      return std::nullopt;
    }
    std::string_view line(buffer_.data() + scan_, lf - scan_);
    if (!line.empty() && line.back() == '\r') {
      line.remove_suffix(1);
    } else {
      saw_bare_lf_ = true;
    }
    if (line.size() > kMaxLineLength) {
      return Fail(
          fmt::format("reply line longer than {} bytes", kMaxLineLength));
    }
    // Reply codes are 2yz..5yz with y in 0..5 (RFC 5321 section 4.2.1).
    if (line.size() < 3 || !InRange(line[0], '2', '5') ||
        !InRange(line[1], '0', '5') || !InRange(line[2], '0', '9')) {
      return Fail(fmt::format("malformed reply code in {}", Quote(line)));
    }
    if (line.size() > 3 && line[3] != ' ' && line[3] != '-') {
      return Fail(fmt::format("malformed reply separator in {}", Quote(line)));
    }
    const int code =
        (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
    if (!partial_.lines.empty() && code != partial_.code) {
      return Fail(fmt::format("reply line {} continues a {} reply", Quote(line),
                              partial_.code));
    }
    const bool last = line.size() == 3 || line[3] == ' ';
    partial_.code = code;
    partial_.lines.emplace_back(line.size() > 4 ? line.substr(4) : "");
    scan_ = lf + 1;
    if (!last && scan_ > kMaxReply) {
      return Fail(
          fmt::format("a multi-line reply longer than {} bytes", kMaxReply));
    }
    if (last) {
      buffer_.erase(0, scan_);
      scan_ = 0;
      return std::exchange(partial_, Reply{});
    }
  }
}

}  // namespace starttls::client
