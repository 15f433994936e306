#include "starttls/smtp_client.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <utility>
#include <vector>

#include "quote.h"

namespace starttls::client {
namespace {

// RFC 5321 suggests at least 512 bytes per read; any size works.
constexpr std::size_t kReadSize = 4096;

tl::unexpected<Error> Fail(ErrorCode code, std::string message) {
  return tl::unexpected(Error{code, std::move(message)});
}

bool HasLineBreak(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

// True if an EHLO reply lists `keyword` as an extension. The first line is
// the greeting, not an extension.
bool Offers(const Reply& ehlo, std::string_view keyword) {
  for (std::size_t i = 1; i < ehlo.lines.size(); ++i) {
    std::string_view line = ehlo.lines[i];
    line = line.substr(0, line.find(' '));
    if (std::equal(line.begin(), line.end(), keyword.begin(), keyword.end(),
                   [](char a, char b) {
                     return std::toupper(static_cast<unsigned char>(a)) ==
                            std::toupper(static_cast<unsigned char>(b));
                   })) {
      return true;
    }
  }
  return false;
}

// Checks the reply to a mail transaction step (MAIL, RCPT, DATA, end of
// data): 4xx and 5xx are the server refusing the message, any other
// unexpected code is a protocol error.
tl::expected<void, Error> CheckTransactionReply(const Reply& reply,
                                                int expected_class,
                                                std::string_view step) {
  if (reply.code / 100 == expected_class) return {};
  if (reply.code >= 400) {
    return Fail(ErrorCode::kRejected,
                fmt::format("{} rejected: {}", step, Summarize(reply)));
  }
  return Fail(ErrorCode::kProtocol, fmt::format("unexpected reply to {}: {}",
                                                step, Summarize(reply)));
}

class Session {
 public:
  Session(Transport& transport, const SessionOptions& options)
      : transport_(transport), options_(options) {}

  tl::expected<DeliveryResult, Error> Run();

  // Sends QUIT and waits for its reply, ignoring failures: the outcome of
  // the session is already decided. Only when the server is waiting for a
  // command on a connection still worth talking over.
  void QuitIfAllowed();

 private:
  Deadline ReplyDeadline() const {
    return std::min(Clock::now() + options_.reply_timeout,
                    options_.session_deadline);
  }
  void Log(std::string_view line) const {
    if (options_.log) options_.log(line);
  }

  tl::expected<void, Error> Send(std::string_view line);
  tl::expected<Reply, Error> ReadReply(std::string_view what);
  tl::expected<Reply, Error> Command(std::string_view line,
                                     std::string_view verb) {
    if (auto sent = Send(line); !sent) return tl::unexpected(sent.error());
    return ReadReply(fmt::format("reply to {}", verb));
  }
  tl::expected<Reply, Error> Ehlo();
  tl::expected<TlsInfo, Error> StartTls();

  Transport& transport_;
  const SessionOptions& options_;
  ReplyParser parser_;
  // True while the server is waiting for a command on a connection we still
  // trust, i.e. while a QUIT would be understood.
  bool can_quit_ = false;
  bool noted_bare_lf_ = false;
};

tl::expected<void, Error> Session::Send(std::string_view line) {
  Log(fmt::format("C: {}", line));
  can_quit_ = false;
  return transport_.Write(fmt::format("{}\r\n", line), ReplyDeadline());
}

tl::expected<Reply, Error> Session::ReadReply(std::string_view what) {
  can_quit_ = false;
  const Deadline deadline = ReplyDeadline();
  while (true) {
    auto next = parser_.Next();
    if (!next) {
      return Fail(next.error().code,
                  fmt::format("{}: {}", what, next.error().message));
    }
    if (*next) {
      const Reply& reply = **next;
      for (std::size_t i = 0; i < reply.lines.size(); ++i) {
        Log(fmt::format("S: {}{}{}", reply.code,
                        i + 1 < reply.lines.size() ? '-' : ' ',
                        reply.lines[i]));
      }
      if (parser_.saw_bare_lf() && !noted_bare_lf_) {
        noted_bare_lf_ = true;
        Log("-- note: server ends lines with a bare LF instead of CRLF --");
      }
      can_quit_ = true;
      return std::move(**next);
    }
    auto bytes = transport_.Read(kReadSize, deadline);
    if (!bytes) {
      Error error = std::move(bytes.error());
      error.message = parser_.buffered().empty()
                          ? fmt::format("{}: {}", what, error.message)
                          : fmt::format("{}: {} (in the middle of a reply)",
                                        what, error.message);
      return tl::unexpected(std::move(error));
    }
    // The Transport contract promises at least one byte; insisting on it
    // keeps a faulty transport from spinning this loop forever.
    if (bytes->empty()) {
      return Fail(ErrorCode::kConnectionLost,
                  fmt::format("{}: transport returned no data", what));
    }
    parser_.Feed(*bytes);
  }
}

tl::expected<Reply, Error> Session::Ehlo() {
  auto reply = Command(fmt::format("EHLO {}", options_.ehlo_name), "EHLO");
  if (reply && reply->code != 250) {
    return Fail(ErrorCode::kProtocol,
                fmt::format("EHLO refused: {}", Summarize(*reply)));
  }
  return reply;
}

tl::expected<TlsInfo, Error> Session::StartTls() {
  // A reply already waiting would be taken as the answer to STARTTLS, and
  // the handshake would start before the server's real 220.
  if (!parser_.buffered().empty()) {
    can_quit_ = false;
    return Fail(ErrorCode::kUnexpectedPlaintext,
                fmt::format("server sent a reply nobody asked for before "
                            "STARTTLS: {}",
                            Quote(parser_.buffered())));
  }
  auto reply = Command("STARTTLS", "STARTTLS");
  if (!reply) return tl::unexpected(reply.error());
  if (reply->code != 220) {
    return Fail(
        ErrorCode::kTlsUnavailable,
        fmt::format("server answered STARTTLS with {}", Summarize(*reply)));
  }
  // From here until the handshake succeeds the connection is in limbo: the
  // server expects a ClientHello, not a QUIT.
  can_quit_ = false;
  // Anything already received after the 220 was sent in plaintext; reading
  // it after the handshake as if it came over TLS is the classic STARTTLS
  // response injection.
  if (!parser_.buffered().empty()) {
    return Fail(ErrorCode::kUnexpectedPlaintext,
                fmt::format("server sent plaintext after its 220 reply to "
                            "STARTTLS: {}",
                            Quote(parser_.buffered())));
  }
  Log("-- TLS handshake --");
  auto info = transport_.DoHandshake(options_.tls, ReplyDeadline());
  if (!info) return info;
  Log(fmt::format("-- TLS established: {} {} --", info->version, info->cipher));
  return info;
}

tl::expected<DeliveryResult, Error> Session::Run() {
  DeliveryResult result;

  auto greeting = ReadReply("greeting");
  if (!greeting) return tl::unexpected(greeting.error());
  if (greeting->code != 220) {
    return Fail(
        ErrorCode::kProtocol,
        fmt::format("server refused the session: {}", Summarize(*greeting)));
  }

  auto ehlo = Ehlo();
  if (!ehlo) return tl::unexpected(ehlo.error());
  if (Offers(*ehlo, "STARTTLS")) {
    auto info = StartTls();
    if (!info) return tl::unexpected(info.error());
    result.tls = true;
    result.tls_info = std::move(*info);
    // RFC 3207 section 4.2: forget everything learned before TLS; only the
    // capabilities announced over TLS count.
    ehlo = Ehlo();
    if (!ehlo) return tl::unexpected(ehlo.error());
  } else if (options_.require_tls) {
    return Fail(ErrorCode::kTlsUnavailable,
                "server does not offer STARTTLS and TLS is required");
  } else {
    Log("-- STARTTLS not offered; continuing in plain text --");
  }

  auto mail =
      Command(fmt::format("MAIL FROM:<{}>", options_.from), "MAIL FROM");
  if (!mail) return tl::unexpected(mail.error());
  if (auto ok = CheckTransactionReply(*mail, 2, "MAIL FROM"); !ok) {
    return tl::unexpected(ok.error());
  }
  auto rcpt = Command(fmt::format("RCPT TO:<{}>", options_.to), "RCPT TO");
  if (!rcpt) return tl::unexpected(rcpt.error());
  if (auto ok = CheckTransactionReply(*rcpt, 2, "RCPT TO"); !ok) {
    return tl::unexpected(ok.error());
  }
  auto data = Command("DATA", "DATA");
  if (!data) return tl::unexpected(data.error());
  if (auto ok = CheckTransactionReply(*data, 3, "DATA"); !ok) {
    return tl::unexpected(ok.error());
  }

  // The server now reads message text; a QUIT would become part of it.
  can_quit_ = false;
  const std::string payload = EncodeData(options_.message);
  Log(fmt::format("C: <message: {} bytes, dot-stuffed, then \".\">",
                  payload.size()));
  if (auto sent = transport_.Write(payload, ReplyDeadline()); !sent) {
    return tl::unexpected(sent.error());
  }
  auto accepted = ReadReply("reply to end of data");
  if (!accepted) return tl::unexpected(accepted.error());
  if (auto ok = CheckTransactionReply(*accepted, 2, "end of data"); !ok) {
    return tl::unexpected(ok.error());
  }
  result.final_reply = std::move(*accepted);
  return result;
}

void Session::QuitIfAllowed() {
  if (!can_quit_) return;
  if (auto sent = Send("QUIT"); !sent) return;
  if (auto reply = ReadReply("reply to QUIT"); !reply) {
    Log(fmt::format("-- ignored: {} --", reply.error().message));
  }
}

}  // namespace

tl::expected<DeliveryResult, Error> Deliver(Transport& transport,
                                            const SessionOptions& options) {
  // A line break in any of these would smuggle extra commands.
  for (const auto& [what, value] :
       {std::pair<std::string_view, std::string_view>{"EHLO name",
                                                      options.ehlo_name},
        {"sender", options.from},
        {"recipient", options.to}}) {
    if (HasLineBreak(value)) {
      return Fail(ErrorCode::kUsage, fmt::format("{} contains a line break: {}",
                                                 what, Quote(value)));
    }
  }
  Session session(transport, options);
  auto result = session.Run();
  session.QuitIfAllowed();
  return result;
}

std::string EncodeData(std::string_view message) {
  std::string out;
  out.reserve(message.size() + message.size() / 16 + 5);
  bool line_start = true;
  for (std::size_t i = 0; i < message.size(); ++i) {
    const char c = message[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < message.size() && message[i + 1] == '\n') ++i;
      out += "\r\n";
      line_start = true;
      continue;
    }
    if (line_start && c == '.') out += '.';
    out += c;
    line_start = false;
  }
  if (!line_start) out += "\r\n";
  out += ".\r\n";
  return out;
}

}  // namespace starttls::client
