// The fuzz targets, as plain functions: each libFuzzer binary calls one of
// them from LLVMFuzzerTestOneInput, and fuzz_replay_test replays the
// committed corpora and crash regressions through them in every build.
//
// Each returns 0 and aborts (through a sanitizer or FUZZ_CHECK) when it finds
// a bug: a crash, a leak, undefined behaviour, or a broken invariant.
#ifndef STARTTLS_FUZZ_TARGETS_H_
#define STARTTLS_FUZZ_TARGETS_H_

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace starttls::fuzz {

// An invariant the code under test promises; a violation is a finding.
#define FUZZ_CHECK(cond)                                               \
  do {                                                                 \
    if (!(cond)) {                                                     \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, \
                   __LINE__, #cond);                                   \
      std::abort();                                                    \
    }                                                                  \
  } while (0)

// server/scenario.cc: the whole input is a scenario file.
int FuzzScenario(const uint8_t* data, size_t size);
// server/responder.cc: the first line names the capabilities offered, every
// further line is a client line, fed one by one.
int FuzzResponder(const uint8_t* data, size_t size);
// client_under_test/reply_parser.cc: the first byte sets the size of the
// chunks the rest is fed in.
int FuzzReplyParser(const uint8_t* data, size_t size);
// server/session.cc over server/wire.cc: a whole session over a socketpair,
// the input being the client (see session_target.cc for its layout).
int FuzzSession(const uint8_t* data, size_t size);
// server/import.cc: the first byte picks the format (auto, telnet, script,
// swaks, curl), the rest is the pasted text.
int FuzzImport(const uint8_t* data, size_t size);
// POP3: the reference client's reply reader, or the built-in responder
// (see pop3_target.cc for the layout).
int FuzzPop3(const uint8_t* data, size_t size);

struct Target {
  std::string_view name;  // also the folder under fuzz/corpus/
  int (*run)(const uint8_t*, size_t);
};

inline constexpr Target kTargets[] = {
    {"scenario", &FuzzScenario},
    {"responder", &FuzzResponder},
    {"reply_parser", &FuzzReplyParser},
    {"session", &FuzzSession},
    {"import", &FuzzImport},
    {"pop3", &FuzzPop3},
};

}  // namespace starttls::fuzz

#endif  // STARTTLS_FUZZ_TARGETS_H_
