// The reference client's reply reader: bytes in chunks of any size give the
// same replies as bytes all at once, every reply has a valid code and at
// least one line, and errors are sticky.
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz/targets.h"
#include "starttls/reply_parser.h"

namespace starttls::fuzz {
namespace {

using client::Reply;
using client::ReplyParser;

struct Outcome {
  std::vector<Reply> replies;
  bool failed = false;
};

// Feeds `bytes` in chunks of `chunk` bytes (0: all at once), taking every
// reply as soon as it is complete.
Outcome Parse(std::string_view bytes, size_t chunk) {
  ReplyParser parser;
  Outcome out;
  if (chunk == 0) chunk = bytes.size() + 1;
  for (size_t at = 0; at < bytes.size() && !out.failed; at += chunk) {
    parser.Feed(bytes.substr(at, chunk));
    while (true) {
      auto next = parser.Next();
      if (!next) {
        out.failed = true;
        FUZZ_CHECK(!parser.Next().has_value());  // sticky
        break;
      }
      if (!next->has_value()) break;
      const Reply& reply = **next;
      FUZZ_CHECK(reply.code >= 200 && reply.code <= 559);
      FUZZ_CHECK(!reply.lines.empty());
      (void)client::Summarize(reply);
      out.replies.push_back(reply);
    }
  }
  return out;
}

}  // namespace

int FuzzReplyParser(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  size_t chunk = data[0] % 17;
  std::string_view bytes(reinterpret_cast<const char*>(data + 1), size - 1);
  Outcome whole = Parse(bytes, 0);
  Outcome pieces = Parse(bytes, chunk);
  // How the bytes are cut must not change what they mean, except that an
  // over-long line may be noticed before or after the replies in front of it
  // (so only the replies both saw are compared).
  size_t common = std::min(whole.replies.size(), pieces.replies.size());
  for (size_t i = 0; i < common; ++i) {
    FUZZ_CHECK(whole.replies[i].code == pieces.replies[i].code);
    FUZZ_CHECK(whole.replies[i].lines == pieces.replies[i].lines);
  }
  if (!whole.failed && !pieces.failed) {
    FUZZ_CHECK(whole.replies.size() == pieces.replies.size());
  }
  return 0;
}

}  // namespace starttls::fuzz
