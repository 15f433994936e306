#include "scenario/tls_alert.h"

#include <fmt/format.h>

#include <array>
#include <string>
#include <utility>

namespace starttls::server {
namespace {

constexpr std::array<std::pair<std::string_view, uint8_t>, 20> kAlerts{{
    {"close_notify", 0},
    {"unexpected_message", 10},
    {"bad_record_mac", 20},
    {"record_overflow", 22},
    {"handshake_failure", 40},
    {"bad_certificate", 42},
    {"unsupported_certificate", 43},
    {"certificate_revoked", 44},
    {"certificate_expired", 45},
    {"certificate_unknown", 46},
    {"illegal_parameter", 47},
    {"unknown_ca", 48},
    {"access_denied", 49},
    {"decode_error", 50},
    {"decrypt_error", 51},
    {"protocol_version", 70},
    {"insufficient_security", 71},
    {"internal_error", 80},
    {"user_canceled", 90},
    {"unrecognized_name", 112},
}};

}  // namespace

std::optional<uint8_t> AlertCode(std::string_view name) {
  for (const auto& [n, code] : kAlerts) {
    if (n == name) return code;
  }
  return std::nullopt;
}

std::string AlertName(uint8_t code) {
  for (const auto& [n, c] : kAlerts) {
    if (c == code) return std::string(n);
  }
  return fmt::format("alert_{}", code);
}

}  // namespace starttls::server
