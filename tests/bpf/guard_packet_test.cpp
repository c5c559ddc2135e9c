// Table-driven packet cases for the guard, run through BPF_PROG_TEST_RUN: every verdict for
// IPv4, IPv6, ARP and NDP, untagged and under one and two VLAN tags, then the modes and the
// reserved-in-use policies. Each case names the frame, the TC verdict and the one counter
// (reason, verdict) it must move by one packet and frame-size bytes, or none.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "tests/bpf/guard_world.h"

namespace ipfence::testing {
namespace {

using datapath::Mode;
using datapath::ReservedPolicy;

struct PacketCase {
  std::string name;
  Bytes frame;
  std::uint32_t tc = TC_ACT_OK;
  std::optional<CounterKey> counted;
};

PacketCase pass(std::string name, Bytes frame) {
  return {std::move(name), std::move(frame), TC_ACT_OK, {}};
}
PacketCase drop(std::string name, Bytes frame, Reason reason) {
  return {std::move(name), std::move(frame), TC_ACT_SHOT, CounterKey{reason, Verdict::dropped}};
}
PacketCase pass_counted(std::string name, Bytes frame, Reason reason,
                        Verdict verdict = Verdict::passed) {
  return {std::move(name), std::move(frame), TC_ACT_OK, CounterKey{reason, verdict}};
}

class GuardPacketTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { open_private_guard(guard_, standard_world()); }
  static void TearDownTestSuite() { guard_.reset(); }

  void SetUp() override {
    ASSERT_TRUE(guard_.has_value());
    ASSERT_TRUE(guard_->set_mode(test_iface(*guard_), Mode::enforce).ok());
    ASSERT_TRUE(guard_->set_reserved_policy(test_iface(*guard_), ReservedPolicy::grandfather).ok());
  }

  static void run_cases(const std::vector<PacketCase>& cases) {
    for (const PacketCase& c : cases) {
      SCOPED_TRACE(c.name);
      const CounterMap before = snapshot(*guard_);
      const RunResult r = run_frame(guard_->prog_fd(), c.frame);
      ASSERT_EQ(r.err, 0) << "BPF_PROG_TEST_RUN failed";
      EXPECT_EQ(r.retval, c.tc) << (c.tc == TC_ACT_OK ? "expected pass" : "expected drop");
      CounterMap want;
      if (c.counted) want[*c.counted] = {1, c.frame.size()};
      const CounterMap got = delta(before, snapshot(*guard_));
      EXPECT_EQ(got, want) << "counters moved " << describe(got) << ", expected " << describe(want);
    }
  }

  static std::optional<Guard> guard_;
};

std::optional<Guard> GuardPacketTest::guard_;

// The verdict table for one layer-2 shape (untagged, or under the given tags).
std::vector<PacketCase> verdict_table(const std::vector<std::uint16_t>& tags) {
  const L2 a{kPodA, tags}, b{kPodB, tags}, c{kPodC, tags}, node{kNode, tags};
  const Mac zero = mac("00:00:00:00:00:00");
  auto arp_gratuitous = [&](const L2& l2, const char* addr) {
    return arp_frame(l2, 1, ip(addr), ip(addr));
  };
  auto na_with_hbh = [&](const L2& l2, const char* target) {
    return ethernet(l2, kEthIPv6,
                    ipv6(ip("fe80::a"), ip("ff02::1"), kHopByHop,
                         ext_header(kIcmpv6, icmpv6(kNdpNeighborAdvert, ndp_body(ip(target))))));
  };
  return {
      // IPv4
      pass("ipv4 pod A from its lease", ipv4_frame(a, ip("10.1.0.10"))),
      drop("ipv4 pod B from A's lease", ipv4_frame(b, ip("10.1.0.10")), Reason::mac_mismatch),
      drop("ipv4 node MAC from A's lease", ipv4_frame(node, ip("10.1.0.10")), Reason::mac_mismatch),
      drop("ipv4 pod A from a reserved IP in the pool", ipv4_frame(a, ip("10.1.0.201")),
           Reason::reserved),
      drop("ipv4 node from a reserved IP outside pools", ipv4_frame(node, ip("192.168.50.7")),
           Reason::reserved),
      drop("ipv4 pod A from a free pool IP", ipv4_frame(a, ip("10.1.0.50")), Reason::unallocated),
      drop("ipv4 unknown MAC from a free pool IP", ipv4_frame(node, ip("10.1.0.51")),
           Reason::unallocated),
      drop("ipv4 pod A from outside every range", ipv4_frame(a, ip("172.16.0.1")), Reason::spoofed),
      pass("ipv4 node's own traffic", ipv4_frame(node, ip("172.16.0.1"))),
      pass_counted("ipv4 pod C from its grandfathered reserved lease",
                   ipv4_frame(c, ip("10.1.0.205")), Reason::reserved_in_use),
      pass("ipv4 from 0.0.0.0 (DHCP discover)", ipv4_frame(a, ip("0.0.0.0"))),
      pass("ipv4 with options, pod A from its lease",
           ethernet(a, kEthIPv4, ipv4(ip("10.1.0.10"), ip("10.1.0.1"), Bytes(8, 0), Bytes(8, 1)))),
      // IPv6
      pass("ipv6 pod A from its lease", ipv6_frame(a, ip("fd00:1::a"))),
      drop("ipv6 pod B from A's lease", ipv6_frame(b, ip("fd00:1::a")), Reason::mac_mismatch),
      drop("ipv6 pod A from a reserved IP", ipv6_frame(a, ip("fd00:1::c9")), Reason::reserved),
      drop("ipv6 pod A from a free pool IP", ipv6_frame(a, ip("fd00:1::50")), Reason::unallocated),
      drop("ipv6 pod A from outside every range", ipv6_frame(a, ip("2001:db8::1")),
           Reason::spoofed),
      pass("ipv6 node's own traffic", ipv6_frame(node, ip("2001:db8::1"))),
      pass("ipv6 pod A from link-local", ipv6_frame(a, ip("fe80::1234"))),
      pass_counted("ipv6 pod C from its grandfathered reserved lease",
                   ipv6_frame(c, ip("fd00:1::cd")), Reason::reserved_in_use),
      // ARP: judged by the sender IP
      pass("arp request from pod A", arp_frame(a, 1, ip("10.1.0.10"), ip("10.1.0.1"))),
      pass("arp reply from pod A", arp_frame(a, 2, ip("10.1.0.10"), ip("10.1.0.1"))),
      drop("arp request from pod B claiming A's IP",
           arp_frame(b, 1, ip("10.1.0.10"), ip("10.1.0.1")), Reason::mac_mismatch),
      drop("arp reply from pod A claiming a free pool IP",
           arp_frame(a, 2, ip("10.1.0.50"), ip("10.1.0.1")), Reason::unallocated),
      drop("arp reply from pod A claiming a reserved IP",
           arp_frame(a, 2, ip("192.168.50.1"), ip("10.1.0.1")), Reason::reserved),
      pass("arp probe from 0.0.0.0", arp_frame(a, 1, ip("0.0.0.0"), ip("10.1.0.50"))),
      pass("gratuitous arp from pod A for its IP", arp_gratuitous(a, "10.1.0.10")),
      drop("gratuitous arp from pod A for B's IP", arp_gratuitous(a, "10.1.0.11"),
           Reason::mac_mismatch),
      drop("gratuitous arp from pod A for a reserved IP", arp_gratuitous(a, "10.1.0.202"),
           Reason::reserved),
      pass("arp that is not Ethernet/IPv4",
           ethernet(a, kEthArp, arp(1, kPodA, ip("10.1.0.50"), zero, ip("10.1.0.1"), 6))),
      // NDP: NS judged by its source, NA by its target
      pass("ndp NS from pod A's unicast",
           ndp_frame(a, kNdpNeighborSolicit, ip("fd00:1::a"), ip("fd00:1::1"))),
      drop("ndp NS from pod A with B's source",
           ndp_frame(a, kNdpNeighborSolicit, ip("fd00:1::b"), ip("fd00:1::1")),
           Reason::mac_mismatch),
      pass("ndp NS DAD from ::", ndp_frame(a, kNdpNeighborSolicit, ip("::"), ip("fd00:1::50"))),
      pass("ndp NA from pod A for its lease",
           ndp_frame(a, kNdpNeighborAdvert, ip("fe80::a"), ip("fd00:1::a"))),
      drop("ndp NA from pod A for B's lease",
           ndp_frame(a, kNdpNeighborAdvert, ip("fe80::a"), ip("fd00:1::b")), Reason::mac_mismatch),
      drop("ndp NA from pod A for a free pool IP",
           ndp_frame(a, kNdpNeighborAdvert, ip("fe80::a"), ip("fd00:1::60")), Reason::unallocated),
      drop("ndp NA from pod A for a reserved IP",
           ndp_frame(a, kNdpNeighborAdvert, ip("fd00:1::a"), ip("fd00:1::c9")), Reason::reserved),
      pass("ndp NA for a link-local target",
           ndp_frame(a, kNdpNeighborAdvert, ip("fe80::a"), ip("fe80::a"))),
      drop("ndp NA behind a hop-by-hop header, for B's lease", na_with_hbh(a, "fd00:1::b"),
           Reason::mac_mismatch),
      pass("ndp RS from link-local", ndp_frame(a, kNdpRouterSolicit, ip("fe80::a"), ip("::"))),
      // Not judged / not judgeable
      pass("unknown ethertype (LLDP)", ethernet(a, kEthLldp, Bytes(46, 0))),
  };
}

TEST_F(GuardPacketTest, VerdictsUntagged) {
  run_cases(verdict_table({}));
}
TEST_F(GuardPacketTest, VerdictsUnderOneVlanTag) {
  run_cases(verdict_table({kEthVlan}));
}
TEST_F(GuardPacketTest, VerdictsUnderQinQTags) {
  run_cases(verdict_table({kEthQinQ, kEthVlan}));
}
TEST_F(GuardPacketTest, VerdictsUnderTwoCTags) {
  run_cases(verdict_table({kEthVlan, kEthVlan}));
}

TEST_F(GuardPacketTest, ThirdVlanTagIsMalformed) {
  const L2 three{kPodA, {kEthQinQ, kEthVlan, kEthVlan}};
  run_cases({drop("three tags, pod A from its lease", ipv4_frame(three, ip("10.1.0.10")),
                  Reason::malformed)});
}

TEST_F(GuardPacketTest, MonitorModePassesWhatWouldBeDroppedAndCountsIt) {
  ASSERT_TRUE(guard_->set_mode(test_iface(*guard_), Mode::monitor).ok());
  const L2 a{kPodA, {}}, b{kPodB, {}}, c{kPodC, {}};
  // Cut inside the IPv4 header. Tagged, because BPF_PROG_TEST_RUN refuses untagged IPv4
  // frames shorter than Ethernet + 20 (see guard_truncation_test.cpp).
  Bytes truncated = ipv4_frame(L2{kPodA, {kEthVlan}}, ip("10.1.0.10"));
  truncated.resize(28);
  run_cases({
      pass("own lease still passes uncounted", ipv4_frame(a, ip("10.1.0.10"))),
      pass_counted("mac mismatch", ipv4_frame(b, ip("10.1.0.10")), Reason::mac_mismatch,
                   Verdict::monitored),
      pass_counted("reserved", ipv6_frame(a, ip("fd00:1::c9")), Reason::reserved,
                   Verdict::monitored),
      pass_counted("unallocated", arp_frame(a, 2, ip("10.1.0.50"), ip("10.1.0.1")),
                   Reason::unallocated, Verdict::monitored),
      pass_counted("spoofed", ipv4_frame(a, ip("172.16.0.1")), Reason::spoofed, Verdict::monitored),
      pass_counted("malformed", truncated, Reason::malformed, Verdict::monitored),
      pass_counted("grandfathered lease", ipv4_frame(c, ip("10.1.0.205")), Reason::reserved_in_use),
  });
  // Back to enforce without reloading: the same frame is dropped.
  ASSERT_TRUE(guard_->set_mode(test_iface(*guard_), Mode::enforce).ok());
  run_cases(
      {drop("mac mismatch, enforced again", ipv4_frame(b, ip("10.1.0.10")), Reason::mac_mismatch)});
}

TEST_F(GuardPacketTest, ReservedInUsePolicyDropDropsGrandfatheredLeases) {
  ASSERT_TRUE(guard_->set_reserved_policy(test_iface(*guard_), ReservedPolicy::drop).ok());
  const L2 a{kPodA, {}}, c{kPodC, {}};
  run_cases({
      drop("ipv4 grandfathered lease", ipv4_frame(c, ip("10.1.0.205")), Reason::reserved),
      drop("ipv6 grandfathered lease", ipv6_frame(c, ip("fd00:1::cd")), Reason::reserved),
      drop("arp for the grandfathered lease", arp_frame(c, 2, ip("10.1.0.205"), ip("10.1.0.1")),
           Reason::reserved),
      pass("an ordinary lease is unaffected", ipv4_frame(a, ip("10.1.0.10"))),
  });
  ASSERT_TRUE(guard_->set_mode(test_iface(*guard_), Mode::monitor).ok());
  run_cases({pass_counted("under monitor", ipv4_frame(c, ip("10.1.0.205")), Reason::reserved,
                          Verdict::monitored)});
}

TEST_F(GuardPacketTest, CountersAreKeyedByInterfaceAndAccumulate) {
  const Bytes frame = ipv4_frame(L2{kPodB, {}}, ip("10.1.0.10"));
  const CounterMap before = snapshot(*guard_);
  const RunResult r = run_frame(guard_->prog_fd(), frame, 1000);
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, static_cast<std::uint32_t>(TC_ACT_SHOT));
  const CounterMap want = {{{Reason::mac_mismatch, Verdict::dropped}, {1000, 1000 * frame.size()}}};
  EXPECT_EQ(delta(before, snapshot(*guard_)), want);
  EXPECT_TRUE(snapshot(*guard_, guard_->own_iface(kTestIfindex + 1000)).empty());
  EXPECT_TRUE(snapshot(*guard_, {guard_->netns_cookie() + 1, kTestIfindex}).empty());
}

TEST(GuardDefaults, RodataDefaultsApplyToMastersWithoutConfig) {
  datapath::GuardOptions options;
  options.pin_dir.clear();
  options.default_mode = Mode::monitor;
  options.default_policy = ReservedPolicy::drop;
  auto guard = Guard::open(options);
  ASSERT_TRUE(guard.ok()) << guard.error().message;
  load_world(*guard, standard_world());
  auto check = [&](const Bytes& frame, std::uint32_t tc, CounterKey key) {
    const CounterMap before = snapshot(*guard);
    const RunResult r = run_frame(guard->prog_fd(), frame);
    ASSERT_EQ(r.err, 0);
    EXPECT_EQ(r.retval, tc);
    EXPECT_EQ(delta(before, snapshot(*guard)), (CounterMap{{key, {1, frame.size()}}}));
  };
  check(ipv4_frame(L2{kPodC, {}}, ip("10.1.0.205")), TC_ACT_OK,
        {Reason::reserved, Verdict::monitored});
  check(ipv4_frame(L2{kPodA, {}}, ip("10.1.0.50")), TC_ACT_OK,
        {Reason::unallocated, Verdict::monitored});
  // An explicit mode overrides the default; the policy keeps the default.
  ASSERT_TRUE(guard->set_mode(test_iface(*guard), Mode::enforce).ok());
  check(ipv4_frame(L2{kPodC, {}}, ip("10.1.0.205")), TC_ACT_SHOT,
        {Reason::reserved, Verdict::dropped});
}

}  // namespace
}  // namespace ipfence::testing
