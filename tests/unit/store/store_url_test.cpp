// open_store(url): the accepted forms, and errors that say what to use instead.
#include <gtest/gtest.h>

#include "ipam/store/store.h"
#include "tests/unit/store/temp_dir.h"

namespace ipfence::store {
namespace {

TEST(OpenStore, FileUrlAndBarePathOpenAFileStore) {
  testing::TempDir tmp;
  auto by_url = open_store("file://" + tmp.store_dir());
  ASSERT_TRUE(by_url.ok()) << by_url.error().message;
  EXPECT_EQ((*by_url)->describe(), "file://" + tmp.store_dir());
  ASSERT_TRUE((*by_url)->create("k", "v").ok());

  auto by_path = open_store(tmp.store_dir());
  ASSERT_TRUE(by_path.ok()) << by_path.error().message;
  EXPECT_EQ((*(*by_path)->get("k"))->value, "v") << "the same directory";

  auto localhost = open_store("file://localhost" + tmp.store_dir());
  ASSERT_TRUE(localhost.ok()) << localhost.error().message;
  EXPECT_EQ((*localhost)->describe(), "file://" + tmp.store_dir());
}

TEST(OpenStore, MemoryUrlOpensAnEmptyMemoryStore) {
  auto store = open_store("memory://");
  ASSERT_TRUE(store.ok()) << store.error().message;
  EXPECT_EQ((*store)->describe(), "memory://");
  EXPECT_TRUE((*store)->list("")->kvs.empty());
}

// The etcd forms are parsed by etcd_url.cpp (etcd_url_test.cpp); open_store hands them on
// and, with nothing listening, answers unavailable naming the endpoints.
TEST(OpenStore, EtcdUrlWithNothingListeningIsUnavailable) {
  auto store = open_store("etcd://127.0.0.1:1,127.0.0.1:2?timeout=500ms");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::unavailable);
  EXPECT_NE(store.error().message.find("127.0.0.1:1, 127.0.0.1:2"), std::string::npos)
      << store.error().message;
  auto bad = open_store("etcd://10.0.0.1:2379?colour=blue");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(bad.error().message.find("colour"), std::string::npos) << bad.error().message;
}

TEST(OpenStore, OtherFormsAreRejectedWithTheAcceptedOnes) {
  for (const char* url : {"", "var/lib/ipfence", "file://var/lib/ipfence", "file:relative",
                          "http://localhost:2379", "redis://x", "memory"}) {
    auto store = open_store(url);
    ASSERT_FALSE(store.ok()) << url;
    EXPECT_EQ(store.error().code, ErrorCode::invalid_argument) << url;
    for (const char* form : {"file:///", "etcd://", "memory://"})
      EXPECT_NE(store.error().message.find(form), std::string::npos)
          << url << ": " << store.error().message;
  }
}

TEST(OpenStore, UnusableDirectoryIsAnIoErrorNamingIt) {
  testing::TempDir tmp;
  const std::string file = tmp.path() + "/not-a-dir";
  FILE* f = std::fopen(file.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fclose(f);
  auto store = open_store("file://" + file + "/store");
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.error().code, ErrorCode::io);
  EXPECT_NE(store.error().message.find(file), std::string::npos) << store.error().message;
}

}  // namespace
}  // namespace ipfence::store
