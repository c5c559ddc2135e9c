// The world the watcher's tests run in: a Guard with private maps that holds the pools and
// reserved ranges (the watcher reads the guard's tries, it has none of its own), a Watcher
// that shares them, frames for the NDP cases frame_builder.h does not build, and a helper
// that runs one frame through the watcher with BPF_PROG_TEST_RUN and collects what it did.
#pragma once

#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>
#include <time.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "agent/datapath/guard.h"
#include "agent/datapath/watch.h"
#include "tests/bpf/frame_builder.h"

namespace ipfence::testing {

using datapath::Guard;
using datapath::WatchCounters;
using datapath::Watcher;
using datapath::WatchEvent;
using datapath::WatchKind;
using datapath::WatchOptions;

// The watcher's verdict for every frame: "no opinion", so the next filter (or none) decides.
inline constexpr std::uint32_t kUnspec = static_cast<std::uint32_t>(TC_ACT_UNSPEC);

// Hosts outside the cluster, and a MAC that appears only inside link-layer options.
inline const Mac kOutsider = mac("02:00:00:00:00:99");
inline const Mac kOutsider2 = mac("02:00:00:00:00:98");
inline const Mac kOptionMac = mac("02:00:00:00:00:77");

// Pools 10.1.0.0/24 and fd00:1::/120; reserved 10.1.0.200-210 (inside the pool),
// 192.168.50.0/24 and fd00:2::/120 (outside any pool). Everything else is out of scope.
inline std::vector<ipam::IpRange> watch_pools() {
  return {ipam::IpRange::parse("10.1.0.0/24").value(),
          ipam::IpRange::parse("fd00:1::/120").value()};
}
inline std::vector<ipam::IpRange> watch_reserved() {
  return {ipam::IpRange::parse("10.1.0.200-10.1.0.210").value(),
          ipam::IpRange::parse("192.168.50.0/24").value(),
          ipam::IpRange::parse("fd00:2::/120").value()};
}

// A guard with private maps holding the pools and reserved ranges above.
inline std::optional<Guard> open_guard() {
  datapath::GuardOptions options;
  options.pin_dir.clear();
  auto guard = Guard::open(options);
  EXPECT_TRUE(guard.ok()) << guard.error().message;
  if (!guard.ok()) return std::nullopt;
  EXPECT_TRUE(guard->set_pools(watch_pools()).ok());
  EXPECT_TRUE(guard->set_reserved(watch_reserved()).ok());
  return std::move(*guard);
}

// A watcher sharing `guard`'s tries, nothing pinned.
inline std::unique_ptr<Watcher> open_watcher(const Guard& guard,
                                             std::chrono::nanoseconds dedup_interval,
                                             std::uint32_t ringbuf_bytes = 1u << 20) {
  WatchOptions options;
  options.pin_dir.clear();
  options.prefix_maps = datapath::prefix_maps_of(guard);
  options.dedup_interval = dedup_interval;
  options.ringbuf_bytes = ringbuf_bytes;
  auto watcher = Watcher::open(options);
  EXPECT_TRUE(watcher.ok()) << watcher.error().message;
  return watcher.ok() ? std::move(*watcher) : nullptr;
}

inline std::chrono::nanoseconds monotonic_now() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

// NDP option carrying a link-layer address (RFC 4861 4.6.1): type 1 source, 2 target.
inline Bytes lladdr_option(std::uint8_t type, const Mac& m) {
  Bytes b = {type, 1};
  put_mac(b, m);
  return b;
}

// A whole NS (135) or NA (136) frame with options after the target.
inline Bytes ndp_message(const L2& l2, std::uint8_t type, const IpAddress& src,
                         const IpAddress& target, const Bytes& options = {}) {
  Bytes body = ndp_body(target, type == kNdpNeighborAdvert ? 0x20 : 0);  // NA: override flag
  put(body, options);
  return ethernet(l2, kEthIPv6, ipv6(src, ip("ff02::1"), kIcmpv6, icmpv6(type, body)));
}

// An ARP frame whose sender hardware address may differ from the Ethernet source.
inline Bytes arp_message(const L2& l2, std::uint16_t op, const Mac& sha, const IpAddress& spa,
                         const IpAddress& tpa) {
  return ethernet(l2, kEthArp, arp(op, sha, spa, mac("00:00:00:00:00:00"), tpa));
}

// The counters after minus before (kernel side and delivered).
inline WatchCounters minus(const WatchCounters& a, const WatchCounters& b) {
  WatchCounters d;
  d.sent = a.sent - b.sent;
  d.suppressed = a.suppressed - b.suppressed;
  d.lost = a.lost - b.lost;
  d.malformed = a.malformed - b.malformed;
  d.out_of_scope = a.out_of_scope - b.out_of_scope;
  for (std::size_t k = 0; k < d.sent_by_kind.size(); ++k)
    d.sent_by_kind[k] = a.sent_by_kind[k] - b.sent_by_kind[k];
  d.delivered = a.delivered - b.delivered;
  d.undecodable = a.undecodable - b.undecodable;
  d.callback_failures = a.callback_failures - b.callback_failures;
  return d;
}

inline std::string describe(const WatchCounters& c) {
  std::string s = "sent " + std::to_string(c.sent) + ", suppressed " +
                  std::to_string(c.suppressed) + ", lost " + std::to_string(c.lost) +
                  ", malformed " + std::to_string(c.malformed) + ", out_of_scope " +
                  std::to_string(c.out_of_scope) + ", by kind [";
  for (std::uint64_t k : c.sent_by_kind) s += std::to_string(k) + " ";
  return s + "]";
}

inline WatchCounters read_counters(const Watcher& w) {
  auto c = w.counters();
  EXPECT_TRUE(c.ok()) << c.error().message;
  return c.ok() ? *c : WatchCounters{};
}

// What one frame did: the test run's result, the events it produced, the counters' growth.
struct WatchRun {
  int err = 0;
  std::uint32_t retval = 0;
  std::vector<WatchEvent> events;
  WatchCounters delta;
};

inline WatchRun run_watch(Watcher& w, const Bytes& frame) {
  WatchRun run;
  const WatchCounters before = read_counters(w);
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<__u32>(frame.size());
  run.err = bpf_prog_test_run_opts(w.prog_fd(), &opts);
  run.retval = opts.retval;
  auto polled = w.poll([&](const WatchEvent& ev) { run.events.push_back(ev); });
  EXPECT_TRUE(polled.ok()) << polled.error().message;
  run.delta = minus(read_counters(w), before);
  return run;
}

}  // namespace ipfence::testing
