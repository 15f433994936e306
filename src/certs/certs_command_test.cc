#include "certs/certs_command.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include "certs/catalogue.h"

namespace starttls::certs {
namespace {

TEST(ProfilesJson, HasOneObjectPerProfileFromTheSameTable) {
  nlohmann::json json = ProfilesJson();
  ASSERT_EQ(json.size(), Profiles().size());
  for (size_t i = 0; i < json.size(); ++i) {
    const Profile& p = Profiles()[i];
    EXPECT_EQ(json[i]["name"], p.name);
    EXPECT_EQ(json[i]["verify_error"], p.openssl.verify_error);
    EXPECT_EQ(json[i]["verify_code"], p.openssl.verify_code);
    EXPECT_EQ(json[i]["policy_dependent"], p.policy_dependent());
    EXPECT_EQ(json[i]["twin"].is_null(), p.twin.empty());
    EXPECT_EQ(json[i]["alert"].is_null(), p.openssl.alert.empty());
  }
}

TEST(ProfileTable, HasAHeaderAndOneRowPerProfile) {
  std::istringstream table(ProfileTable());
  std::string line;
  std::getline(table, line);
  EXPECT_TRUE(line.starts_with("PROFILE")) << line;
  for (const Profile& p : Profiles()) {
    ASSERT_TRUE(std::getline(table, line));
    EXPECT_TRUE(line.starts_with(std::string(p.name) + " ")) << line;
    EXPECT_NE(line.find(p.openssl.verify_error), std::string::npos) << line;
  }
  EXPECT_FALSE(std::getline(table, line));
}

int RunCommand(const CertsOptions& options, std::string* err_text) {
  std::ostringstream out;
  std::ostringstream err;
  int status = RunCertsCommand(options, out, err);
  *err_text = err.str();
  return status;
}

TEST(RunCertsCommand, BadInputIsOneLineAndExitTwoWithNothingWritten) {
  std::filesystem::path dir =
      std::filesystem::temp_directory_path() / "certs_command_test_unused";
  std::string err;
  for (const CertsOptions& options :
       {CertsOptions{.out = dir, .profiles = {"nope"}},
        CertsOptions{.out = dir, .hosts = {"bad host"}},
        CertsOptions{.out = ""},
        CertsOptions{.out = dir.string() + "/missing/out"}}) {
    EXPECT_EQ(RunCommand(options, &err), kCertsBadInput) << err;
    EXPECT_EQ(std::count(err.begin(), err.end(), '\n'), 1) << err;
    EXPECT_FALSE(std::filesystem::exists(dir));
  }
}

}  // namespace
}  // namespace starttls::certs
