// Turns the bytes an SMTP server sends into complete replies (RFC 5321
// section 4.2). Pure: no I/O, no clock.
#ifndef STARTTLS_CLIENT_REPLY_PARSER_H_
#define STARTTLS_CLIENT_REPLY_PARSER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "starttls/error.h"

namespace starttls::client {

struct Reply {
  int code = 0;
  // The text of each line after "ddd-" or "ddd " (empty for a bare "ddd").
  std::vector<std::string> lines;
};

// "250 first line" style rendering of a reply's first line, for messages.
[[nodiscard]] std::string Summarize(const Reply& reply);

class ReplyParser {
 public:
  // RFC 5321 allows 512 octets per reply line; real servers exceed that, so
  // the bound only stops a peer from growing the buffer without end.
  static constexpr std::size_t kMaxLineLength = 4096;
  // RFC 5321 does not bound the number of lines of a multi-line reply; real
  // EHLO replies take well under a kilobyte. The bound stops a reply that
  // never ends (every line legal) before the reply deadline does.
  static constexpr std::size_t kMaxReply = 64 * 1024;

  // Appends bytes received from the server.
  void Feed(std::string_view bytes);

  // Returns the oldest complete reply and removes its bytes from the buffer,
  // std::nullopt when more bytes are needed, or a kProtocol error when the
  // stream is malformed. Errors are sticky: the stream cannot resynchronize.
  [[nodiscard]] tl::expected<std::optional<Reply>, Error> Next();

  // Bytes fed but not part of any reply returned by Next(): a partial reply,
  // or whole replies the caller has not asked for yet. Non-empty right after
  // a reply means the server sent more than that reply.
  [[nodiscard]] std::string_view buffered() const { return buffer_; }

  // True once any line ended in a bare LF instead of CRLF. Tolerated, but
  // worth reporting: RFC 5321 requires CRLF.
  [[nodiscard]] bool saw_bare_lf() const { return saw_bare_lf_; }

 private:
  // Records the sticky error and returns it.
  tl::unexpected<Error> Fail(std::string message);

  std::string buffer_;
  // Offset in buffer_ of the first line not yet parsed into partial_.
  std::size_t scan_ = 0;
  Reply partial_;
  bool saw_bare_lf_ = false;
  std::optional<Error> error_;
};

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_REPLY_PARSER_H_
