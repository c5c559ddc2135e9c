// The watcher's dedup and ring-buffer behaviour, through BPF_PROG_TEST_RUN: the same (IP, MAC)
// twice within the interval is one event and one suppressed; a new MAC for an IP is reported
// at once, and so is the old one coming back; a probe and a claim of the same pair are two
// events; the pair is reported again once the interval is over; a full ring buffer counts lost
// events and leaves the dedup state alone, so the next frame of a lost pair is reported.
#include <gtest/gtest.h>

#include <thread>

#include "tests/bpf/watch_world.h"

namespace ipfence::testing {
namespace {

using namespace std::chrono_literals;

class WatchDedupTest : public ::testing::Test {
 protected:
  void SetUp() override {
    guard_ = open_guard();
    ASSERT_TRUE(guard_.has_value());
  }

  std::unique_ptr<Watcher> watcher(std::chrono::nanoseconds interval,
                                   std::uint32_t ringbuf_bytes = 1u << 20) {
    return open_watcher(*guard_, interval, ringbuf_bytes);
  }

  std::optional<Guard> guard_;
};

Bytes reply_from(const Mac& m, const char* addr) {
  return arp_frame(L2{m, {}}, 2, ip(addr), ip("10.1.0.1"));
}

TEST_F(WatchDedupTest, SamePairTwiceWithinTheIntervalIsOneEvent) {
  auto w = watcher(10s);
  ASSERT_TRUE(w);
  const WatchRun first = run_watch(*w, reply_from(kOutsider, "10.1.0.30"));
  EXPECT_EQ(first.events.size(), 1u);
  EXPECT_EQ(first.delta.sent, 1u);
  const WatchRun second = run_watch(*w, reply_from(kOutsider, "10.1.0.30"));
  EXPECT_EQ(second.retval, kUnspec);
  EXPECT_TRUE(second.events.empty());
  EXPECT_EQ(second.delta.sent, 0u);
  EXPECT_EQ(second.delta.suppressed, 1u);
  // Dedup is by (IP, MAC), not by kind: a request from the same pair is the same news.
  const WatchRun request =
      run_watch(*w, arp_frame(L2{kOutsider, {}}, 1, ip("10.1.0.30"), ip("10.1.0.1")));
  EXPECT_TRUE(request.events.empty());
  EXPECT_EQ(request.delta.suppressed, 1u);
  // ... and whatever the VLAN.
  const WatchRun tagged =
      run_watch(*w, arp_frame(L2{kOutsider, {kEthVlan}}, 2, ip("10.1.0.30"), ip("10.1.0.1")));
  EXPECT_EQ(tagged.delta.suppressed, 1u);
}

TEST_F(WatchDedupTest, OtherAddressesAndFamiliesAreTheirOwnPairs) {
  auto w = watcher(10s);
  ASSERT_TRUE(w);
  EXPECT_EQ(run_watch(*w, reply_from(kOutsider, "10.1.0.31")).delta.sent, 1u);
  EXPECT_EQ(run_watch(*w, reply_from(kOutsider, "10.1.0.32")).delta.sent, 1u);
  const L2 out{kOutsider, {}};
  EXPECT_EQ(run_watch(*w, ndp_message(out, kNdpNeighborAdvert, ip("fe80::99"), ip("fd00:1::31")))
                .delta.sent,
            1u);
  EXPECT_EQ(run_watch(*w, ndp_message(out, kNdpNeighborAdvert, ip("fe80::99"), ip("fd00:1::31")))
                .delta.suppressed,
            1u);
}

TEST_F(WatchDedupTest, ANewMacForAnAddressIsReportedAtOnce) {
  auto w = watcher(10s);
  ASSERT_TRUE(w);
  ASSERT_EQ(run_watch(*w, reply_from(kOutsider, "10.1.0.40")).delta.sent, 1u);
  const WatchRun other = run_watch(*w, reply_from(kOutsider2, "10.1.0.40"));
  ASSERT_EQ(other.events.size(), 1u);
  EXPECT_EQ(other.events[0].mac, kOutsider2);
  EXPECT_EQ(other.delta.suppressed, 0u);
  // The first host again: its pair was reported within the interval, but the address's MAC
  // changed (back), which is news again.
  const WatchRun back = run_watch(*w, reply_from(kOutsider, "10.1.0.40"));
  ASSERT_EQ(back.events.size(), 1u);
  EXPECT_EQ(back.events[0].mac, kOutsider);
  // And now it is the same MAC as last time: suppressed.
  EXPECT_EQ(run_watch(*w, reply_from(kOutsider, "10.1.0.40")).delta.suppressed, 1u);
}

TEST_F(WatchDedupTest, AProbeAndAClaimOfTheSamePairAreBothReported) {
  auto w = watcher(10s);
  ASSERT_TRUE(w);
  const L2 out{kOutsider, {}};
  // RFC 5227: probe, probe, probe, then announce.
  const WatchRun probe = run_watch(*w, arp_frame(out, 1, ip("0.0.0.0"), ip("10.1.0.50")));
  ASSERT_EQ(probe.events.size(), 1u);
  EXPECT_EQ(probe.events[0].kind, WatchKind::arp_probe);
  EXPECT_EQ(run_watch(*w, arp_frame(out, 1, ip("0.0.0.0"), ip("10.1.0.50"))).delta.suppressed, 1u);
  const WatchRun announce = run_watch(*w, arp_frame(out, 1, ip("10.1.0.50"), ip("10.1.0.50")));
  ASSERT_EQ(announce.events.size(), 1u);
  EXPECT_EQ(announce.events[0].kind, WatchKind::arp_announcement);
  // The same for IPv6: DAD, then an advertisement.
  const WatchRun dad =
      run_watch(*w, ndp_message(out, kNdpNeighborSolicit, ip("::"), ip("fd00:1::50")));
  ASSERT_EQ(dad.events.size(), 1u);
  EXPECT_EQ(dad.events[0].kind, WatchKind::ndp_dad);
  const WatchRun na =
      run_watch(*w, ndp_message(out, kNdpNeighborAdvert, ip("fd00:1::50"), ip("fd00:1::50")));
  ASSERT_EQ(na.events.size(), 1u);
  EXPECT_EQ(na.events[0].kind, WatchKind::ndp_na);
}

TEST_F(WatchDedupTest, ThePairIsReportedAgainAfterTheInterval) {
  constexpr auto kInterval = 50ms;
  auto w = watcher(kInterval);
  ASSERT_TRUE(w);
  const WatchRun first = run_watch(*w, reply_from(kOutsider, "10.1.0.60"));
  ASSERT_EQ(first.events.size(), 1u);
  // Suppressed while the interval runs (the test itself is far quicker than 50 ms; if this
  // machine stalls that long, the frame is reported and the check below is skipped).
  const WatchRun within = run_watch(*w, reply_from(kOutsider, "10.1.0.60"));
  if (monotonic_now() - first.events[0].seen_monotonic < kInterval) {
    EXPECT_EQ(within.delta.suppressed, 1u);
    EXPECT_TRUE(within.events.empty());
  }
  std::this_thread::sleep_for(kInterval + 10ms);
  const WatchRun after = run_watch(*w, reply_from(kOutsider, "10.1.0.60"));
  ASSERT_EQ(after.events.size(), 1u);
  EXPECT_GE(after.events[0].seen_monotonic - first.events[0].seen_monotonic, kInterval);
  EXPECT_EQ(after.delta.suppressed, 0u);
}

TEST_F(WatchDedupTest, IntervalZeroReportsEveryFrame) {
  auto w = watcher(0ns);
  ASSERT_TRUE(w);
  for (int i = 0; i < 5; ++i)
    EXPECT_EQ(run_watch(*w, reply_from(kOutsider, "10.1.0.61")).delta.sent, 1u);
}

TEST_F(WatchDedupTest, AFullRingBufferCountsLostEventsAndForgetsNothing) {
  // One page: 4096 / 48 bytes (a 40-byte record behind an 8-byte header) = 85 records.
  auto w = watcher(10s, 4096);
  ASSERT_TRUE(w);
  const int fd = w->prog_fd();
  auto send = [&](int host) {
    const std::string addr = "10.1.0." + std::to_string(host);
    const Bytes frame = reply_from(kOutsider, addr.c_str());
    bpf_test_run_opts opts{};
    opts.sz = sizeof(opts);
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<__u32>(frame.size());
    ASSERT_EQ(bpf_prog_test_run_opts(fd, &opts), 0);
    EXPECT_EQ(opts.retval, kUnspec);
  };
  const WatchCounters before = read_counters(*w);
  for (int host = 1; host <= 200; ++host) send(host);  // nobody reads meanwhile
  const WatchCounters full = minus(read_counters(*w), before);
  EXPECT_EQ(full.sent, 85u) << describe(full);
  EXPECT_EQ(full.lost, 200u - 85u);
  std::vector<WatchEvent> events;
  auto polled = w->poll([&](const WatchEvent& ev) { events.push_back(ev); });
  ASSERT_TRUE(polled.ok());
  EXPECT_EQ(*polled, 85u);
  ASSERT_EQ(events.size(), 85u);
  EXPECT_EQ(events.front().ip, ip("10.1.0.1"));  // in the order they were written
  EXPECT_EQ(events.back().ip, ip("10.1.0.85"));

  // A reported pair stays suppressed; a lost one is reported with its next frame.
  const WatchRun reported = run_watch(*w, reply_from(kOutsider, "10.1.0.85"));
  EXPECT_EQ(reported.delta.suppressed, 1u);
  const WatchRun lost = run_watch(*w, reply_from(kOutsider, "10.1.0.86"));
  ASSERT_EQ(lost.events.size(), 1u);
  EXPECT_EQ(lost.events[0].ip, ip("10.1.0.86"));
}

TEST_F(WatchDedupTest, TheCallbackMayThrowAndTheReaderGoesOn) {
  auto w = watcher(0ns);
  ASSERT_TRUE(w);
  run_watch(*w, reply_from(kOutsider, "10.1.0.70"));  // drains nothing: nothing waits
  const WatchCounters before = read_counters(*w);
  for (int i = 0; i < 3; ++i) {
    const Bytes frame = reply_from(kOutsider, "10.1.0.71");
    bpf_test_run_opts opts{};
    opts.sz = sizeof(opts);
    opts.data_in = frame.data();
    opts.data_size_in = static_cast<__u32>(frame.size());
    ASSERT_EQ(bpf_prog_test_run_opts(w->prog_fd(), &opts), 0);
  }
  int calls = 0;
  auto polled = w->poll([&](const WatchEvent&) {
    ++calls;
    throw std::runtime_error("classifier bug");
  });
  ASSERT_TRUE(polled.ok());
  EXPECT_EQ(*polled, 3u);
  EXPECT_EQ(calls, 3);
  const WatchCounters d = minus(read_counters(*w), before);
  EXPECT_EQ(d.callback_failures, 3u);
  EXPECT_EQ(d.delivered, 3u);
}

}  // namespace
}  // namespace ipfence::testing
