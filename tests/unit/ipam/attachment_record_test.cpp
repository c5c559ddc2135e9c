// PackedStrings and the compact attachment record (attachment_record.h) give back exactly
// what they were given; ClusterState keeps attachments in that form.
#include "ipam/attachment_record.h"

#include <gtest/gtest.h>

#include "ipam/cluster_state.h"
#include "ipam/packed_strings.h"

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
  EXPECT_EQ(stored->mod_revision, 3);

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

}  // namespace
}  // namespace ipfence::ipam
