// The identities a certificate can be issued for: DNS host names and IP
// address literals.
#ifndef STARTTLS_CERTS_HOST_NAME_H_
#define STARTTLS_CERTS_HOST_NAME_H_

#include <string>
#include <string_view>
#include <tl/expected.hpp>

namespace starttls::certs {

// True for an IPv4 dotted quad or an IPv6 literal (no brackets, no zone).
[[nodiscard]] bool IsIpLiteral(std::string_view host);

// Accepts an IP literal or a DNS host name: at most 253 characters of
// dot-separated labels, each 1 to 63 letters, digits or hyphens and neither
// starting nor ending with a hyphen (RFC 1123), optionally with one trailing
// dot. Wildcards are refused: a catalogue host is the name a client checks.
// The error is one line naming the host and the rule it breaks.
[[nodiscard]] tl::expected<void, std::string> CheckHost(std::string_view host);

}  // namespace starttls::certs

#endif  // STARTTLS_CERTS_HOST_NAME_H_
