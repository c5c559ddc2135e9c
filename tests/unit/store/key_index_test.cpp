// KeyIndex keeps a snapshot's keys front-coded in compact blocks (sorted_keys.h) and later keys
// as heap nodes: whichever part a key is in, it is found, listed in text order, changed,
// deleted and put back as a std::map would, the value a change replaces is released exactly
// once, and compact_keys() moves everything into the blocks without changing what is seen.
#include "ipam/store/key_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "ipam/store/packed_uint.h"

namespace ipfence::store {
namespace {

// As FileStore keeps its index: revisions and versions in 6 bytes each.
using Index = KeyIndex<int, PackedUint<6>>;

struct Model {
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  int value = 0;
};

std::string hex_id(std::mt19937& random) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string id;
  for (int i = 0; i < 64; ++i) id += kDigits[random() % 16];
  return id;
}

// Keys shaped like the store's: allocations (IP addresses, which share long prefixes) and
// attachments (64-hex container IDs, kept packed), with a few short and odd ones.
std::vector<std::string> make_keys(std::mt19937& random, std::size_t count) {
  std::vector<std::string> keys;
  for (std::size_t i = 0; i < count; ++i) {
    switch (i % 5) {
      case 0:
      case 1:
        keys.push_back("ips/pool-a/10.8." + std::to_string(i / 256 % 256) + "." +
                       std::to_string(i % 256));
        break;
      case 2:
      case 3:
        keys.push_back("attachments/" + hex_id(random) + "/eth" + std::to_string(i % 2));
        break;
      default:
        keys.push_back("z" + std::to_string(i));
    }
  }
  return keys;
}

void expect_same(const Index& index, const std::map<std::string, Model>& model,
                 const std::vector<std::string>& absent, const std::string& when) {
  ASSERT_EQ(index.size(), model.size()) << when;
  for (const auto& [key, expected] : model) {
    const auto* entry = index.find(key);
    ASSERT_NE(entry, nullptr) << when << ": " << key;
    EXPECT_EQ(entry->value, expected.value) << when << ": " << key;
    EXPECT_EQ(entry->create_revision(), expected.create_revision) << when << ": " << key;
    EXPECT_EQ(entry->mod_revision(), expected.mod_revision) << when << ": " << key;
    EXPECT_EQ(entry->version(), expected.version) << when << ": " << key;
  }
  for (const auto& key : absent) {
    if (!model.contains(key)) {
      EXPECT_EQ(index.find(key), nullptr) << when << ": " << key;
    }
  }
  for (const std::string prefix : {"", "ips/", "ips/pool-a/10.8.1", "attachments/", "attachments/a",
                                   "attachments/f0", "z1", "zz"}) {
    std::vector<std::pair<std::string, int>> listed;
    index.for_each(prefix, [&](std::string_view key, const Index::Entry& entry) {
      listed.emplace_back(std::string(key), entry.value);
    });
    std::vector<std::pair<std::string, int>> expected;
    for (const auto& [key, m] : model)
      if (key.starts_with(prefix)) expected.emplace_back(key, m.value);
    ASSERT_EQ(listed, expected) << when << ": prefix " << prefix;
  }
}

TEST(KeyIndexParts, RandomChangesAgreeWithAMapBeforeAndAfterCompaction) {
  std::mt19937 random(7);
  std::vector<std::string> keys = make_keys(random, 3000);
  std::map<std::string, Model> model;
  Index index(100);
  // The snapshot's half, in order (the blocks), as a file store builds it.
  std::vector<std::string> snapshot(keys.begin(), keys.begin() + 1500);
  std::sort(snapshot.begin(), snapshot.end());
  int next_value = 0;
  for (const auto& key : snapshot) {
    ASSERT_TRUE(index.insert(key, Index::Entry{50, 60, 2, next_value}));
    model[key] = Model{50, 60, 2, next_value++};
  }
  EXPECT_FALSE(index.insert(snapshot[10], Index::Entry{1, 1, 1, -1}));
  index.compact_keys();
  expect_same(index, model, keys, "built");

  std::vector<int> released;
  std::vector<int> expected_released;
  for (int round = 0; round < 40; ++round) {
    Txn txn;
    std::set<std::string> named;
    for (int op = 0; op < 40; ++op) {
      const std::string& key = keys[random() % keys.size()];
      if (!named.insert(key).second) continue;
      if (model.contains(key) && random() % 3 == 0)
        txn.ops.push_back(Op::del(key));
      else
        txn.ops.push_back(Op::put(key, std::to_string(next_value++)));
    }
    Change change;
    const TxnResult result = index.evaluate(txn, &change);
    ASSERT_TRUE(result.succeeded);
    ASSERT_TRUE(index.check(change).ok()) << index.check(change).error().message;
    for (const auto& event : change.events) {
      auto found = model.find(event.kv.key);
      if (found != model.end()) expected_released.push_back(found->second.value);
      if (event.type == Event::Type::del) {
        model.erase(event.kv.key);
      } else {
        model[event.kv.key] = Model{event.kv.create_revision, event.kv.mod_revision,
                                    event.kv.version, std::stoi(event.kv.value)};
      }
    }
    index.apply(
        change, [&](std::size_t i) { return std::stoi(change.events[i].kv.value); },
        [&](int value) { released.push_back(value); });
    ASSERT_EQ(index.revision(), change.revision);
    expect_same(index, model, keys, "round " + std::to_string(round));
    if (round % 10 == 9) {
      index.compact_keys();
      expect_same(index, model, keys, "compacted after round " + std::to_string(round));
    }
  }
  EXPECT_EQ(released, expected_released);
}

// A key deleted from the blocks and inserted again (a snapshot that lists it after a log
// deleted it cannot happen; a builder that inserts it again can) is found once, in place.
TEST(KeyIndexParts, AKeyDeletedFromTheBlocksComesBackInPlace) {
  Index index;
  for (const char* key : {"a", "b", "c"}) ASSERT_TRUE(index.insert(key, Index::Entry{1, 1, 1, 1}));
  index.compact_keys();
  Change change{1, {Event{Event::Type::del, KeyValue{"b", {}, 0, 1, 0}}}};
  ASSERT_TRUE(index.check(change).ok());
  index.apply(
      change, [](std::size_t) { return 0; }, [](int) {});
  EXPECT_EQ(index.find("b"), nullptr);
  EXPECT_EQ(index.size(), 2u);
  ASSERT_TRUE(index.insert("b", Index::Entry{3, 3, 1, 7}));
  ASSERT_NE(index.find("b"), nullptr);
  EXPECT_EQ(index.find("b")->value, 7);
  std::vector<std::string> listed;
  index.for_each("", [&](std::string_view key, const auto&) { listed.emplace_back(key); });
  EXPECT_EQ(listed, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(PackedUint, KeepsEveryValueUpToItsMaximum) {
  EXPECT_EQ(PackedUint<6>::kMax, (std::uint64_t{1} << 48) - 1);
  for (std::uint64_t value :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{0xffff}, std::uint64_t{0x10000},
        std::uint64_t{0x123456789abc}, PackedUint<6>::kMax})
    EXPECT_EQ(PackedUint<6>(value).get(), value);
  EXPECT_EQ(PackedUint<4>(0xfedcba98u).get(), 0xfedcba98u);
  EXPECT_EQ(sizeof(PackedUint<6>), 6u);
  EXPECT_EQ(alignof(PackedUint<6>), 2u);
}

// Revisions up to 2^48 - 1 are kept exactly; a change beyond that is refused, not cut short.
TEST(KeyIndexParts, RevisionsBeyondWhatTheEntriesHoldAreRefused) {
  constexpr std::int64_t kMax = Index::kMaxRevision;
  ASSERT_EQ(kMax, (std::int64_t{1} << 48) - 1);
  Index index(kMax - 2);
  ASSERT_TRUE(index.insert("a", Index::Entry{kMax - 3, kMax - 2, kMax - 2, 1}));
  Change change;
  Txn txn;
  txn.ops = {Op::put("a", "2"), Op::put("b", "3")};
  ASSERT_TRUE(index.evaluate(txn, &change).succeeded);
  ASSERT_TRUE(index.check(change).ok());
  index.apply(
      change, [](std::size_t i) { return static_cast<int>(i) + 2; }, [](int) {});
  ASSERT_EQ(index.revision(), kMax - 1);
  EXPECT_EQ(index.find("a")->create_revision(), kMax - 3);
  EXPECT_EQ(index.find("a")->mod_revision(), kMax - 1);
  EXPECT_EQ(index.find("a")->version(), kMax - 1);
  EXPECT_EQ(index.find("b")->create_revision(), kMax - 1);

  ASSERT_TRUE(index.evaluate(txn, &change).succeeded);
  ASSERT_TRUE(index.check(change).ok()) << "revision 2^48 - 1 itself is kept";
  index.apply(
      change, [](std::size_t) { return 4; }, [](int) {});
  EXPECT_EQ(index.find("b")->mod_revision(), kMax);

  ASSERT_TRUE(index.evaluate(txn, &change).succeeded);
  const Status beyond = index.check(change);
  ASSERT_FALSE(beyond.ok());
  EXPECT_EQ(beyond.error().code, ErrorCode::corrupt);
  EXPECT_EQ(beyond.error().message,
            "change at revision 281474976710656 is beyond revision 281474976710655, the highest "
            "this store keeps");
  EXPECT_EQ(index.revision(), kMax) << "nothing applied";
}

}  // namespace
}  // namespace ipfence::store
