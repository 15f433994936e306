#include "certs/host_name.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <cctype>

namespace starttls::certs {
namespace {

constexpr size_t kMaxHostName = 253;
constexpr size_t kMaxLabel = 63;

bool IsLdh(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-';
}

}  // namespace

bool IsIpLiteral(std::string_view host) {
  unsigned char buf[16];
  std::string s(host);
  return inet_pton(AF_INET, s.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

tl::expected<void, std::string> CheckHost(std::string_view host) {
  auto bad = [&](std::string_view why) {
    return tl::unexpected(fmt::format("invalid host name '{}': {}", host, why));
  };
  if (IsIpLiteral(host)) return {};
  std::string_view name = host;
  if (name.ends_with('.')) name.remove_suffix(1);
  if (name.empty()) return bad("empty");
  if (name.size() > kMaxHostName) {
    return bad(fmt::format("longer than {} characters", kMaxHostName));
  }
  while (!name.empty()) {
    size_t dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    if (label.empty()) return bad("empty label");
    if (label.size() > kMaxLabel) {
      return bad(fmt::format("label longer than {} characters", kMaxLabel));
    }
    for (char c : label) {
      if (!IsLdh(c)) {
        return bad("only letters, digits, '-' and '.' are allowed");
      }
    }
    if (label.front() == '-' || label.back() == '-') {
      return bad("a label starts or ends with '-'");
    }
    name = dot == std::string_view::npos ? std::string_view()
                                         : name.substr(dot + 1);
  }
  return {};
}

}  // namespace starttls::certs
