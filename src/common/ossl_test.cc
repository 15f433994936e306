#include "starttls/ossl.h"

#include <gtest/gtest.h>

namespace starttls::ossl {
namespace {

TEST(DrainErrors, ReturnsFallbackWhenQueueIsEmpty) {
  ERR_clear_error();
  EXPECT_EQ(DrainErrors("nothing"), "nothing");
}

TEST(DrainErrors, EmptiesTheQueueAndNamesTheFailure) {
  ERR_clear_error();
  // Loading a certificate from garbage queues at least one error.
  BioPtr bio(BIO_new_mem_buf("not a certificate", -1));
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  ASSERT_EQ(cert, nullptr);
  std::string message = DrainErrors();
  EXPECT_NE(message.find("PEM"), std::string::npos) << message;
  EXPECT_EQ(ERR_peek_error(), 0u);
}

}  // namespace
}  // namespace starttls::ossl
