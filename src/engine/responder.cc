#include "engine/responder.h"

#include "engine/imap_responder.h"
#include "engine/pop3_responder.h"
#include "engine/smtp_responder.h"

namespace starttls::server {

std::unique_ptr<Responder> MakeResponder(const protocol::Protocol& protocol,
                                         ResponderConfig config) {
  if (&protocol == &protocol::Imap()) {
    return std::make_unique<ImapResponder>(std::move(config));
  }
  if (&protocol == &protocol::Pop3()) {
    return std::make_unique<Pop3Responder>(std::move(config));
  }
  return std::make_unique<SmtpResponder>(std::move(config));
}

std::vector<std::string> ResponderCapabilities(const Scenario& scenario,
                                               int connection) {
  if (!scenario.capabilities.empty()) return scenario.capabilities;
  std::span<const Step> steps = ConnectionSteps(scenario, connection);
  if (scenario.protocol == &protocol::Imap()) {
    return ImapResponder::ScriptedCapabilities(steps).value_or(
        ImapResponder::DefaultCapabilities());
  }
  if (scenario.protocol == &protocol::Pop3()) {
    return Pop3Responder::ScriptedCapabilities(steps).value_or(
        Pop3Responder::DefaultCapabilities());
  }
  return SmtpResponder::ScriptedCapabilities(steps).value_or(
      SmtpResponder::DefaultCapabilities());
}

}  // namespace starttls::server
