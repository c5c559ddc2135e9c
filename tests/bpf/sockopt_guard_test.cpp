// The pod socket-option guard (bpf/sockopt_guard.bpf.c, agent/datapath/sockopt_guard.h) on a
// cgroup of the test's own: sockets made by a child process in that cgroup, in a network
// namespace the guard is told about, cannot turn on PACKET_QDISC_BYPASS or set any SOL_XDP
// option (EPERM, counted); everything else they set still works; sockets in other namespaces,
// or of processes outside the cgroup, are not judged at all. The attachment is a pinned link
// that a second open() adopts (one program on the cgroup, the newer one) and detach_pinned()
// removes.
#include "agent/datapath/sockopt_guard.h"

#include <bpf/bpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <linux/if_xdp.h>
#include <sys/socket.h>

#include <cstring>
#include <map>

#include "agent/datapath/netns.h"
#include "agent/unique_fd.h"
#include "tests/bpf/sockopt_env.h"
#include "tests/bpf/test_env.h"

#ifndef SOL_XDP
#define SOL_XDP 283
#endif

namespace ipfence::testing {
namespace {

using datapath::Mode;
using datapath::SockoptGuard;
using datapath::SockoptOption;
using datapath::Verdict;

// What each setsockopt of the probe gave: 0, or its errno.
enum Probe { kBypassOn, kBypassOff, kPacketAuxdata, kXdpTxRing, kLongOptval, kProbeCount };

std::vector<int> probe_sockopts() {
  std::vector<int> out(kProbeCount, -1);
  const auto result = [](int rc) { return rc == 0 ? 0 : errno; };
  int one = 1;
  int zero = 0;
  if (int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); fd >= 0) {
    out[kBypassOn] = result(::setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof one));
    out[kBypassOff] = result(::setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &zero, sizeof zero));
    out[kPacketAuxdata] = result(::setsockopt(fd, SOL_PACKET, PACKET_AUXDATA, &one, sizeof one));
    ::close(fd);
  }
  if (int fd = ::socket(AF_XDP, SOCK_RAW | SOCK_CLOEXEC, 0); fd >= 0) {
    int entries = 64;
    out[kXdpTxRing] = result(::setsockopt(fd, SOL_XDP, XDP_TX_RING, &entries, sizeof entries));
    ::close(fd);
  }
  // An option the guard does not judge, with an optval longer than the page the program is
  // shown: the kernel must still get the caller's buffer (SO_BINDTODEVICE reads the name).
  if (int fd = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); fd >= 0) {
    std::vector<char> name(8192, 0);
    std::memcpy(name.data(), "lo", 2);
    out[kLongOptval] =
        result(::setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, name.data(), name.size()));
    ::close(fd);
  }
  return out;
}

const std::vector<int> kAllAllowed{0, 0, 0, 0, 0};
const std::vector<int> kGuarded{EPERM, 0, 0, EPERM, 0};

std::map<std::pair<SockoptOption, Verdict>, std::uint64_t> counts(const SockoptGuard& guard) {
  std::map<std::pair<SockoptOption, Verdict>, std::uint64_t> out;
  auto rows = guard.counters();
  EXPECT_TRUE(rows.ok()) << rows.error().message;
  if (!rows) return out;
  for (const auto& row : *rows) out[{row.option, row.verdict}] = row.count;
  return out;
}

// The ids of the programs attached to `cgroup`'s setsockopt hook.
std::vector<std::uint32_t> attached_programs(const std::string& cgroup) {
  agent::UniqueFd fd(::open(cgroup.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  __u32 ids[8] = {};
  __u32 count = 8;
  __u32 flags = 0;
  if (!fd || bpf_prog_query(fd.get(), BPF_CGROUP_SETSOCKOPT, 0, &flags, ids, &count) != 0)
    return {0xffffffff};
  return std::vector<std::uint32_t>(ids, ids + count);
}

class SockoptGuardTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cgroup_.ok()) << cgroup_.error();
    ASSERT_TRUE(other_cgroup_.ok()) << other_cgroup_.error();
    ASSERT_TRUE(pod_.ok() && other_netns_.ok());
    auto cookie = datapath::netns_cookie(pod_.path());
    ASSERT_TRUE(cookie.ok()) << cookie.error().message;
    pod_cookie_ = *cookie;
  }

  datapath::SockoptGuardOptions options(const std::string& pin_dir = "") const {
    datapath::SockoptGuardOptions o;
    o.pin_dir = pin_dir;
    o.cgroup = cgroup_.path();
    return o;
  }

  // The probe from a process in `cgroup`, with its sockets in `netns`.
  static std::vector<int> probe(const TestCgroup& cgroup, const TestNetns& netns) {
    ChildReport report = run_in_cgroup(cgroup.path(), netns.path(), probe_sockopts);
    EXPECT_TRUE(report.ok()) << report.error;
    return report.values;
  }

  TestCgroup cgroup_{cgroup2_mount()};
  TestCgroup other_cgroup_{cgroup2_mount()};
  TestNetns pod_;
  TestNetns other_netns_;
  std::uint64_t pod_cookie_ = 0;
};

TEST_F(SockoptGuardTest, RefusesBypassAndXdpOnlyForSocketsInAGuardedNetnsOfTheCgroup) {
  auto guard = SockoptGuard::open(options());
  ASSERT_TRUE(guard.ok()) << guard.error().message;
  EXPECT_EQ(attached_programs(cgroup_.path()), std::vector<std::uint32_t>{guard->prog_id()});

  // Before the namespace is guarded, everything works (the probe itself works).
  EXPECT_EQ(probe(cgroup_, pod_), kAllAllowed);
  ASSERT_TRUE(guard->add_netns(pod_cookie_, Mode::enforce).ok());
  EXPECT_EQ(probe(cgroup_, pod_), kGuarded) << "bypass on, off, auxdata, XDP ring, long optval";
  // Another namespace, or a process outside the cgroup: not judged.
  EXPECT_EQ(probe(cgroup_, other_netns_), kAllAllowed);
  EXPECT_EQ(probe(other_cgroup_, pod_), kAllAllowed);

  auto n = counts(*guard);
  EXPECT_EQ((n[{SockoptOption::packet_qdisc_bypass, Verdict::dropped}]), 1u);
  EXPECT_EQ((n[{SockoptOption::xdp, Verdict::dropped}]), 1u);
  EXPECT_EQ((n[{SockoptOption::packet_qdisc_bypass, Verdict::monitored}]), 0u);
  EXPECT_EQ((n[{SockoptOption::xdp, Verdict::monitored}]), 0u);

  // Forgotten: judged no more.
  ASSERT_TRUE(guard->remove_netns(pod_cookie_).ok());
  EXPECT_EQ(probe(cgroup_, pod_), kAllAllowed);
  EXPECT_EQ((counts(*guard)[{SockoptOption::packet_qdisc_bypass, Verdict::dropped}]), 1u);
}

TEST_F(SockoptGuardTest, MonitorModeCountsAndLetsTheOptionThrough) {
  auto guard = SockoptGuard::open(options());
  ASSERT_TRUE(guard.ok()) << guard.error().message;
  ASSERT_TRUE(guard->add_netns(pod_cookie_, Mode::monitor).ok());
  EXPECT_EQ(probe(cgroup_, pod_), kAllAllowed);
  auto n = counts(*guard);
  EXPECT_EQ((n[{SockoptOption::packet_qdisc_bypass, Verdict::monitored}]), 1u);
  EXPECT_EQ((n[{SockoptOption::xdp, Verdict::monitored}]), 1u);
  EXPECT_EQ((n[{SockoptOption::packet_qdisc_bypass, Verdict::dropped}]), 0u);
}

TEST_F(SockoptGuardTest, SetNetnsWritesOnlyTheDifference) {
  auto guard = SockoptGuard::open(options());
  ASSERT_TRUE(guard.ok()) << guard.error().message;
  ASSERT_TRUE(guard->add_netns(111, Mode::enforce).ok());
  ASSERT_TRUE(guard->add_netns(222, Mode::enforce).ok());
  auto stats = guard->set_netns({{222, Mode::monitor}, {333, Mode::enforce}});
  ASSERT_TRUE(stats.ok()) << stats.error().message;
  EXPECT_EQ(stats->added, 1u);
  EXPECT_EQ(stats->removed, 1u);
  EXPECT_EQ(stats->changed, 1u);
  EXPECT_EQ(stats->unchanged, 0u);
  auto now = guard->netns();
  ASSERT_TRUE(now.ok());
  EXPECT_EQ(*now, (std::map<std::uint64_t, Mode>{{222, Mode::monitor}, {333, Mode::enforce}}));
}

TEST_F(SockoptGuardTest, PinnedLinkOutlivesTheObjectAndIsAdoptedNotAttachedTwice) {
  PrivateBpffs bpffs;
  ASSERT_TRUE(bpffs.ok()) << bpffs.error();
  std::uint32_t first_prog = 0;
  {
    auto first = SockoptGuard::open(options(bpffs.pin_dir()));
    ASSERT_TRUE(first.ok()) << first.error().message;
    EXPECT_EQ(first->replaced_prog_id(), 0u);
    first_prog = first->prog_id();
    ASSERT_TRUE(first->add_netns(pod_cookie_, Mode::enforce).ok());
  }
  // The agent is gone; the pinned link keeps refusing.
  EXPECT_EQ(attached_programs(cgroup_.path()), std::vector<std::uint32_t>{first_prog});
  EXPECT_EQ(probe(cgroup_, pod_), kGuarded);

  auto second = SockoptGuard::open(options(bpffs.pin_dir()));
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->replaced_prog_id(), first_prog);
  EXPECT_NE(second->prog_id(), first_prog);
  EXPECT_EQ(attached_programs(cgroup_.path()), std::vector<std::uint32_t>{second->prog_id()});
  auto adopted = second->netns();
  ASSERT_TRUE(adopted.ok());
  EXPECT_TRUE(adopted->contains(pod_cookie_));
  EXPECT_EQ(probe(cgroup_, pod_), kGuarded);
  EXPECT_EQ((counts(*second)[{SockoptOption::packet_qdisc_bypass, Verdict::dropped}]), 2u)
      << "the counters are adopted too";

  auto detached = SockoptGuard::detach_pinned(bpffs.pin_dir());
  ASSERT_TRUE(detached.ok()) << detached.error().message;
  EXPECT_TRUE(*detached);
  EXPECT_TRUE(attached_programs(cgroup_.path()).empty());
  EXPECT_EQ(probe(cgroup_, pod_), kAllAllowed);
  auto again = SockoptGuard::detach_pinned(bpffs.pin_dir());
  ASSERT_TRUE(again.ok()) << again.error().message;
  EXPECT_FALSE(*again);
}

TEST_F(SockoptGuardTest, APinnedLinkOnAnotherCgroupMovesToTheNewOne) {
  PrivateBpffs bpffs;
  ASSERT_TRUE(bpffs.ok()) << bpffs.error();
  {
    auto first = SockoptGuard::open(options(bpffs.pin_dir()));
    ASSERT_TRUE(first.ok()) << first.error().message;
  }
  auto moved = options(bpffs.pin_dir());
  moved.cgroup = other_cgroup_.path();
  auto second = SockoptGuard::open(moved);
  ASSERT_TRUE(second.ok()) << second.error().message;
  EXPECT_EQ(second->replaced_prog_id(), 0u);
  EXPECT_TRUE(attached_programs(cgroup_.path()).empty());
  EXPECT_EQ(attached_programs(other_cgroup_.path()), std::vector<std::uint32_t>{second->prog_id()});
  ASSERT_TRUE(SockoptGuard::detach_pinned(bpffs.pin_dir()).ok());
}

TEST_F(SockoptGuardTest, TheCgroupMustBeACgroupV2Directory) {
  datapath::SockoptGuardOptions o;
  o.pin_dir = "";
  o.cgroup = "/tmp";
  auto plain = SockoptGuard::open(o);
  ASSERT_FALSE(plain.ok());
  EXPECT_EQ(plain.error().code, ErrorCode::invalid_argument);
  EXPECT_NE(plain.error().message.find("/tmp is not a cgroup v2 directory"), std::string::npos)
      << plain.error().message;

  o.cgroup = cgroup_.path() + "/no-such-child";
  auto missing = SockoptGuard::open(o);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().code, ErrorCode::invalid_argument);
  EXPECT_EQ(missing.error().message, "cgroup " + o.cgroup + ": No such file or directory");
}

}  // namespace
}  // namespace ipfence::testing
