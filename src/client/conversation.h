// What the SMTP, IMAP and POP3 sessions share: one transport, the deadlines
// that bound every wait, the transcript, the loop that feeds a reader until
// it yields a complete reply, and the TLS upgrade after the go-ahead.
// Internal to the client library.
#ifndef STARTTLS_CLIENT_CONVERSATION_H_
#define STARTTLS_CLIENT_CONVERSATION_H_

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <utility>

#include "quote.h"
#include "sasl.h"
#include "starttls/error.h"
#include "starttls/smtp_client.h"
#include "starttls/transport.h"

namespace starttls::client {

// An error result, for `return Fail(code, message);`.
inline tl::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return tl::unexpected(Error{code, std::move(message)});
}

class Conversation {
 public:
  // `transport`, `timeouts` and `log` must outlive the conversation.
  Conversation(Transport& transport, const Timeouts& timeouts,
               Deadline session_deadline,
               const std::function<void(std::string_view)>& log)
      : transport_(transport),
        timeouts_(timeouts),
        session_deadline_(session_deadline),
        log_(log) {}

  Transport& transport() { return transport_; }
  const Timeouts& timeouts() const { return timeouts_; }

  // The end of a phase that may last `bound` from now, capped by the
  // session deadline.
  Deadline PhaseDeadline(std::chrono::milliseconds bound) const {
    return std::min(Clock::now() + bound, session_deadline_);
  }

  void Log(std::string_view line) const {
    if (log_) log_(line);
  }

  // Writes `line` and CRLF within the reply timeout; the transcript shows
  // `shown` instead when given (a line with a secret, which is wiped from
  // memory once written).
  tl::expected<void, Error> Send(std::string_view line,
                                 std::string_view shown = {}) {
    Log(fmt::format("C: {}", shown.empty() ? line : shown));
    std::string wire = fmt::format("{}\r\n", line);
    auto written = transport_.Write(wire, PhaseDeadline(timeouts_.reply));
    if (!shown.empty()) Wipe(wire);
    return written;
  }

  // Feeds `reader` (Feed(bytes), Next(), buffered(): ReplyParser,
  // ImapResponseReader) from the transport until Next() yields an item,
  // waiting at most `bound` (default: the reply timeout). `what` names the
  // item in error messages, `unit` ("reply", "response") a partial one; one
  // cut short by EOF is kProtocol, never success.
  template <typename Reader>
  auto Read(Reader& reader, std::string_view what, std::string_view unit,
            std::optional<std::chrono::milliseconds> bound = std::nullopt)
      -> tl::expected<typename decltype(reader.Next())::value_type::value_type,
                      Error> {
    const Deadline deadline = PhaseDeadline(bound.value_or(timeouts_.reply));
    while (true) {
      auto next = reader.Next();
      if (!next) {
        return tl::unexpected(
            Error{next.error().code,
                  fmt::format("{}: {}", what, next.error().message)});
      }
      if (*next) return std::move(**next);
      auto bytes = transport_.Read(kReadSize, deadline);
      if (!bytes) {
        Error error = std::move(bytes.error());
        const bool partial = !reader.buffered().empty();
        if (error.code == ErrorCode::kConnectionLost && partial) {
          return tl::unexpected(Error{
              ErrorCode::kProtocol,
              fmt::format("{}: truncated {} {}: {} (in the middle of a {})",
                          what, unit, Quote(reader.buffered()), error.message,
                          unit)});
        }
        error.message = fmt::format(
            "{}: {}{}{}", what, error.message,
            partial ? fmt::format(" (in the middle of a {})", unit) : "",
            error.code == ErrorCode::kTimeout && deadline == session_deadline_
                ? " (session deadline)"
                : "");
        return tl::unexpected(std::move(error));
      }
      // The Transport contract promises at least one byte; insisting on it
      // keeps a faulty transport from spinning this loop forever.
      if (bytes->empty()) {
        return tl::unexpected(
            Error{ErrorCode::kConnectionLost,
                  fmt::format("{}: transport returned no data", what)});
      }
      reader.Feed(*bytes);
    }
  }

  // The TLS upgrade once the server said go ahead (`go_ahead` words that
  // answer for messages: "its +OK to STLS"). `held` is what the reader
  // holds past it: it came in plain text, and reading it over TLS as if the
  // server had sent it there is response injection, so any at all is
  // refused (kUnexpectedPlaintext) before a byte of TLS. Then the
  // handshake, within `handshake` from now.
  tl::expected<TlsInfo, Error> UpgradeAfterGoAhead(
      std::string_view held, std::string_view go_ahead, const TlsOptions& tls,
      std::chrono::milliseconds handshake) {
    if (!held.empty()) {
      return Fail(ErrorCode::kUnexpectedPlaintext,
                  fmt::format("server sent plaintext after {}: {}", go_ahead,
                              Quote(held)));
    }
    Log("-- TLS handshake --");
    auto info = transport_.DoHandshake(tls, PhaseDeadline(handshake));
    if (!info) {
      Error error = std::move(info.error());
      error.message = fmt::format("TLS handshake: {}", error.message);
      return tl::unexpected(std::move(error));
    }
    Log(fmt::format("-- TLS established: {} {} --", info->version,
                    info->cipher));
    return info;
  }

 private:
  // RFC 5321 suggests at least 512 bytes per read; any size works.
  static constexpr std::size_t kReadSize = 4096;

  Transport& transport_;
  const Timeouts& timeouts_;
  Deadline session_deadline_;
  const std::function<void(std::string_view)>& log_;
};

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_CONVERSATION_H_
