// The etcd backend as a module (ipam/store/etcd_module.h): where it is looked for, that the
// build's module loads and opens stores, and what a missing, foreign or other build's module
// is told.
#include "ipam/store/etcd_module.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdlib>

#include "ipam/store/store.h"

namespace ipfence::store {
namespace {

using ::testing::HasSubstr;

const std::string kBuiltModule =
    std::string(IPFENCE_BINARY_DIR) + "/lib/ipfence/libipfence-etcd.so";

TEST(EtcdModule, IsLookedForBesideTheProgramOrWhereTheVariableSays) {
  ::unsetenv(etcd_module::kPathVariable);
  // This test binary is in build/tests: the module is in build/lib/ipfence, as it is in
  // /usr/local/lib/ipfence beside /usr/local/bin.
  EXPECT_EQ(etcd_module::candidate_paths(), std::vector<std::string>{kBuiltModule});
  ::setenv(etcd_module::kPathVariable, "/opt/x/libipfence-etcd.so", 1);
  EXPECT_EQ(etcd_module::candidate_paths(), std::vector<std::string>{"/opt/x/libipfence-etcd.so"});
  ::unsetenv(etcd_module::kPathVariable);
}

TEST(EtcdModule, TheBuiltModuleLoadsAndOpensStores) {
  auto loaded = etcd_module::load(kBuiltModule);
  ASSERT_TRUE(loaded.ok()) << loaded.error().message;
  // Through the module's own open: nothing listens on port 1, and it says so by endpoint.
  std::unique_ptr<Store> store;
  Error error;
  const std::string url = "etcd://127.0.0.1:1?timeout=300ms";
  (*loaded)(&url, &store, &error);
  EXPECT_EQ(store, nullptr);
  EXPECT_EQ(error.code, ErrorCode::unavailable);
  EXPECT_THAT(error.message, HasSubstr("127.0.0.1:1"));
}

TEST(EtcdModule, AMissingModuleIsAnIoErrorSayingWhereToPutIt) {
  auto loaded = etcd_module::load("/nonexistent/lib/ipfence/libipfence-etcd.so");
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::io);
  const std::string& message = loaded.error().message;
  EXPECT_THAT(message, HasSubstr("etcd store module /nonexistent/lib/ipfence/libipfence-etcd.so "
                                 "could not be loaded ("));
  EXPECT_THAT(message, HasSubstr("No such file or directory"));
  EXPECT_THAT(message, HasSubstr("../lib/ipfence/libipfence-etcd.so"));
  EXPECT_THAT(message, HasSubstr("or set IPFENCE_ETCD_MODULE to its path"));
}

TEST(EtcdModule, ALibraryWithoutTheEntryPointsIsRefused) {
  auto loaded = etcd_module::load(FAKE_NOT_A_MODULE);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::io);
  EXPECT_THAT(loaded.error().message,
              HasSubstr(std::string(FAKE_NOT_A_MODULE) +
                        " is not an ipfence etcd module (it has no ipfence_etcd_module_abi)"));
}

TEST(EtcdModule, AModuleFromAnotherBuildIsRefusedNamingBothAbis) {
  auto loaded = etcd_module::load(FAKE_OTHER_ABI_MODULE);
  ASSERT_FALSE(loaded.ok());
  EXPECT_EQ(loaded.error().code, ErrorCode::io);
  EXPECT_THAT(loaded.error().message,
              HasSubstr("was built from other sources (ABI 0.0.0-another-build, this program " +
                        std::string(etcd_module::abi()) + ")"));
  EXPECT_THAT(std::string(etcd_module::abi()), ::testing::StartsWith(IPFENCE_VERSION "-"));
}

}  // namespace
}  // namespace ipfence::store
