#include "protocol/protocol.h"

namespace starttls::protocol {

std::span<const std::string_view> ProtocolNames() {
  static constexpr std::string_view kNames[] = {"smtp", "imap", "pop3"};
  return kNames;
}

const Protocol* FindProtocol(std::string_view name) {
  if (name == Smtp().name()) return &Smtp();
  if (name == Imap().name()) return &Imap();
  if (name == Pop3().name()) return &Pop3();
  return nullptr;
}

}  // namespace starttls::protocol
