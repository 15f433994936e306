// What every process that serves TLS to clients prepares before its first
// connection (`serve`, `record` and the in-process FakeSmtpServer): the
// listening address, the run directory, the run's PKI and one server
// context per certificate profile.
#ifndef STARTTLS_SERVER_RUN_SETUP_H_
#define STARTTLS_SERVER_RUN_SETUP_H_

#include <asio/ip/tcp.hpp>
#include <filesystem>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <tl/expected.hpp>

#include "starttls/ossl.h"

namespace starttls::server {

// HOST:PORT or [HOST]:PORT (IPv6), the brackets taken off. The port is
// 0..65535, in decimal; `what` names the option in the error ("--listen").
struct HostPort {
  std::string host;
  uint16_t port = 0;
};
[[nodiscard]] tl::expected<HostPort, std::string> ParseHostPort(
    std::string_view value, std::string_view what);

// A listening address: HOST must be a numeric IPv4 or IPv6 address.
[[nodiscard]] tl::expected<asio::ip::tcp::endpoint, std::string>
ParseListenAddress(std::string_view value, std::string_view what);

// The directory of a run: certificates under pki/, session reports in
// sessions.jsonl (and under sessions/ when asked for).
// Owns the directory when it made it: a run that fails before it is
// released takes the directory with it (nothing half-written).
class RunDirectory {
 public:
  // `wanted`: use (and create) this directory; empty: a new one under
  // $TMPDIR named <prefix>.XXXXXX. A directory made here is 0700, as it will
  // hold private keys; one that existed keeps its mode.
  [[nodiscard]] static tl::expected<RunDirectory, std::string> Make(
      const std::filesystem::path& wanted, std::string_view prefix);

  RunDirectory(RunDirectory&& other) noexcept;
  RunDirectory& operator=(RunDirectory&&) = delete;
  ~RunDirectory();

  [[nodiscard]] const std::filesystem::path& path() const { return path_; }
  // Keeps the directory when this object goes.
  void Keep() { remove_ = false; }

 private:
  RunDirectory(std::filesystem::path path, bool remove)
      : path_(std::move(path)), remove_(remove) {}
  std::filesystem::path path_;
  bool remove_ = false;
};

// The run's PKI, issued into a directory, with a server context for each
// profile asked for.
struct RunPki {
  std::filesystem::path ca_file;  // what clients must trust
  std::map<std::string, ossl::SslCtxPtr, std::less<>> contexts;

  // The context presenting `profile`; null when it was not issued.
  [[nodiscard]] SSL_CTX* Context(std::string_view profile) const;
};

// Issues the profiles for the hosts (duplicates and order do not matter; a
// DNS name is put first, and mail.example.test added when every host is an
// IP address, as the catalogue needs) into `dir`, and makes their contexts.
// An unknown profile is an error naming it.
[[nodiscard]] tl::expected<RunPki, std::string> IssueRunPki(
    std::span<const std::string> hosts, std::span<const std::string> profiles,
    const std::filesystem::path& dir);

}  // namespace starttls::server

#endif  // STARTTLS_SERVER_RUN_SETUP_H_
