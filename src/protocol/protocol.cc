#include "protocol/protocol.h"

namespace starttls::protocol {

std::span<const std::string_view> ProtocolNames() {
  static constexpr std::string_view kNames[] = {"smtp"};
  return kNames;
}

const Protocol* FindProtocol(std::string_view name) {
  if (name == Smtp().name()) return &Smtp();
  return nullptr;
}

}  // namespace starttls::protocol
