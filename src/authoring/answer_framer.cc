#include "authoring/answer_framer.h"

#include <utility>

namespace starttls::server {

AnswerFramer::Place AnswerFramer::Server(std::string_view line) {
  if (!end_.empty()) {
    if (line != end_) return Place::kInside;
    end_.clear();
    return Place::kEnd;
  }
  if (!protocol_->IsFinalReply(line)) return Place::kOwn;
  std::string command;  // none for a greeting, or a line nobody asked for
  if (!awaiting_.empty()) {
    command = std::move(awaiting_.front());
    awaiting_.pop_front();
  }
  if (auto end = protocol_->MultiLineAnswerEnd(line, command)) {
    end_ = std::string(*end);
    return Place::kOpened;
  }
  return Place::kOwn;
}

}  // namespace starttls::server
