#include "starttls/imap_response_reader.h"

#include <fmt/format.h>

#include "common/ascii.h"
#include "protocol/protocol.h"
#include "quote.h"

namespace starttls::client {
namespace {

std::string_view NextWord(std::string_view* rest) {
  std::size_t end = rest->find(' ');
  std::string_view word = rest->substr(0, end);
  *rest = end == std::string_view::npos ? std::string_view()
                                        : rest->substr(end + 1);
  return word;
}

}  // namespace

void ImapResponseReader::Feed(std::string_view bytes) { buffer_ += bytes; }

tl::unexpected<Error> ImapResponseReader::Fail(std::string message) {
  error_ = Error{ErrorCode::kProtocol, std::move(message)};
  return tl::unexpected(*error_);
}

tl::expected<std::optional<ImapResponse>, Error> ImapResponseReader::Next() {
  if (error_) return tl::unexpected(*error_);
  // Walk line by line, jumping over literals, until a line ends the
  // response; nothing is consumed until it is complete.
  std::string text;
  std::size_t at = 0;
  std::size_t literals = 0;
  while (true) {
    std::size_t lf = buffer_.find('\n', at);
    if (lf == std::string::npos) {
      if (buffer_.size() - at > kMaxLineLength) {
        return Fail(
            fmt::format("response line longer than {} bytes", kMaxLineLength));
      }
      return std::nullopt;
    }
    if (lf == 0 || buffer_[lf - 1] != '\r') {
      return Fail(fmt::format(
          "response line not ended by CRLF: {}",
          Quote(std::string_view(buffer_).substr(at, lf + 1 - at))));
    }
    std::string_view line = std::string_view(buffer_).substr(at, lf - 1 - at);
    if (line.size() > kMaxLineLength) {
      return Fail(
          fmt::format("response line longer than {} bytes", kMaxLineLength));
    }
    text += line;
    at = lf + 1;
    auto literal = protocol::Imap().LiteralSize(line);
    if (!literal) break;
    literals += *literal;
    if (literals > kMaxLiteral) {
      return Fail(fmt::format("literal of more than {} bytes", kMaxLiteral));
    }
    if (buffer_.size() - at < *literal) return std::nullopt;
    text += "\r\n";
    text.append(buffer_, at, *literal);
    at += *literal;
  }

  ImapResponse response;
  std::string_view rest = text;
  std::string_view first = NextWord(&rest);
  if (first == "*") {
    response.kind = ImapResponse::Kind::kUntagged;
    std::string_view word = NextWord(&rest);
    // "* 3 EXISTS": the word after the number.
    if (!word.empty() &&
        word.find_first_not_of("0123456789") == std::string_view::npos) {
      word = NextWord(&rest);
    }
    response.status = AsciiUpper(word);
  } else if (first == "+" || text == "+") {
    response.kind = ImapResponse::Kind::kContinuation;
  } else if (!first.empty() && !rest.empty()) {
    response.kind = ImapResponse::Kind::kTagged;
    response.tag = std::string(first);
    response.status = AsciiUpper(NextWord(&rest));
  } else {
    return Fail(fmt::format("not an IMAP response: {}", Quote(text)));
  }
  if (response.status.empty() &&
      response.kind != ImapResponse::Kind::kContinuation) {
    return Fail(fmt::format("not an IMAP response: {}", Quote(text)));
  }
  response.capabilities = protocol::Imap().AnnouncedCapabilities(text);
  response.text = std::move(text);
  buffer_.erase(0, at);
  return response;
}

}  // namespace starttls::client
