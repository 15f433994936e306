#include "engine/responder.h"

#include "engine/smtp_responder.h"

namespace starttls::server {

std::unique_ptr<Responder> MakeResponder(const protocol::Protocol& protocol,
                                         ResponderConfig config) {
  // One responder per protocol; protocol::FindProtocol() knows no other.
  (void)protocol;
  return std::make_unique<SmtpResponder>(std::move(config));
}

}  // namespace starttls::server
