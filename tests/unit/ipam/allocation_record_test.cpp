// The compact allocation record (allocation_record.h) must give back exactly the Allocation
// it was given, whatever the text of its fields; and ClusterState, which keeps allocations
// in that form, must show the same allocations through puts, deletes, orphans and adoption.
#include "ipam/allocation_record.h"

#include <gtest/gtest.h>

#include "ipam/cluster_state.h"
#include "ipam/store/memory_store.h"
#include "sample_allocation.h"

namespace ipfence::ipam {
namespace {

IpAddress ip(const std::string& text) {
  return *IpAddress::parse(text);
}

Allocation full(const std::string& address) {
  return testing::sample_allocation(address);
}

TEST(AllocationRecord, GivesBackEveryField) {
  const Allocation a = full("10.6.168.131");
  const AllocationRecord record(a, ip("10.6.168.131"));
  EXPECT_EQ(record.unpack(ip("10.6.168.131")), a);
  EXPECT_EQ(record.pool(), "pool-a");
  EXPECT_EQ(record.node(), "node1");
  EXPECT_EQ(record.network(), "macvlan-ens192");
  EXPECT_EQ(record.master(), "ens192");
  EXPECT_EQ(record.ifname(), "net1");
  EXPECT_EQ(record.pod_namespace(), "kube-system");
  EXPECT_EQ(record.container_id(), a.container_id);
  EXPECT_EQ(record.netns(), a.netns);
  EXPECT_EQ(record.pod_name(), a.pod_name);
  EXPECT_EQ(record.pod_uid(), a.pod_uid);
  EXPECT_EQ(record.mac(), a.mac);
  EXPECT_EQ(record.created(), a.created);
  EXPECT_EQ(record.family(), IpFamily::v4);
  EXPECT_EQ(record.ip(ip("10.6.168.131").value()), ip("10.6.168.131"));
}

TEST(AllocationRecord, IPv6Key) {
  const Allocation a = full("fd00::a");
  const AllocationRecord record(a, ip("fd00::a"));
  EXPECT_EQ(record.family(), IpFamily::v6);
  EXPECT_EQ(record.unpack(ip("fd00::a")), a);
}

TEST(AllocationRecord, EmptyAllocation) {
  const AllocationRecord record(Allocation{}, ip("10.0.0.1"));
  EXPECT_EQ(record.unpack(ip("10.0.0.1")), Allocation{});
  EXPECT_EQ(AllocationRecord().unpack(ip("10.0.0.1")).ip, "");
  EXPECT_EQ(AllocationRecord().node(), "");
}

// Text that the compact forms cannot give back is kept as written.
TEST(AllocationRecord, KeepsTextThatDoesNotRoundTrip) {
  for (const std::string mac : {"", "02:1F:A0:0B:FF:09", "02-1f-a0-0b-ff-09", "garbage",
                                "02:1f:a0:0b:ff:0", "02:1f:a0:0b:ff:09:"}) {
    Allocation a = full("10.0.0.1");
    a.mac = mac;
    EXPECT_EQ(AllocationRecord(a, ip("10.0.0.1")).unpack(ip("10.0.0.1")), a) << mac;
  }
  for (const std::string created :
       {"", "2026-11-27T03:18:17Z", "2026-11-27T03:18:17.6Z", "2026-11-27T03:18:17.633456Z",
        "2026-11-27T03:18:17.633+00:00", "1969-12-31T23:59:59.999Z", "yesterday",
        "2026-13-40T03:18:17.633Z"}) {
    Allocation a = full("10.0.0.1");
    a.created = created;
    EXPECT_EQ(AllocationRecord(a, ip("10.0.0.1")).unpack(ip("10.0.0.1")), a) << created;
  }
  for (const std::string text : {"", "10.0.0.2", "010.0.0.1", "fd00::1"}) {
    Allocation a = full(text);
    EXPECT_EQ(AllocationRecord(a, ip("10.0.0.1")).unpack(ip("10.0.0.1")), a) << text;
  }
  // IDs that only look like a runtime's (kept packed when they are one: id_text.h).
  for (const std::string id : {"", "c1", "3F1C0E2D9B7A4C5E8F6D1A2B3C4D5E6F",
                               "6a1f0d2c-3b4e-4f5a-8b9c-0d1e2f3a4b5", "/var/run/netns/cni-x"}) {
    Allocation a = full("10.0.0.1");
    a.container_id = a.netns = a.pod_uid = id;
    const AllocationRecord record(a, ip("10.0.0.1"));
    EXPECT_EQ(record.unpack(ip("10.0.0.1")), a) << id;
    EXPECT_EQ(record.container_id(), id);
    EXPECT_EQ(record.netns(), id);
    EXPECT_EQ(record.pod_uid(), id);
  }
  // Every field in every shape at once, each where another would fit too.
  Allocation crossed = full("10.0.0.1");
  std::swap(crossed.container_id, crossed.netns);
  crossed.pod_uid = full("10.0.0.1").container_id;
  EXPECT_EQ(AllocationRecord(crossed, ip("10.0.0.1")).unpack(ip("10.0.0.1")), crossed);
}

// `created` is kept as milliseconds (6 bytes in the pod's block) from 1970 on, exactly.
TEST(AllocationRecord, CreatedAsMillisecondsAtTheEdges) {
  for (const std::string created :
       {"1970-01-01T00:00:00.000Z", "1970-01-01T00:00:00.001Z", "2026-11-27T03:18:17.633Z",
        "2106-02-07T06:28:16.000Z", "9999-12-31T23:59:59.999Z"}) {
    Allocation a = full("10.0.0.1");
    a.created = created;
    const AllocationRecord record(a, ip("10.0.0.1"));
    EXPECT_EQ(record.created(), created);
    const AllocationRecord copy = record;
    EXPECT_EQ(copy.unpack(ip("10.0.0.1")), a) << created;
  }
  EXPECT_EQ(sizeof(AllocationRecord), 24u);
  EXPECT_EQ(sizeof(StoredAllocation), 40u);
}

// mac_bytes() is the fast path of the agent's per-change pass: bytes exactly when mac() is
// their canonical text, so that a caller falling back to mac() sees every other MAC.
TEST(AllocationRecord, MacBytesOnlyForTheCanonicalText) {
  const AllocationRecord canonical(full("10.0.0.1"), ip("10.0.0.1"));
  ASSERT_TRUE(canonical.mac_bytes().has_value());
  EXPECT_EQ(*canonical.mac_bytes(),
            (std::array<std::uint8_t, 6>{0x02, 0x1f, 0xa0, 0x0b, 0xff, 0x09}));
  for (const std::string mac : {"", "02:1F:A0:0B:FF:09", "02-1f-a0-0b-ff-09", "garbage"}) {
    Allocation a = full("10.0.0.1");
    a.mac = mac;
    const AllocationRecord record(a, ip("10.0.0.1"));
    EXPECT_FALSE(record.mac_bytes().has_value()) << mac;
    EXPECT_EQ(record.mac(), mac);
  }
}

TEST(AllocationRecord, LongAndOddStrings) {
  Allocation a = full("10.0.0.1");
  a.container_id = std::string(300, 'c');  // a length of two varint bytes
  a.netns = std::string("with\0nul", 8);
  a.pod_name = "ünïcödé";
  a.pod_uid = std::string(20000, 'u');
  EXPECT_EQ(AllocationRecord(a, ip("10.0.0.1")).unpack(ip("10.0.0.1")), a);
}

TEST(AllocationRecord, CopiesAndMovesKeepTheValue) {
  const Allocation a = full("10.0.0.1");
  AllocationRecord original(a, ip("10.0.0.1"));
  AllocationRecord copy = original;
  EXPECT_EQ(copy.unpack(ip("10.0.0.1")), a);
  AllocationRecord moved = std::move(original);
  EXPECT_EQ(moved.unpack(ip("10.0.0.1")), a);
  copy = moved;
  EXPECT_EQ(copy.unpack(ip("10.0.0.1")), a);
  AllocationRecord other(full("10.0.0.2"), ip("10.0.0.2"));
  other = std::move(copy);
  EXPECT_EQ(other.unpack(ip("10.0.0.1")), a);
  other = other;  // self-assignment keeps it
  EXPECT_EQ(other.unpack(ip("10.0.0.1")), a);
}

// Records with the same shared fields share one interned tuple, which goes with the last.
TEST(AllocationRecord, InternsSharedFieldsOnce) {
  const std::size_t before = AllocationRecord::shared_tuples();
  {
    Allocation a = full("10.0.0.1");
    a.pool = "interning-test";
    std::vector<AllocationRecord> records;
    for (int i = 0; i < 100; ++i) {
      a.container_id = "c" + std::to_string(i);
      records.emplace_back(a, ip("10.0.0.1"));
    }
    EXPECT_EQ(AllocationRecord::shared_tuples(), before + 1);
    a.pod_namespace = "other";
    AllocationRecord different(a, ip("10.0.0.1"));
    EXPECT_EQ(AllocationRecord::shared_tuples(), before + 2);
    EXPECT_EQ(records[42].container_id(), "c42");
    EXPECT_EQ(&records[0].pool(), &records[99].pool());  // one copy of the text
  }
  EXPECT_EQ(AllocationRecord::shared_tuples(), before);
}

// --- through ClusterState ---------------------------------------------------------------

std::string pool_json(const std::string& name, const std::string& range) {
  nlohmann::json j = {{"apiVersion", "spiderpool.spidernet.io/v2beta1"},
                      {"kind", "SpiderIPPool"},
                      {"metadata", {{"name", name}}},
                      {"spec", {{"subnet", "10.0.0.0/24"}, {"ips", {range}}}}};
  return j.dump();
}

TEST(ClusterStateAllocations, PutDeleteOrphanAdopt) {
  ClusterState state;
  state.apply_put("ippools/p", pool_json("p", "10.0.0.1-10.0.0.100"), 1, 1);
  Allocation a = full("10.0.0.7");
  a.pool = "p";
  state.apply_put("ips/p/10.0.0.7", nlohmann::json(a).dump(), 2, 2);
  const StoredAllocation* held = state.allocation(ip("10.0.0.7"));
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->allocation(ip("10.0.0.7")), a);
  EXPECT_EQ(held->create_revision(), 2);
  EXPECT_EQ(held->mod_revision(), 2);

  // A newer put replaces the record; an older one is ignored.
  a.mac = "02:00:00:00:00:99";
  state.apply_put("ips/p/10.0.0.7", nlohmann::json(a).dump(), 3, 2);
  Allocation stale = a;
  stale.mac = "02:00:00:00:00:01";
  state.apply_put("ips/p/10.0.0.7", nlohmann::json(stale).dump(), 2, 2);
  EXPECT_EQ(state.allocation(ip("10.0.0.7"))->allocation(ip("10.0.0.7")), a);
  EXPECT_EQ(state.allocation(ip("10.0.0.7"))->mod_revision(), 3);

  // The pool goes: the allocation stays, as an orphan by its store key.
  state.apply_delete("ippools/p", 4);
  EXPECT_EQ(state.allocation(ip("10.0.0.7")), nullptr);
  ASSERT_EQ(state.orphan_allocations().count("ips/p/10.0.0.7"), 1u);
  EXPECT_EQ(state.orphan_allocations().at("ips/p/10.0.0.7").allocation(ip("10.0.0.7")), a);
  EXPECT_EQ(ip_of_allocation_key("ips/p/10.0.0.7"), ip("10.0.0.7"));
  EXPECT_EQ(ip_of_allocation_key("ips/p"), std::nullopt);
  EXPECT_EQ(ip_of_allocation_key("attachments/p/10.0.0.7"), std::nullopt);

  // It comes back: adopted with its record and revisions.
  state.apply_put("ippools/p", pool_json("p", "10.0.0.1-10.0.0.100"), 5, 5);
  EXPECT_TRUE(state.orphan_allocations().empty());
  held = state.allocation(ip("10.0.0.7"));
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->allocation(ip("10.0.0.7")), a);
  EXPECT_EQ(held->mod_revision(), 3);
  EXPECT_EQ(state.counts("p").allocated, 1u);

  state.apply_delete("ips/p/10.0.0.7", 6);
  EXPECT_EQ(state.allocation(ip("10.0.0.7")), nullptr);
  EXPECT_EQ(state.counts("p").allocated, 0u);
  // The delete is remembered: a late copy of the put does not bring it back.
  state.apply_put("ips/p/10.0.0.7", nlohmann::json(a).dump(), 3, 2);
  EXPECT_EQ(state.allocation(ip("10.0.0.7")), nullptr);
}

TEST(ClusterStateAllocations, AllocationBeforeItsPool) {
  ClusterState state;
  Allocation a = full("10.0.0.9");
  a.pool = "late";
  state.apply_put("ips/late/10.0.0.9", nlohmann::json(a).dump(), 1, 1);
  ASSERT_EQ(state.orphan_allocations().size(), 1u);
  state.apply_delete("ips/late/10.0.0.9", 2);
  EXPECT_TRUE(state.orphan_allocations().empty());
  state.apply_put("ips/late/10.0.0.9", nlohmann::json(a).dump(), 3, 3);
  state.apply_put("ippools/late", pool_json("late", "10.0.0.1-10.0.0.100"), 4, 4);
  ASSERT_NE(state.allocation(ip("10.0.0.9")), nullptr);
  EXPECT_EQ(state.allocation(ip("10.0.0.9"))->allocation(ip("10.0.0.9")), a);
  EXPECT_EQ(state.allocation(ip("10.0.0.9"))->create_revision(), 3);
}

TEST(ClusterStateAllocations, ManyAllocationsIterateInAddressOrder) {
  ClusterState state;
  state.apply_put("ippools/p", pool_json("p", "10.0.0.1-10.0.0.250"), 1, 1);
  for (int i = 250; i >= 1; --i) {
    Allocation a = full("10.0.0." + std::to_string(i));
    a.pool = "p";
    a.container_id = "c" + std::to_string(i);
    state.apply_put(keys::ip("p", a.ip), nlohmann::json(a).dump(), 2 + i, 2 + i);
  }
  for (int i = 1; i <= 250; i += 2)
    state.apply_delete(keys::ip("p", "10.0.0." + std::to_string(i)), 300);
  const PoolState* pool = state.pool("p");
  ASSERT_NE(pool, nullptr);
  ASSERT_EQ(pool->allocations.size(), 125u);
  int expected = 2;
  for (const auto& [value, stored] : pool->allocations) {
    const IpAddress address = stored.record.ip(value);
    EXPECT_EQ(address.to_string(), "10.0.0." + std::to_string(expected));
    EXPECT_EQ(stored.record.container_id(), "c" + std::to_string(expected));
    expected += 2;
  }
}

// An allocation at a revision beyond what a record keeps (2^48 - 1) is still held: its address
// must not be handed out again. The problem is noted, and the view still knows the exact
// revision (a release compares it) and ignores older copies.
TEST(ClusterStateAllocations, RevisionsBeyondWhatARecordKeepsStayAllocated) {
  ClusterState state;
  state.apply_put("ippools/p", pool_json("p", "10.0.0.1-10.0.0.100"), 1, 1);
  Allocation a = full("10.0.0.7");
  a.pool = "p";
  const std::string key = "ips/p/10.0.0.7";
  const std::int64_t highest = StoredAllocation::kMaxRevision;
  EXPECT_EQ(highest, (std::int64_t{1} << 48) - 1);
  state.apply_put(key, nlohmann::json(a).dump(), highest, highest);
  ASSERT_NE(state.allocation(ip("10.0.0.7")), nullptr);
  EXPECT_EQ(state.allocation(ip("10.0.0.7"))->mod_revision(), highest);
  EXPECT_EQ(state.applied_revision(key), highest);
  EXPECT_TRUE(state.problems().empty());

  a.mac = "02:00:00:00:00:99";
  state.apply_put(key, nlohmann::json(a).dump(), highest + 2, highest);
  const StoredAllocation* held = state.allocation(ip("10.0.0.7"));
  ASSERT_NE(held, nullptr);
  EXPECT_EQ(held->allocation(ip("10.0.0.7")), a);
  EXPECT_EQ(held->mod_revision(), highest);  // capped
  EXPECT_EQ(held->create_revision(), highest);
  EXPECT_EQ(state.applied_revision(key), highest + 2);  // exact
  EXPECT_EQ(state.counts("p").allocated, 1u);
  ASSERT_EQ(state.problems().size(), 1u);
  EXPECT_EQ(state.problems()[0].key, key);
  EXPECT_EQ(state.problems()[0].message,
            "allocation at revision 281474976710657 is beyond revision 281474976710655, the "
            "highest this view keeps: its address stays allocated");

  // An older copy is ignored; a newer delete frees the address.
  EXPECT_FALSE(state.apply(
      store::Event{store::Event::Type::del, store::KeyValue{key, "", highest, highest + 1, 1}}));
  EXPECT_NE(state.allocation(ip("10.0.0.7")), nullptr);
  state.apply_delete(key, highest + 3);
  EXPECT_EQ(state.allocation(ip("10.0.0.7")), nullptr);
  EXPECT_EQ(state.counts("p").allocated, 0u);
  EXPECT_EQ(state.applied_revision(key), highest + 3);
}

// Loading key by key from the store gives the view a whole list gives; both read allocations
// before the attachments that point at them (ClusterState::read_order), so that each
// attachment is derived from its allocation as it is read.
TEST(ClusterStateAllocations, LoadIsFromListWithoutTheList) {
  store::MemoryStore store;
  ASSERT_TRUE(store.create("ippools/p", pool_json("p", "10.0.0.1-10.0.0.100")).ok());
  for (int i = 1; i <= 20; ++i) {
    Allocation a = full("10.0.0." + std::to_string(i));
    a.pool = "p";
    a.container_id = "container-" + std::to_string(i);
    ASSERT_TRUE(store.create(keys::ip("p", a.ip), nlohmann::json(a).dump()).ok());
    const Attachment attachment{
        .container_id = a.container_id, .ifname = a.ifname, .ips = {{"p", a.ip}}};
    ASSERT_TRUE(
        store.create(keys::attachment(a.container_id, a.ifname), nlohmann::json(attachment).dump())
            .ok());
  }
  ASSERT_TRUE(store.create("ips/gone/10.0.0.200", nlohmann::json(full("10.0.0.200")).dump()).ok());
  auto listed = store.list("");
  ASSERT_TRUE(listed.ok());
  const ClusterState from_list = ClusterState::from_list(*listed);
  auto loaded = ClusterState::load(store);
  ASSERT_TRUE(loaded.ok());
  const ClusterState& state = loaded->first;
  EXPECT_EQ(loaded->second, listed->revision);
  EXPECT_EQ(state.revision(), from_list.revision());
  ASSERT_EQ(state.pool("p")->allocations.size(), 20u);
  for (const auto& [value, stored] : from_list.pool("p")->allocations) {
    const IpAddress address = stored.record.ip(value);
    ASSERT_NE(state.allocation(address), nullptr);
    EXPECT_EQ(state.allocation(address)->allocation(address), stored.allocation(address));
    EXPECT_EQ(state.allocation(address)->mod_revision(), stored.mod_revision());
  }
  EXPECT_EQ(state.orphan_allocations().size(), 1u);
  for (const ClusterState* view : {&state, &from_list}) {
    ASSERT_EQ(view->attachments().size(), 20u);
    for (const StoredAttachment& stored : view->attachments()) {
      EXPECT_TRUE(stored.record.derived()) << stored.container_id();
      const StoredAttachment* other =
          (view == &state ? from_list : state).attachment(stored.container_id(), "net1");
      ASSERT_NE(other, nullptr);
      EXPECT_EQ(stored.attachment(), other->attachment());
      EXPECT_EQ(stored.mod_revision(), other->mod_revision());
    }
  }
}

}  // namespace
}  // namespace ipfence::ipam
