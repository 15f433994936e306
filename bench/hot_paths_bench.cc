// Micro-benchmarks of the per-session hot paths (bench/RESULTS.md): the
// reference client's reply parser, the scenario's client-line matching, the
// memory-BIO send path the server's Wire uses once TLS is up, a whole TLS 1.3
// handshake in memory (the floor a session cannot go below), and the oracles
// over a message body written a byte at a time (linear in the writes).
#include <benchmark/benchmark.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>

#include <string>
#include <vector>

#include "certs/catalogue.h"
#include "judge/oracles.h"
#include "scenario/scenario.h"
#include "starttls/ossl.h"
#include "starttls/reply_parser.h"

namespace {

constexpr char kEhloReply[] =
    "250-mail.example.test Hello load.example.test\r\n"
    "250-PIPELINING\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n"
    "250-ENHANCEDSTATUSCODES\r\n250 STARTTLS\r\n";

void BM_ReplyParserEhlo(benchmark::State& state) {
  for (auto _ : state) {
    starttls::client::ReplyParser parser;
    parser.Feed(kEhloReply);
    auto reply = parser.Next();
    benchmark::DoNotOptimize(reply);
  }
}
BENCHMARK(BM_ReplyParserEhlo);

// The reply split into one-byte segments: the parser's worst case.
void BM_ReplyParserEhloByteByByte(benchmark::State& state) {
  std::string_view all(kEhloReply);
  for (auto _ : state) {
    starttls::client::ReplyParser parser;
    for (size_t i = 0; i < all.size(); ++i) {
      parser.Feed(all.substr(i, 1));
      auto reply = parser.Next();
      benchmark::DoNotOptimize(reply);
    }
  }
}
BENCHMARK(BM_ReplyParserEhloByteByByte);

void BM_MatchesClientLine(benchmark::State& state) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"EHLO *", "EHLO client.example.test"},
      {"STARTTLS", "starttls"},
      {"MAIL FROM:<*>", "MAIL FROM:<a@example.test> SIZE=120"},
      {"RCPT TO:<*>", "RCPT TO:<b@example.test>"},
      {"QUIT", "HELO x"},
  };
  for (auto _ : state) {
    for (const auto& [pattern, line] : cases) {
      benchmark::DoNotOptimize(
          starttls::server::MatchesClientLine(pattern, line));
    }
  }
  state.SetItemsProcessed(state.iterations() *
                          static_cast<int64_t>(cases.size()));
}
BENCHMARK(BM_MatchesClientLine);

// A server and a client SSL over memory BIOs, with the catalogue's `valid`
// leaf (ECDSA P-256), TLS 1.3 and X25519 as in bench/run.sh.
struct Pair {
  starttls::ossl::SslCtxPtr server_ctx{SSL_CTX_new(TLS_server_method())};
  starttls::ossl::SslCtxPtr client_ctx{SSL_CTX_new(TLS_client_method())};
  starttls::ossl::SslPtr server;
  starttls::ossl::SslPtr client;

  explicit Pair(const starttls::certs::IssuedProfile& leaf) {
    BIO* chain = BIO_new_mem_buf(leaf.chain_pem.data(),
                                 static_cast<int>(leaf.chain_pem.size()));
    X509* cert = PEM_read_bio_X509(chain, nullptr, nullptr, nullptr);
    SSL_CTX_use_certificate(server_ctx.get(), cert);
    X509_free(cert);
    while (X509* extra = PEM_read_bio_X509(chain, nullptr, nullptr, nullptr)) {
      SSL_CTX_add0_chain_cert(server_ctx.get(), extra);
    }
    ERR_clear_error();
    BIO_free(chain);
    BIO* key_bio = BIO_new_mem_buf(leaf.key_pem.data(),
                                   static_cast<int>(leaf.key_pem.size()));
    EVP_PKEY* key = PEM_read_bio_PrivateKey(key_bio, nullptr, nullptr, nullptr);
    SSL_CTX_use_PrivateKey(server_ctx.get(), key);
    EVP_PKEY_free(key);
    BIO_free(key_bio);
    SSL_CTX_set_mode(server_ctx.get(), SSL_MODE_RELEASE_BUFFERS);
    for (SSL_CTX* ctx : {server_ctx.get(), client_ctx.get()}) {
      SSL_CTX_set_min_proto_version(ctx, TLS1_3_VERSION);
      SSL_CTX_set1_groups_list(ctx, "X25519");
    }
    SSL_CTX_set_verify(client_ctx.get(), SSL_VERIFY_NONE, nullptr);
  }

  // A fresh connection; true once both sides have finished the handshake.
  bool Handshake() {
    server.reset(SSL_new(server_ctx.get()));
    client.reset(SSL_new(client_ctx.get()));
    SSL_set_bio(server.get(), BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_bio(client.get(), BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_accept_state(server.get());
    SSL_set_connect_state(client.get());
    for (int round = 0; round < 10; ++round) {
      int c = SSL_do_handshake(client.get());
      Move(client.get(), server.get());
      int s = SSL_do_handshake(server.get());
      Move(server.get(), client.get());
      if (c == 1 && s == 1) return true;
    }
    return false;
  }

  // What `from` wrote goes to what `to` reads.
  static void Move(SSL* from, SSL* to) {
    char buf[16384];
    int n;
    while ((n = BIO_read(SSL_get_wbio(from), buf, sizeof buf)) > 0) {
      BIO_write(SSL_get_rbio(to), buf, n);
    }
  }
};

const starttls::certs::IssuedProfile& ValidLeaf() {
  static const auto* catalogue = new starttls::certs::IssuedCatalogue(
      *starttls::certs::IssueCatalogue({"mail.example.test"}, {"valid"}));
  return catalogue->profiles.front();
}

void BM_TlsHandshakeInMemory(benchmark::State& state) {
  Pair pair(ValidLeaf());
  for (auto _ : state) {
    if (!pair.Handshake()) {
      state.SkipWithError("handshake failed");
      break;
    }
  }
}
BENCHMARK(BM_TlsHandshakeInMemory)->Unit(benchmark::kMicrosecond);

// What Wire::Send does with a reply once TLS is up: SSL_write into the
// write BIO, then the queued records out into a string for the socket.
void BM_MemoryBioSend(benchmark::State& state) {
  Pair pair(ValidLeaf());
  if (!pair.Handshake()) {
    state.SkipWithError("handshake failed");
    return;
  }
  const std::string reply(static_cast<size_t>(state.range(0)), 'x');
  BIO* wbio = SSL_get_wbio(pair.server.get());
  for (auto _ : state) {
    SSL_write(pair.server.get(), reply.data(), static_cast<int>(reply.size()));
    std::string out(BIO_ctrl_pending(wbio), '\0');
    int n = BIO_read(wbio, out.data(), static_cast<int>(out.size()));
    benchmark::DoNotOptimize(n);
  }
  state.SetBytesProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_MemoryBioSend)->Arg(30)->Arg(135)->Arg(16384);

// The oracles over a plain-text session whose message body arrived one byte
// per read, range(0) reads: the worst a client can make of the event record.
// Time per read must not grow with the number of reads.
void BM_OraclesOverOneByteReads(benchmark::State& state) {
  using starttls::server::Layer;
  using starttls::server::Peer;
  starttls::server::SessionRecord record;
  auto server = [&](std::string_view s) {
    record.events.Bytes(Peer::kServer, Layer::kPlain, s);
  };
  auto client = [&](std::string_view s) {
    record.events.Bytes(Peer::kClient, Layer::kPlain, s);
  };
  server("220 mx\r\n");
  client("EHLO c\r\n");
  server("250 mx\r\n");
  client("MAIL FROM:<a@b>\r\n");
  server("250 ok\r\n");
  client("RCPT TO:<c@d>\r\n");
  server("250 ok\r\n");
  client("DATA\r\n");
  server("354 go\r\n");
  const std::string line = std::string(98, 'y') + "\r\n";
  for (int64_t i = 0; i < state.range(0); ++i) {
    client(std::string_view(&line[static_cast<size_t>(i) % line.size()], 1));
  }
  client(".\r\n");
  for (auto _ : state) {
    auto findings = starttls::server::RunOracles({.record = &record});
    benchmark::DoNotOptimize(findings);
  }
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_OraclesOverOneByteReads)
    ->Arg(10'000)
    ->Arg(100'000)
    ->Arg(1'000'000)
    ->Unit(benchmark::kMillisecond);

}  // namespace
