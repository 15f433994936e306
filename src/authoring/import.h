// Turning what was seen of a session into a scenario.
//
// `starttls-mock import` reads a pasted transcript (a telnet session, an
// S:/C: transcript, swaks output or curl -v output) and `starttls-mock
// record` observes a live session; both describe it as a Transcript and
// write it with WriteScenario(). Everything here is a pure function over
// text: no I/O, no clock, no globals.
#ifndef STARTTLS_AUTHORING_IMPORT_H_
#define STARTTLS_AUTHORING_IMPORT_H_

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <tl/expected.hpp>
#include <vector>

#include "protocol/protocol.h"
#include "scenario/scenario.h"

namespace starttls::server {

// One thing seen in a session, in the order it happened.
struct TranscriptItem {
  enum class Kind {
    kServer,       // the server sent `bytes` (one segment: one write)
    kClient,       // the client sent one line, `bytes` without its ending
    kTls,          // TLS started here (after the 220 to STARTTLS)
    kServerClose,  // the server ended the connection
    kBodyUnknown,  // the message went here but the source does not show it
    kConnection,   // the client connected again; what follows is on the new
                   // connection (recordings of clients that retry)
  };
  Kind kind;
  std::string bytes;
  // kServer: time since the previous item; zero when unknown.
  std::chrono::milliseconds delay{0};
  int source_line = 0;  // 1-based line of the source text; 0 when recorded
};

struct Transcript {
  std::vector<TranscriptItem> items;
  // The host the session was opened to, when the source says (the console
  // command a paste starts with: `telnet smtp.live.com 587`); else empty.
  std::string host;
  // What the source says beside the session, for the scenario's comment
  // (an s_client paste's certificate chain and handshake summary).
  std::vector<std::string> notes;
};

struct WriteScenarioOptions {
  // The lines of the leading comment, without "# ".
  std::vector<std::string> comment;
  std::string summary;
  std::string host = "mail.example.test";
  // Unset: deliver when the (last) connection upgraded to TLS, else refuse
  // (a client that requires TLS cannot deliver without it).
  std::optional<Expectation> expect;
  // Server segments whose delay is at least this long get `write delay=`;
  // unset: delays are left out.
  std::optional<std::chrono::milliseconds> min_delay;
  // What the session's words mean: how client lines become patterns, which
  // server line asks for a secret, and the tags that become `$tag`. Written
  // as the `Protocol:` header unless it is SMTP, the default. Must outlive
  // the call.
  const protocol::Protocol* protocol = &protocol::Smtp();
};

// Writes `transcript` as a scenario that replays the server's side:
//  - each server segment is queued with `S:` lines (or `send data=` for bytes
//    that are not whole printable CRLF lines) and goes out as one write;
//    consecutive segments are separated by `write` (with `delay=` when
//    options.min_delay says so);
//  - each client line becomes a `C:` pattern (ClientPattern());
//  - a server line tagged with the tag of the client's last command
//    (IMAP) starts with `$tag` instead, so that it answers whatever tag the
//    replayed client chooses;
//  - kTls becomes `tls`, kServerClose `close`, kBodyUnknown `serve` (and
//    nothing after it on that connection); a connection that ends right
//    after `tls`, or has no steps, gets `serve`;
//  - kConnection becomes `connection`, and the dialogue state (in a message,
//    answering a challenge) starts afresh.
// The result always parses with ParseScenario().
[[nodiscard]] std::string WriteScenario(const Transcript& transcript,
                                        const WriteScenarioOptions& options);

// What the writer knows about the dialogue when it turns a client line into
// a pattern.
struct ClientLineContext {
  bool in_data = false;      // the line is part of a message (after 354)
  bool auth_secret = false;  // the line answers a 334 challenge
};

// The `C:` pattern for one client line of `protocol`: the command without
// its tag (IMAP), volatile parts become `*` (the argument of a greeting
// command such as EHLO, numeric parameters such as SIZE= of a transaction
// command, the values of Date:, Message-Id: and Received: headers and dates
// anywhere in a message line) and secrets are never copied (whatever
// follows the first argument of a credentials command: an AUTH or
// AUTHENTICATE initial response, a LOGIN password; an answer to a
// challenge or continuation request). An empty line becomes `*` (C: needs
// a pattern). `*secret` is set when the line's content was left out for
// that reason.
[[nodiscard]] std::string ClientPattern(
    std::string_view line, const ClientLineContext& context,
    bool* secret = nullptr,
    const protocol::Protocol& protocol = protocol::Smtp());

enum class ImportFormat {
  kAuto,    // decided from the first significant line
  kTelnet,  // bare lines: replies start with a code, the rest is typed
  kScript,  // S: and C: lines
  kSwaks,   // swaks output: "<- ", " -> ", "<~ ", " ~> ", "=== "
  kCurl,    // curl -v output: "< ", "> ", "* ", "{ ", "} "
  // openssl s_client -starttls smtp output: its handshake report, then the
  // dialogue over TLS as a terminal shows it (replies and typed lines)
  kSClient,
};

[[nodiscard]] std::optional<ImportFormat> ParseImportFormat(
    std::string_view name);
[[nodiscard]] std::string_view ImportFormatName(ImportFormat format);

struct ImportError {
  int line = 0;  // 1-based
  int column = 1;
  std::string message;
};

// Reads a pasted session of `protocol`. A console paste (telnet format) may
// start with the command line that opened it (`>telnet host port`,
// `C:\>telnet host port`, `$ telnet host port`, `% nc -C host port`), which
// names the host; a no-break space (U+00A0), which web pages put for a run
// of spaces, is read as a space there. Input that cannot be read as one
// session without
// guessing (a line that is neither a reply nor a command, a reply that is
// interrupted, a marker of another format, a line that elides or annotates
// something) is refused with its line and the reason.
[[nodiscard]] tl::expected<Transcript, ImportError> ParseTranscript(
    std::string_view text, ImportFormat format,
    const protocol::Protocol& protocol = protocol::Smtp());

struct ImportOptions {
  ImportFormat format = ImportFormat::kAuto;
  std::string source_name = "<stdin>";  // named in the comment
  std::string summary;                  // empty: "imported from <source>"
  // The scenario's Host; unset: the host the source names (Transcript::
  // host) when it is one Host: accepts, else mail.example.test.
  std::optional<std::string> host;
  std::optional<Expectation> expect;
  // The session's protocol: IMAP sessions are read from the script and
  // curl formats (the telnet and swaks formats are SMTP's). Must outlive
  // the call.
  const protocol::Protocol* protocol = &protocol::Smtp();
};

// ParseTranscript() then WriteScenario().
[[nodiscard]] tl::expected<std::string, ImportError> ImportTranscript(
    std::string_view text, const ImportOptions& options);

}  // namespace starttls::server

#endif  // STARTTLS_AUTHORING_IMPORT_H_
