// MemoryStore and KvState beyond the contract: the compaction knob and change checking.
#include "ipam/store/memory_store.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace ipfence::store
