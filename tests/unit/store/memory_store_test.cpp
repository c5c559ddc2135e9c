// MemoryStore, KvState and KeyIndex beyond the contract: the compaction knob, change checking
// and how keys are kept.
#include "ipam/store/memory_store.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>

namespace ipfence::store {
namespace {

TEST(MemoryStore, CompactionFailsOnlyWatchesThatNeedTheLostHistory) {
  MemoryStore store;
  ASSERT_TRUE(store.create("w/a", "1").ok());
  auto caught_up = store.watch("w/", 1);
  ASSERT_TRUE(caught_up.ok());
  auto behind = store.watch("w/", 0);
  ASSERT_TRUE(behind.ok());
  ASSERT_TRUE(store.create("x/unrelated", "1").ok());
  // The caught-up watch sees nothing under its prefix and moves past revision 2.
  ASSERT_TRUE((*caught_up)->next(std::chrono::milliseconds(0))->empty());
  store.compact(2);
  ASSERT_TRUE(store.create("w/b", "1").ok());
  auto events = (*caught_up)->next(std::chrono::milliseconds(0));
  ASSERT_TRUE(events.ok()) << events.error().message;
  EXPECT_EQ(events->size(), 1u);
  EXPECT_EQ((*behind)->next(std::chrono::milliseconds(0)).error().code, ErrorCode::compacted);
  EXPECT_EQ(store.watch("", 1).error().code, ErrorCode::compacted);
  EXPECT_TRUE(store.watch("", 2).ok());
}

TEST(MemoryStore, CompactionIsClampedToTheCurrentRevision) {
  MemoryStore store;
  ASSERT_TRUE(store.create("a", "1").ok());
  store.compact(100);
  EXPECT_TRUE(store.watch("", 1).ok());
  EXPECT_FALSE(store.watch("", 0).ok());
}

TEST(KvState, ApplyRejectsChangesThatDoNotFit) {
  KvState state;
  Change create{1, {Event{Event::Type::put, KeyValue{"a", "1", 1, 1, 1}}}};
  ASSERT_TRUE(state.apply(create).ok());
  const std::vector<Change> misfits = {
      {3, {Event{Event::Type::put, KeyValue{"b", "1", 3, 3, 1}}}},  // skips revision 2
      {2, {Event{Event::Type::put, KeyValue{"a", "2", 2, 2, 1}}}},  // re-creates a live key
      {2, {Event{Event::Type::put, KeyValue{"a", "2", 1, 2, 3}}}},  // version jumps
      {2, {Event{Event::Type::del, KeyValue{"zz", {}, 0, 2, 0}}}},  // deletes an absent key
      {2, {}},                                                      // changes nothing
  };
  for (const auto& change : misfits) {
    EXPECT_EQ(state.apply(change).error().code, ErrorCode::corrupt);
    EXPECT_EQ(state.revision(), 1);
    EXPECT_EQ(state.get("a")->value, "1");
  }
}

// KeyIndex keeps each key's length in front of its bytes (a varint): lengths around the
// varint's steps, and bytes that are not text, must come back as they went in, in order.
TEST(KeyIndex, KeysOfEveryLengthAndByteComeBackInOrder) {
  KeyIndex<int> index;
  std::map<std::string, int> want;
  int n = 0;
  for (std::size_t length : {1, 2, 126, 127, 128, 129, 300, 16383, 16384, 20000}) {
    for (char fill : {'a', '\0', '\xff'}) {
      std::string key(length, fill);
      key.back() = static_cast<char>('0' + n % 10);
      ASSERT_TRUE(index.insert(key, {1, 1, 1, n}));
      EXPECT_FALSE(index.insert(key, {2, 2, 2, -1})) << "a second insert of one key";
      want[key] = n++;
    }
  }
  std::map<std::string, int> got;
  std::vector<std::string> order;
  index.for_each("", [&](std::string_view key, const auto& entry) {
    got[std::string(key)] = entry.value;
    order.emplace_back(key);
  });
  EXPECT_EQ(got, want);
  EXPECT_TRUE(std::is_sorted(order.begin(), order.end()));
  for (const auto& [key, value] : want) {
    ASSERT_NE(index.find(key), nullptr);
    EXPECT_EQ(index.find(key)->value, value);
  }
  EXPECT_EQ(index.find(std::string(127, 'a')), nullptr);
}

}  // namespace
}  // namespace ipfence::store
