// TLS alert descriptions by their RFC 8446 section 6 names, for scenarios
// that make the server send one and reports that name the client's.
#ifndef STARTTLS_SCENARIO_TLS_ALERT_H_
#define STARTTLS_SCENARIO_TLS_ALERT_H_

#include <cstdint>
#include <optional>
#include <string_view>

namespace starttls::server {

// The code of a fatal alert named as in the RFC, e.g. "handshake_failure".
[[nodiscard]] std::optional<uint8_t> AlertCode(std::string_view name);

// The RFC name of an alert code; "alert_<n>" for codes without one here.
[[nodiscard]] std::string AlertName(uint8_t code);

}  // namespace starttls::server

#endif  // STARTTLS_SCENARIO_TLS_ALERT_H_
