// The watcher on a real interface. Two network namespaces the test creates: "node" holds the
// master ipfw0 (the watcher on its ingress, the guard on its egress, sharing one clsact) and
// "outside" holds its veth peer ipfw1, a host outside the cluster that uses iputils arping,
// ping and the kernel's own DAD. Their frames reach the reader thread as WatchEvents; the
// watcher changes nothing (the node still answers); the filter outlives the Watcher, events
// written meanwhile wait in the pinned ring buffer for the next one, which replaces the filter
// in place; detach removes only ours. Namespaces (and their links) and the bpffs go away with
// the test objects, also on failure.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "agent/datapath/netns.h"
#include "agent/datapath/tc.h"
#include "tests/bpf/test_env.h"
#include "tests/bpf/watch_world.h"

namespace ipfence::testing {
namespace {

using namespace std::chrono_literals;
using datapath::AttachTarget;
using datapath::run_in_netns;

// Events from the reader thread, for the test thread to wait on.
class EventSink {
 public:
  void operator()(const WatchEvent& ev) {
    const std::lock_guard lock(mu_);
    events_.push_back(ev);
    cv_.notify_all();
  }
  // The first event (not yet taken) that matches, within `timeout`.
  std::optional<WatchEvent> wait_for(WatchKind kind, const IpAddress& addr,
                                     std::chrono::milliseconds timeout = 3000ms) {
    std::unique_lock lock(mu_);
    std::optional<WatchEvent> found;
    cv_.wait_for(lock, timeout, [&] {
      for (auto it = events_.begin(); it != events_.end(); ++it) {
        if (it->kind == kind && it->ip == addr) {
          found = *it;
          events_.erase(it);
          return true;
        }
      }
      return false;
    });
    return found;
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<WatchEvent> events_;
};

// A path to a TestNetns that a child process (ip, arping) can open too: /proc/self/fd/N
// would name the child's own fd table, where the O_CLOEXEC fd is not.
std::string shared_path(const TestNetns& ns) {
  const std::string self = ns.path();  // "/proc/self/fd/N"
  return "/proc/" + std::to_string(::getpid()) + self.substr(std::string("/proc/self").size());
}

std::string in_netns(const TestNetns& ns, const std::string& cmd, bool* ok) {
  std::string out;
  const Status st = run_in_netns(ns.path(), [&]() -> Status {
    out = run_command(cmd, ok);
    return {};
  });
  EXPECT_TRUE(st.ok()) << st.error().message;
  return out;
}

Mac link_mac(const TestNetns& ns, const std::string& ifname) {
  // Not /sys/class/net: sysfs shows the namespace it was mounted in, not the caller's.
  Mac m;
  const Status st = run_in_netns(ns.path(), [&]() -> Status {
    agent::UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq req{};
    std::snprintf(req.ifr_name, sizeof(req.ifr_name), "%s", ifname.c_str());
    if (!sock || ::ioctl(sock.get(), SIOCGIFHWADDR, &req) != 0)
      return make_error(ErrorCode::io, "SIOCGIFHWADDR " + ifname);
    std::memcpy(m.bytes.data(), req.ifr_hwaddr.sa_data, m.bytes.size());
    return {};
  });
  EXPECT_TRUE(st.ok()) << st.error().message;
  return m;
}

// Sends one frame (Ethernet header included) out of `ifname` in `ns`; 0 or the errno.
int send_raw(const TestNetns& ns, const std::string& ifname, const Bytes& frame) {
  int result = 0;
  const Status st = run_in_netns(ns.path(), [&]() -> Status {
    agent::UniqueFd sock(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));  // 0: receives none
    if (!sock) {
      result = errno;
      return {};
    }
    sockaddr_ll to{};
    to.sll_family = AF_PACKET;
    to.sll_ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
    to.sll_halen = 6;
    std::copy(frame.begin(), frame.begin() + 6, to.sll_addr);
    const ssize_t n = ::sendto(sock.get(), frame.data(), frame.size(), 0,
                               reinterpret_cast<sockaddr*>(&to), sizeof(to));
    result = n == static_cast<ssize_t>(frame.size()) ? 0 : errno;
    return {};
  });
  EXPECT_TRUE(st.ok()) << st.error().message;
  return result;
}

class WatchAttachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(bpffs_.ok()) << bpffs_.error();
    ASSERT_TRUE(node_.ok() && outside_.ok()) << "cannot create network namespaces";
    bool ok = false;
    std::string out = in_netns(
        node_,
        "ip link add ipfw0 type veth peer name ipfw1 netns " + shared_path(outside_) +
            " && ip addr add 10.1.0.1/24 dev ipfw0 && ip addr add fd00:1::1/64 dev ipfw0 nodad"
            " && ip link set ipfw0 up",
        &ok);
    ASSERT_TRUE(ok) << out;
    out = in_netns(outside_,
                   "ip link set lo up && ip addr add 10.1.0.50/24 dev ipfw1 && "
                   "ip link set ipfw1 up",
                   &ok);
    ASSERT_TRUE(ok) << out;
    node_mac_ = link_mac(node_, "ipfw0");
    outside_mac_ = link_mac(outside_, "ipfw1");

    datapath::GuardOptions g;
    g.pin_dir = bpffs_.pin_dir();
    auto guard = Guard::open(g);
    ASSERT_TRUE(guard.ok()) << guard.error().message;
    guard_.emplace(std::move(*guard));
    ASSERT_TRUE(guard_->set_pools(watch_pools()).ok());
    // The node's own addresses on the master are leases with its MAC (guard.h), so the
    // guard passes the node's answers.
    ASSERT_TRUE(guard_
                    ->set_leases({{ip("10.1.0.1"), node_mac_.to_string()},
                                  {ip("fd00:1::1"), node_mac_.to_string()}})
                    .ok());
    auto attached = guard_->attach(AttachTarget{"ipfw0", 0, node_.path()});
    ASSERT_TRUE(attached.ok()) << attached.error().message;
  }

  WatchOptions options() const {
    WatchOptions o;
    o.pin_dir = bpffs_.pin_dir();
    return o;
  }

  AttachTarget master() const { return AttachTarget{"ipfw0", 0, node_.path()}; }

  std::string outside(const std::string& cmd, bool* ok = nullptr) {
    bool local = false;
    std::string out = in_netns(outside_, cmd, ok ? ok : &local);
    return out;
  }

  int ingress_filters() {
    bool ok = false;
    const std::string out = in_netns(node_, "tc filter show dev ipfw0 ingress", &ok);
    EXPECT_TRUE(ok) << out;
    int n = 0;
    for (std::size_t at = out.find(" handle "); at != std::string::npos;
         at = out.find(" handle ", at + 1))
      ++n;
    return n;
  }

  PrivateBpffs bpffs_;  // first: it may unshare the mount namespace while single-threaded
  TestNetns node_;
  TestNetns outside_;
  Mac node_mac_;
  Mac outside_mac_;
  std::optional<Guard> guard_;
};

TEST_F(WatchAttachTest, FramesFromTheWireReachTheCallbackAndPassUnchanged) {
  auto w = Watcher::open(options());
  ASSERT_TRUE(w.ok()) << w.error().message;
  Watcher& watcher = **w;
  auto a = watcher.attach(master());
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->ifname, "ipfw0");
  EXPECT_EQ(a->prog_id, watcher.prog_id());
  EXPECT_EQ(a->replaced_prog_id, 0u);
  EXPECT_EQ(ingress_filters(), 1);
  EventSink sink;
  ASSERT_TRUE(watcher.start(std::ref(sink)).ok());
  EXPECT_TRUE(watcher.running());

  // An ARP request from a pool address the node does not know of; the node answers it, so
  // arping succeeds: the watcher passed the frame on.
  const auto sent_at = monotonic_now();
  bool ok = false;
  std::string out = outside("arping -c 1 -w 3 -I ipfw1 10.1.0.1", &ok);
  EXPECT_TRUE(ok) << "arping got no answer: " << out;
  auto request = sink.wait_for(WatchKind::arp_request, ip("10.1.0.50"));
  ASSERT_TRUE(request.has_value());
  EXPECT_EQ(request->mac, outside_mac_);
  EXPECT_EQ(request->master, "ipfw0");
  EXPECT_EQ(request->ifindex, static_cast<std::uint32_t>(a->ifindex));
  EXPECT_EQ(request->vlan, 0);
  EXPECT_GE(request->seen_monotonic, sent_at);

  // RFC 5227 probe (arping -D: sender 0.0.0.0) for another pool address.
  outside("arping -D -c 1 -w 1 -I ipfw1 10.1.0.60");
  auto probe = sink.wait_for(WatchKind::arp_probe, ip("10.1.0.60"));
  ASSERT_TRUE(probe.has_value());
  EXPECT_EQ(probe->mac, outside_mac_);

  // An announcement of 10.1.0.50 by the same host: the same (IP, MAC) as the request, within
  // the interval: suppressed. With another MAC: reported at once.
  auto before = watcher.counters();
  ASSERT_TRUE(before.ok());
  outside("arping -U -c 1 -w 1 -I ipfw1 10.1.0.50");
  auto after = watcher.counters();
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(after->suppressed - before->suppressed, 1u);
  const Mac moved = mac("02:00:00:00:50:50");
  outside("ip link set ipfw1 address " + moved.to_string(), &ok);
  ASSERT_TRUE(ok);
  outside("arping -U -c 1 -w 1 -I ipfw1 10.1.0.50");
  auto announcement = sink.wait_for(WatchKind::arp_announcement, ip("10.1.0.50"));
  ASSERT_TRUE(announcement.has_value());
  EXPECT_EQ(announcement->mac, moved);

  // IPv6: the kernel's own DAD for a pool address, then a neighbour solicitation from it.
  outside("ip addr add fd00:1::50/64 dev ipfw1", &ok);
  ASSERT_TRUE(ok);
  auto dad = sink.wait_for(WatchKind::ndp_dad, ip("fd00:1::50"), 5000ms);
  ASSERT_TRUE(dad.has_value());
  EXPECT_EQ(dad->mac, moved);
  // Wait for DAD to finish (the address leaves "tentative"), then ping the node.
  for (int i = 0; i < 50; ++i) {
    const std::string addrs = outside("ip -6 addr show dev ipfw1 tentative");
    if (addrs.find("fd00:1::50") == std::string::npos) break;
    std::this_thread::sleep_for(100ms);
  }
  out = outside("ping -6 -c 1 -W 3 fd00:1::1", &ok);
  EXPECT_TRUE(ok) << "ping got no answer: " << out;
  auto ns = sink.wait_for(WatchKind::ndp_ns, ip("fd00:1::50"));
  ASSERT_TRUE(ns.has_value());
  EXPECT_EQ(ns->mac, moved);  // from the source link-layer address option

  watcher.stop();
  EXPECT_FALSE(watcher.running());
  auto c = watcher.counters();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->lost, 0u);
  EXPECT_EQ(c->delivered, c->sent);
  EXPECT_GE(c->sent_of(WatchKind::arp_request), 1u);
  EXPECT_GE(c->sent_of(WatchKind::ndp_dad), 1u);
}

TEST_F(WatchAttachTest, TaggedFramesCarryTheirOutermostVlanId) {
  // On a real ingress path the kernel takes the outer tag out of the frame before TC runs
  // (skb->vlan_tci); an inner tag stays in the frame. Sent raw: this kernel has no VLAN
  // devices to send them with.
  auto w = Watcher::open(options());
  ASSERT_TRUE(w.ok()) << w.error().message;
  ASSERT_TRUE((*w)->attach(master()).ok());
  EventSink sink;
  ASSERT_TRUE((*w)->start(std::ref(sink)).ok());
  // frame_builder numbers the tags' VLAN IDs 100, 101 from the outside in.
  ASSERT_EQ(send_raw(outside_, "ipfw1",
                     arp_frame(L2{outside_mac_, {kEthVlan}}, 1, ip("10.1.0.70"), ip("10.1.0.1"))),
            0);
  auto tagged = sink.wait_for(WatchKind::arp_request, ip("10.1.0.70"));
  ASSERT_TRUE(tagged.has_value());
  EXPECT_EQ(tagged->vlan, 100);
  ASSERT_EQ(send_raw(outside_, "ipfw1",
                     arp_frame(L2{outside_mac_, {kEthQinQ, kEthVlan}}, 2, ip("10.1.0.71"),
                               ip("10.1.0.1"))),
            0);
  auto qinq = sink.wait_for(WatchKind::arp_reply, ip("10.1.0.71"));
  ASSERT_TRUE(qinq.has_value());
  EXPECT_EQ(qinq->vlan, 100);  // the S-tag's, from skb->vlan_tci; the C-tag says 101
  const Bytes ns = ndp_message(L2{outside_mac_, {kEthQinQ, kEthVlan}}, kNdpNeighborSolicit,
                               ip("fd00:1::72"), ip("fd00:1::1"), lladdr_option(1, kOptionMac));
  ASSERT_EQ(send_raw(outside_, "ipfw1", ns), 0);
  auto solicitation = sink.wait_for(WatchKind::ndp_ns, ip("fd00:1::72"));
  ASSERT_TRUE(solicitation.has_value());
  EXPECT_EQ(solicitation->vlan, 100);
  EXPECT_EQ(solicitation->mac, kOptionMac);
}

TEST_F(WatchAttachTest, TheNextIngressFilterStillRuns) {
  // TC_ACT_UNSPEC means "no opinion": a filter after ours still decides. Had the watcher
  // returned TC_ACT_OK, the drop filter below would never run and the node would answer.
  auto w = Watcher::open(options());
  ASSERT_TRUE(w.ok()) << w.error().message;
  ASSERT_TRUE((*w)->attach(master()).ok());
  // Someone else's filter after ours (priority 2): a two-instruction program that drops all.
  const bpf_insn drop_all[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, TC_ACT_SHOT},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  agent::UniqueFd drop(
      bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "ipf_test_drop", "GPL", drop_all, 2, nullptr));
  ASSERT_TRUE(drop) << std::strerror(errno);
  const Status added = run_in_netns(node_.path(), [&]() -> Status {
    const int ifindex = static_cast<int>(::if_nametoindex("ipfw0"));
    IPF_TRY(datapath::tc_attach_ingress({ifindex, 1, 2}, drop.get()));
    return {};
  });
  ASSERT_TRUE(added.ok()) << added.error().message;
  EXPECT_EQ(ingress_filters(), 2);
  bool ok = false;
  const std::string out = outside("arping -c 1 -w 1 -I ipfw1 10.1.0.1", &ok);
  EXPECT_FALSE(ok) << "the node answered: the drop filter after the watcher did not run\n" << out;
  std::vector<WatchEvent> events;
  ASSERT_TRUE((*w)->poll([&](const WatchEvent& ev) { events.push_back(ev); }).ok());
  ASSERT_EQ(events.size(), 1u);  // seen by the watcher all the same
  EXPECT_EQ(events[0].ip, ip("10.1.0.50"));
  auto detached = (*w)->detach(master());
  ASSERT_TRUE(detached.ok());
  EXPECT_EQ(ingress_filters(), 1);  // the other filter stays
}

TEST_F(WatchAttachTest, TheFilterOutlivesTheWatcherAndTheNextOneReplacesItInPlace) {
  std::uint32_t first_prog = 0;
  {
    auto w = Watcher::open(options());
    ASSERT_TRUE(w.ok()) << w.error().message;
    auto a = (*w)->attach(master());
    ASSERT_TRUE(a.ok()) << a.error().message;
    first_prog = a->prog_id;
  }  // the "agent" exits
  auto still = run_in_netns(node_.path(), [&]() -> Status {
    const int ifindex = static_cast<int>(::if_nametoindex("ipfw0"));
    auto prog = datapath::tc_query_ingress(
        {ifindex, datapath::kDefaultWatchTcHandle, datapath::kDefaultWatchTcPriority});
    EXPECT_TRUE(prog.ok());
    if (prog.ok()) {
      EXPECT_EQ(*prog, first_prog);
    }
    return {};
  });
  ASSERT_TRUE(still.ok());
  // While no agent runs, the old program goes on writing into the pinned ring buffer.
  bool ok = false;
  std::string out = outside("arping -c 1 -w 3 -I ipfw1 10.1.0.1", &ok);
  EXPECT_TRUE(ok) << out;

  auto w = Watcher::open(options());
  ASSERT_TRUE(w.ok()) << w.error().message;
  std::vector<WatchEvent> waiting;
  auto polled = (*w)->poll([&](const WatchEvent& ev) { waiting.push_back(ev); });
  ASSERT_TRUE(polled.ok());
  ASSERT_EQ(waiting.size(), 1u);
  EXPECT_EQ(waiting[0].ip, ip("10.1.0.50"));
  EXPECT_EQ(waiting[0].kind, WatchKind::arp_request);

  auto a = (*w)->attach(master());
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->replaced_prog_id, first_prog);
  EXPECT_NE(a->prog_id, first_prog);
  EXPECT_EQ(ingress_filters(), 1);
  auto queried = (*w)->attached_prog(master());
  ASSERT_TRUE(queried.ok());
  EXPECT_EQ(*queried, a->prog_id);

  // detach takes our ingress filter and nothing else: the guard's egress filter stays.
  auto detached = (*w)->detach(master());
  ASSERT_TRUE(detached.ok()) << detached.error().message;
  EXPECT_TRUE(*detached);
  EXPECT_EQ(ingress_filters(), 0);
  auto again = (*w)->detach(master());
  ASSERT_TRUE(again.ok());
  EXPECT_FALSE(*again);
  bool egress_ok = false;
  const std::string egress = in_netns(node_, "tc filter show dev ipfw0 egress", &egress_ok);
  EXPECT_NE(egress.find("handle"), std::string::npos) << egress;
  // A gone interface has no filter: detach says so instead of failing.
  auto gone = (*w)->detach(AttachTarget{"ipfw9", 0, node_.path()});
  ASSERT_TRUE(gone.ok()) << gone.error().message;
  EXPECT_FALSE(*gone);
}

}  // namespace
}  // namespace ipfence::testing
