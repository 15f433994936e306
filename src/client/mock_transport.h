// GoogleMock Transport for driving the SMTP state machine byte by byte.
#ifndef STARTTLS_CLIENT_MOCK_TRANSPORT_H_
#define STARTTLS_CLIENT_MOCK_TRANSPORT_H_

#include <gmock/gmock.h>

#include <cstddef>
#include <string>
#include <string_view>

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

}  // namespace starttls::client

#endif  // STARTTLS_CLIENT_MOCK_TRANSPORT_H_
