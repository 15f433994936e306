// ASCII case helpers for protocol words (verbs, keywords, host names): they
// fold A-Z and a-z only, whatever the locale, as the mail RFCs compare.
#ifndef STARTTLS_COMMON_ASCII_H_
#define STARTTLS_COMMON_ASCII_H_

#include <algorithm>
#include <string>
#include <string_view>

namespace starttls {

[[nodiscard]] constexpr char AsciiUpper(char c) {
  return c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
}
[[nodiscard]] constexpr char AsciiLower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

[[nodiscard]] inline std::string AsciiUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiUpper(c);
  return out;
}
[[nodiscard]] inline std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

[[nodiscard]] constexpr bool EqualsNoCase(std::string_view a,
                                          std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return AsciiUpper(x) == AsciiUpper(y);
  });
}

[[nodiscard]] constexpr bool StartsWithNoCase(std::string_view s,
                                              std::string_view prefix) {
  return s.size() >= prefix.size() &&
         EqualsNoCase(s.substr(0, prefix.size()), prefix);
}

}  // namespace starttls

#endif  // STARTTLS_COMMON_ASCII_H_
