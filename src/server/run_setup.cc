#include "server/run_setup.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <algorithm>
#include <asio/ip/address.hpp>
#include <charconv>
#include <system_error>
#include <vector>

#include "certs/catalogue.h"
#include "certs/certs_command.h"
#include "certs/host_name.h"

namespace starttls::server {

using tl::unexpected;

tl::expected<HostPort, std::string> ParseHostPort(std::string_view value,
                                                  std::string_view what) {
  size_t colon = value.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return unexpected(fmt::format("{} {}: expected HOST:PORT", what, value));
  }
  HostPort out{.host = std::string(value.substr(0, colon))};
  if (out.host.size() >= 2 && out.host.front() == '[' &&
      out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  std::string_view port = value.substr(colon + 1);
  auto [end, ec] =
      std::from_chars(port.data(), port.data() + port.size(), out.port);
  if (port.empty() || ec != std::errc() || end != port.data() + port.size()) {
    return unexpected(fmt::format("{} {}: bad port", what, value));
  }
  return out;
}

tl::expected<asio::ip::tcp::endpoint, std::string> ParseListenAddress(
    std::string_view value, std::string_view what) {
  auto hp = ParseHostPort(value, what);
  if (!hp) return unexpected(hp.error());
  asio::error_code ec;
  asio::ip::address address = asio::ip::make_address(hp->host, ec);
  if (ec) {
    return unexpected(
        fmt::format("{} {}: bad address \"{}\"", what, value, hp->host));
  }
  return asio::ip::tcp::endpoint(address, hp->port);
}

tl::expected<RunDirectory, std::string> RunDirectory::Make(
    const std::filesystem::path& wanted, std::string_view prefix) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!wanted.empty()) {
    bool existed = fs::exists(wanted, ec);
    fs::create_directories(wanted, ec);
    if (!ec && !existed) {
      fs::permissions(wanted, fs::perms::owner_all, ec);
    }
    if (ec) {
      return unexpected(
          fmt::format("--run-dir {}: {}", wanted.string(), ec.message()));
    }
    return RunDirectory(fs::absolute(wanted), !existed);
  }
  fs::path tmpl =
      fs::temp_directory_path(ec) / fmt::format("{}.XXXXXX", prefix);
  std::string buf = tmpl.string();
  if (ec || mkdtemp(buf.data()) == nullptr) {
    return unexpected(
        fmt::format("cannot create a run directory {}", tmpl.string()));
  }
  return RunDirectory(fs::path(buf), true);
}

RunDirectory::RunDirectory(RunDirectory&& other) noexcept
    : path_(std::move(other.path_)), remove_(other.remove_) {
  other.remove_ = false;
}

RunDirectory::~RunDirectory() {
  if (!remove_) return;
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

SSL_CTX* RunPki::Context(std::string_view profile) const {
  auto it = contexts.find(profile);
  return it == contexts.end() ? nullptr : it->second.get();
}

namespace {

// A server context presenting one profile of the catalogue.
tl::expected<ossl::SslCtxPtr, std::string> MakeServerContext(
    const certs::ProfileFiles& files) {
  ossl::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return unexpected("TLS context: " + ossl::DrainErrors());
  // Level 0 lets the server load and offer the weak leaves (rsa-1024,
  // sha1-signature); whether to accept them is the client's decision.
  SSL_CTX_set_security_level(ctx.get(), 0);
  // An idle session (waiting for its client) holds no TLS record buffers:
  // they are taken when a record comes and given back after it.
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.chain_file.c_str()) !=
          1 ||
      SSL_CTX_use_PrivateKey_file(ctx.get(), files.key_file.c_str(),
                                  SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx.get()) != 1) {
    return unexpected(fmt::format("TLS context for {}: {}",
                                  files.chain_file.string(),
                                  ossl::DrainErrors()));
  }
  return ctx;
}

}  // namespace

tl::expected<RunPki, std::string> IssueRunPki(
    std::span<const std::string> hosts, std::span<const std::string> profiles,
    const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const std::string& h : hosts) {
    if (std::find(names.begin(), names.end(), h) == names.end()) {
      names.push_back(h);
    }
  }
  // The catalogue's leaves need a DNS name first.
  std::stable_partition(names.begin(), names.end(), [](const std::string& h) {
    return !certs::IsIpLiteral(h);
  });
  if (names.empty() || certs::IsIpLiteral(names.front())) {
    names.insert(names.begin(), std::string(certs::kDefaultHost));
  }
  std::vector<std::string> wanted;
  for (const std::string& p : profiles) {
    if (certs::FindProfile(p) == nullptr) {
      return unexpected(fmt::format("unknown certificate profile \"{}\"", p));
    }
    if (std::find(wanted.begin(), wanted.end(), p) == wanted.end()) {
      wanted.push_back(p);
    }
  }
  // Only the profiles asked for: issuing the whole catalogue (its RSA key
  // above all) would take most of the start-up time.
  auto issued = certs::IssueCatalogue(names, wanted);
  if (!issued) return unexpected(issued.error());
  auto files = certs::WriteCatalogue(*issued, dir);
  if (!files) return unexpected(files.error());
  RunPki pki{.ca_file = files->ca_file};
  for (const std::string& p : wanted) {
    auto profile = files->profiles.find(p);
    if (profile == files->profiles.end()) {
      return unexpected(fmt::format("profile \"{}\" was not issued", p));
    }
    auto ctx = MakeServerContext(profile->second);
    if (!ctx) return unexpected(ctx.error());
    pki.contexts.emplace(p, std::move(*ctx));
  }
  return pki;
}

}  // namespace starttls::server
