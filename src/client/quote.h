// Internal: renders untrusted peer bytes safely inside an error message.
#ifndef STARTTLS_CLIENT_QUOTE_H_
#define STARTTLS_CLIENT_QUOTE_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace starttls::client {

// `bytes` in double quotes, non-printable bytes as \xNN, cut after `max`
// bytes with "..." so a hostile peer cannot flood the message.
[[nodiscard]] std::string Quote(std::string_view bytes, std::size_t max = 40);

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_QUOTE_H_
