// Where a server's answer ends, for answers whose lines cannot tell it
// themselves.
//
// POP3 answers CAPA, RETR, TOP, and LIST and UIDL without an argument over
// several lines up to a ".", and a line between may read "+OK" or "-ERR"
// (Protocol::MultiLineAnswerEnd). Only the command it answers says so:
// the framer follows the client's commands and the server's lines, in the
// order they happened, and says where each line stands. SMTP and IMAP lines
// say themselves where a reply ends; for them every line is kOwn.
#ifndef STARTTLS_AUTHORING_ANSWER_FRAMER_H_
#define STARTTLS_AUTHORING_ANSWER_FRAMER_H_

#include <deque>
#include <string>
#include <string_view>

#include "protocol/protocol.h"

namespace starttls::server {

class AnswerFramer {
 public:
  // `protocol` must outlive the framer.
  explicit AnswerFramer(const protocol::Protocol& protocol)
      : protocol_(&protocol) {}

  // The client sent command line `line`: not a line of a message, not the
  // answer to a challenge. Its answer is expected after those of the
  // commands before it.
  void Command(std::string_view line) { awaiting_.emplace_back(line); }

  enum class Place {
    kOwn,     // the line says itself what it is; a final reply line among
              // these answers the oldest command waiting
    kOpened,  // the first line of an answer that goes on over more lines
    kInside,  // a line of such an answer, whatever it looks like
    kEnd,     // the line that ends such an answer
  };

  // Where server line `line` (without its line ending) stands. Call once
  // per line, in order.
  [[nodiscard]] Place Server(std::string_view line);

  // True between kOpened and kEnd.
  [[nodiscard]] bool open() const { return !end_.empty(); }
  // While open(): the line that will end the answer.
  [[nodiscard]] std::string_view end() const { return end_; }

  // TLS started, or the connection ended: nothing carries over.
  void Reset() {
    awaiting_.clear();
    end_.clear();
  }

 private:
  const protocol::Protocol* protocol_;
  std::deque<std::string> awaiting_;  // commands not answered yet
  std::string end_;                   // while open(): the line that ends it
};

}  // namespace starttls::server

#endif  // STARTTLS_AUTHORING_ANSWER_FRAMER_H_
