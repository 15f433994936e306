#include "scenario/catalogue.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace starttls::server {
namespace {

namespace fs = std::filesystem;

// A catalogue of its own under the test's temporary directory, holding
// empty files at the given relative paths (resolution never reads them).
fs::path Catalogue(std::string_view name,
                   std::initializer_list<std::string_view> files) {
  fs::path dir = fs::path(::testing::TempDir()) / "catalogue-test" / name;
  fs::remove_all(dir);
  for (std::string_view f : files) {
    fs::create_directories((dir / f).parent_path());
    std::ofstream(dir / f) << "";
  }
  return dir;
}

std::string Error(const fs::path& arg, const std::optional<fs::path>& dir) {
  auto r = ResolveScenario(arg, dir);
  return r ? "resolved to " + r->string() : r.error().ToString();
}

TEST(ResolveScenario, AFileThatExistsIsTakenAsGiven) {
  fs::path dir = Catalogue("as-given", {"mine.smtp"});
  EXPECT_EQ(ResolveScenario(dir / "mine.smtp", std::nullopt),
            dir / "mine.smtp");
}

TEST(ResolveScenario, ARelativePathNotFoundHereIsLookedUpInTheCatalogue) {
  fs::path dir = Catalogue("relative", {"control/hello.smtp"});
  EXPECT_EQ(ResolveScenario("control/hello.smtp", dir),
            dir / "control/hello.smtp");
}

TEST(ResolveScenario, TheExtensionMayBeLeftOutWhenOnlyOneFileHasTheName) {
  fs::path dir = Catalogue("no-extension", {"control/hello.imap"});
  EXPECT_EQ(ResolveScenario("control/hello", dir), dir / "control/hello.imap");
}

TEST(ResolveScenario, AFamilyFileWinsOverItsMembersAndNamesThemToo) {
  fs::path dir = Catalogue(
      "family", {"certificates/expired.scenario", "certificates/expired.smtp"});
  EXPECT_EQ(ResolveScenario("certificates/expired", dir),
            dir / "certificates/expired.scenario");
  // A member with no file of its own is named through its family file, as
  // LoadScenarios() reads it.
  EXPECT_EQ(ResolveScenario("certificates/expired.pop3", dir),
            dir / "certificates/expired.pop3");
}

TEST(ResolveScenario, ANameOfSeveralScenariosAsksForTheExtension) {
  fs::path dir = Catalogue("ambiguous", {"t/x.smtp", "t/x.pop3"});
  EXPECT_EQ(Error("t/x", dir),
            "t/x: names several scenarios in the catalogue (x.smtp, x.pop3); "
            "give the extension");
}

TEST(ResolveScenario, ANameFoundNowhereSaysWhereItWasLookedFor) {
  fs::path dir = Catalogue("nowhere", {"control/hello.smtp"});
  EXPECT_EQ(Error("control/goodbye", dir),
            "control/goodbye: no such file, here or in the catalogue (" +
                dir.string() + ")");
  EXPECT_EQ(Error(dir / "control/goodbye.smtp", dir),
            (dir / "control/goodbye.smtp").string() + ": no such file");
  EXPECT_EQ(Error("control/goodbye.smtp", std::nullopt),
            "control/goodbye.smtp: no such file, and no catalogue to look in "
            "(STARTTLS_MOCK_SCENARIOS is not set)");
}

TEST(CatalogueFiles, AreEveryFileButTheDocumentationInOrder) {
  fs::path dir = Catalogue("files", {"b/y.smtp", "README.md", "a/x.scenario",
                                     "a/README.md", "b/a.pop3"});
  EXPECT_EQ(CatalogueFiles(dir),
            (std::vector<fs::path>{dir / "a/x.scenario", dir / "b/a.pop3",
                                   dir / "b/y.smtp"}));
}

TEST(CatalogueFiles, ACatalogueThatCannotBeReadIsAnErrorNotAnEmptyList) {
  fs::path dir = Catalogue("unreadable", {});
  auto missing = CatalogueFiles(dir / "missing");
  ASSERT_FALSE(missing.has_value());
  EXPECT_EQ(
      missing.error().rfind(
          (dir / "missing").string() + ": cannot read the catalogue: ", 0),
      0u)
      << missing.error();
  Catalogue("unreadable", {"file.smtp"});
  EXPECT_FALSE(CatalogueFiles(dir / "file.smtp").has_value());
}

TEST(CatalogueDir, TheEnvironmentVariableOverridesTheInstalledCatalogue) {
  fs::path dir = Catalogue("from-env", {});
  ASSERT_EQ(setenv(kCatalogueEnv, dir.c_str(), 1), 0);
  EXPECT_EQ(CatalogueDir(), dir);
  // Set but missing is still the one to use, so the mistake shows.
  ASSERT_EQ(setenv(kCatalogueEnv, (dir / "missing").c_str(), 1), 0);
  EXPECT_EQ(CatalogueDir(), dir / "missing");
  // Empty is unset.
  ASSERT_EQ(setenv(kCatalogueEnv, "", 1), 0);
  EXPECT_NE(CatalogueDir(), fs::path());
  ASSERT_EQ(unsetenv(kCatalogueEnv), 0);
}

TEST(CatalogueDir, ABinaryInTheBuildTreeFindsItsCheckoutsCatalogue) {
  ASSERT_EQ(unsetenv(kCatalogueEnv), 0);
  auto dir = CatalogueDir();
  ASSERT_TRUE(dir.has_value());
  EXPECT_TRUE(fs::is_regular_file(*dir / "control/hotmail-2009.smtp"))
      << dir->string();
}

}  // namespace
}  // namespace starttls::server
