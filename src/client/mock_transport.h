// GoogleMock Transport for driving the SMTP and IMAP state machines byte
// by byte, and scripts of what it reads and writes.
#ifndef STARTTLS_CLIENT_MOCK_TRANSPORT_H_
#define STARTTLS_CLIENT_MOCK_TRANSPORT_H_

#include <gmock/gmock.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "starttls/transport.h"

namespace starttls::client {

class MockTransport : public Transport {
 public:
  MOCK_METHOD((tl::expected<std::string, Error>), Read,
              (std::size_t max, Deadline deadline), (override));
  MOCK_METHOD((tl::expected<void, Error>), Write,
              (std::string_view data, Deadline deadline), (override));
  MOCK_METHOD((tl::expected<TlsInfo, Error>), DoHandshake,
              (const TlsOptions& options, Deadline deadline), (override));
  MOCK_METHOD(bool, secure, (), (const, override));
};

// One step of a scripted conversation, seen from the transport.
struct Step {
  enum Kind { kRead, kWrite, kHandshake } kind;
  std::string bytes;  // Returned by Read, or expected by Write.
};

inline Step Server(std::string bytes) {
  return {Step::kRead, std::move(bytes)};
}
inline Step Client(std::string bytes) {
  return {Step::kWrite, std::move(bytes)};
}
inline Step Handshake() { return {Step::kHandshake, ""}; }

// Expects exactly `script` of `transport`, a StrictMock, in the order of the
// caller's InSequence: each read returns its bytes, each write must be
// exactly its bytes, and the handshake must verify `servername`.
inline void ExpectScript(MockTransport& transport,
                         const std::vector<Step>& script,
                         std::string_view servername = "mail.example.test") {
  using ::testing::_;
  using ::testing::Field;
  using ::testing::Return;
  using ::testing::StrEq;
  for (const Step& step : script) {
    switch (step.kind) {
      case Step::kRead:
        EXPECT_CALL(transport, Read(_, _)).WillOnce(Return(step.bytes));
        break;
      case Step::kWrite:
        EXPECT_CALL(transport, Write(StrEq(step.bytes), _))
            .WillOnce(Return(tl::expected<void, Error>()));
        break;
      case Step::kHandshake:
        EXPECT_CALL(transport, DoHandshake(Field(&TlsOptions::servername,
                                                 std::string(servername)),
                                           _))
            .WillOnce(Return(TlsInfo{"TLSv1.3", "TLS_AES_256_GCM_SHA384"}));
        break;
    }
  }
}

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_MOCK_TRANSPORT_H_
