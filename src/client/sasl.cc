#include "sasl.h"

#include <openssl/crypto.h>

#include <algorithm>
#include <cstdint>

namespace starttls::client {

std::string Base64(std::string_view in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((in.size() + 2) / 3 * 4);
  for (std::size_t i = 0; i < in.size(); i += 3) {
    const std::size_t n = std::min<std::size_t>(3, in.size() - i);
    std::uint32_t v = 0;
    for (std::size_t j = 0; j < 3; ++j) {
      v = (v << 8) | (j < n ? static_cast<unsigned char>(in[i + j]) : 0u);
    }
    for (std::size_t j = 0; j < 4; ++j) {
      out += j <= n ? kAlphabet[(v >> (18 - 6 * j)) & 0x3f] : '=';
    }
  }
  return out;
}

std::string PlainToken(std::string_view user, std::string_view password) {
  std::string message(1, '\0');
  message += user;
  message += '\0';
  message += password;
  std::string token = Base64(message);
  Wipe(message);
  return token;
}

void Wipe(std::string& secret) {
  OPENSSL_cleanse(secret.data(), secret.size());
  secret.clear();
}

}  // namespace starttls::client
