// `starttls-mock record`: a recording proxy between a client under test and
// a real SMTP or IMAP server, which writes the session as a scenario that
// replays the server's side.
#ifndef STARTTLS_AUTHORING_RECORD_H_
#define STARTTLS_AUTHORING_RECORD_H_

#include <chrono>
#include <filesystem>
#include <optional>
#include <ostream>
#include <string>
#include <tl/expected.hpp>

#include "protocol/protocol.h"

namespace starttls::server {

struct RecordOptions {
  std::string listen = "127.0.0.1:0";  // ADDR:PORT, IPv6 as [ADDR]:PORT
  std::string upstream;                // HOST:PORT of the real server
  std::filesystem::path out;           // the scenario to write
  // Trust anchors for the upstream's certificate; empty: the system's.
  std::filesystem::path upstream_cafile;
  // The name the upstream's certificate must prove, also sent as SNI;
  // empty: the host of `upstream`.
  std::string upstream_servername;
  // The name the recorder's own certificate proves (what the client is told
  // to verify), and the recorded scenario's Host.
  std::string host = "mail.example.test";
  std::string summary;  // empty: "recorded from <upstream>"
  // Keep the server's delays of at least this long as `write delay=`.
  std::optional<std::chrono::milliseconds> min_delay;
  // Each session must end within this, counted from when the recorder
  // starts waiting for its client; then the recorder gives up.
  std::chrono::milliseconds timeout{60000};
  // Sessions to record, one after the other (a client that retries); the
  // scenario plays each on its own connection (`connection` steps).
  int sessions = 1;
  // Certificates go under run_dir/pki; empty: a new directory under $TMPDIR.
  std::filesystem::path run_dir;
  // The protocol the session speaks: which client line is STARTTLS and
  // which server line answers it, and the scenario's `Protocol:`.
  const protocol::Protocol* protocol = &protocol::Smtp();
};

// Issues a certificate catalogue for options.host, listens, prints
// "READY port=<n> cafile=<path>" to *ready, then options.sessions times
// accepts a client and connects it to the upstream. The plaintext phase is
// relayed byte for byte; when the upstream answers the client's STARTTLS with
// the go-ahead (SMTP 220, IMAP the tagged OK), the recorder runs TLS with the
// client (presenting the catalogue's `valid` certificate) and its own verified
// TLS with the upstream, and relays the decrypted dialogue. When the last
// session is over it writes options.out (whole, or not at all): the server's
// segments as they arrived, the client's lines as patterns (ClientPattern(): no
// secrets), `tls` where the upgrade happened. An error is one line for people;
// nothing is written then. The usage errors of `options` (a malformed --listen
// or --upstream), as one line, before anything runs.
[[nodiscard]] tl::expected<void, std::string> CheckRecordOptions(
    const RecordOptions& options);

[[nodiscard]] tl::expected<void, std::string> RunRecorder(
    const RecordOptions& options, std::ostream* ready);

}  // namespace starttls::server

#endif  // STARTTLS_AUTHORING_RECORD_H_
