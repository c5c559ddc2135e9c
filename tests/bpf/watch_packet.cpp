// Table-driven packet cases for the conflict watcher, run through BPF_PROG_TEST_RUN: every
// ARP and NDP kind, untagged and under one and two VLAN tags, with the address and MAC each
// one reports, claims outside the managed ranges, frames the watcher ignores, and the verdict,
// which is always "no opinion" (TC_ACT_UNSPEC). Dedup is off here (interval 0), so every case
// stands alone; watch_dedup.cpp tests dedup.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/bpf/watch_world.h"

namespace ipfence::testing {
namespace {

enum class Outcome { event, out_of_scope, malformed, ignored };

struct WatchCase {
  std::string name;
  Bytes frame;
  Outcome outcome = Outcome::ignored;
  WatchKind kind = WatchKind::arp_request;  // for Outcome::event
  IpAddress ip;
  Mac mac;
};

WatchCase event(std::string name, Bytes frame, WatchKind kind, const char* addr, const Mac& m) {
  return {std::move(name), std::move(frame), Outcome::event, kind, ip(addr), m};
}
WatchCase no_event(std::string name, Bytes frame, Outcome outcome) {
  return {std::move(name), std::move(frame), outcome, WatchKind::arp_request, {}, {}};
}

// Sets a byte of a frame (hop limit, ICMPv6 code...) at `offset`.
Bytes with_byte(Bytes frame, std::size_t offset, std::uint8_t value) {
  frame.at(offset) = value;
  return frame;
}

std::vector<WatchCase> kind_table(const std::vector<std::uint16_t>& tags) {
  const L2 out{kOutsider, tags};
  const std::size_t l2 = l2_size(out);
  const Mac zero = mac("00:00:00:00:00:00");
  const Bytes sll = lladdr_option(1, kOptionMac);
  const Bytes tll = lladdr_option(2, kOptionMac);
  // A Nonce option (RFC 3971 5.3.2, type 14, 8 bytes) before the link-layer address.
  const Bytes nonce = {14, 1, 1, 2, 3, 4, 5, 6};
  Bytes nonce_then_sll = nonce;
  put(nonce_then_sll, sll);
  const Bytes ns = ndp_message(out, kNdpNeighborSolicit, ip("fd00:1::20"), ip("fd00:1::1"), sll);
  const Bytes ns_bare = ndp_message(out, kNdpNeighborSolicit, ip("fd00:1::20"), ip("fd00:1::1"));
  return {
      // ARP: which address, which MAC.
      event("arp request from a pool address", arp_frame(out, 1, ip("10.1.0.10"), ip("10.1.0.1")),
            WatchKind::arp_request, "10.1.0.10", kOutsider),
      event("arp reply from a pool address", arp_frame(out, 2, ip("10.1.0.11"), ip("10.1.0.1")),
            WatchKind::arp_reply, "10.1.0.11", kOutsider),
      event("arp probe for a pool address (sender 0.0.0.0)",
            arp_frame(out, 1, ip("0.0.0.0"), ip("10.1.0.12")), WatchKind::arp_probe, "10.1.0.12",
            kOutsider),
      event("arp announcement (request, sender == target)",
            arp_frame(out, 1, ip("10.1.0.13"), ip("10.1.0.13")), WatchKind::arp_announcement,
            "10.1.0.13", kOutsider),
      event("gratuitous arp reply (sender == target)",
            arp_frame(out, 2, ip("10.1.0.14"), ip("10.1.0.14")), WatchKind::arp_announcement,
            "10.1.0.14", kOutsider),
      event("arp: the sender hardware address, not the Ethernet source",
            arp_message(out, 2, kOutsider2, ip("10.1.0.15"), ip("10.1.0.1")), WatchKind::arp_reply,
            "10.1.0.15", kOutsider2),
      event("arp from a reserved address inside the pool",
            arp_frame(out, 1, ip("10.1.0.205"), ip("10.1.0.1")), WatchKind::arp_request,
            "10.1.0.205", kOutsider),
      event("arp from a reserved address outside any pool",
            arp_frame(out, 2, ip("192.168.50.7"), ip("192.168.50.1")), WatchKind::arp_reply,
            "192.168.50.7", kOutsider),
      no_event("arp request from outside every range for a pool address",
               arp_frame(out, 1, ip("172.16.0.1"), ip("10.1.0.1")), Outcome::out_of_scope),
      no_event("arp probe for an address outside every range",
               arp_frame(out, 1, ip("0.0.0.0"), ip("172.16.0.2")), Outcome::out_of_scope),
      no_event("arp reply from 0.0.0.0 claims nothing",
               arp_frame(out, 2, ip("0.0.0.0"), ip("10.1.0.1")), Outcome::ignored),
      no_event("arp probe for 0.0.0.0 claims nothing",
               arp_frame(out, 1, ip("0.0.0.0"), ip("0.0.0.0")), Outcome::ignored),
      no_event("rarp request (op 3)", arp_frame(out, 3, ip("10.1.0.10"), ip("10.1.0.1")),
               Outcome::ignored),
      no_event("arp for another hardware type",
               ethernet(out, kEthArp,
                        arp(1, kOutsider, ip("10.1.0.10"), zero, ip("10.1.0.1"), /*htype=*/6)),
               Outcome::ignored),

      // NDP.
      event("ns: the source address, the source link-layer option", ns, WatchKind::ndp_ns,
            "fd00:1::20", kOptionMac),
      event("ns without options: the Ethernet source", ns_bare, WatchKind::ndp_ns, "fd00:1::20",
            kOutsider),
      event(
          "ns with a nonce before the link-layer option",
          ndp_message(out, kNdpNeighborSolicit, ip("fd00:1::21"), ip("fd00:1::1"), nonce_then_sll),
          WatchKind::ndp_ns, "fd00:1::21", kOptionMac),
      event("ns: a target link-layer option is not the source's",
            ndp_message(out, kNdpNeighborSolicit, ip("fd00:1::22"), ip("fd00:1::1"), tll),
            WatchKind::ndp_ns, "fd00:1::22", kOutsider),
      event("dad: ns from ::, the target",
            ndp_message(out, kNdpNeighborSolicit, ip("::"), ip("fd00:1::23")), WatchKind::ndp_dad,
            "fd00:1::23", kOutsider),
      event("na: the target, the target link-layer option",
            ndp_message(out, kNdpNeighborAdvert, ip("fe80::99"), ip("fd00:1::24"), tll),
            WatchKind::ndp_na, "fd00:1::24", kOptionMac),
      event("na without options: the Ethernet source",
            ndp_message(out, kNdpNeighborAdvert, ip("fd00:1::25"), ip("fd00:1::25")),
            WatchKind::ndp_na, "fd00:1::25", kOutsider),
      event("na for a reserved address outside any pool",
            ndp_message(out, kNdpNeighborAdvert, ip("fe80::99"), ip("fd00:2::5"), tll),
            WatchKind::ndp_na, "fd00:2::5", kOptionMac),
      event("na behind a hop-by-hop header",
            ethernet(
                out, kEthIPv6,
                ipv6(ip("fe80::99"), ip("ff02::1"), kHopByHop,
                     ext_header(kIcmpv6, icmpv6(kNdpNeighborAdvert, ndp_body(ip("fd00:1::26")))))),
            WatchKind::ndp_na, "fd00:1::26", kOutsider),
      no_event("ns from a link-local source",
               ndp_message(out, kNdpNeighborSolicit, ip("fe80::99"), ip("fd00:1::1"), sll),
               Outcome::out_of_scope),
      no_event("na for an address outside every range",
               ndp_message(out, kNdpNeighborAdvert, ip("fe80::99"), ip("fd00:3::1"), tll),
               Outcome::out_of_scope),
      no_event("dad for an address outside every range",
               ndp_message(out, kNdpNeighborSolicit, ip("::"), ip("fd00:3::2")),
               Outcome::out_of_scope),
      no_event("ns with hop limit 64 (RFC 4861: discarded)", with_byte(ns, l2 + 7, 64),
               Outcome::ignored),
      no_event("ns with code 1 (RFC 4861: discarded)", with_byte(ns, l2 + 41, 1), Outcome::ignored),
      no_event("router solicitation",
               ndp_message(out, kNdpRouterSolicit, ip("fd00:1::20"), ip("::")), Outcome::ignored),
      no_event("ns with an option of length 0", with_byte(ns, l2 + 40 + 24 + 1, 0),
               Outcome::malformed),
      no_event("ns with an option longer than the payload", with_byte(ns, l2 + 40 + 24 + 1, 2),
               Outcome::malformed),
      no_event("ns whose payload_len is past the frame's end", with_byte(ns, l2 + 5, 40),
               Outcome::malformed),
      no_event("ns whose payload_len is too short for the target", with_byte(ns, l2 + 5, 20),
               Outcome::malformed),

      // Not ARP or NDP.
      no_event("ipv4 from a pool address", ipv4_frame(out, ip("10.1.0.10")), Outcome::ignored),
      no_event("ipv6 udp from a pool address", ipv6_frame(out, ip("fd00:1::a")), Outcome::ignored),
      no_event("lldp", ethernet(out, kEthLldp, Bytes(46, 0)), Outcome::ignored),
  };
}

class WatchPacketTest : public ::testing::Test {
 protected:
  void SetUp() override {
    guard_ = open_guard();
    ASSERT_TRUE(guard_.has_value());
    watcher_ = open_watcher(*guard_, std::chrono::nanoseconds(0));
    ASSERT_TRUE(watcher_);
  }

  void run_cases(const std::vector<WatchCase>& cases, std::uint16_t vlan) {
    for (const WatchCase& c : cases) {
      SCOPED_TRACE(c.name);
      const auto t0 = monotonic_now();
      const WatchRun r = run_watch(*watcher_, c.frame);
      const auto t1 = monotonic_now();
      ASSERT_EQ(r.err, 0) << "BPF_PROG_TEST_RUN failed";
      EXPECT_EQ(r.retval, kUnspec);
      WatchCounters want;
      switch (c.outcome) {
        case Outcome::event:
          want.sent = 1;
          want.sent_by_kind[static_cast<std::size_t>(c.kind)] = 1;
          want.delivered = 1;
          break;
        case Outcome::out_of_scope:
          want.out_of_scope = 1;
          break;
        case Outcome::malformed:
          want.malformed = 1;
          break;
        case Outcome::ignored:
          break;
      }
      EXPECT_EQ(describe(r.delta), describe(want));
      EXPECT_EQ(r.delta.delivered, want.delivered);
      ASSERT_EQ(r.events.size(), c.outcome == Outcome::event ? 1u : 0u);
      if (r.events.empty()) continue;
      const WatchEvent& ev = r.events[0];
      EXPECT_EQ(ev.kind, c.kind) << datapath::watch_kind_name(ev.kind);
      EXPECT_EQ(ev.ip, c.ip) << ev.ip.to_string();
      EXPECT_EQ(ev.mac, c.mac) << ev.mac.to_string();
      EXPECT_EQ(ev.vlan, vlan);
      EXPECT_EQ(ev.ifindex, 1u);  // BPF_PROG_TEST_RUN runs on lo
      EXPECT_EQ(ev.master, "lo");
      EXPECT_GE(ev.seen_monotonic, t0);
      EXPECT_LE(ev.seen_monotonic, t1);
    }
  }

  std::optional<Guard> guard_;
  std::unique_ptr<Watcher> watcher_;
};

TEST_F(WatchPacketTest, EveryKindUntagged) {
  run_cases(kind_table({}), 0);
}

TEST_F(WatchPacketTest, EveryKindUnderOneVlanTag) {
  run_cases(kind_table({kEthVlan}), 100);
}

TEST_F(WatchPacketTest, EveryKindUnderQinQ) {
  run_cases(kind_table({kEthQinQ, kEthVlan}), 100);  // the outer (S-)tag's VLAN ID
}

TEST_F(WatchPacketTest, EveryKindUnder8021adAlone) {
  run_cases(kind_table({kEthQinQ}), 100);
}

TEST_F(WatchPacketTest, AThirdVlanTagIsMalformed) {
  const L2 three{kOutsider, {kEthQinQ, kEthVlan, kEthVlan}};
  const WatchRun r = run_watch(*watcher_, arp_frame(three, 2, ip("10.1.0.10"), ip("10.1.0.1")));
  ASSERT_EQ(r.err, 0);
  EXPECT_EQ(r.retval, kUnspec);
  EXPECT_TRUE(r.events.empty());
  EXPECT_EQ(r.delta.malformed, 1u);
}

TEST_F(WatchPacketTest, KindNames) {
  using datapath::watch_kind_name;
  EXPECT_EQ(watch_kind_name(WatchKind::arp_request), "arp_request");
  EXPECT_EQ(watch_kind_name(WatchKind::arp_reply), "arp_reply");
  EXPECT_EQ(watch_kind_name(WatchKind::arp_probe), "arp_probe");
  EXPECT_EQ(watch_kind_name(WatchKind::arp_announcement), "arp_announcement");
  EXPECT_EQ(watch_kind_name(WatchKind::ndp_ns), "ndp_ns");
  EXPECT_EQ(watch_kind_name(WatchKind::ndp_na), "ndp_na");
  EXPECT_EQ(watch_kind_name(WatchKind::ndp_dad), "ndp_dad");
}

}  // namespace
}  // namespace ipfence::testing
