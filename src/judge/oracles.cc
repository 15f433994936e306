#include "judge/oracles.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <limits>
#include <optional>

#include "common/ascii.h"
#include "protocol/protocol.h"

namespace starttls::server {
namespace {

constexpr size_t kNever = std::numeric_limits<size_t>::max();

// One line as one side sent it at one layer.
struct Line {
  std::string text;    // without CR LF
  uint64_t begin = 0;  // stream offset of its first byte
  uint64_t end = 0;    // stream offset just past its LF
  size_t event = 0;    // the event that completed it
};

// The bytes one side sent at one layer, as the events carried them.
struct Stream {
  struct Chunk {
    size_t event;
    uint64_t offset;
    std::string_view bytes;
  };
  std::vector<Chunk> chunks;
  std::vector<Line> lines;
};

Stream Collect(const std::vector<Event>& events, Peer from, Layer layer) {
  Stream s;
  std::string partial;
  for (size_t i = 0; i < events.size(); ++i) {
    const Event& e = events[i];
    if (e.kind != Event::Kind::kBytes || e.from != from || e.layer != layer) {
      continue;
    }
    s.chunks.push_back({i, e.offset, e.bytes});
    std::string_view rest = e.bytes;
    for (size_t nl; (nl = rest.find('\n')) != std::string_view::npos;) {
      partial.append(rest.substr(0, nl));
      uint64_t end = e.offset + (e.bytes.size() - rest.size()) + nl + 1;
      uint64_t begin = end - partial.size() - 1;
      if (!partial.empty() && partial.back() == '\r') partial.pop_back();
      s.lines.push_back({std::move(partial), begin, end, i});
      partial.clear();
      rest.remove_prefix(nl + 1);
    }
    partial.append(rest);
  }
  return s;
}

// The server line that ended the reply to client line `command`, sent after
// it; null if the server never ended it.
const Line* ReplyTo(const protocol::Protocol& p, const Stream& server,
                    const Line& command) {
  for (const Line& l : server.lines) {
    if (l.event > command.event && p.EndsReplyTo(l.text, command.text)) {
      return &l;
    }
  }
  return nullptr;
}

// The first byte the client sent at or after stream offset `from` that the
// server received before event `before`.
struct FirstByte {
  size_t event;
  uint64_t offset;
  unsigned char byte;
  std::string_view rest;
};
std::optional<FirstByte> ClientBytesBefore(const Stream& client, uint64_t from,
                                           size_t before) {
  for (const Stream::Chunk& c : client.chunks) {
    if (c.event >= before) break;
    if (c.offset + c.bytes.size() <= from) continue;
    size_t skip = from > c.offset ? static_cast<size_t>(from - c.offset) : 0;
    return FirstByte{c.event, c.offset + skip,
                     static_cast<unsigned char>(c.bytes[skip]),
                     c.bytes.substr(skip)};
  }
  return std::nullopt;
}

std::string Printable(std::string_view bytes) {
  std::string out;
  for (unsigned char c : bytes.substr(0, 40)) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

// True at a byte that starts a TLS handshake record (a ClientHello).
bool IsHandshakeStart(std::string_view bytes) {
  return !bytes.empty() && static_cast<unsigned char>(bytes[0]) == 0x16;
}

class Checker {
 public:
  explicit Checker(const OracleInput& input)
      : input_(input),
        p_(*input.protocol),
        events_(input.record->events.events()),
        client_plain_(Collect(events_, Peer::kClient, Layer::kPlain)),
        client_tls_(Collect(events_, Peer::kClient, Layer::kTlsData)),
        server_plain_(Collect(events_, Peer::kServer, Layer::kPlain)),
        server_tls_(Collect(events_, Peer::kServer, Layer::kTlsData)) {}

  std::vector<Finding> Run() {
    TlsWithoutStartTls();
    StartTlsOrdering();
    AfterTls();
    Capabilities();
    Preauth();
    Plaintext();
    Certificate();
    if (input_.record->timed_out) {
      Add("hang",
          "the client neither went on nor closed the connection before the "
          "scenario's deadline",
          Evidence{.event = events_.empty() ? 0 : events_.size() - 1,
                   .detail = input_.record->ended});
    }
    // Report in the documented order.
    std::vector<Finding> ordered;
    for (const OracleInfo& info : Oracles()) {
      for (Finding& f : findings_) {
        if (f.id == info.id) ordered.push_back(std::move(f));
      }
    }
    return ordered;
  }

 private:
  Evidence At(size_t event, uint64_t offset, std::string detail) const {
    return {event, events_[event].at, offset, std::move(detail)};
  }

  void Add(std::string id, std::string message, Evidence evidence) {
    if (evidence.at.count() == 0 && evidence.event < events_.size()) {
      evidence.at = events_[evidence.event].at;
    }
    findings_.push_back({std::move(id), std::move(message), {evidence}});
  }

  // The event at which the server closed the connection; kNever if it did
  // not.
  size_t ServerClosed() const {
    for (size_t i = 0; i < events_.size(); ++i) {
      if (events_[i].kind == Event::Kind::kClosed &&
          events_[i].from == Peer::kServer) {
        return i;
      }
    }
    return kNever;
  }

  // The first handshake record the client sent in plain text at or after
  // stream offset `from`: at the start of a chunk's line (offset 0 or after
  // an LF). Linear in the stream's bytes: the chunks tile the stream in
  // order, so the byte before a chunk is the last of the one before it.
  std::optional<FirstByte> HandshakeFrom(uint64_t from) const {
    char before = '\n';  // offset 0 starts a line
    for (const Stream::Chunk& c : client_plain_.chunks) {
      for (size_t k = 0; k < c.bytes.size(); ++k) {
        uint64_t at = c.offset + k;
        char previous = k > 0 ? c.bytes[k - 1] : before;
        if (at >= from && previous == '\n' &&
            IsHandshakeStart(c.bytes.substr(k))) {
          return FirstByte{c.event, at, 0x16, c.bytes.substr(k)};
        }
      }
      if (!c.bytes.empty()) before = c.bytes.back();
    }
    return std::nullopt;
  }

  // tls-without-starttls: a ClientHello where no STARTTLS was sent.
  void TlsWithoutStartTls() {
    auto hello = HandshakeFrom(0);
    if (!hello) return;
    bool asked =
        std::any_of(client_plain_.lines.begin(), client_plain_.lines.end(),
                    [&](const Line& l) {
                      return l.end <= hello->offset && IsStartTls(l.text);
                    });
    if (asked) return;
    Add("tls-without-starttls",
        "the client started TLS without having asked for it: it took a "
        "reply it never asked for as the go-ahead",
        At(hello->event, hello->offset, Printable(hello->rest)));
  }

  // early-tls, tls-on-incomplete-reply, tls-without-220,
  // pipelined-after-starttls.
  void StartTlsOrdering() {
    auto starttls =
        std::find_if(client_plain_.lines.begin(), client_plain_.lines.end(),
                     [&](const Line& l) { return IsStartTls(l.text); });
    if (starttls == client_plain_.lines.end()) return;
    // What the server answered, whenever the client acted: a handshake after
    // any answer but the go-ahead is a finding however the timing fell.
    const Line* answer = ReplyTo(p_, server_plain_, *starttls);
    size_t reply = answer != nullptr ? answer->event : kNever;
    if (answer != nullptr && !p_.IsTlsGoAhead(answer->text)) {
      if (auto hello = HandshakeFrom(starttls->end)) {
        Add("tls-without-220",
            fmt::format("the client started TLS although the server "
                        "answered {} with {}, not {}",
                        p_.Verb(starttls->text), p_.ReplyStatus(answer->text),
                        p_.TlsGoAheadStatus()),
            At(hello->event, hello->offset, Printable(hello->rest)));
        return;
      }
    }
    auto early = ClientBytesBefore(client_plain_, starttls->end, reply);
    if (!early) return;
    Evidence evidence = At(early->event, early->offset, Printable(early->rest));
    if (early->byte != 0x16) {
      // Giving up (QUIT) is no pipelining, and neither is what the client
      // wrote after the server had closed the connection.
      if (early->event > ServerClosed()) return;
      auto line =
          std::find_if(client_plain_.lines.begin(), client_plain_.lines.end(),
                       [&](const Line& l) { return l.end > early->offset; });
      if (line != client_plain_.lines.end() && line->begin == early->offset &&
          IsQuit(line->text)) {
        return;
      }
      Add("pipelined-after-starttls",
          fmt::format("the client sent a command after {} before the "
                      "server's reply to it ({})",
                      p_.Verb(starttls->text), p_.StartTlsRule()),
          evidence);
      return;
    }
    bool partial = std::any_of(
        server_plain_.chunks.begin(), server_plain_.chunks.end(),
        [&](const Stream::Chunk& c) {
          return c.event > starttls->event && c.event < early->event;
        });
    if (partial) {
      Add("tls-on-incomplete-reply",
          fmt::format("the client started TLS while the reply to {} was "
                      "incomplete (no line end yet, or not its last line)",
                      p_.Verb(starttls->text)),
          evidence);
    } else {
      Add("early-tls",
          fmt::format("the client started TLS before the server had "
                      "answered {}",
                      p_.Verb(starttls->text)),
          evidence);
    }
  }

  // no-ehlo-after-tls, acted-on-injected-reply, second-starttls.
  void AfterTls() {
    if (client_tls_.lines.empty()) return;
    // Where the protocol makes the client ask afresh and wait for the
    // answer first (SMTP), the first command must be that; where commands
    // are not pipelined without leave (POP3), it must be answered before
    // the next; elsewhere (IMAP) capabilities-from-before-tls judges what
    // the client relied on.
    if (p_.MustGreetAfterTls()) {
      GreetingFirst(client_tls_.lines.front());
    } else if (!p_.MayPipeline()) {
      AnswerAwaited(client_tls_.lines.front());
    }
    if (!Has("acted-on-injected-reply")) MessageAfterRefusedData();
    for (const Line& l : client_tls_.lines) {
      if (IsStartTls(l.text)) {
        Add("second-starttls",
            fmt::format("the client sent {} again over TLS", p_.Verb(l.text)),
            At(l.event, l.begin, l.text));
        break;
      }
    }
  }

  void GreetingFirst(const Line& first) {
    protocol::Command command = p_.Classify(first.text);
    if (command == protocol::Command::kQuit) return;
    if (command != protocol::Command::kGreeting) {
      Add("no-ehlo-after-tls",
          fmt::format("the client's first command over TLS was {}, not a "
                      "greeting such as {} "
                      "({}: forget what was learned before)",
                      p_.Verb(first.text), p_.GreetingVerb(),
                      p_.StartTlsRule()),
          At(first.event, first.begin, first.text));
      return;
    }
    AnswerAwaited(first);
  }

  // Where commands are not pipelined without a capability to say so, the
  // answer to the client's first command over TLS comes before its next
  // command: no announcement over TLS can have allowed otherwise yet, so a
  // client that sends on has read an answer from before TLS. A SASL
  // challenge is an answer too: the client's next line responds to it.
  void AnswerAwaited(const Line& first) {
    if (p_.Classify(first.text) == protocol::Command::kQuit) return;
    size_t reply = kNever;
    for (const Line& l : server_tls_.lines) {
      if (l.event > first.event &&
          (p_.EndsReplyTo(l.text, first.text) || p_.IsContinuation(l.text))) {
        reply = l.event;
        break;
      }
    }
    if (auto next = ClientBytesBefore(client_tls_, first.end, reply)) {
      // Giving up (QUIT, say at the client's own deadline) uses no reply.
      auto line =
          std::find_if(client_tls_.lines.begin(), client_tls_.lines.end(),
                       [&](const Line& l) { return l.end > next->offset; });
      if (line != client_tls_.lines.end() ? IsQuit(line->text)
                                          : p_.IsCutShortQuit(next->rest)) {
        return;
      }
      Add("acted-on-injected-reply",
          fmt::format("after TLS the client sent its next command before "
                      "the server had answered its {}: it used a reply "
                      "from before TLS",
                      p_.Verb(first.text)),
          At(next->event, next->offset, Printable(next->rest)));
    }
  }

  // The event that carried the first byte of client line `l` of `stream`:
  // what the server had sent before it, the client could have read.
  static size_t FirstEvent(const Stream& stream, const Line& l) {
    for (const Stream::Chunk& c : stream.chunks) {
      if (l.begin < c.offset + c.bytes.size()) return c.event;
    }
    return l.event;
  }

  static bool Names(const std::vector<std::string>& caps,
                    std::string_view capability) {
    return std::any_of(caps.begin(), caps.end(), [&](const std::string& c) {
      return EqualsNoCase(c, capability);
    });
  }

  // What the server announced on one layer: each announcement and the
  // event of the line that completed it.
  struct Announcement {
    size_t event;
    std::vector<std::string> capabilities;
  };

  // The server's lines on one layer split into replies, each handed to the
  // protocol with the command it answers: commands are answered in order,
  // a reply ends where the protocol says it ends the command's, and lines
  // sent while no command was waiting (a greeting, lines behind another
  // reply) form a reply nobody asked for.
  std::vector<Announcement> Announcements(const Stream& server,
                                          const Stream& client) const {
    std::vector<const Line*> commands;
    for (const Line& l : client.lines) {
      if (p_.Classify(l.text) != protocol::Command::kUnknown) {
        commands.push_back(&l);
      }
    }
    std::vector<Announcement> out;
    std::vector<std::string_view> reply;
    const Line* command = nullptr;
    size_t next = 0;
    size_t last_event = 0;
    auto flush = [&] {
      if (reply.empty()) return;
      if (auto caps = p_.AnnouncedCapabilities(
              reply, command != nullptr ? std::string_view(command->text)
                                        : std::string_view())) {
        out.push_back({last_event, std::move(*caps)});
      }
      reply.clear();
    };
    for (const Line& l : server.lines) {
      if (command == nullptr && next < commands.size() &&
          commands[next]->event < l.event) {
        flush();  // what came unasked before the command arrived
        command = commands[next++];
      }
      reply.push_back(l.text);
      last_event = l.event;
      if (command != nullptr && p_.EndsReplyTo(l.text, command->text)) {
        flush();
        command = nullptr;
      }
    }
    flush();
    return out;
  }

  // True when the last announcement before event `before` named
  // `capability`.
  static bool LastAnnounced(const std::vector<Announcement>& announced,
                            std::string_view capability, size_t before) {
    const Announcement* last = nullptr;
    for (const Announcement& a : announced) {
      if (a.event >= before) break;
      last = &a;
    }
    return last != nullptr && Names(last->capabilities, capability);
  }

  // True when some announcement before event `before` named `capability`.
  static bool EverAnnounced(const std::vector<Announcement>& announced,
                            std::string_view capability, size_t before) {
    for (const Announcement& a : announced) {
      if (a.event >= before) break;
      if (Names(a.capabilities, capability)) return true;
    }
    return false;
  }

  // login-while-disabled, capabilities-from-before-tls. What the client
  // could know is what the server had sent before the command's first byte
  // arrived; a command already on its way when an announcement was sent is
  // not held against the client.
  void Capabilities() {
    const std::vector<Announcement> plain =
        Announcements(server_plain_, client_plain_);
    const std::vector<Announcement> tls =
        Announcements(server_tls_, client_tls_);
    for (const auto* layer : {&client_plain_, &client_tls_}) {
      const std::vector<Announcement>& announced =
          layer == &client_plain_ ? plain : tls;
      for (const Line& l : layer->lines) {
        std::string_view forbidding = p_.ForbiddingCapability(l.text);
        if (forbidding.empty()) continue;
        if (!LastAnnounced(announced, forbidding, FirstEvent(*layer, l))) {
          continue;
        }
        Add("login-while-disabled",
            fmt::format("the client sent {} although the server's last "
                        "capabilities{} included {}",
                        p_.Verb(l.text),
                        layer == &client_tls_ ? " over TLS" : "", forbidding),
            At(l.event, l.begin, l.text));
        break;
      }
      if (Has("login-while-disabled")) break;
    }
    for (const Line& l : client_tls_.lines) {
      std::string needed = p_.RequiredCapability(l.text);
      if (needed.empty()) continue;
      size_t first = FirstEvent(client_tls_, l);
      if (EverAnnounced(tls, needed, first) ||
          !EverAnnounced(plain, needed, kNever)) {
        continue;
      }
      Add("capabilities-from-before-tls",
          fmt::format("over TLS the client sent {}, which needs {}: the "
                      "server announced that only before TLS ({}: discard "
                      "what was learned before)",
                      p_.Verb(l.text), needed, p_.StartTlsRule()),
          At(l.event, l.begin, l.text));
      break;
    }
  }

  // continued-after-preauth: a greeting that skips logging in (IMAP
  // PREAUTH) leaves no STARTTLS; asking what the server offers or logging
  // out is fine, working towards the goal in plain text is not.
  void Preauth() {
    if (server_plain_.lines.empty() ||
        !p_.GreetingSkipsLogin(server_plain_.lines.front().text)) {
      return;
    }
    for (const Line& l : client_plain_.lines) {
      protocol::Command command = p_.Classify(l.text);
      if (command != protocol::Command::kTransaction &&
          command != protocol::Command::kCredentials &&
          command != protocol::Command::kMessage) {
        continue;
      }
      Add("continued-after-preauth",
          fmt::format("the server's greeting skipped logging in, so no TLS "
                      "could follow, and the client went on with {} in "
                      "plain text",
                      p_.Verb(l.text)),
          At(l.event, l.begin, l.text));
      return;
    }
  }

  bool Has(std::string_view id) const {
    return std::any_of(findings_.begin(), findings_.end(),
                       [&](const Finding& f) { return f.id == id; });
  }

  // acted-on-injected-reply, judged by what the client did rather than when:
  // over TLS the client sent its message after DATA although the server
  // answered that DATA with something other than 354. Commands and replies
  // pair up in order (one final reply per command, one per message), so the
  // answer to DATA is known however the client pipelined. A client that
  // read replies injected before TLS (a 354 among them) sends its message
  // into a refusal, or before any answer came (its connection may be reset
  // before the server answers DATA at all).
  void MessageAfterRefusedData() {
    std::vector<const Line*> replies;
    for (const Line& l : server_tls_.lines) {
      if (p_.IsFinalReply(l.text)) replies.push_back(&l);
    }
    size_t k = 0;  // replies consumed
    bool in_message = false;
    bool refused_data = false;
    std::string_view refusal;
    std::string message_verb;
    for (const Line& l : client_tls_.lines) {
      if (in_message) {
        if (l.text == ".") {
          in_message = false;
          ++k;
        }
        continue;
      }
      if (refused_data) {
        refused_data = false;
        if (!IsCommand(l.text)) {
          Add("acted-on-injected-reply",
              refusal.empty()
                  ? fmt::format("over TLS the client sent its message "
                                "although the server never answered {}: it "
                                "used a reply from before TLS",
                                message_verb)
                  : fmt::format("over TLS the client sent its message "
                                "although the server answered {} with "
                                "\"{}\": it used a reply from before TLS",
                                message_verb, refusal),
              At(l.event, l.begin, l.text));
          return;
        }
      }
      size_t mine = k++;
      if (p_.Classify(l.text) != protocol::Command::kMessage) continue;
      message_verb = p_.Verb(l.text);
      if (mine >= replies.size()) {
        // Never answered (the connection ended first): a correct client
        // still waits for a 354 before its message.
        refused_data = true;
        refusal = {};
        continue;
      }
      if (p_.IsMessageGoAhead(replies[mine]->text)) {
        in_message = true;
      } else {
        refused_data = true;
        refusal = replies[mine]->text;
      }
    }
  }

  // plaintext-after-refusal, credentials-in-plaintext, downgrade-by-reconnect.
  void Plaintext() {
    // After a greeting that skipped logging in, continued-after-preauth
    // says it more precisely.
    bool reported_mail = Has("continued-after-preauth");
    bool reported_auth = false;
    for (const Line& l : client_plain_.lines) {
      std::string verb = p_.Verb(l.text);
      protocol::Command command = p_.Classify(l.text);
      Evidence evidence = At(l.event, l.begin, l.text);
      bool mail = command == protocol::Command::kTransaction ||
                  command == protocol::Command::kMessage;
      bool credentials = command == protocol::Command::kCredentials;
      if (credentials && !reported_auth) {
        reported_auth = true;
        Add("credentials-in-plaintext",
            fmt::format("the client sent {} before TLS protected the "
                        "connection",
                        verb),
            evidence);
      }
      // AUTH counts as mail only for a downgrade: else a later MAIL must
      // still be reported.
      bool downgrade = input_.record->earlier_tls_failure;
      if ((mail || (credentials && downgrade)) && !reported_mail) {
        reported_mail = true;
        if (downgrade) {
          Add("downgrade-by-reconnect",
              fmt::format("after a failed TLS handshake the client came back "
                          "and sent {} in plain text",
                          verb),
              evidence);
        } else {
          Add("plaintext-after-refusal",
              fmt::format("the client sent {} in plain text instead of "
                          "giving up without TLS",
                          verb),
              evidence);
        }
      }
    }
    // Plaintext commands where the server expected TLS records: the client
    // went on after a failed handshake as if nothing had happened.
    if (reported_mail) return;
    bool failed = false;
    for (size_t i = 0; i < events_.size(); ++i) {
      const Event& e = events_[i];
      if (e.kind == Event::Kind::kTlsFailed) failed = true;
      if (!failed || e.kind != Event::Kind::kBytes || e.from != Peer::kClient ||
          e.layer != Layer::kTlsRecord) {
        continue;
      }
      switch (p_.Classify(e.bytes)) {
        case protocol::Command::kTransaction:
        case protocol::Command::kMessage:
        case protocol::Command::kCredentials:
        case protocol::Command::kGreeting:
          Add("plaintext-after-refusal",
              fmt::format("the client sent {} in plain text after the TLS "
                          "handshake failed",
                          p_.Verb(e.bytes)),
              At(i, e.offset, Printable(e.bytes)));
          return;
        default:
          break;
      }
    }
  }

  // Going on means sending anything that trusts the channel; a lone QUIT
  // (or an alert, or closing) is the client refusing it.
  void Certificate() {
    if (!input_.bad_certificate || client_tls_.chunks.empty()) return;
    uint64_t quit_end = 0;  // the client's TLS stream up to here is QUITs
    for (const Line& l : client_tls_.lines) {
      if (l.begin != quit_end || !IsQuit(l.text)) break;
      quit_end = l.end;
    }
    for (const Stream::Chunk& c : client_tls_.chunks) {
      if (c.offset + c.bytes.size() <= quit_end) continue;
      size_t skip =
          quit_end > c.offset ? static_cast<size_t>(quit_end - c.offset) : 0;
      std::string_view rest = c.bytes.substr(skip);
      // A QUIT cut short by the end of the session refuses too.
      if (IsLastClientChunk(c) && p_.IsCutShortQuit(rest)) {
        return;
      }
      Add("proceeded-after-bad-certificate",
          "the client sent data over TLS with a certificate it must reject",
          At(c.event, c.offset + skip, Printable(rest)));
      return;
    }
  }

  bool IsLastClientChunk(const Stream::Chunk& c) const {
    return &c == &client_tls_.chunks.back();
  }

  // Commands a client ends or abandons a session with: sending them trusts
  // nothing the server said.
  bool IsQuit(std::string_view line) const {
    return p_.Classify(line) == protocol::Command::kQuit;
  }
  bool IsStartTls(std::string_view line) const {
    return p_.Classify(line) == protocol::Command::kStartTls;
  }
  // A line after a refused message command that is no command is the
  // message itself.
  bool IsCommand(std::string_view line) const {
    return p_.Classify(line) != protocol::Command::kUnknown;
  }

  const OracleInput& input_;
  const protocol::Protocol& p_;
  const std::vector<Event>& events_;
  Stream client_plain_, client_tls_, server_plain_, server_tls_;
  std::vector<Finding> findings_;
};

}  // namespace

const std::vector<OracleInfo>& Oracles() {
  // The rules name each protocol's words where they differ: SMTP's go-ahead
  // to STARTTLS is a 220 reply, IMAP's the tagged OK with its tag.
  static const auto* oracles = new std::vector<OracleInfo>{
      {"early-tls",
       "after STARTTLS (POP3 STLS), send nothing until the server's go-ahead "
       "(SMTP 220, IMAP tagged OK, POP3 +OK) is complete"},
      {"tls-on-incomplete-reply",
       "start TLS only on a complete go-ahead: its line end received, and "
       "the final line (not an SMTP 220- continuation, not an IMAP untagged "
       "or continuation line)"},
      {"pipelined-after-starttls",
       "send no plaintext after STARTTLS (RFC 3207 section 4.2, RFC 2595 "
       "sections 3.1 and 4)"},
      {"no-ehlo-after-tls", "send EHLO first over TLS (SMTP)"},
      {"acted-on-injected-reply",
       "after TLS, wait for the server's answers over TLS; never use replies "
       "received before TLS (SMTP: answer to EHLO; POP3: answer to the first "
       "command)"},
      {"plaintext-after-refusal",
       "when STARTTLS is missing, refused or fails, send no mail (SMTP MAIL, "
       "RCPT, DATA; IMAP mailbox commands; POP3 STAT, LIST, RETR...) in "
       "plain text"},
      {"credentials-in-plaintext",
       "send credentials (SMTP AUTH; IMAP LOGIN, AUTHENTICATE; POP3 USER, "
       "PASS, APOP, AUTH) only over TLS"},
      {"proceeded-after-bad-certificate",
       "send nothing over TLS when the certificate does not verify"},
      {"second-starttls", "do not send STARTTLS over TLS"},
      {"downgrade-by-reconnect",
       "after a failed handshake, do not come back and send mail or "
       "credentials in plain text"},
      {"tls-without-starttls",
       "start TLS only after sending STARTTLS and reading its go-ahead"},
      {"tls-without-220",
       "start TLS only when STARTTLS was answered with the go-ahead (SMTP "
       "220, IMAP tagged OK, POP3 +OK); any other answer means no TLS"},
      {"login-while-disabled",
       "do not send LOGIN while the server's capabilities include "
       "LOGINDISABLED (IMAP, RFC 9051 section 6.2.3)"},
      {"capabilities-from-before-tls",
       "after TLS, rely only on capabilities announced over TLS: discard "
       "those learned before (IMAP, RFC 9051 section 6.2.1; POP3, RFC 2595 "
       "section 4)"},
      {"continued-after-preauth",
       "after a greeting that skips logging in (IMAP PREAUTH), STARTTLS is "
       "no longer possible: log out rather than go on in plain text"},
      {"hang", "make progress or close the connection before the deadline"},
  };
  return *oracles;
}

std::vector<Finding> RunOracles(const OracleInput& input) {
  return Checker(input).Run();
}

}  // namespace starttls::server
