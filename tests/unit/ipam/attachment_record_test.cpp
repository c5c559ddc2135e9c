// PackedStrings and the compact attachment record (attachment_record.h) give back exactly
// what they were given, also when derived from their allocation's record; ClusterState keeps
// attachments in that form, derived whichever of the two it sees first.
#include "ipam/attachment_record.h"

#include <gtest/gtest.h>

#include <cctype>
#include <iterator>
#include <memory>

#include "ipam/cluster_state.h"
#include "ipam/packed_strings.h"
#include "sample_allocation.h"

namespace ipfence::ipam {
namespace {

TEST(PackedStrings, Fields) {
  const std::string long_text(70000, 'x');  // a three-byte length
  const PackedStrings packed{"a", "", "bc", long_text, std::string_view("\0z", 2)};
  ASSERT_EQ(packed.size(), 5u);
  EXPECT_EQ(packed.at(0), "a");
  EXPECT_EQ(packed.at(1), "");
  EXPECT_EQ(packed.at(2), "bc");
  EXPECT_EQ(packed.at(3), long_text);
  EXPECT_EQ(packed.at(4), std::string_view("\0z", 2));
  EXPECT_EQ(packed.at(5), "");  // past the end

  PackedStrings copy = packed;
  EXPECT_EQ(copy.at(3), long_text);
  PackedStrings moved = std::move(copy);
  EXPECT_EQ(moved.at(2), "bc");
  copy = moved;
  EXPECT_EQ(copy.at(4), std::string_view("\0z", 2));
  EXPECT_TRUE(copy.shares_block_with(moved)) << "copies share the block";
  EXPECT_FALSE(copy.shares_block_with(PackedStrings{"a", "", "bc", long_text}));
  {
    const PackedStrings last = copy;
    copy = PackedStrings{"x"};
    moved = PackedStrings();
    EXPECT_EQ(last.at(3), long_text) << "the block lives while one copy holds it";
  }
  EXPECT_EQ(copy.at(0), "x");

  EXPECT_EQ(PackedStrings().size(), 0u);
  EXPECT_EQ(PackedStrings().at(0), "");
  EXPECT_EQ(PackedStrings(std::vector<std::string_view>{}).size(), 0u);
}

Attachment dual_stack() {
  return Attachment{.container_id = "3f1c0e2d9b7a",
                    .ifname = "net1",
                    .ips = {{"v4-pool", "10.6.168.131"}, {"v6-pool", "fd00::83"}}};
}

TEST(AttachmentRecord, GivesBackEveryField) {
  const Attachment a = dual_stack();
  const AttachmentRecord record(a, "3f1c0e2d9b7a", "net1");
  EXPECT_EQ(record.unpack(), a);
  EXPECT_EQ(record.key_container_id(), "3f1c0e2d9b7a");
  EXPECT_EQ(record.key_ifname(), "net1");
  ASSERT_EQ(record.ip_count(), 2u);
  EXPECT_EQ(record.ip(1), (Attachment::Ip{"v6-pool", "fd00::83"}));
}

TEST(AttachmentRecord, NoIps) {
  const Attachment a{.container_id = "c", .ifname = "eth0", .ips = {}};
  EXPECT_EQ(AttachmentRecord(a, "c", "eth0").unpack(), a);
  EXPECT_EQ(AttachmentRecord().ip_count(), 0u);
}

// A record that names another container or interface than its key keeps its own.
TEST(AttachmentRecord, KeepsNamesThatDifferFromTheKey) {
  const Attachment a = dual_stack();
  const AttachmentRecord record(a, "other", "eth9");
  EXPECT_EQ(record.unpack(), a);
  EXPECT_EQ(record.key_container_id(), "other");  // the view finds it by its key
  EXPECT_EQ(record.key_ifname(), "eth9");
  Attachment empty_names = a;
  empty_names.container_id.clear();
  empty_names.ifname.clear();
  EXPECT_EQ(AttachmentRecord(empty_names, "c", "eth0").unpack(), empty_names);
}

TEST(ClusterStateAttachments, PutReplaceDelete) {
  ClusterState state;
  Attachment a = dual_stack();
  state.apply_put(keys::attachment(a.container_id, a.ifname), nlohmann::json(a).dump(), 3, 3);
  const StoredAttachment* stored = state.attachment(a.container_id, a.ifname);
  ASSERT_NE(stored, nullptr);
  EXPECT_EQ(stored->attachment(), a);
  EXPECT_EQ(stored->mod_revision(), 3);

  a.ips.pop_back();
  state.apply_put(keys::attachment(a.container_id, a.ifname), nlohmann::json(a).dump(), 4, 3);
  EXPECT_EQ(state.attachment(a.container_id, a.ifname)->attachment(), a);
  ASSERT_EQ(state.attachments().size(), 1u);
  EXPECT_EQ(state.attachments().begin()->container_id(), a.container_id);
  EXPECT_EQ(state.attachments().begin()->ifname(), a.ifname);

  // Ordered and found by the key's names; a record naming others is found by its key.
  Attachment other = dual_stack();
  other.container_id = "0000-elsewhere";
  state.apply_put(keys::attachment("0aaa", "net1"), nlohmann::json(other).dump(), 6, 6);
  ASSERT_EQ(state.attachments().size(), 2u);
  EXPECT_EQ(state.attachments().begin()->container_id(), "0aaa");
  ASSERT_NE(state.attachment("0aaa", "net1"), nullptr);
  EXPECT_EQ(state.attachment("0aaa", "net1")->attachment(), other);
  EXPECT_EQ(state.attachment("0000-elsewhere", "net1"), nullptr);
  state.apply_delete(keys::attachment("0aaa", "net1"), 7);

  state.apply_delete(keys::attachment(a.container_id, a.ifname), 5);
  EXPECT_EQ(state.attachment(a.container_id, a.ifname), nullptr);
  EXPECT_TRUE(state.attachments().empty());
}

// A runtime's 64-hex container ID is kept as 32 bytes in the key; records are found by the
// ID's text all the same, whatever the shapes of their neighbours, and give back the text.
TEST(ClusterStateAttachments, RuntimeContainerIdsAreKeptPackedAndFoundByText) {
  const std::string hex = "4f1d9c0b7e2a58c3d6e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5";
  const std::string hex_upper = "4F1D9C0B7E2A58C3D6E9F0A1B2C3D4E5F60718293A4B5C6D7E8F90A1B2C3D4E5";
  const std::string hex_next = "4f1d9c0b7e2a58c3d6e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e6";
  const AttachmentRecord record(Attachment{.container_id = hex, .ifname = "eth0", .ips = {}}, hex,
                                "eth0");
  EXPECT_EQ(record.key_container_id(), hex);
  EXPECT_EQ(record.key().shape, IdShape::hex);
  EXPECT_EQ(record.key().packed_container_id.size(), 32u);
  EXPECT_EQ(record.unpack().container_id, hex);

  ClusterState state;
  std::int64_t revision = 0;
  for (const std::string& id : {hex_next, std::string("short"), hex_upper, hex}) {
    ++revision;
    const Attachment a{.container_id = id, .ifname = "eth0", .ips = {{"p", "10.0.0.1"}}};
    state.apply_put(keys::attachment(id, "eth0"), nlohmann::json(a).dump(), revision, revision);
  }
  ASSERT_EQ(state.attachments().size(), 4u);
  for (const std::string& id : {hex, hex_next, std::string("short"), hex_upper}) {
    const StoredAttachment* stored = state.attachment(id, "eth0");
    ASSERT_NE(stored, nullptr) << id;
    EXPECT_EQ(stored->container_id(), id);
    EXPECT_EQ(stored->attachment().container_id, id);
    EXPECT_EQ(state.attachment(id, "eth1"), nullptr);
  }
  EXPECT_EQ(state.attachment(hex.substr(0, 62), "eth0"), nullptr);  // also packs: 31 bytes

  state.apply_delete(keys::attachment(hex, "eth0"), ++revision);
  EXPECT_EQ(state.attachment(hex, "eth0"), nullptr);
  ASSERT_NE(state.attachment(hex_next, "eth0"), nullptr);
  EXPECT_EQ(state.attachments().size(), 3u);
}

const std::string kHexId = "4f1d9c0b7e2a58c3d6e9f0a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5";

Allocation allocation_of(const std::string& container_id, const std::string& ifname,
                         const std::string& pool, const std::string& ip) {
  Allocation allocation = testing::sample_allocation(ip);
  allocation.container_id = container_id;
  allocation.ifname = ifname;
  allocation.pool = pool;
  return allocation;
}

Attachment single(const std::string& container_id, const std::string& ifname,
                  const std::string& pool, const std::string& ip) {
  return Attachment{.container_id = container_id, .ifname = ifname, .ips = {{pool, ip}}};
}

// An attachment that says what its allocation says points at the allocation's parts, and
// gives back the same attachment, also once the allocation's own record is gone.
TEST(AttachmentRecord, DerivedFromItsAllocationGivesBackTheSameAttachment) {
  for (const auto& [id, address] :
       {std::pair<std::string, std::string>{kHexId, "10.6.168.131"}, {"short-id", "fd00::83"}}) {
    const IpAddress ip = *IpAddress::parse(address);
    const Attachment a = single(id, "eth0", "pool-a", address);
    const AttachmentRecord full(a, id, "eth0");
    auto allocation =
        std::make_unique<AllocationRecord>(allocation_of(id, "eth0", "pool-a", address), ip);
    auto derived = AttachmentRecord::derive(full, *allocation, ip);
    ASSERT_TRUE(derived) << address;
    EXPECT_TRUE(derived->derived());
    EXPECT_FALSE(full.derived());
    EXPECT_EQ(derived->key(), full.key());
    EXPECT_EQ(derived->key_container_id(), id);
    EXPECT_EQ(derived->key_ifname(), "eth0");
    ASSERT_EQ(derived->ip_count(), 1u);
    EXPECT_EQ(derived->ip(0), (Attachment::Ip{"pool-a", address}));
    allocation.reset();
    EXPECT_EQ(derived->unpack(), a) << address;
    const AttachmentRecord copy = *derived;
    EXPECT_EQ(copy.unpack(), a);
    EXPECT_FALSE(AttachmentRecord::derive(
        copy, AllocationRecord(allocation_of(id, "eth0", "pool-a", address), ip), ip))
        << "derived once";
  }
}

// Anything the allocation does not say keeps the attachment's own record.
TEST(AttachmentRecord, DerivesOnlyWhatTheAllocationSays) {
  const IpAddress ip = *IpAddress::parse("fd00::83");
  const AllocationRecord allocation(allocation_of(kHexId, "eth0", "pool-a", "fd00::83"), ip);
  const auto derives = [&](const Attachment& a, const std::string& key_id,
                           const std::string& key_ifname) {
    return AttachmentRecord::derive(AttachmentRecord(a, key_id, key_ifname), allocation, ip)
        .has_value();
  };
  EXPECT_TRUE(derives(single(kHexId, "eth0", "pool-a", "fd00::83"), kHexId, "eth0"));
  Attachment two = single(kHexId, "eth0", "pool-a", "fd00::83");
  two.ips.push_back({"pool-b", "10.0.0.1"});
  EXPECT_FALSE(derives(two, kHexId, "eth0")) << "two IPs";
  EXPECT_FALSE(
      derives(Attachment{.container_id = kHexId, .ifname = "eth0", .ips = {}}, kHexId, "eth0"))
      << "no IP";
  EXPECT_FALSE(derives(single(kHexId, "eth0", "pool-b", "fd00::83"), kHexId, "eth0"))
      << "another pool";
  EXPECT_FALSE(derives(single(kHexId, "eth0", "pool-a", "FD00::83"), kHexId, "eth0"))
      << "the address not in canonical text";
  EXPECT_FALSE(derives(single(kHexId, "eth0", "pool-a", "fd00::84"), kHexId, "eth0"))
      << "another address";
  EXPECT_FALSE(derives(single("other", "eth0", "pool-a", "fd00::83"), kHexId, "eth0"))
      << "its own container ID differs from its key's";
  EXPECT_FALSE(derives(single(kHexId, "net1", "pool-a", "fd00::83"), kHexId, "eth0"))
      << "its own ifname differs from its key's";
  EXPECT_FALSE(derives(single("other", "eth0", "pool-a", "fd00::83"), "other", "eth0"))
      << "the allocation's container ID differs";
  EXPECT_FALSE(derives(single(kHexId, "net1", "pool-a", "fd00::83"), kHexId, "net1"))
      << "the allocation's ifname differs";
  std::string upper = kHexId;
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_FALSE(derives(single(upper, "eth0", "pool-a", "fd00::83"), upper, "eth0"))
      << "the same bytes, another shape of text";
}

// Attachments are derived whether their allocation comes before or after them (a listing has
// attachments first; a writer's own apply may have either order), stay what they were when
// the allocation changes or goes, and a changed attachment is derived again or not.
TEST(ClusterStateAttachments, AttachmentsPointAtTheirAllocationsWhicheverComesFirst) {
  ClusterState state;
  std::int64_t revision = 0;
  const auto put_allocation = [&](const Allocation& a) {
    ++revision;
    state.apply_put(keys::ip(a.pool, a.ip), nlohmann::json(a).dump(), revision, revision);
  };
  const auto put_attachment = [&](const Attachment& a) {
    ++revision;
    state.apply_put(keys::attachment(a.container_id, a.ifname), nlohmann::json(a).dump(), revision,
                    revision);
  };
  const std::string id2 = "second-container";
  const Attachment first = single(kHexId, "eth0", "pool-a", "10.6.168.131");
  put_attachment(first);  // before its allocation (and its pool: an orphan allocation)
  EXPECT_FALSE(state.attachment(kHexId, "eth0")->record.derived());
  put_allocation(allocation_of(kHexId, "eth0", "pool-a", "10.6.168.131"));
  ASSERT_TRUE(state.attachment(kHexId, "eth0")->record.derived());
  EXPECT_EQ(state.attachment(kHexId, "eth0")->attachment(), first);
  EXPECT_EQ(state.attachment(kHexId, "eth0")->mod_revision(), 1);

  put_allocation(allocation_of(id2, "eth0", "pool-a", "10.6.168.132"));
  const Attachment second = single(id2, "eth0", "pool-a", "10.6.168.132");
  put_attachment(second);  // after its allocation
  ASSERT_TRUE(state.attachment(id2, "eth0")->record.derived());
  EXPECT_EQ(state.attachment(id2, "eth0")->attachment(), second);
  EXPECT_EQ(state.attachment(id2, "eth0")->mod_revision(), revision);

  // The allocation goes, or changes: the attachment is what was written.
  state.apply_delete(keys::ip("pool-a", "10.6.168.131"), ++revision);
  EXPECT_EQ(state.attachment(kHexId, "eth0")->attachment(), first);
  put_allocation(allocation_of("someone-else", "eth0", "pool-a", "10.6.168.132"));
  EXPECT_EQ(state.attachment(id2, "eth0")->attachment(), second);

  // Rewritten with two IPs: its own record again; back to one: derived from the current one?
  // Not while the allocation names another container.
  Attachment two = second;
  two.ips.push_back({"pool-b", "10.7.0.1"});
  put_attachment(two);
  EXPECT_FALSE(state.attachment(id2, "eth0")->record.derived());
  EXPECT_EQ(state.attachment(id2, "eth0")->attachment(), two);
  put_attachment(second);
  EXPECT_FALSE(state.attachment(id2, "eth0")->record.derived());
  EXPECT_EQ(state.attachment(id2, "eth0")->attachment(), second);
  put_allocation(allocation_of(id2, "eth0", "pool-a", "10.6.168.132"));
  EXPECT_TRUE(state.attachment(id2, "eth0")->record.derived());
  EXPECT_EQ(state.attachment(id2, "eth0")->attachment(), second);
  ASSERT_EQ(state.attachments().size(), 2u);
  // Still in AttachmentKey order (shape first: a text ID before a packed runtime ID), found.
  EXPECT_EQ(state.attachments().begin()->container_id(), id2);
  EXPECT_EQ(std::next(state.attachments().begin())->container_id(), kHexId);
  EXPECT_NE(state.attachment(kHexId, "eth0"), nullptr);
}

// The view keeps an attachment's revision in 6 bytes: up to 2^48 - 1 it comes back exactly;
// beyond, the attachment is refused as a problem naming the key, never kept with a cut revision.
TEST(ClusterStateAttachments, RevisionsBeyondWhatTheViewKeepsAreAProblem) {
  ClusterState state;
  const Attachment attachment = single(kHexId, "eth0", "pool-a", "10.6.168.131");
  const std::string key = keys::attachment(kHexId, "eth0");
  const std::int64_t highest = StoredAttachment::kMaxRevision;
  EXPECT_EQ(highest, (std::int64_t{1} << 48) - 1);
  state.apply_put(key, nlohmann::json(attachment).dump(), highest, 1);
  ASSERT_NE(state.attachment(kHexId, "eth0"), nullptr);
  EXPECT_EQ(state.attachment(kHexId, "eth0")->mod_revision(), highest);
  EXPECT_TRUE(state.problems().empty());

  state.apply_put(key, nlohmann::json(attachment).dump(), highest + 1, 1);
  EXPECT_EQ(state.attachment(kHexId, "eth0"), nullptr);
  ASSERT_EQ(state.problems().size(), 1u);
  EXPECT_EQ(state.problems()[0].key, key);
  EXPECT_EQ(state.problems()[0].message,
            "attachment at revision 281474976710656 is beyond revision 281474976710655, the "
            "highest this view keeps");
}

}  // namespace
}  // namespace ipfence::ipam
