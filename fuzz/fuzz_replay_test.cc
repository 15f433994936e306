// Replays every committed corpus input (fuzz/corpus/<target>/) and every
// crash regression (fuzz/regressions/<target>/) through its fuzz target, so
// that the unit tests, and the sanitizer build in CI, run them all.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "fuzz/targets.h"

namespace starttls::fuzz {
namespace {

namespace fs = std::filesystem;

std::vector<fs::path> Inputs(std::string_view folder, std::string_view target) {
  fs::path dir = fs::path(STARTTLS_FUZZ_DIR) / folder / target;
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.is_regular_file()) files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// A target checks its invariants with FUZZ_CHECK, which prints the input's
// trouble and aborts: a broken invariant ends this test's process, and CTest
// reports the test failed. (Its return value is libFuzzer's, always 0.)
void Replay(const Target& target, const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  ASSERT_TRUE(in) << file;
  std::string bytes((std::istreambuf_iterator<char>(in)),
                    std::istreambuf_iterator<char>());
  SCOPED_TRACE(file.string());
  (void)target.run(reinterpret_cast<const uint8_t*>(bytes.data()),
                   bytes.size());
}

class FuzzReplayTest : public ::testing::TestWithParam<Target> {};

TEST_P(FuzzReplayTest, CorpusRunsClean) {
  auto files = Inputs("corpus", GetParam().name);
  EXPECT_FALSE(files.empty()) << "no seed corpus for " << GetParam().name;
  for (const fs::path& file : files) Replay(GetParam(), file);
}

TEST_P(FuzzReplayTest, CrashRegressionsRunClean) {
  auto files = Inputs("regressions", GetParam().name);
  if (files.empty()) {
    GTEST_SKIP() << "no crash regression recorded for " << GetParam().name;
  }
  for (const fs::path& file : files) Replay(GetParam(), file);
}

INSTANTIATE_TEST_SUITE_P(Targets, FuzzReplayTest, ::testing::ValuesIn(kTargets),
                         [](const auto& info) {
                           return std::string(info.param.name);
                         });

}  // namespace
}  // namespace starttls::fuzz
