#include "authoring/record.h"

#include <fmt/format.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <asio.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/experimental/awaitable_operators.hpp>
#include <asio/ssl.hpp>
#include <cstdlib>

#include "authoring/answer_framer.h"
#include "authoring/import.h"
#include "certs/catalogue.h"
#include "common/ascii.h"
#include "common/atomic_file.h"
#include "protocol/protocol.h"
#include "server/run_setup.h"
#include "starttls/ossl.h"

namespace starttls::server {
namespace {

using asio::experimental::as_tuple;
using asio::ip::tcp;
using namespace asio::experimental::awaitable_operators;
using tl::unexpected;
using Clock = std::chrono::steady_clock;

constexpr auto kUseTuple = as_tuple(asio::use_awaitable);

// Everything the recorder observed, turned into a transcript as it goes.
class Log {
 public:
  // A chunk the server sent: one segment.
  void Server(std::string_view bytes) {
    transcript_.items.push_back({.kind = TranscriptItem::Kind::kServer,
                                 .bytes = std::string(bytes),
                                 .delay = SinceLast()});
  }
  // Bytes the client sent; complete lines become items.
  void Client(std::string_view bytes) {
    client_line_ += bytes;
    size_t nl;
    while ((nl = client_line_.find('\n')) != std::string::npos) {
      std::string line = client_line_.substr(0, nl);
      if (!line.empty() && line.back() == '\r') line.pop_back();
      client_line_.erase(0, nl + 1);
      (void)SinceLast();
      transcript_.items.push_back(
          {.kind = TranscriptItem::Kind::kClient, .bytes = std::move(line)});
    }
  }
  void Tls() {
    client_line_.clear();
    transcript_.items.push_back({.kind = TranscriptItem::Kind::kTls});
  }
  void ServerClosed() {
    transcript_.items.push_back({.kind = TranscriptItem::Kind::kServerClose});
  }
  void Connection() {
    client_line_.clear();
    (void)SinceLast();
    transcript_.items.push_back({.kind = TranscriptItem::Kind::kConnection});
  }
  const Transcript& transcript() const { return transcript_; }

 private:
  std::chrono::milliseconds SinceLast() {
    Clock::time_point now = Clock::now();
    auto d = std::chrono::duration_cast<std::chrono::milliseconds>(now - last_);
    last_ = now;
    return d;
  }
  Transcript transcript_;
  std::string client_line_;
  Clock::time_point last_ = Clock::now();
};

// Follows the client's commands to find a STARTTLS (not inside a message),
// in the words of the session's protocol.
class CommandTracker {
 public:
  explicit CommandTracker(const protocol::Protocol& protocol)
      : protocol_(&protocol) {}

  // Feeds client bytes; returns the offset just past a STARTTLS line, if
  // one ends in `bytes`. Appends the command lines completed before it
  // (not a message's lines) to *lines.
  std::optional<size_t> Feed(std::string_view bytes,
                             std::vector<std::string>* lines) {
    for (size_t i = 0; i < bytes.size(); ++i) {
      if (bytes[i] != '\n') {
        line_ += bytes[i];
        continue;
      }
      std::string line = line_;
      line_.clear();
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (in_message_) {
        if (line == ".") in_message_ = false;
        continue;
      }
      lines->push_back(line);
      protocol::Command command = protocol_->Classify(line);
      if (command == protocol::Command::kMessage) message_pending_ = true;
      if (command == protocol::Command::kStartTls) {
        starttls_ = std::move(line);
        return i + 1;
      }
    }
    return std::nullopt;
  }
  // A final reply line of the server arrived.
  void Reply(std::string_view line) {
    // Only the message command is answered with its go-ahead; earlier
    // pipelined replies (to MAIL and RCPT) leave it pending.
    if (message_pending_ && protocol_->IsMessageGoAhead(line)) {
      in_message_ = true;
      message_pending_ = false;
    }
  }
  // The client's last STARTTLS line.
  const std::string& starttls() const { return starttls_; }

 private:
  const protocol::Protocol* protocol_;
  std::string line_;
  std::string starttls_;
  bool in_message_ = false;
  bool message_pending_ = false;
};

// Finds complete server lines that end a reply, following the client's
// commands to know which answers go on over more lines (POP3 CAPA, RETR),
// whose lines have no shape of their own.
class ReplyReader {
 public:
  explicit ReplyReader(const protocol::Protocol& protocol)
      : protocol_(&protocol) {}

  // The client sent line `line` (before the server can have answered it).
  void Command(std::string_view line) {
    if (secret_next_) {
      secret_next_ = false;  // the answer to a challenge, no command
      return;
    }
    framer_.Command(line);
  }

  // The final reply lines completed in `bytes`.
  std::vector<std::string> Feed(std::string_view bytes) {
    std::vector<std::string> done;
    for (char c : bytes) {
      if (c != '\n') {
        line_ += c;
        continue;
      }
      std::string line = std::move(line_);
      line_.clear();
      if (!line.empty() && line.back() == '\r') line.pop_back();
      if (framer_.Server(line) != AnswerFramer::Place::kOwn) continue;
      if (protocol_->IsContinuation(line)) secret_next_ = true;
      if (!protocol_->IsFinalReply(line)) continue;
      secret_next_ = protocol_->IsContinuation(line);
      done.push_back(std::move(line));
    }
    return done;
  }

 private:
  const protocol::Protocol* protocol_;
  std::string line_;
  AnswerFramer framer_{*protocol_};  // commands, and answers of lines
  bool secret_next_ = false;  // a challenge asks for the client's next line
};

ossl::SslCtxPtr ClientContext(const std::filesystem::path& cafile,
                              std::string* error) {
  ossl::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) {
    *error = "TLS context: " + ossl::DrainErrors();
    return nullptr;
  }
  SSL_CTX_set_min_proto_version(ctx.get(), TLS1_2_VERSION);
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  int ok = cafile.empty() ? SSL_CTX_set_default_verify_paths(ctx.get())
                          : SSL_CTX_load_verify_locations(
                                ctx.get(), cafile.c_str(), nullptr);
  if (ok != 1) {
    *error = fmt::format("--upstream-cafile {}: {}", cafile.string(),
                         ossl::DrainErrors());
    return nullptr;
  }
  return ctx;
}

class Recorder {
 public:
  Recorder(const RecordOptions& options, SSL_CTX* server_ctx,
           SSL_CTX* client_ctx, HostPort upstream)
      : options_(options),
        server_ctx_(server_ctx),
        client_ctx_(client_ctx),
        upstream_(std::move(upstream)),
        acceptor_(io_),
        client_(io_),
        server_(io_),
        decision_(io_),
        deadline_(io_) {}

  tl::expected<unsigned short, std::string> Listen() {
    auto endpoint = ParseListenAddress(options_.listen, "--listen");
    if (!endpoint) return unexpected(endpoint.error());
    asio::error_code ec;
    acceptor_.open(endpoint->protocol(), ec);
    if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) acceptor_.bind(*endpoint, ec);
    if (!ec) acceptor_.listen(std::clamp(options_.sessions, 1, 128), ec);
    if (ec) {
      return unexpected(fmt::format("cannot listen on {}: {}", options_.listen,
                                    ec.message()));
    }
    return acceptor_.local_endpoint().port();
  }

  tl::expected<Transcript, std::string> Run() {
    asio::co_spawn(io_, Sessions(), [this](std::exception_ptr e) {
      if (!e) return;
      try {
        std::rethrow_exception(e);
      } catch (const std::exception& ex) {
        error_ = fmt::format("internal error: {}", ex.what());
      }
    });
    io_.run();
    if (!error_.empty()) return unexpected(error_);
    return log_.transcript();
  }

 private:
  enum class Decision { kPending, kUpgrade, kGoOn, kClosed };

  asio::awaitable<void> Sessions() {
    for (connection_ = 1; connection_ <= options_.sessions && error_.empty();
         ++connection_) {
      if (connection_ > 1) log_.Connection();
      decision_state_ = Decision::kPending;
      starttls_sent_ = false;
      early_client_tls_.clear();
      commands_ = CommandTracker(*options_.protocol);
      replies_ = ReplyReader(*options_.protocol);
      co_await Session();
      asio::error_code ignored;
      client_.close(ignored);
      server_.close(ignored);
    }
    asio::error_code ignored;
    acceptor_.close(ignored);
  }

  // One client's session, relayed to its own upstream connection.
  asio::awaitable<void> Session() {
    deadline_.expires_after(options_.timeout);
    deadline_.async_wait([this](const asio::error_code& ec) {
      if (ec) return;
      Fail(fmt::format("the session did not end within {} ms",
                       options_.timeout.count()));
    });
    auto [accept_error] = co_await acceptor_.async_accept(client_, kUseTuple);
    asio::error_code ignored;
    if (connection_ == options_.sessions) acceptor_.close(ignored);
    if (accept_error) {
      Fail(fmt::format("accept: {}", accept_error.message()));
      co_return;
    }
    tcp::resolver resolver(io_);
    auto [resolve_error, endpoints] = co_await resolver.async_resolve(
        upstream_.host, std::to_string(upstream_.port), kUseTuple);
    if (resolve_error) {
      Fail(fmt::format("--upstream {}: {}", options_.upstream,
                       resolve_error.message()));
      co_return;
    }
    auto [connect_error, connected] =
        co_await asio::async_connect(server_, endpoints, kUseTuple);
    if (connect_error) {
      Fail(fmt::format("--upstream {}: {}", options_.upstream,
                       connect_error.message()));
      co_return;
    }
    client_.set_option(tcp::no_delay(true), ignored);
    server_.set_option(tcp::no_delay(true), ignored);

    co_await (PlainClientToServer() && PlainServerToClient());
    if (decision_state_ == Decision::kUpgrade && error_.empty()) {
      co_await Upgrade();
    }
    deadline_.cancel();
  }

  void Fail(std::string message) {
    if (error_.empty()) {
      error_ = options_.sessions > 1
                   ? fmt::format("session {}: {}", connection_, message)
                   : std::move(message);
    }
    CloseAll();
  }

  void CloseAll() {
    asio::error_code ignored;
    acceptor_.close(ignored);
    client_.close(ignored);
    server_.close(ignored);
    decision_.cancel();
  }

  void Decide(Decision d) {
    decision_state_ = d;
    decision_.cancel();
  }

  // Client to server in plain text, until the client closes or its
  // STARTTLS is answered with the go-ahead (SMTP 220, IMAP tagged OK).
  asio::awaitable<void> PlainClientToServer() {
    std::array<char, 16384> buf;
    std::string pending;  // read, not forwarded yet
    while (true) {
      if (pending.empty()) {
        auto [ec, n] =
            co_await client_.async_read_some(asio::buffer(buf), kUseTuple);
        if (ec) {
          asio::error_code ignored;
          server_.shutdown(tcp::socket::shutdown_send, ignored);
          co_return;
        }
        pending.assign(buf.data(), n);
      }
      std::vector<std::string> lines;
      std::optional<size_t> starttls_end = commands_.Feed(pending, &lines);
      for (const std::string& line : lines) replies_.Command(line);
      std::string now =
          pending.substr(0, starttls_end.value_or(pending.size()));
      pending.erase(0, now.size());
      log_.Client(now);
      if (starttls_end) {
        decision_state_ = Decision::kPending;
        starttls_sent_ = true;
      }
      auto [wec, wn] =
          co_await asio::async_write(server_, asio::buffer(now), kUseTuple);
      if (wec) co_return;
      if (!starttls_end) continue;
      // Wait for the server's answer to STARTTLS before anything else: on
      // the go-ahead the client's next bytes are its ClientHello.
      if (decision_state_ == Decision::kPending) {
        decision_.expires_at(Clock::time_point::max());
        (void)co_await decision_.async_wait(kUseTuple);
      }
      if (decision_state_ == Decision::kUpgrade) {
        early_client_tls_ = std::move(pending);
        co_return;
      }
      if (decision_state_ == Decision::kClosed) co_return;
    }
  }

  // Server to client in plain text, until the server closes or answers
  // STARTTLS with the go-ahead.
  asio::awaitable<void> PlainServerToClient() {
    std::array<char, 16384> buf;
    while (true) {
      auto [ec, n] =
          co_await server_.async_read_some(asio::buffer(buf), kUseTuple);
      if (ec) {
        if (ec == asio::error::eof) log_.ServerClosed();
        asio::error_code ignored;
        client_.shutdown(tcp::socket::shutdown_send, ignored);
        Decide(Decision::kClosed);
        co_return;
      }
      std::string_view chunk(buf.data(), n);
      log_.Server(chunk);
      bool upgrade = false;
      const protocol::Protocol& p = *options_.protocol;
      for (const std::string& line : replies_.Feed(chunk)) {
        commands_.Reply(line);
        if (starttls_sent_ && p.EndsReplyTo(line, commands_.starttls())) {
          starttls_sent_ = false;
          upgrade = p.IsTlsGoAhead(line);
          if (!upgrade) Decide(Decision::kGoOn);
        }
      }
      auto [wec, wn] =
          co_await asio::async_write(client_, asio::buffer(chunk), kUseTuple);
      if (wec) {
        Decide(Decision::kClosed);
        co_return;
      }
      if (upgrade) {
        log_.Tls();
        Decide(Decision::kUpgrade);
        co_return;
      }
    }
  }

  asio::awaitable<void> Upgrade() {
    asio::ssl::context client_side_ctx(server_ctx_);
    asio::ssl::context server_side_ctx(client_ctx_);
    // asio::ssl::context takes ownership of what it is given; these own
    // references of their own.
    SSL_CTX_up_ref(server_ctx_);
    SSL_CTX_up_ref(client_ctx_);
    asio::ssl::stream<tcp::socket&> to_client(client_, client_side_ctx);
    asio::ssl::stream<tcp::socket&> to_server(server_, server_side_ctx);
    std::string name = options_.upstream_servername.empty()
                           ? upstream_.host
                           : options_.upstream_servername;
    SSL* up = to_server.native_handle();
    asio::error_code parse_error;
    asio::ip::make_address(name, parse_error);
    if (parse_error) {
      SSL_set_tlsext_host_name(up, name.c_str());
      SSL_set1_host(up, name.c_str());
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(up), name.c_str());
    }
    auto [up_error] = co_await to_server.async_handshake(
        asio::ssl::stream_base::client, kUseTuple);
    if (up_error) {
      long verify = SSL_get_verify_result(up);
      Fail(fmt::format(
          "TLS with the upstream {} failed: {}{}", options_.upstream,
          up_error.message(),
          verify == X509_V_OK
              ? ""
              : fmt::format(" ({})", X509_verify_cert_error_string(verify))));
      co_return;
    }
    auto [down_error, used] = co_await to_client.async_handshake(
        asio::ssl::stream_base::server, asio::buffer(early_client_tls_),
        kUseTuple);
    if (down_error) {
      Fail(fmt::format("TLS with the client failed: {}", down_error.message()));
      co_return;
    }
    co_await (TlsRelay(to_client, to_server, /*from_server=*/false) &&
              TlsRelay(to_server, to_client, /*from_server=*/true));
  }

  asio::awaitable<void> TlsRelay(asio::ssl::stream<tcp::socket&>& from,
                                 asio::ssl::stream<tcp::socket&>& to,
                                 bool from_server) {
    std::array<char, 16384> buf;
    while (true) {
      auto [ec, n] =
          co_await from.async_read_some(asio::buffer(buf), kUseTuple);
      if (ec) {
        if (from_server && (ec == asio::error::eof ||
                            ec == asio::ssl::error::stream_truncated)) {
          log_.ServerClosed();
        }
        asio::error_code ignored;
        to.next_layer().shutdown(tcp::socket::shutdown_send, ignored);
        co_return;
      }
      std::string_view chunk(buf.data(), n);
      if (from_server) {
        log_.Server(chunk);
      } else {
        log_.Client(chunk);
      }
      auto [wec, wn] =
          co_await asio::async_write(to, asio::buffer(chunk), kUseTuple);
      if (wec) co_return;
    }
  }

  const RecordOptions& options_;
  SSL_CTX* server_ctx_;
  SSL_CTX* client_ctx_;
  HostPort upstream_;
  asio::io_context io_{1};
  tcp::acceptor acceptor_;
  tcp::socket client_;
  tcp::socket server_;
  asio::steady_timer decision_;
  asio::steady_timer deadline_;
  int connection_ = 0;  // 1-based, of the session being recorded
  Decision decision_state_ = Decision::kPending;
  bool starttls_sent_ = false;
  // Client bytes after STARTTLS, before its go-ahead.
  std::string early_client_tls_;
  CommandTracker commands_{*options_.protocol};
  ReplyReader replies_{*options_.protocol};
  Log log_;
  std::string error_;
};

}  // namespace

tl::expected<void, std::string> CheckRecordOptions(
    const RecordOptions& options) {
  if (auto hp = ParseHostPort(options.upstream, "--upstream"); !hp)
    return unexpected(hp.error());
  if (auto hp = ParseListenAddress(options.listen, "--listen"); !hp)
    return unexpected(hp.error());
  return {};
}

tl::expected<void, std::string> RunRecorder(const RecordOptions& options,
                                            std::ostream* ready) {
  auto upstream = ParseHostPort(options.upstream, "--upstream");
  if (!upstream) return unexpected(upstream.error());
  auto run_dir = RunDirectory::Make(options.run_dir, "starttls-record");
  if (!run_dir) return unexpected(run_dir.error());
  // The recorder's certificates stay with the run directory it was given,
  // or go with the temporary one when it ends.
  if (!options.run_dir.empty()) run_dir->Keep();
  std::vector<std::string> hosts{options.host};
  std::vector<std::string> profiles{"valid"};
  auto pki = IssueRunPki(hosts, profiles, run_dir->path() / "pki");
  if (!pki) return unexpected(pki.error());
  std::string error;
  ossl::SslCtxPtr client_ctx = ClientContext(options.upstream_cafile, &error);
  if (!client_ctx) return unexpected(error);

  Recorder recorder(options, pki->Context("valid"), client_ctx.get(),
                    *upstream);
  auto port = recorder.Listen();
  if (!port) return unexpected(port.error());
  *ready << fmt::format("READY port={} cafile={}", *port, pki->ca_file.string())
         << std::endl;
  auto transcript = recorder.Run();
  if (!transcript) return unexpected(transcript.error());

  WriteScenarioOptions write{
      .comment = {fmt::format("Recorded by `starttls-mock record` from {}.",
                              options.upstream),
                  "The server's segments are as they arrived; client lines "
                  "are patterns:",
                  "volatile parts are `*`, secrets were not recorded."},
      .summary = options.summary.empty()
                     ? fmt::format("recorded from {}", options.upstream)
                     : options.summary,
      .host = options.host,
      .min_delay = options.min_delay,
      .protocol = options.protocol};
  std::string scenario = WriteScenario(*transcript, write);
  if (auto parsed = ParseScenario(scenario, options.out.string()); !parsed) {
    return unexpected(
        fmt::format("internal error: the recorded scenario does not parse: {}",
                    parsed.error().ToString()));
  }
  return WriteFileAtomically(options.out, scenario);
}

}  // namespace starttls::server
