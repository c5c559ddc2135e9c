// The store contract (store.h): etcd v3 semantics that every backend must show the same way.
// Runs once per backend in store_contract.h.
#include "tests/unit/store/store_contract.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace ipfence::store {
namespace {

using testing::StoreBackend;
using testing::StoreHarness;

class StoreContract : public ::testing::TestWithParam<StoreBackend> {
 protected:
  void SetUp() override {
    if (auto why = GetParam().skip_reason(); !why.empty()) GTEST_SKIP() << why;
    harness_ = GetParam().make();
  }
  Store& store() { return harness_->store(); }

  KeyValue must_get(const std::string& key) {
    auto kv = store().get(key);
    EXPECT_TRUE(kv.ok()) << kv.error().message;
    EXPECT_TRUE(kv.ok() && kv->has_value()) << key << " is missing";
    return kv.ok() && kv->has_value() ? **kv : KeyValue{};
  }
  std::int64_t must_create(const std::string& key, const std::string& value) {
    auto revision = store().create(key, value);
    EXPECT_TRUE(revision.ok()) << revision.error().message;
    return revision.ok() ? *revision : -1;
  }
  TxnResult must_commit(const Txn& txn) {
    auto result = store().commit(txn);
    EXPECT_TRUE(result.ok()) << result.error().message;
    return result.ok() ? *result : TxnResult{};
  }
  // Everything a watch delivers until `count` events arrived (or two seconds passed).
  std::vector<Event> collect(Watch& watch, std::size_t count) {
    std::vector<Event> all;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (all.size() < count && std::chrono::steady_clock::now() < deadline) {
      auto events = watch.next(std::chrono::milliseconds(200));
      EXPECT_TRUE(events.ok()) << events.error().message;
      if (!events.ok()) break;
      all.insert(all.end(), events->begin(), events->end());
    }
    return all;
  }
  std::int64_t current_revision() {
    auto listed = store().list("");
    EXPECT_TRUE(listed.ok());
    return listed.ok() ? listed->revision : -1;
  }

  std::unique_ptr<StoreHarness> harness_;
};

TEST_P(StoreContract, GetOfMissingKeyIsEmpty) {
  auto kv = store().get("nope");
  ASSERT_TRUE(kv.ok()) << kv.error().message;
  EXPECT_FALSE(kv->has_value());
}

TEST_P(StoreContract, CreateIfAbsent) {
  const auto revision = must_create("ips/a", "pod-1");
  EXPECT_GT(revision, 0);
  EXPECT_EQ(must_get("ips/a"), (KeyValue{"ips/a", "pod-1", revision, revision, 1}));

  auto again = store().create("ips/a", "pod-2");
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().code, ErrorCode::already_exists);
  EXPECT_NE(again.error().message.find("ips/a"), std::string::npos) << again.error().message;
  EXPECT_EQ(must_get("ips/a").value, "pod-1");
  EXPECT_EQ(current_revision(), revision) << "a failed compare must not bump the revision";
}

TEST_P(StoreContract, UpdateComparesModRevision) {
  const auto created = must_create("k", "v1");
  auto updated = store().update("k", "v2", created);
  ASSERT_TRUE(updated.ok()) << updated.error().message;
  EXPECT_EQ(*updated, created + 1);
  EXPECT_EQ(must_get("k"), (KeyValue{"k", "v2", created, *updated, 2}));

  auto stale = store().update("k", "v3", created);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::conflict);
  EXPECT_NE(stale.error().message.find("k"), std::string::npos);
  EXPECT_EQ(must_get("k").value, "v2");

  auto missing = store().update("absent", "x", 1);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::conflict);
}

TEST_P(StoreContract, RemoveComparesModRevisionAndRecreateStartsOver) {
  const auto created = must_create("k", "v1");
  const auto updated = store().update("k", "v2", created);
  ASSERT_TRUE(updated.ok());

  auto stale = store().remove("k", created);
  ASSERT_FALSE(stale.ok());
  EXPECT_EQ(stale.error().code, ErrorCode::conflict);
  EXPECT_TRUE(store().get("k")->has_value());

  auto removed = store().remove("k", *updated);
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_EQ(*removed, *updated + 1);
  EXPECT_FALSE(store().get("k")->has_value());

  const auto recreated = must_create("k", "v3");
  EXPECT_EQ(recreated, *removed + 1);
  EXPECT_EQ(must_get("k"), (KeyValue{"k", "v3", recreated, recreated, 1}));
}

TEST_P(StoreContract, VersionCountsPutsSinceCreation) {
  auto revision = must_create("k", "0");
  for (int i = 1; i < 5; ++i) {
    auto next = store().update("k", std::to_string(i), revision);
    ASSERT_TRUE(next.ok()) << next.error().message;
    revision = *next;
  }
  const auto kv = must_get("k");
  EXPECT_EQ(kv.version, 5);
  EXPECT_EQ(kv.mod_revision, revision);
  EXPECT_EQ(kv.create_revision, revision - 4);
}

TEST_P(StoreContract, MultiOpTxnAppliesAtOneRevision) {
  must_create("old", "x");
  const auto before = current_revision();
  const auto result = must_commit(
      Txn{{Compare::absent("a"), Compare::absent("b"), Compare::unchanged("old", before)},
          {Op::put("a", "1"), Op::put("b", "2"), Op::del("old")}});
  ASSERT_TRUE(result.succeeded);
  EXPECT_EQ(result.revision, before + 1) << "one transaction, one revision";
  EXPECT_EQ(must_get("a").mod_revision, before + 1);
  EXPECT_EQ(must_get("b").mod_revision, before + 1);
  EXPECT_FALSE(store().get("old")->has_value());
}

TEST_P(StoreContract, FailedCompareAppliesNothingAndNamesTheKeys) {
  const auto a = must_create("a", "1");
  must_create("c", "3");
  const auto before = current_revision();
  const auto result =
      must_commit(Txn{{Compare::absent("c"), Compare::unchanged("a", a), Compare::absent("x"),
                       Compare::unchanged("b", 7)},
                      {Op::put("x", "new"), Op::del("a"), Op::put("c", "changed")}});
  EXPECT_FALSE(result.succeeded);
  EXPECT_EQ(result.failed_keys, (std::vector<std::string>{"c", "b"}));
  EXPECT_EQ(result.revision, before);
  EXPECT_EQ(current_revision(), before);
  EXPECT_FALSE(store().get("x")->has_value());
  EXPECT_EQ(must_get("a").value, "1");
  EXPECT_EQ(must_get("c").value, "3");
}

TEST_P(StoreContract, TxnWithoutComparesAlwaysApplies) {
  const auto result = must_commit(Txn{{}, {Op::put("a", "1"), Op::put("b", "2")}});
  EXPECT_TRUE(result.succeeded);
  EXPECT_EQ(must_get("b").value, "2");
}

// etcd: a transaction that changes nothing succeeds without a new revision.
TEST_P(StoreContract, DeletingAnAbsentKeyChangesNothing) {
  must_create("a", "1");
  const auto before = current_revision();
  const auto result = must_commit(Txn{{}, {Op::del("never-was")}});
  EXPECT_TRUE(result.succeeded);
  EXPECT_EQ(result.revision, before);
  EXPECT_EQ(current_revision(), before);
}

TEST_P(StoreContract, RejectsMalformedTxns) {
  auto duplicate = store().commit(Txn{{}, {Op::put("a", "1"), Op::del("a")}});
  ASSERT_FALSE(duplicate.ok());
  EXPECT_EQ(duplicate.error().code, ErrorCode::invalid_argument);
  auto empty_key = store().commit(Txn{{}, {Op::put("", "1")}});
  ASSERT_FALSE(empty_key.ok());
  EXPECT_EQ(empty_key.error().code, ErrorCode::invalid_argument);
  EXPECT_TRUE(store().list("")->kvs.empty());
}

TEST_P(StoreContract, ValuesAreBytes) {
  const std::string binary("\0\xff\xfe{\"\n\x80", 8);
  const std::string key = "bin/\xc3\x28";  // not UTF-8
  must_create(key, binary);
  must_create("text", "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
  EXPECT_EQ(must_get(key).value, binary);
  auto second = harness_->second_client();
  auto kv = second->get(key);
  ASSERT_TRUE(kv.ok() && kv->has_value());
  EXPECT_EQ((*kv)->value, binary);
  EXPECT_EQ((*second->get("text"))->value, "h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST_P(StoreContract, ListByPrefixIsSortedWithRevision) {
  for (const char* key :
       {"pools/b", "ips/p/10.0.0.3", "ips/p/10.0.0.1", "ips/q/1", "ips/p/10.0.0.2", "ips/p"})
    must_create(key, key);
  const auto revision = current_revision();
  auto listed = store().list("ips/p/");
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  EXPECT_EQ(listed->revision, revision);
  std::vector<std::string> keys;
  for (const auto& kv : listed->kvs) keys.push_back(kv.key);
  EXPECT_EQ(keys, (std::vector<std::string>{"ips/p/10.0.0.1", "ips/p/10.0.0.2", "ips/p/10.0.0.3"}));
  EXPECT_EQ(listed->kvs[0].value, "ips/p/10.0.0.1");
  EXPECT_EQ(store().list("")->kvs.size(), 6u);
  EXPECT_TRUE(store().list("zzz")->kvs.empty());
  EXPECT_EQ(store().list("zzz")->revision, revision);
}

TEST_P(StoreContract, ListEachSeesWhatListSees) {
  for (const char* key : {"ips/p/2", "ips/p/1", "ips/q/1", "pools/a"}) must_create(key, key);
  ASSERT_TRUE(
      store().update("ips/p/1", "changed", store().get("ips/p/1").value()->mod_revision).ok());
  for (const std::string prefix : {"", "ips/p/", "zzz"}) {
    SCOPED_TRACE(prefix);
    auto listed = store().list(prefix);
    ASSERT_TRUE(listed.ok()) << listed.error().message;
    std::vector<KeyValue> seen;
    auto revision = store().list_each(prefix, [&](const KeyValue& kv) { seen.push_back(kv); });
    ASSERT_TRUE(revision.ok()) << revision.error().message;
    EXPECT_EQ(*revision, listed->revision);
    EXPECT_EQ(seen, listed->kvs);
  }
}

// Several prefixes: each one's keys in key order, the prefixes in the order given, one revision.
TEST_P(StoreContract, ListEachVisitsPrefixesInTheGivenOrder) {
  for (const char* key : {"b/2", "a/1", "c/1", "b/1", "d/1"}) must_create(key, key);
  std::vector<std::string> seen;
  const std::vector<std::string> prefixes = {"c/", "a/", "zz/", "b/"};
  auto revision = store().list_each(
      prefixes, [&](const KeyValue& kv) { seen.push_back(kv.key + "=" + kv.value); });
  ASSERT_TRUE(revision.ok()) << revision.error().message;
  EXPECT_EQ(*revision, store().list("")->revision);
  EXPECT_EQ(seen, (std::vector<std::string>{"c/1=c/1", "a/1=a/1", "b/1=b/1", "b/2=b/2"}));
  seen.clear();
  ASSERT_TRUE(store()
                  .list_each(std::vector<std::string>{},
                             [&](const KeyValue& kv) { seen.push_back(kv.key); })
                  .ok());
  EXPECT_TRUE(seen.empty()) << "no prefix, no key";
}

TEST_P(StoreContract, WatchDeliversPutsAndDeletesInOrder) {
  const auto start = must_create("other", "x");
  const auto a1 = must_create("w/a", "1");
  must_create("skip/me", "x");
  const auto a2 = *store().update("w/a", "2", a1);
  const auto b = must_create("w/b", "1");
  const auto del = *store().remove("w/a", a2);

  auto watch = store().watch("w/", start);
  ASSERT_TRUE(watch.ok()) << watch.error().message;
  const auto events = collect(**watch, 4);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].type, Event::Type::put);
  EXPECT_EQ(events[0].kv, (KeyValue{"w/a", "1", a1, a1, 1}));
  EXPECT_EQ(events[1].kv, (KeyValue{"w/a", "2", a1, a2, 2}));
  EXPECT_EQ(events[2].kv, (KeyValue{"w/b", "1", b, b, 1}));
  EXPECT_EQ(events[3].type, Event::Type::del);
  EXPECT_EQ(events[3].kv.key, "w/a");
  EXPECT_EQ(events[3].kv.mod_revision, del);

  // Caught up: nothing more until the next change.
  auto none = (*watch)->next(std::chrono::milliseconds(50));
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

TEST_P(StoreContract, WatchStartsAfterTheGivenRevision) {
  must_create("w/1", "x");
  const auto second = must_create("w/2", "x");
  must_create("w/3", "x");
  auto watch = store().watch("w/", second);
  ASSERT_TRUE(watch.ok());
  const auto events = collect(**watch, 1);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.key, "w/3");
}

TEST_P(StoreContract, WatchSeesLaterCommitsOfAnotherClient) {
  auto other = harness_->second_client();
  auto watch = store().watch("w/", current_revision());
  ASSERT_TRUE(watch.ok());
  const auto begin = std::chrono::steady_clock::now();
  std::thread writer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    EXPECT_TRUE(other->create("w/x", "from other").ok());
  });
  const auto events = collect(**watch, 1);
  const auto took = std::chrono::steady_clock::now() - begin;
  writer.join();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].kv.value, "from other");
  // The agent needs a change within 100 ms; allow slack for a loaded test machine.
  EXPECT_LT(took, std::chrono::milliseconds(1000));
  EXPECT_EQ(must_get("w/x").value, "from other") << "another client's commit is readable";
}

TEST_P(StoreContract, WatchOfCompactedRevisionFails) {
  const auto first = must_create("w/1", "x");
  must_create("w/2", "x");
  const auto last = must_create("w/3", "x");
  ASSERT_TRUE(harness_->compact(last).ok());

  // The error may come from watch() or from the first next(), as with etcd.
  auto watch = store().watch("w/", first);
  ErrorCode code = ErrorCode::internal;
  if (!watch.ok()) {
    code = watch.error().code;
  } else {
    auto events = (*watch)->next(std::chrono::milliseconds(100));
    ASSERT_FALSE(events.ok()) << "events from compacted history";
    code = events.error().code;
  }
  EXPECT_EQ(code, ErrorCode::compacted);

  // From the compacted revision on, watching works again.
  auto fresh = store().watch("w/", last);
  ASSERT_TRUE(fresh.ok()) << fresh.error().message;
  must_create("w/4", "x");
  EXPECT_EQ(collect(**fresh, 1).size(), 1u);
  EXPECT_EQ(must_get("w/1").value, "x") << "compaction keeps data";
}

TEST_P(StoreContract, ConcurrentCreateIfAbsentHasOneWinnerPerKey) {
  constexpr int kThreads = 4;
  constexpr int kKeys = 40;
  const auto before = current_revision();  // a shared etcd did not start at 0
  std::vector<std::unique_ptr<Store>> clients;
  for (int t = 0; t < kThreads; ++t) clients.push_back(harness_->second_client());
  std::atomic<int> wins[kKeys] = {};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int k = 0; k < kKeys; ++k) {
        auto created = clients[t]->create("ips/" + std::to_string(k), "t" + std::to_string(t));
        if (created.ok())
          ++wins[k];
        else
          EXPECT_EQ(created.error().code, ErrorCode::already_exists) << created.error().message;
      }
    });
  for (auto& thread : threads) thread.join();
  for (int k = 0; k < kKeys; ++k) EXPECT_EQ(wins[k].load(), 1) << "key " << k;
  EXPECT_EQ(store().list("ips/")->kvs.size(), static_cast<std::size_t>(kKeys));
  EXPECT_EQ(current_revision(), before + kKeys) << "one revision per winning create";
}

INSTANTIATE_TEST_SUITE_P(Backends, StoreContract, ::testing::ValuesIn(testing::store_backends()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace ipfence::store
