// Frames the watcher cannot fully read: every truncation of a set of ARP and NDP frames, under
// zero, one and two VLAN tags (so every header boundary is crossed), then random and mutated
// frames from a fixed seed. Whatever comes in: BPF_PROG_TEST_RUN succeeds, the verdict is
// TC_ACT_UNSPEC, at most one counter moves, and an event is sent only for a complete frame
// and only for an address in scope.
//
// BPF_PROG_TEST_RUN itself refuses frames under 14 bytes and (recent kernels) untagged IPv6
// frames shorter than Ethernet + IPv6; those cuts are skipped, the tagged variants run the same
// code on the same cut.
#include <gtest/gtest.h>

#include <random>

#include "tests/bpf/watch_world.h"

namespace ipfence::testing {
namespace {

bool test_run_may_refuse(const Bytes& f) {
  if (f.size() < 14) return true;
  const std::uint16_t type = static_cast<std::uint16_t>(f[12] << 8 | f[13]);
  return (type == kEthIPv4 && f.size() < 34) || (type == kEthIPv6 && f.size() < 54);
}

class WatchMalformedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    guard_ = open_guard();
    ASSERT_TRUE(guard_.has_value());
    watcher_ = open_watcher(*guard_, std::chrono::nanoseconds(0));  // no dedup: every frame
    ASSERT_TRUE(watcher_);
  }

  std::optional<Guard> guard_;
  std::unique_ptr<Watcher> watcher_;
};

struct TruncationBase {
  std::string name;
  Bytes frame;
  WatchKind kind;
};

std::vector<TruncationBase> truncation_bases(const std::vector<std::uint16_t>& tags) {
  const L2 out{kOutsider, tags};
  const Bytes sll = lladdr_option(1, kOptionMac);
  const Bytes tll = lladdr_option(2, kOptionMac);
  Bytes two_options = {14, 1, 1, 2, 3, 4, 5, 6};  // a nonce, then the link-layer address
  put(two_options, sll);
  return {
      {"arp request", arp_frame(out, 1, ip("10.1.0.10"), ip("10.1.0.1")), WatchKind::arp_request},
      {"arp probe", arp_frame(out, 1, ip("0.0.0.0"), ip("10.1.0.11")), WatchKind::arp_probe},
      {"ns with source lladdr",
       ndp_message(out, kNdpNeighborSolicit, ip("fd00:1::20"), ip("fd00:1::1"), sll),
       WatchKind::ndp_ns},
      {"ns with nonce and source lladdr",
       ndp_message(out, kNdpNeighborSolicit, ip("fd00:1::21"), ip("fd00:1::1"), two_options),
       WatchKind::ndp_ns},
      {"dad", ndp_message(out, kNdpNeighborSolicit, ip("::"), ip("fd00:1::22")),
       WatchKind::ndp_dad},
      {"na with target lladdr",
       ndp_message(out, kNdpNeighborAdvert, ip("fe80::1"), ip("fd00:1::23"), tll),
       WatchKind::ndp_na},
      {"na behind hop-by-hop",
       ethernet(out, kEthIPv6,
                ipv6(ip("fe80::1"), ip("ff02::1"), kHopByHop,
                     ext_header(kIcmpv6, icmpv6(kNdpNeighborAdvert, ndp_body(ip("fd00:1::24")))))),
       WatchKind::ndp_na},
  };
}

TEST_F(WatchMalformedTest, EveryTruncationIsMalformedAndOnlyTheWholeFrameIsReported) {
  int checked = 0;
  int refused = 0;
  for (const auto& tags :
       std::vector<std::vector<std::uint16_t>>{{}, {kEthVlan}, {kEthQinQ, kEthVlan}}) {
    for (const TruncationBase& base : truncation_bases(tags)) {
      for (std::size_t cut = 14; cut <= base.frame.size(); ++cut) {
        const Bytes frame(base.frame.begin(), base.frame.begin() + static_cast<long>(cut));
        SCOPED_TRACE(base.name + " (" + std::to_string(tags.size()) + " tags) cut at " +
                     std::to_string(cut) + " of " + std::to_string(base.frame.size()));
        const WatchRun r = run_watch(*watcher_, frame);
        if (r.err == -EINVAL && test_run_may_refuse(frame)) {
          ++refused;
          continue;
        }
        ASSERT_EQ(r.err, 0);
        EXPECT_EQ(r.retval, kUnspec);
        if (cut == base.frame.size()) {
          ASSERT_EQ(r.events.size(), 1u);
          EXPECT_EQ(r.events[0].kind, base.kind);
          EXPECT_EQ(r.delta.malformed, 0u);
        } else {
          EXPECT_TRUE(r.events.empty());
          EXPECT_EQ(r.delta.sent, 0u);
          EXPECT_EQ(r.delta.malformed, 1u) << describe(r.delta);
        }
        ++checked;
      }
    }
  }
  RecordProperty("checked", checked);
  RecordProperty("refused_by_test_run", refused);
  EXPECT_GT(checked, 1000);
}

TEST_F(WatchMalformedTest, ArpPaddedToTheEthernetMinimumIsReadAsARP) {
  Bytes frame = arp_frame(L2{kOutsider, {}}, 2, ip("10.1.0.12"), ip("10.1.0.1"));
  frame.resize(60, 0xee);  // padding a NIC adds; never read
  const WatchRun r = run_watch(*watcher_, frame);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].ip, ip("10.1.0.12"));
}

TEST_F(WatchMalformedTest, NdpWithTrailingBytesAfterThePayloadIgnoresThem) {
  Bytes frame = ndp_message(L2{kOutsider, {}}, kNdpNeighborAdvert, ip("fe80::1"), ip("fd00:1::25"),
                            lladdr_option(2, kOptionMac));
  frame.resize(frame.size() + 8, 0);  // would be an option of length 0 if it were read
  const WatchRun r = run_watch(*watcher_, frame);
  ASSERT_EQ(r.events.size(), 1u);
  EXPECT_EQ(r.events[0].mac, kOptionMac);
}

bool in_scope(const IpAddress& a) {
  for (const auto& ranges : {watch_pools(), watch_reserved()}) {
    for (const auto& r : ranges) {
      if (r.first.family() == a.family() && r.first.value() <= a.value() &&
          a.value() <= r.last.value())
        return true;
    }
  }
  return false;
}

// Random bytes behind a chosen ethertype (and tags), or a valid frame with a few bytes changed
// and maybe cut or extended.
TEST_F(WatchMalformedTest, RandomAndMutatedFramesNeverFailAndReportOnlyInScope) {
  std::mt19937 rng(20240611);
  auto byte = [&] { return static_cast<std::uint8_t>(rng() & 0xff); };
  const std::vector<std::uint16_t> types = {kEthArp,  kEthIPv6, kEthVlan,
                                            kEthQinQ, kEthIPv4, 0x1234};
  std::vector<Bytes> valid;
  for (const auto& tags : std::vector<std::vector<std::uint16_t>>{{}, {kEthVlan}}) {
    for (const TruncationBase& b : truncation_bases(tags)) valid.push_back(b.frame);
  }
  int runs = 0;
  int events = 0;
  for (int i = 0; i < 20000; ++i) {
    Bytes frame;
    if (i % 2 == 0) {
      frame = ethernet(L2{kOutsider, {}}, types[rng() % types.size()], {});
      const std::size_t n = rng() % 120;
      for (std::size_t k = 0; k < n; ++k) frame.push_back(byte());
      // Often make it look like ARP/IPv4 or IPv6/ICMPv6 NDP so the deeper code runs.
      const std::uint16_t type = static_cast<std::uint16_t>(frame[12] << 8 | frame[13]);
      if (type == kEthArp && frame.size() >= 22 && rng() % 2) {
        const Bytes head = {0, 1, 8, 0, 6, 4, 0, static_cast<std::uint8_t>(1 + rng() % 2)};
        std::copy(head.begin(), head.end(), frame.begin() + 14);
      }
      if (type == kEthIPv6 && frame.size() >= 60 && rng() % 2) {
        frame[14] = 0x60;
        frame[20] = kIcmpv6;
        frame[21] = 255;
        frame[54] = static_cast<std::uint8_t>(135 + rng() % 2);
        frame[55] = 0;
      }
    } else {
      frame = valid[rng() % valid.size()];
      const int changes = 1 + static_cast<int>(rng() % 4);
      for (int k = 0; k < changes; ++k) frame[rng() % frame.size()] = byte();
      if (rng() % 3 == 0) frame.resize(14 + rng() % (frame.size() - 13));
      if (rng() % 5 == 0) frame.resize(frame.size() + rng() % 16, byte());
    }
    SCOPED_TRACE("frame " + std::to_string(i));
    const WatchRun r = run_watch(*watcher_, frame);
    if (r.err == -EINVAL && test_run_may_refuse(frame)) continue;
    ASSERT_EQ(r.err, 0);
    ASSERT_EQ(r.retval, kUnspec);
    const std::uint64_t moved =
        r.delta.sent + r.delta.malformed + r.delta.out_of_scope + r.delta.suppressed + r.delta.lost;
    ASSERT_LE(moved, 1u) << describe(r.delta);
    ASSERT_EQ(r.events.size(), r.delta.sent);
    for (const WatchEvent& ev : r.events) {
      ASSERT_TRUE(in_scope(ev.ip)) << ev.ip.to_string();
      ++events;
    }
    ++runs;
  }
  RecordProperty("runs", runs);
  RecordProperty("events", events);
  EXPECT_GT(runs, 15000);
  EXPECT_GT(events, 100);  // the mutations keep enough frames valid to report
}

}  // namespace
}  // namespace ipfence::testing
