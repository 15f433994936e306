#include "protocol/protocol.h"

namespace starttls::protocol {

std::span<const std::string_view> ProtocolNames() {
  static constexpr std::string_view kNames[] = {"smtp", "imap"};
  return kNames;
}

const Protocol* FindProtocol(std::string_view name) {
  if (name == Smtp().name()) return &Smtp();
  if (name == Imap().name()) return &Imap();
  return nullptr;
}

}  // namespace starttls::protocol
