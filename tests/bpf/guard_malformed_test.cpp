// Frames the guard cannot fully parse: every truncation of a set of base frames (so every
// header boundary is crossed), and tens of thousands of random and mutated frames from a
// fixed seed, checked against the reference model of the documented rule (reference_guard.h).
//
// BPF_PROG_TEST_RUN itself refuses some short frames: anything under 14 bytes, and (on recent
// kernels) untagged IPv4/IPv6 frames shorter than Ethernet + the L3 header. Those cuts are
// skipped here; the tagged variants run the same parser code on the same cut, and the attach
// test sends a short untagged frame through a real interface.
#include <gtest/gtest.h>

#include <cstdio>
#include <random>
#include <set>

#include "tests/bpf/reference_guard.h"

namespace ipfence::testing {
namespace {

using datapath::Mode;
using datapath::ReservedPolicy;

std::string hex(const Bytes& b) {
  std::string s;
  char buf[4];
  for (std::uint8_t c : b) {
    std::snprintf(buf, sizeof(buf), "%02x", c);
    s += buf;
  }
  return s;
}

// Whether BPF_PROG_TEST_RUN may refuse this frame (see the top of the file).
bool test_run_may_refuse(const Bytes& f) {
  if (f.size() < 14) return true;
  const std::uint16_t type = static_cast<std::uint16_t>(f[12] << 8 | f[13]);
  return (type == kEthIPv4 && f.size() < 34) || (type == kEthIPv6 && f.size() < 54);
}

class GuardMalformedTest : public ::testing::Test {
 protected:
  void SetUp() override { open_private_guard(guard_, world_); }

  World world_ = standard_world();
  std::optional<Guard> guard_;
};

struct TruncationBase {
  std::string name;
  Bytes frame;
  std::size_t needed;  // bytes the guard needs to judge it; fewer is malformed
  Judgement full;      // the judgement of the whole frame
};

std::vector<TruncationBase> truncation_bases(const std::vector<std::uint16_t>& tags) {
  const L2 a{kPodA, tags}, b{kPodB, tags};
  const std::size_t l2 = l2_size(a);
  const Judgement pass{};
  auto dropped = [](Reason r) { return Judgement{TC_ACT_SHOT, CounterKey{r, Verdict::dropped}}; };
  return {
      {"ipv4", ipv4_frame(a, ip("10.1.0.10")), l2 + 20, pass},
      {"ipv4 with options",
       ethernet(b, kEthIPv4, ipv4(ip("10.1.0.10"), ip("10.1.0.1"), Bytes(8, 0), Bytes(8, 1))),
       l2 + 28, dropped(Reason::mac_mismatch)},
      {"ipv6", ipv6_frame(a, ip("fd00:1::a")), l2 + 40, pass},
      {"ndp NS", ndp_frame(a, kNdpNeighborSolicit, ip("fd00:1::b"), ip("fd00:1::1")), l2 + 44,
       dropped(Reason::mac_mismatch)},
      {"ndp NA", ndp_frame(a, kNdpNeighborAdvert, ip("fe80::a"), ip("fd00:1::a")), l2 + 64, pass},
      {"ndp NA behind hop-by-hop",
       ethernet(a, kEthIPv6,
                ipv6(ip("fe80::a"), ip("ff02::1"), kHopByHop,
                     ext_header(kIcmpv6, icmpv6(kNdpNeighborAdvert, ndp_body(ip("fd00:1::60")))))),
       l2 + 72, dropped(Reason::unallocated)},
      {"arp", arp_frame(a, 2, ip("10.1.0.10"), ip("10.1.0.1")), l2 + 28, pass},
      {"arp claiming B's IP", arp_frame(a, 2, ip("10.1.0.11"), ip("10.1.0.1")), l2 + 28,
       dropped(Reason::mac_mismatch)},
  };
}

TEST_F(GuardMalformedTest, EveryTruncationIsMalformedUntilTheHeaderIsComplete) {
  int checked = 0;
  int refused = 0;
  const Judgement malformed{TC_ACT_SHOT, CounterKey{Reason::malformed, Verdict::dropped}};
  for (const auto& tags :
       std::vector<std::vector<std::uint16_t>>{{}, {kEthVlan}, {kEthQinQ, kEthVlan}}) {
    for (const TruncationBase& base : truncation_bases(tags)) {
      for (std::size_t cut = 14; cut <= base.frame.size(); ++cut) {
        const Bytes frame(base.frame.begin(), base.frame.begin() + static_cast<long>(cut));
        SCOPED_TRACE(base.name + " (" + std::to_string(tags.size()) + " tags) cut at " +
                     std::to_string(cut));
        const CounterMap before = snapshot(*guard_);
        const RunResult r = run_frame(guard_->prog_fd(), frame);
        if (r.err == -EINVAL && test_run_may_refuse(frame)) {
          ++refused;
          continue;
        }
        ASSERT_EQ(r.err, 0);
        const Judgement& want = cut < base.needed ? malformed : base.full;
        EXPECT_EQ(r.retval, want.tc);
        CounterMap want_counters;
        if (want.counted) want_counters[*want.counted] = {1, cut};
        EXPECT_EQ(delta(before, snapshot(*guard_)), want_counters);
        ++checked;
      }
    }
  }
  RecordProperty("checked", checked);
  RecordProperty("refused_by_test_run", refused);
  EXPECT_GT(checked, 1000);
}

// Random bytes behind a chosen ethertype, or a valid frame with a few bytes changed and maybe
// cut or extended.
Bytes random_frame(std::mt19937& rng, const std::vector<Bytes>& seeds) {
  auto uniform = [&](std::size_t lo, std::size_t hi) {
    return std::uniform_int_distribution<std::size_t>(lo, hi)(rng);
  };
  static const std::uint16_t kTypes[] = {kEthIPv4, kEthIPv6, kEthArp, kEthVlan, kEthQinQ, kEthLldp};
  Bytes f;
  if (uniform(0, 9) < 3) {
    f.resize(uniform(14, 127));
    for (auto& byte : f) byte = static_cast<std::uint8_t>(rng());
    for (std::size_t at = 12; at + 1 < f.size() && at <= 20;
         at += 4) {  // outer type and up to 2 tags
      if (uniform(0, 3) == 0) break;
      const std::uint16_t t = kTypes[uniform(0, 5)];
      f[at] = static_cast<std::uint8_t>(t >> 8);
      f[at + 1] = static_cast<std::uint8_t>(t);
    }
    return f;
  }
  f = seeds[uniform(0, seeds.size() - 1)];
  for (std::size_t n = uniform(0, 4); n > 0; --n)
    f[uniform(0, std::min<std::size_t>(f.size(), 90) - 1)] = static_cast<std::uint8_t>(rng());
  if (uniform(0, 1) == 0) f.resize(uniform(14, f.size()));
  if (uniform(0, 9) == 0) f.resize(f.size() + uniform(1, 64), static_cast<std::uint8_t>(rng()));
  return f;
}

void run_random_frames(Guard& guard, const World& world, Mode mode, ReservedPolicy policy,
                       int count) {
  ASSERT_TRUE(guard.set_mode(test_iface(guard), mode).ok());
  ASSERT_TRUE(guard.set_reserved_policy(test_iface(guard), policy).ok());
  const ReferenceGuard model(world, mode, policy);
  std::vector<Bytes> seeds;
  for (const auto& tags :
       std::vector<std::vector<std::uint16_t>>{{}, {kEthVlan}, {kEthQinQ, kEthVlan}}) {
    for (const TruncationBase& base : truncation_bases(tags)) seeds.push_back(base.frame);
    seeds.push_back(ipv4_frame(L2{kPodC, tags}, ip("10.1.0.205")));
    seeds.push_back(ipv6_frame(L2{kNode, tags}, ip("fd00:1::c9")));
  }
  std::mt19937 rng(20240601);
  const CounterMap before = snapshot(guard);
  CounterMap want;
  int failures = 0;
  for (int i = 0; i < count; ++i) {
    const Bytes f = random_frame(rng, seeds);
    const RunResult r = run_frame(guard.prog_fd(), f);
    if (r.err == -EINVAL && test_run_may_refuse(f)) continue;
    ASSERT_EQ(r.err, 0) << "frame " << hex(f);
    ASSERT_TRUE(r.retval == TC_ACT_OK || r.retval == TC_ACT_SHOT) << r.retval;
    const Judgement j = model.judge(f);
    if (r.retval != j.tc && ++failures <= 10)
      ADD_FAILURE() << "frame " << i << " " << hex(f) << ": verdict " << r.retval;
    if (j.counted) {
      auto& slot = want[*j.counted];
      slot.first += 1;
      slot.second += f.size();
    }
  }
  EXPECT_EQ(failures, 0);
  // The generator must reach past the parser into every decision, not just fail early.
  std::set<Reason> reasons;
  for (const auto& [key, value] : want) reasons.insert(key.first);
  // (Under policy drop, reserved_in_use is counted as reserved.)
  EXPECT_EQ(reasons.size(), policy == ReservedPolicy::grandfather ? 6u : 5u) << describe(want);
  const CounterMap got = delta(before, snapshot(guard));
  EXPECT_EQ(got, want) << describe(got) << " vs model " << describe(want);
}

TEST_F(GuardMalformedTest, RandomFramesFollowTheDocumentedRuleInEnforceMode) {
  run_random_frames(*guard_, world_, Mode::enforce, ReservedPolicy::grandfather, 20000);
}

TEST_F(GuardMalformedTest, RandomFramesFollowTheDocumentedRuleInMonitorModeWithPolicyDrop) {
  run_random_frames(*guard_, world_, Mode::monitor, ReservedPolicy::drop, 10000);
}

}  // namespace
}  // namespace ipfence::testing
