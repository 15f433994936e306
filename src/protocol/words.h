// The word-level helpers the protocol implementations share. Internal to
// starttls_protocol.
#ifndef STARTTLS_PROTOCOL_WORDS_H_
#define STARTTLS_PROTOCOL_WORDS_H_

#include <algorithm>
#include <span>
#include <string_view>

#include "common/ascii.h"
#include "protocol/protocol.h"

namespace starttls::protocol {

// A line's first word: up to its first space or line ending.
inline std::string_view FirstWord(std::string_view line) {
  return line.substr(0, line.find_first_of(" \r\n"));
}

// What follows a line's first space; empty when there is none.
inline std::string_view AfterFirstWord(std::string_view line) {
  size_t space = line.find(' ');
  return space == std::string_view::npos ? std::string_view()
                                         : line.substr(space + 1);
}

// A command verb (upper-case) and what it does.
struct VerbCommand {
  std::string_view verb;
  Command command;
};

// What `verb` (upper-case) does by `table`; kUnknown for a verb not there.
inline Command LookUpVerb(std::span<const VerbCommand> table,
                          std::string_view verb) {
  auto it = std::find_if(table.begin(), table.end(),
                         [&](const VerbCommand& e) { return e.verb == verb; });
  return it == table.end() ? Command::kUnknown : it->command;
}

// True when `rest` is `whole` (upper-case) cut short: a beginning of it
// (the empty one too) but not all of it, compared without regard to case.
inline bool IsCutShort(std::string_view rest, std::string_view whole) {
  return rest.size() < whole.size() && whole.starts_with(AsciiUpper(rest));
}

}  // namespace starttls::protocol

#endif  // STARTTLS_PROTOCOL_WORDS_H_
