#include "common/ascii.h"

#include <gtest/gtest.h>

namespace starttls {
namespace {

TEST(Ascii, FoldsLettersOnlyWhateverTheLocale) {
  EXPECT_EQ(AsciiUpper("ehlo mail.Example-1.test"), "EHLO MAIL.EXAMPLE-1.TEST");
  EXPECT_EQ(AsciiLower("STARTTLS\xC4"),
            "starttls\xC4");              // a byte >= 0x80 stays
  EXPECT_EQ(AsciiUpper("[@`{"), "[@`{");  // the neighbours of the letters
}

TEST(Ascii, ComparesWithoutCaseAndOnlyWholeStrings) {
  EXPECT_TRUE(EqualsNoCase("StartTls", "STARTTLS"));
  EXPECT_FALSE(EqualsNoCase("STARTTLS", "STARTTL"));
  EXPECT_TRUE(StartsWithNoCase("Date: now", "date:"));
  EXPECT_FALSE(StartsWithNoCase("Dat", "date:"));
}

}  // namespace
}  // namespace starttls
