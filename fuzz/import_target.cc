// The transcript importer (`starttls-mock import`): any text either is
// refused with a position inside it, or becomes a scenario that parses, as
// import.h promises; so does the writer given several connections.
#include <string>
#include <string_view>

#include "authoring/import.h"
#include "fuzz/targets.h"
#include "scenario/scenario.h"

namespace starttls::fuzz {

int FuzzImport(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  constexpr server::ImportFormat kFormats[] = {
      server::ImportFormat::kAuto,   server::ImportFormat::kTelnet,
      server::ImportFormat::kScript, server::ImportFormat::kSwaks,
      server::ImportFormat::kCurl,   server::ImportFormat::kSClient};
  server::ImportFormat format = kFormats[data[0] % std::size(kFormats)];
  // The same byte picks the protocol: SMTP, or IMAP or POP3 (script and
  // curl).
  const protocol::Protocol* const kProtocols[] = {
      &protocol::Smtp(), &protocol::Imap(), &protocol::Pop3()};
  const protocol::Protocol& p =
      *kProtocols[(data[0] / std::size(kFormats)) % std::size(kProtocols)];
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);

  auto scenario = server::ImportTranscript(
      text, {.format = format, .source_name = "fuzz", .protocol = &p});
  if (!scenario) {
    FUZZ_CHECK(scenario.error().line >= 1);
    FUZZ_CHECK(scenario.error().column >= 1);
    FUZZ_CHECK(!scenario.error().message.empty());
    return 0;
  }
  auto parsed = server::ParseScenario(*scenario, "imported.smtp");
  if (!parsed) {
    std::fprintf(stderr, "%s\n--- does not parse: %s\n", scenario->c_str(),
                 parsed.error().ToString().c_str());
  }
  FUZZ_CHECK(parsed.has_value());

  // The writer with every option, on the same transcript.
  auto transcript = server::ParseTranscript(text, format, p);
  FUZZ_CHECK(transcript.has_value());
  std::string written = server::WriteScenario(
      *transcript, {.comment = {"fuzz"},
                    .summary = "fuzz",
                    .expect = server::Expectation::kDeliverOrRefuse,
                    .min_delay = std::chrono::milliseconds(0),
                    .protocol = &p});
  auto reparsed = server::ParseScenario(written, "written.smtp");
  if (!reparsed) {
    std::fprintf(stderr, "%s\n--- does not parse: %s\n", written.c_str(),
                 reparsed.error().ToString().c_str());
  }
  FUZZ_CHECK(reparsed.has_value());

  // The same session recorded twice in turn (`record --sessions`), with a
  // new connection at a point the input chooses: still a scenario.
  server::Transcript turns;
  size_t cut = data[0] % (transcript->items.size() + 1);
  for (size_t i = 0; i < transcript->items.size(); ++i) {
    if (i == cut) {
      turns.items.push_back(
          {.kind = server::TranscriptItem::Kind::kConnection});
    }
    turns.items.push_back(transcript->items[i]);
  }
  turns.items.push_back({.kind = server::TranscriptItem::Kind::kConnection});
  turns.items.insert(turns.items.end(), transcript->items.begin(),
                     transcript->items.end());
  std::string several =
      server::WriteScenario(turns, {.summary = "fuzz", .protocol = &p});
  auto several_parsed = server::ParseScenario(several, "several.smtp");
  if (!several_parsed) {
    std::fprintf(stderr, "%s\n--- does not parse: %s\n", several.c_str(),
                 several_parsed.error().ToString().c_str());
  }
  FUZZ_CHECK(several_parsed.has_value());
  return 0;
}

}  // namespace starttls::fuzz
