// The guard's desired-state syncs: they write only the difference between the desired set
// and what the map holds, validate everything before writing anything, and keep the lease
// flags (grandfathered reserved) in step with the reserved ranges.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstring>
#include <map>

#include "agent/datapath/prefix_cover.h"
#include "tests/bpf/guard_world.h"

namespace ipfence::testing {
namespace {

using datapath::GuardMap;
using datapath::Lease;
using datapath::LeaseEntry;
using datapath::SyncStats;
using ipam::IpRange;

std::string pod_mac(int i) {
  char buf[18];
  std::snprintf(buf, sizeof(buf), "02:00:00:00:%02x:%02x", (i >> 8) & 0xff, i & 0xff);
  return buf;
}

// Pod i holds 10.2.<i/256>.<i%256> (and, for even i, fd00:2::i as well).
std::vector<Lease> leases_for(int from, int to, int mac_offset = 0) {
  std::vector<Lease> out;
  for (int i = from; i < to; ++i) {
    out.push_back({IpAddress::v4((10u << 24) | (2u << 16) | static_cast<std::uint32_t>(i)),
                   pod_mac(i + mac_offset)});
    if (i % 2 == 0)
      out.push_back({IpAddress(ipam::IpFamily::v6, (ipam::u128{0xfd00'0002} << 96) | i),
                     pod_mac(i + mac_offset)});
  }
  return out;
}

std::map<IpAddress, std::string> as_map(const std::vector<Lease>& leases) {
  std::map<IpAddress, std::string> out;
  for (const Lease& l : leases) out[l.ip] = l.mac;
  return out;
}

std::map<IpAddress, std::string> read_back(const Guard& guard) {
  auto entries = guard.leases();
  EXPECT_TRUE(entries.ok()) << entries.error().message;
  std::map<IpAddress, std::string> out;
  if (!entries.ok()) return out;
  for (const LeaseEntry& e : *entries) out[e.ip] = e.mac.to_string();
  return out;
}

void expect_stats(const Result<SyncStats>& got, SyncStats want) {
  ASSERT_TRUE(got.ok()) << got.error().message;
  EXPECT_EQ(got->added, want.added);
  EXPECT_EQ(got->removed, want.removed);
  EXPECT_EQ(got->changed, want.changed);
  EXPECT_EQ(got->unchanged, want.unchanged);
}

Guard open_guard(datapath::GuardCapacities capacities = {}) {
  datapath::GuardOptions options;
  options.pin_dir.clear();
  options.capacities = capacities;
  auto guard = Guard::open(options);
  EXPECT_TRUE(guard.ok()) << guard.error().message;
  return std::move(guard).value();
}

std::vector<std::string> prefix_texts(const std::vector<ipam::IpPrefix>& prefixes) {
  std::vector<std::string> out;
  for (const auto& p : prefixes) out.push_back(p.to_string());
  return out;
}

TEST(GuardSync, SetLeasesWritesOnlyTheDifference) {
  Guard guard = open_guard();
  const std::vector<Lease> first = leases_for(0, 100);  // 100 IPv4 + 50 IPv6
  expect_stats(guard.set_leases(first), {150, 0, 0, 0});
  EXPECT_EQ(read_back(guard), as_map(first));

  // Overlap 50..99; of it, 50..59 move to other MACs. 100..149 are new, 0..49 go away.
  std::vector<Lease> second = leases_for(50, 60, 1000);
  for (const Lease& l : leases_for(60, 150)) second.push_back(l);
  expect_stats(guard.set_leases(second), {75, 75, 15, 60});
  EXPECT_EQ(read_back(guard), as_map(second));
  // The untouched overlap still maps to the MACs the first sync wrote.
  const auto now = read_back(guard);
  for (const Lease& l : leases_for(60, 100)) EXPECT_EQ(now.at(l.ip), l.mac) << l.ip.to_string();

  expect_stats(guard.set_leases(second), {0, 0, 0, 150});  // idempotent: nothing written
  expect_stats(guard.set_leases({}), {0, 150, 0, 0});
  EXPECT_TRUE(read_back(guard).empty());
}

TEST(GuardSync, RawMapEntriesHaveZeroPadsAndTheAbiLayout) {
  Guard guard = open_guard();
  ASSERT_TRUE(
      guard
          .set_leases({{ip("10.9.8.7"), "02:AA:bb:cc:dd:01"}, {ip("fd00::9"), "02-aa-bb-cc-dd-02"}})
          .ok());
  ipf_lease_key key{};
  key.family = IPF_FAMILY_V4;
  const std::uint8_t v4[] = {10, 9, 8, 7};
  std::memcpy(key.addr, v4, 4);
  ipf_lease value{};
  ASSERT_EQ(bpf_map_lookup_elem(guard.map_fd(GuardMap::leases), &key, &value), 0);
  const ipf_lease want{{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x01}, 0, 0};
  EXPECT_EQ(std::memcmp(&value, &want, sizeof(value)), 0);
}

TEST(GuardSync, InvalidInputChangesNothing) {
  Guard guard =
      open_guard({.leases = 4, .reserved_prefixes = 2, .pool_prefixes = 2, .pod_macs = 2});
  const std::vector<Lease> good = leases_for(0, 2);  // 3 entries
  ASSERT_TRUE(guard.set_leases(good).ok());

  auto bad_mac = guard.set_leases({{ip("10.2.0.0"), "02:00:00:00:00"}});
  ASSERT_FALSE(bad_mac.ok());
  EXPECT_EQ(bad_mac.error().code, ErrorCode::invalid_argument);
  auto conflicting = guard.set_leases({{ip("10.2.0.9"), pod_mac(1)}, {ip("10.2.0.9"), pod_mac(2)}});
  ASSERT_FALSE(conflicting.ok());
  EXPECT_EQ(conflicting.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(conflicting.error().message, "lease 10.2.0.9 is given twice, with different MACs");
  auto too_many = guard.set_leases(leases_for(0, 4));  // 6 entries > 4
  ASSERT_FALSE(too_many.ok());
  EXPECT_EQ(too_many.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(read_back(guard), as_map(good));
  // The same lease twice with the same MAC is fine.
  EXPECT_TRUE(guard.set_leases({{ip("10.2.0.9"), pod_mac(1)}, {ip("10.2.0.9"), pod_mac(1)}}).ok());

  // 10.0.0.1-10.0.0.6 needs 4 prefixes: over capacity 2, and the v6 trie is checked before
  // the v4 one is written.
  ASSERT_TRUE(guard.set_reserved({IpRange::parse("10.0.0.0/31").value()}).ok());
  auto over = guard.set_reserved(
      {IpRange::parse("fd00::/127").value(), IpRange::parse("10.0.0.1-10.0.0.6").value()});
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(prefix_texts(guard.prefixes(GuardMap::reserved_v4).value()),
            std::vector<std::string>{"10.0.0.0/31"});
  EXPECT_TRUE(guard.prefixes(GuardMap::reserved_v6).value().empty());
  EXPECT_FALSE(guard.set_pod_macs({"not a mac"}).ok());
}

TEST(GuardSync, ReservedAndPoolTriesHoldMinimalCoversAndSyncByDifference) {
  Guard guard = open_guard();
  const std::vector<IpRange> reserved = {IpRange::parse("10.1.0.1-10.1.0.6").value(),
                                         IpRange::parse("fd00::/120").value()};
  expect_stats(guard.set_reserved(reserved), {5, 0, 0, 0});
  EXPECT_EQ(prefix_texts(guard.prefixes(GuardMap::reserved_v4).value()),
            (std::vector<std::string>{"10.1.0.1/32", "10.1.0.2/31", "10.1.0.4/31", "10.1.0.6/32"}));
  EXPECT_EQ(prefix_texts(guard.prefixes(GuardMap::reserved_v6).value()),
            std::vector<std::string>{"fd00::/120"});
  // 10.1.0.1-10.1.0.7 = .1/32 .2/31 .4/30: keeps 2, adds 1, removes 2; v6 unchanged.
  expect_stats(guard.set_reserved({IpRange::parse("10.1.0.1-10.1.0.7").value(), reserved[1]}),
               {1, 2, 0, 3});

  expect_stats(guard.set_pools({IpRange::parse("10.1.0.0/24").value()}), {1, 0, 0, 0});
  EXPECT_EQ(prefix_texts(guard.prefixes(GuardMap::pools_v4).value()),
            std::vector<std::string>{"10.1.0.0/24"});
  EXPECT_TRUE(guard.prefixes(GuardMap::reserved_v4).ok());
  EXPECT_FALSE(guard.prefixes(GuardMap::leases).ok());

  expect_stats(guard.set_pod_macs({pod_mac(1), pod_mac(2)}), {2, 0, 0, 0});
  expect_stats(guard.set_pod_macs({pod_mac(2), pod_mac(3)}), {1, 1, 0, 1});
}

TEST(GuardSync, LeaseFlagsFollowTheReservedRanges) {
  Guard guard = open_guard();
  ASSERT_TRUE(guard.set_leases({{ip("10.1.0.5"), pod_mac(5)}, {ip("10.1.0.9"), pod_mac(9)}}).ok());
  auto flags = [&] {
    std::map<std::string, bool> out;
    const auto entries = guard.leases();  // not in the for header: value() of a temporary
    for (const LeaseEntry& e : entries.value()) out[e.ip.to_string()] = e.reserved;
    return out;
  };
  EXPECT_EQ(flags(), (std::map<std::string, bool>{{"10.1.0.5", false}, {"10.1.0.9", false}}));
  ASSERT_TRUE(guard.set_reserved({IpRange::parse("10.1.0.4-10.1.0.6").value()}).ok());
  EXPECT_EQ(flags(), (std::map<std::string, bool>{{"10.1.0.5", true}, {"10.1.0.9", false}}));
  // A lease added later on a reserved IP is flagged at once.
  ASSERT_TRUE(guard.set_leases({{ip("10.1.0.5"), pod_mac(5)}, {ip("10.1.0.6"), pod_mac(6)}}).ok());
  EXPECT_EQ(flags(), (std::map<std::string, bool>{{"10.1.0.5", true}, {"10.1.0.6", true}}));
  ASSERT_TRUE(guard.set_reserved({}).ok());
  EXPECT_EQ(flags(), (std::map<std::string, bool>{{"10.1.0.5", false}, {"10.1.0.6", false}}));
}

// The byte forms the agent uses sync the same way; the guard sets the reserved flag itself,
// whatever the caller's entries say.
TEST(GuardSync, EntryFormsSyncLikeTheTextFormsAndIgnoreTheCallersFlag) {
  const auto mac = [](int i) { return datapath::Mac::parse(pod_mac(i)).value(); };
  Guard guard = open_guard();
  ASSERT_TRUE(guard.set_reserved({IpRange::parse("10.2.0.1/32").value()}).ok());
  expect_stats(guard.set_lease_entries({{ip("10.2.0.1"), mac(1), false},
                                        {ip("10.2.0.2"), mac(2), true},
                                        {ip("10.2.0.2"), mac(2), false}}),  // a repeat: one
               {2, 0, 0, 0});
  const auto entries = guard.leases().value();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_TRUE(entries[0].reserved);
  EXPECT_FALSE(entries[1].reserved);
  expect_stats(guard.set_leases({{ip("10.2.0.1"), pod_mac(1)}, {ip("10.2.0.2"), pod_mac(3)}}),
               {0, 0, 1, 1});
  auto conflicting =
      guard.set_lease_entries({{ip("10.2.0.9"), mac(1), false}, {ip("10.2.0.9"), mac(2), false}});
  ASSERT_FALSE(conflicting.ok());
  EXPECT_EQ(conflicting.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(conflicting.error().message, "lease 10.2.0.9 is given twice, with different MACs");
  EXPECT_EQ(read_back(guard).size(), 2u) << "nothing written";

  expect_stats(guard.set_pod_mac_entries({mac(1), mac(2)}), {2, 0, 0, 0});
  expect_stats(guard.set_pod_macs({pod_mac(2)}), {0, 1, 0, 1});
}

TEST(GuardSync, ApplyWritesEachEditFlagsLeasesAndNamesAFullMap) {
  using datapath::MapEdit;
  using Kind = MapEdit::Kind;
  const auto mac = [](int i) { return datapath::Mac::parse(pod_mac(i)).value(); };
  Guard guard =
      open_guard({.leases = 2, .reserved_prefixes = 4, .pool_prefixes = 4, .pod_macs = 2});
  ASSERT_TRUE(guard.set_reserved({IpRange::parse("10.2.0.1/32").value()}).ok());
  ASSERT_TRUE(guard
                  .apply({{Kind::put_pod_mac, {}, mac(1)},
                          {Kind::put_lease, ip("10.2.0.1"), mac(1)},
                          {Kind::put_lease, ip("10.2.0.2"), mac(1)},
                          {Kind::erase_lease, ip("10.2.0.9"), {}},  // not there: no error
                          {Kind::erase_pod_mac, {}, mac(7)}})
                  .ok());
  const auto entries = guard.leases().value();
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_EQ(entries[0].ip, ip("10.2.0.1"));
  EXPECT_TRUE(entries[0].reserved) << "a lease on a reserved IP is flagged as set_leases does";
  EXPECT_FALSE(entries[1].reserved);
  EXPECT_EQ(entries[1].mac.to_string(), pod_mac(1));

  // A third lease does not fit: the error says which and what to do; earlier edits stay.
  Status full = guard.apply(
      {{Kind::put_lease, ip("10.2.0.2"), mac(2)}, {Kind::put_lease, ip("10.2.0.3"), mac(1)}});
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, ErrorCode::exhausted);
  EXPECT_EQ(full.error().message,
            "lease 10.2.0.3: the map is full (capacity 2); raise --max-leases (a pinned map "
            "keeps its size until its pin is removed)");
  EXPECT_EQ(read_back(guard), (std::map<IpAddress, std::string>{{ip("10.2.0.1"), pod_mac(1)},
                                                                {ip("10.2.0.2"), pod_mac(2)}}));

  ASSERT_TRUE(guard
                  .apply({{Kind::erase_lease, ip("10.2.0.1"), {}},
                          {Kind::erase_lease, ip("10.2.0.2"), {}},
                          {Kind::erase_pod_mac, {}, mac(1)}})
                  .ok());
  EXPECT_TRUE(read_back(guard).empty());
  // The pod-MAC map is empty again: two new MACs fit.
  EXPECT_TRUE(guard.apply({{Kind::put_pod_mac, {}, mac(2)}, {Kind::put_pod_mac, {}, mac(3)}}).ok());
  expect_stats(guard.set_pod_macs({pod_mac(2), pod_mac(3)}), {0, 0, 0, 2});
}

}  // namespace
}  // namespace ipfence::testing
