#include "quote.h"

#include <fmt/format.h>

namespace starttls::client {

std::string Quote(std::string_view bytes, std::size_t max) {
  std::string out = "\"";
  for (char c : bytes.substr(0, max)) {
    const auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f && c != '"' && c != '\\') {
      out += c;
    } else {
      out += fmt::format("\\x{:02x}", u);
    }
  }
  out += bytes.size() > max ? "\"..." : "\"";
  return out;
}

}  // namespace starttls::client
