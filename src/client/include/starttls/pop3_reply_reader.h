// Turns the bytes a POP3 server sends into complete replies (RFC 1939
// section 3): a status line, "+OK ..." or "-ERR ...", and for a command
// answered over more lines the lines that follow up to a line of one ".",
// with the byte-stuffing undone; or a SASL challenge, "+ ..." (RFC 5034).
// Whether the next reply goes on over more lines depends on the command,
// so the caller says so before each one: the reader never reads past what
// that reply allows. Pure: no I/O, no clock.
#ifndef STARTTLS_CLIENT_POP3_REPLY_READER_H_
#define STARTTLS_CLIENT_POP3_REPLY_READER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "starttls/error.h"

namespace starttls::client {

struct Pop3Reply {
  enum class Kind { kOk, kErr, kChallenge };
  Kind kind = Kind::kOk;
  // The status line without its CRLF ("+OK 2 messages").
  std::string status_line;
  // A multi-line "+OK": the lines after the status line, without the
  // final ".", byte-stuffing undone.
  std::vector<std::string> lines;
};

class Pop3ReplyReader {
 public:
  // Bounds what a peer can make the reader hold: one line, and one
  // multi-line reply.
  static constexpr std::size_t kMaxLineLength = 8192;
  static constexpr std::size_t kMaxReply = 1 << 20;

  // The next reply Next() returns goes on over more lines when it is a
  // "+OK" (CAPA, RETR, TOP, LIST and UIDL without an argument). Applies
  // until changed.
  void ExpectMultiLine(bool multi_line) { multi_line_ = multi_line; }

  // Appends bytes received from the server.
  void Feed(std::string_view bytes);

  // Returns the oldest complete reply and removes its bytes from the
  // buffer, std::nullopt when more bytes are needed, or a kProtocol error
  // when the stream is malformed. Errors are sticky.
  [[nodiscard]] tl::expected<std::optional<Pop3Reply>, Error> Next();

  // Bytes fed but not part of any reply returned by Next(). Non-empty right
  // after a reply means the server sent more than it.
  [[nodiscard]] std::string_view buffered() const { return buffer_; }

 private:
  tl::unexpected<Error> Fail(std::string message);

  std::string buffer_;
  bool multi_line_ = false;
  std::optional<Error> error_;
};

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_POP3_REPLY_READER_H_
