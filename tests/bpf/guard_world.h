// The state the packet tests run against (pools, reserved ranges, leases, pod MACs), the
// helper that runs one frame through the loaded guard with BPF_PROG_TEST_RUN, and counter
// snapshots to compare deltas.
#pragma once

#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/pkt_cls.h>

#include <map>
#include <optional>
#include <tuple>
#include <vector>

#include "agent/datapath/guard.h"
#include "tests/bpf/frame_builder.h"

namespace ipfence::testing {

using datapath::Guard;
using datapath::Reason;
using datapath::Verdict;

// BPF_PROG_TEST_RUN runs a TC program on the loopback device of the caller's netns unless
// told otherwise, so the config and counters of packet tests are keyed by (that netns, lo's
// ifindex). Every netns numbers its lo 1.
inline constexpr std::uint32_t kTestIfindex = 1;

// lo of the netns `guard` was opened in, which is where packet tests run their frames.
inline datapath::IfaceKey test_iface(const Guard& guard) {
  return guard.own_iface(kTestIfindex);
}

// MACs of the world: three pods, the node (not a pod), a host outside the cluster.
inline const Mac kPodA = mac("02:00:00:00:00:0a");
inline const Mac kPodB = mac("02:00:00:00:00:0b");
inline const Mac kPodC = mac("02:00:00:00:00:0c");  // holds a grandfathered reserved lease
inline const Mac kNode = mac("02:00:00:00:00:01");

struct World {
  std::vector<ipam::IpRange> pools;
  std::vector<ipam::IpRange> reserved;
  std::vector<datapath::Lease> leases;
  std::vector<std::string> pod_macs;
};

// Pools 10.1.0.0/24 and fd00:1::/120; reserved 10.1.0.200-210, 192.168.50.0/24 (outside any
// pool) and fd00:1::c8-d2; A holds .10 and ::a, B holds .11 and ::b, C holds the reserved
// 10.1.0.205 and fd00:1::cd (grandfathered).
inline World standard_world() {
  auto range = [](const char* text) { return ipam::IpRange::parse(text).value(); };
  World w;
  w.pools = {range("10.1.0.0/24"), range("fd00:1::/120")};
  w.reserved = {range("10.1.0.200-10.1.0.210"), range("192.168.50.0/24"),
                range("fd00:1::c8-fd00:1::d2")};
  w.leases = {{ip("10.1.0.10"), kPodA.to_string()},  {ip("fd00:1::a"), kPodA.to_string()},
              {ip("10.1.0.11"), kPodB.to_string()},  {ip("fd00:1::b"), kPodB.to_string()},
              {ip("10.1.0.205"), kPodC.to_string()}, {ip("fd00:1::cd"), kPodC.to_string()}};
  w.pod_macs = {kPodA.to_string(), kPodB.to_string(), kPodC.to_string()};
  return w;
}

inline void load_world(Guard& guard, const World& w) {
  ASSERT_TRUE(guard.set_pools(w.pools).ok());
  ASSERT_TRUE(guard.set_reserved(w.reserved).ok());
  ASSERT_TRUE(guard.set_leases(w.leases).ok());
  ASSERT_TRUE(guard.set_pod_macs(w.pod_macs).ok());
}

// A guard on private (unpinned) maps, loaded with `w`: the fixture of the packet tests.
inline void open_private_guard(std::optional<Guard>& out, const World& w) {
  datapath::GuardOptions options;
  options.pin_dir.clear();
  auto guard = Guard::open(options);
  ASSERT_TRUE(guard.ok()) << guard.error().message;
  out.emplace(std::move(*guard));
  load_world(*out, w);
}

struct RunResult {
  int err = 0;
  std::uint32_t retval = 0;
};

inline RunResult run_frame(int prog_fd, const Bytes& frame, int repeat = 1) {
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = frame.data();
  opts.data_size_in = static_cast<__u32>(frame.size());
  opts.repeat = repeat;
  const int err = bpf_prog_test_run_opts(prog_fd, &opts);
  return {err, opts.retval};
}

// (reason, verdict) -> (packets, bytes) for one interface.
using CounterKey = std::pair<Reason, Verdict>;
using CounterMap = std::map<CounterKey, std::pair<std::uint64_t, std::uint64_t>>;

inline CounterMap snapshot(const Guard& guard, const datapath::IfaceKey& iface) {
  CounterMap out;
  auto rows = guard.counters(iface);
  EXPECT_TRUE(rows.ok()) << rows.error().message;
  if (!rows.ok()) return out;
  for (const auto& r : *rows) out[{r.reason, r.verdict}] = {r.packets, r.bytes};
  return out;
}

inline CounterMap snapshot(const Guard& guard) {
  return snapshot(guard, test_iface(guard));
}

// after - before, keeping only non-zero entries.
inline CounterMap delta(const CounterMap& before, const CounterMap& after) {
  CounterMap out;
  for (const auto& [key, value] : after) {
    auto it = before.find(key);
    const auto base =
        it == before.end() ? std::pair<std::uint64_t, std::uint64_t>{0, 0} : it->second;
    if (value != base) out[key] = {value.first - base.first, value.second - base.second};
  }
  return out;
}

inline std::string describe(const CounterMap& m) {
  std::string s = "{";
  for (const auto& [key, value] : m) {
    s += std::string(datapath::reason_name(key.first)) + "/" +
         std::string(datapath::verdict_name(key.second)) + "=" + std::to_string(value.first) +
         "p," + std::to_string(value.second) + "B ";
  }
  return s + "}";
}

}  // namespace ipfence::testing
