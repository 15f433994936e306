#include "common/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace starttls {
namespace {

std::string Read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

mode_t Mode(const std::filesystem::path& p) {
  struct stat st {};
  EXPECT_EQ(stat(p.c_str(), &st), 0);
  return st.st_mode & 07777;
}

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "atomic-file.XXXXXX")
            .string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

// Both functions give the same result whatever the umask, whether or not
// the file exists, and leave no temporary file behind.
TEST_F(AtomicFileTest, NewAndExistingFilesGetTheContentAndTheMode) {
  mode_t old_umask = umask(077);
  std::filesystem::path p = dir_ / "report.json";
  ASSERT_TRUE(WriteNewFileAtomically(p, "first\n"));
  EXPECT_EQ(Read(p), "first\n");
  EXPECT_EQ(Mode(p), 0644);
  ASSERT_TRUE(WriteNewFileAtomically(p, "second\n", 0600));
  EXPECT_EQ(Read(p), "second\n");
  EXPECT_EQ(Mode(p), 0600);
  ASSERT_TRUE(WriteFileAtomically(p, "third\n"));
  EXPECT_EQ(Read(p), "third\n");
  EXPECT_EQ(Mode(p), 0644);
  umask(old_umask);
  int files = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator(dir_)) {
    ++files;
  }
  EXPECT_EQ(files, 1);
}

TEST_F(AtomicFileTest, AMissingDirectoryIsAnErrorNamingThePath) {
  std::filesystem::path p = dir_ / "missing" / "report.json";
  auto written = WriteNewFileAtomically(p, "x");
  ASSERT_FALSE(written);
  EXPECT_NE(written.error().find(p.string()), std::string::npos);
}

TEST_F(AtomicFileTest, AProducedFileIsItsPiecesInOrder) {
  std::filesystem::path p = dir_ / "report.json";
  auto written = WriteFileAtomicallyFrom(p, [](const auto& put) {
    for (std::string_view piece : {"a", "bc", "", "d\n"}) {
      if (!put(piece)) return std::string("write failed");
    }
    return std::string();
  });
  ASSERT_TRUE(written) << written.error();
  EXPECT_EQ(Read(p), "abcd\n");
}

TEST_F(AtomicFileTest, AProducerThatFailsLeavesTheOldFileAndNoTemporary) {
  std::filesystem::path p = dir_ / "report.json";
  ASSERT_TRUE(WriteFileAtomically(p, "old\n"));
  auto written = WriteFileAtomicallyFrom(p, [](const auto& put) {
    put("half of the new");
    return std::string("the source went away");
  });
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error(), p.string() + ": the source went away");
  EXPECT_EQ(Read(p), "old\n");
  int files = 0;
  for ([[maybe_unused]] const auto& e :
       std::filesystem::directory_iterator(dir_)) {
    ++files;
  }
  EXPECT_EQ(files, 1);
}

}  // namespace
}  // namespace starttls
