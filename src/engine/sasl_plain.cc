#include "engine/sasl_plain.h"

#include <openssl/evp.h>

#include <algorithm>
#include <optional>
#include <string>

namespace starttls::server {
namespace {

std::optional<std::string> DecodeBase64(std::string_view in) {
  if (in.empty() || in.size() % 4 != 0) return std::nullopt;
  std::string out(in.size() / 4 * 3, '\0');
  int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                          reinterpret_cast<const unsigned char*>(in.data()),
                          static_cast<int>(in.size()));
  if (n < 0) return std::nullopt;
  size_t padding = in.ends_with("==") ? 2 : in.ends_with('=') ? 1 : 0;
  out.resize(static_cast<size_t>(n) - padding);
  return out;
}

}  // namespace

bool IsPlainResponse(std::string_view base64) {
  auto decoded = DecodeBase64(base64);
  return decoded && std::count(decoded->begin(), decoded->end(), '\0') == 2 &&
         decoded->find('\0') + 1 != decoded->rfind('\0');
}

}  // namespace starttls::server
