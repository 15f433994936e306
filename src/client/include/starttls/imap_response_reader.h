// Turns the bytes an IMAP server sends into complete responses (RFC 9051
// section 2.2.2 and 7): untagged ("* ..."), continuation requests ("+ ...")
// and tagged status responses ("a1 OK ..."), each with its literals
// ("{12}\r\n" and the 12 bytes that follow) read whole. Pure: no I/O, no
// clock.
#ifndef STARTTLS_CLIENT_IMAP_RESPONSE_READER_H_
#define STARTTLS_CLIENT_IMAP_RESPONSE_READER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "starttls/error.h"

namespace starttls::client {

struct ImapResponse {
  enum class Kind { kUntagged, kContinuation, kTagged };
  Kind kind = Kind::kUntagged;
  std::string tag;  // kTagged only
  // The response's word, upper-cased: "OK", "NO", "BAD", "PREAUTH", "BYE",
  // "CAPABILITY", "EXISTS" (of "* 3 EXISTS"); empty for a continuation.
  std::string status;
  // The response without its CRLF, literals included as received.
  std::string text;
  // The words of a CAPABILITY response or of a [CAPABILITY ...] response
  // code, as spelled; nullopt when the response announces none.
  std::optional<std::vector<std::string>> capabilities;
};

class ImapResponseReader {
 public:
  // Bounds what a peer can make the reader hold: a line (without its
  // literals) and the literals of one response.
  static constexpr std::size_t kMaxLineLength = 8192;
  static constexpr std::size_t kMaxLiteral = 1 << 20;

  // Appends bytes received from the server.
  void Feed(std::string_view bytes);

  // Returns the oldest complete response and removes its bytes from the
  // buffer, std::nullopt when more bytes are needed, or a kProtocol error
  // when the stream is malformed. Errors are sticky.
  [[nodiscard]] tl::expected<std::optional<ImapResponse>, Error> Next();

  // Bytes fed but not part of any response returned by Next(). Non-empty
  // right after a response means the server sent more than it.
  [[nodiscard]] std::string_view buffered() const { return buffer_; }

 private:
  tl::unexpected<Error> Fail(std::string message);

  std::string buffer_;
  std::optional<Error> error_;
};

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_IMAP_RESPONSE_READER_H_
