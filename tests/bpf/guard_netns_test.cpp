// The guard's config and counters are per (netns, ifindex), not per ifindex. BPF_PROG_TEST_RUN
// runs the program on lo of the caller's network namespace, and every namespace numbers its lo
// 1, so the same frames run from the test's namespace and from a second one play two
// attachments with one ifindex in different namespaces: a master ens192 (ifindex 2 in the
// node's) and a pod's eth0 (ifindex 2 in the pod's). Each has its own mode, reserved policy and
// counters; a setting or a count of one never shows on the other.
#include <gtest/gtest.h>

#include <optional>

#include "agent/datapath/netns.h"
#include "tests/bpf/guard_world.h"
#include "tests/bpf/test_env.h"

namespace ipfence::testing {
namespace {

using datapath::IfaceKey;
using datapath::Mode;
using datapath::ReservedPolicy;

class GuardNetnsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(other_.ok()) << "cannot create a network namespace";
    open_private_guard(guard_, standard_world());
    if (HasFatalFailure()) return;
    auto cookie = datapath::netns_cookie(other_.path());
    ASSERT_TRUE(cookie.ok()) << cookie.error().message;
    here_ = test_iface(*guard_);
    there_ = {*cookie, kTestIfindex};
    ASSERT_NE(here_.netns_cookie, 0u);
    ASSERT_NE(here_.netns_cookie, there_.netns_cookie);
  }

  // Runs `frame` `repeat` times through the guard on lo of `where`'s namespace.
  RunResult run_on(const IfaceKey& where, const Bytes& frame, int repeat = 1) {
    if (where == here_) return run_frame(guard_->prog_fd(), frame, repeat);
    RunResult r;
    const Status st = datapath::run_in_netns(other_.path(), [&]() -> Status {
      r = run_frame(guard_->prog_fd(), frame, repeat);
      return {};
    });
    EXPECT_TRUE(st.ok()) << st.error().message;
    return r;
  }

  TestNetns other_;
  std::optional<Guard> guard_;
  IfaceKey here_;
  IfaceKey there_;
};

TEST_F(GuardNetnsTest, MonitorModeOnOneInterfaceLeavesTheSameIfindexElsewhereEnforcing) {
  // As the agent does it: the master gets --master-mode, the pod interface the defaults.
  ASSERT_TRUE(guard_->set_mode(here_, Mode::monitor).ok());
  EXPECT_EQ(guard_->iface_config(here_).value().mode, Mode::monitor);
  EXPECT_EQ(guard_->iface_config(there_).value().mode, Mode::enforce);

  const Bytes reserved = ipv4_frame(L2{kPodA, {}}, ip("10.1.0.201"));
  const CounterMap here_before = snapshot(*guard_, here_);
  const CounterMap there_before = snapshot(*guard_, there_);

  const RunResult passed = run_on(here_, reserved, 3);
  ASSERT_EQ(passed.err, 0);
  EXPECT_EQ(passed.retval, static_cast<std::uint32_t>(TC_ACT_OK)) << "monitor mode passes";
  const RunResult dropped = run_on(there_, reserved, 5);
  ASSERT_EQ(dropped.err, 0);
  EXPECT_EQ(dropped.retval, static_cast<std::uint32_t>(TC_ACT_SHOT))
      << "the other namespace's interface took the monitor mode of this one";

  EXPECT_EQ(delta(here_before, snapshot(*guard_, here_)),
            (CounterMap{{{Reason::reserved, Verdict::monitored}, {3, 3 * reserved.size()}}}));
  EXPECT_EQ(delta(there_before, snapshot(*guard_, there_)),
            (CounterMap{{{Reason::reserved, Verdict::dropped}, {5, 5 * reserved.size()}}}));

  // And the other way round: enforce here, monitor there.
  ASSERT_TRUE(guard_->set_mode(here_, Mode::enforce).ok());
  ASSERT_TRUE(guard_->set_mode(there_, Mode::monitor).ok());
  EXPECT_EQ(run_on(here_, reserved).retval, static_cast<std::uint32_t>(TC_ACT_SHOT));
  EXPECT_EQ(run_on(there_, reserved).retval, static_cast<std::uint32_t>(TC_ACT_OK));
}

TEST_F(GuardNetnsTest, ReservedPolicyIsPerInterfaceToo) {
  ASSERT_TRUE(guard_->set_reserved_policy(there_, ReservedPolicy::drop).ok());
  EXPECT_EQ(guard_->iface_config(here_).value().policy, ReservedPolicy::grandfather);
  const Bytes grandfathered = ipv4_frame(L2{kPodC, {}}, ip("10.1.0.205"));
  const CounterMap here_before = snapshot(*guard_, here_);
  const CounterMap there_before = snapshot(*guard_, there_);
  EXPECT_EQ(run_on(here_, grandfathered).retval, static_cast<std::uint32_t>(TC_ACT_OK));
  EXPECT_EQ(run_on(there_, grandfathered).retval, static_cast<std::uint32_t>(TC_ACT_SHOT));
  EXPECT_EQ(delta(here_before, snapshot(*guard_, here_)),
            (CounterMap{{{Reason::reserved_in_use, Verdict::passed}, {1, grandfathered.size()}}}));
  EXPECT_EQ(delta(there_before, snapshot(*guard_, there_)),
            (CounterMap{{{Reason::reserved, Verdict::dropped}, {1, grandfathered.size()}}}));
}

TEST_F(GuardNetnsTest, ForgetOtherNetnsDropsOnlyEntriesOfNamespacesNobodyAttachedTo) {
  ASSERT_TRUE(guard_->set_mode(here_, Mode::monitor).ok());
  ASSERT_TRUE(guard_->set_mode(there_, Mode::monitor).ok());
  const Bytes spoofed = ipv4_frame(L2{kPodA, {}}, ip("172.16.0.1"));
  ASSERT_EQ(run_on(here_, spoofed).err, 0);
  ASSERT_EQ(run_on(there_, spoofed).err, 0);
  ASSERT_FALSE(snapshot(*guard_, there_).empty());

  // This guard attached nothing in the other namespace: a pod guard of an earlier run.
  auto forgotten = guard_->forget_other_netns();
  ASSERT_TRUE(forgotten.ok()) << forgotten.error().message;
  EXPECT_EQ(*forgotten, 1u);  // its config entry (its counts were in its row, now free)
  EXPECT_TRUE(snapshot(*guard_, there_).empty());
  EXPECT_EQ(guard_->iface_config(there_).value().mode, Mode::enforce);  // the default again
  EXPECT_EQ(snapshot(*guard_, here_).at({Reason::spoofed, Verdict::monitored}).first, 1u);
  EXPECT_EQ(guard_->iface_config(here_).value().mode, Mode::monitor);
}

TEST_F(GuardNetnsTest, APodInterfaceIsGuardedEvenWhenTheConfigMapIsFull) {
  const std::uint32_t capacity = guard_->map_capacity(datapath::GuardMap::iface_config);
  for (std::uint32_t i = 0; i < capacity; ++i)
    ASSERT_TRUE(guard_->set_mode(guard_->own_iface(20'000 + i), Mode::enforce).ok()) << i;
  const Status full = guard_->set_mode(guard_->own_iface(99'999), Mode::monitor);
  ASSERT_FALSE(full.ok());
  EXPECT_EQ(full.error().code, ErrorCode::exhausted);
  EXPECT_NE(full.error().message.find("ipf_iface_cfg is full (1024 interfaces)"), std::string::npos)
      << full.error().message;

  // A pod interface has no entry then: it runs with the defaults, counted per key.
  auto attached = guard_->attach(datapath::AttachTarget{"lo", 0, other_.path()});
  ASSERT_TRUE(attached.ok()) << attached.error().message;
  EXPECT_NE(attached->prog_id, 0u);
  EXPECT_EQ(attached->mode, Mode::enforce);
  const Bytes reserved = ipv4_frame(L2{kPodA, {}}, ip("10.1.0.201"));
  EXPECT_EQ(run_on(there_, reserved, 2).retval, static_cast<std::uint32_t>(TC_ACT_SHOT));
  EXPECT_EQ(snapshot(*guard_, there_),
            (CounterMap{{{Reason::reserved, Verdict::dropped}, {2, 2 * reserved.size()}}}));
  auto detached = guard_->detach(datapath::AttachTarget{"lo", 0, other_.path()});
  ASSERT_TRUE(detached.ok()) << detached.error().message;
  EXPECT_TRUE(*detached);
}

}  // namespace
}  // namespace ipfence::testing
