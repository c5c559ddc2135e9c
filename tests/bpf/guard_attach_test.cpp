// Attaching the guard for real, on a veth pair inside a network namespace the test creates:
// one filter per interface however often it is attached, frames sent with a raw packet
// socket are judged and counted, enforcement survives the Guard object, a second Guard on
// the same pin dir adopts maps and attachment, and detach removes only our filter. A master
// and a pod's macvlan interface with the same ifindex in their own namespaces keep their
// modes and counters apart, also for frames the pod's socket sends through the master.
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <sys/socket.h>

#include "agent/datapath/tc.h"
#include "empty.skel.h"
#include "tests/bpf/guard_world.h"
#include "tests/bpf/test_env.h"

namespace ipfence::testing {
namespace {

using datapath::AttachTarget;
using datapath::GuardMap;
using datapath::Mode;

// Moves the calling thread into a netns for the scope (the test body runs in it).
class ScopedNetns {
 public:
  explicit ScopedNetns(const std::string& path)
      : home_(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)) {
    agent::UniqueFd target(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    entered_ = home_ && target && ::setns(target.get(), CLONE_NEWNET) == 0;
  }
  ~ScopedNetns() {
    if (entered_) ::setns(home_.get(), CLONE_NEWNET);
  }
  bool ok() const { return entered_; }

 private:
  agent::UniqueFd home_;
  bool entered_ = false;
};

// Sends one frame (Ethernet header included) out of `ifname`. Returns 0 or the errno; a
// frame the guard drops comes back as ENOBUFS (the egress hook returned NET_XMIT_DROP).
int send_raw(const std::string& ifname, const Bytes& frame) {
  agent::UniqueFd sock(::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0));  // 0: receives nothing
  if (!sock) return errno;
  sockaddr_ll to{};
  to.sll_family = AF_PACKET;
  to.sll_ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
  to.sll_halen = 6;
  std::copy(frame.begin(), frame.begin() + 6, to.sll_addr);
  const ssize_t n = ::sendto(sock.get(), frame.data(), frame.size(), 0,
                             reinterpret_cast<sockaddr*>(&to), sizeof(to));
  return n == static_cast<ssize_t>(frame.size()) ? 0 : errno;
}

// Filters on the egress hook, by whoever attached them (counted from `tc`'s listing: one
// "handle" line per filter).
int egress_filters(const std::string& ifname) {
  bool ok = false;
  const std::string out = run_command("tc filter show dev " + ifname + " egress", &ok);
  EXPECT_TRUE(ok) << out;
  int n = 0;
  for (std::size_t at = out.find(" handle "); at != std::string::npos;
       at = out.find(" handle ", at + 1))
    ++n;
  return n;
}

class GuardAttachTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(bpffs_.ok()) << bpffs_.error();
    ASSERT_TRUE(netns_.ok()) << "cannot create a network namespace";
    bool ok = false;
    std::string out;
    const Status st = datapath::run_in_netns(netns_.path(), [&]() -> Status {
      out = run_command(
          "ip link add ipft0 type veth peer name ipft1 && ip link set ipft0 up && "
          "ip link set ipft1 up",
          &ok);
      return {};
    });
    ASSERT_TRUE(st.ok()) << st.error().message;
    ASSERT_TRUE(ok) << out;
  }

  datapath::GuardOptions options() const {
    datapath::GuardOptions o;
    o.pin_dir = bpffs_.pin_dir();
    return o;
  }

  PrivateBpffs bpffs_;  // first: it may unshare the mount namespace while single-threaded
  TestNetns netns_;
};

TEST_F(GuardAttachTest, MasterAttachReplacesInPlaceSurvivesTheGuardAndIsAdopted) {
  ScopedNetns in(netns_.path());  // the test netns plays the agent's own: masters live here
  ASSERT_TRUE(in.ok());
  const int ifindex = static_cast<int>(::if_nametoindex("ipft0"));
  ASSERT_GT(ifindex, 0);
  const datapath::TcFilterId slot{ifindex, datapath::kDefaultTcHandle,
                                  datapath::kDefaultTcPriority};
  std::uint32_t first_prog = 0;
  std::map<GuardMap, std::uint32_t> map_ids;
  const Bytes spoofed = ipv4_frame(L2{kPodA, {}}, ip("172.16.0.1"));
  {
    auto g1 = Guard::open(options());
    ASSERT_TRUE(g1.ok()) << g1.error().message;
    load_world(*g1, standard_world());
    first_prog = g1->prog_id();

    auto a = g1->attach("ipft0");
    ASSERT_TRUE(a.ok()) << a.error().message;
    EXPECT_EQ(a->ifindex, ifindex);
    EXPECT_EQ(a->prog_id, first_prog);
    EXPECT_EQ(a->replaced_prog_id, 0u);
    EXPECT_EQ(a->mode, Mode::enforce);
    EXPECT_EQ(datapath::tc_query_egress(slot).value(), first_prog);
    EXPECT_EQ(egress_filters("ipft0"), 1);

    auto again = g1->attach(ifindex);  // by ifindex this time
    ASSERT_TRUE(again.ok()) << again.error().message;
    EXPECT_EQ(again->ifname, "ipft0");
    EXPECT_EQ(again->replaced_prog_id, first_prog);
    EXPECT_EQ(egress_filters("ipft0"), 1);

    // Frames from a raw socket: spoofed and truncated ones are dropped, a pod's own passes.
    Bytes truncated = ipv4_frame(L2{kPodA, {}}, ip("10.1.0.10"));
    truncated.resize(20);  // a cut no BPF_PROG_TEST_RUN accepts; real egress does
    const CounterMap before = snapshot(*g1, g1->own_iface(ifindex));
    EXPECT_EQ(send_raw("ipft0", spoofed), ENOBUFS);
    EXPECT_EQ(send_raw("ipft0", ipv4_frame(L2{kPodA, {}}, ip("10.1.0.10"))), 0);
    EXPECT_EQ(send_raw("ipft0", truncated), ENOBUFS);
    EXPECT_EQ(delta(before, snapshot(*g1, g1->own_iface(ifindex))),
              (CounterMap{{{Reason::spoofed, Verdict::dropped}, {1, spoofed.size()}},
                          {{Reason::malformed, Verdict::dropped}, {1, truncated.size()}}}));

    ASSERT_TRUE(g1->set_mode(g1->own_iface(ifindex), Mode::monitor).ok());
    EXPECT_EQ(send_raw("ipft0", spoofed), 0);
    for (GuardMap m : {GuardMap::leases, GuardMap::reserved_v4, GuardMap::reserved_v6,
                       GuardMap::pools_v4, GuardMap::pools_v6, GuardMap::pod_macs,
                       GuardMap::iface_config, GuardMap::counters, GuardMap::iface_counters}) {
      map_ids[m] = g1->map_id(m);
      EXPECT_NE(map_ids[m], 0u);
    }
  }  // the "agent" exits: its Guard is gone, the filter and the pinned maps are not
  ASSERT_TRUE(datapath::tc_query_egress(slot).ok());
  EXPECT_EQ(datapath::tc_query_egress(slot).value(), first_prog);
  EXPECT_EQ(send_raw("ipft0", spoofed), 0);  // judged and counted while no agent runs

  auto g2 = Guard::open(options());
  ASSERT_TRUE(g2.ok()) << g2.error().message;
  EXPECT_TRUE(g2->warnings().empty());
  for (const auto& [m, id] : map_ids) EXPECT_EQ(g2->map_id(m), id) << static_cast<int>(m);
  EXPECT_EQ(g2->leases().value().size(), standard_world().leases.size());
  const CounterMap adopted = snapshot(*g2, g2->own_iface(ifindex));
  EXPECT_EQ(adopted.at({Reason::spoofed, Verdict::monitored}).first, 2u);

  auto seen = g2->attached();
  ASSERT_TRUE(seen.ok()) << seen.error().message;
  ASSERT_EQ(seen->size(), 1u);
  EXPECT_EQ(seen->at(0).ifname, "ipft0");
  EXPECT_EQ(seen->at(0).prog_id, first_prog);
  EXPECT_EQ(seen->at(0).mode, Mode::monitor);

  auto taken = g2->attach("ipft0");
  ASSERT_TRUE(taken.ok()) << taken.error().message;
  EXPECT_EQ(taken->replaced_prog_id, first_prog);
  EXPECT_EQ(taken->prog_id, g2->prog_id());
  EXPECT_NE(taken->prog_id, first_prog);
  EXPECT_EQ(taken->mode, Mode::monitor);  // the recorded mode is kept
  EXPECT_EQ(egress_filters("ipft0"), 1);

  auto removed = g2->detach({"ipft0", 0, {}});
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_TRUE(*removed);
  EXPECT_EQ(egress_filters("ipft0"), 0);
  EXPECT_EQ(datapath::tc_query_egress(slot).value(), 0u);
  EXPECT_TRUE(g2->attached().value().empty());
  EXPECT_FALSE(g2->detach({"ipft0", 0, {}}).value());  // idempotent
  EXPECT_EQ(send_raw("ipft0", spoofed), 0);
}

TEST_F(GuardAttachTest, PodSideAttachRunsInTheGivenNetns) {
  auto guard = Guard::open(options());
  ASSERT_TRUE(guard.ok()) << guard.error().message;
  load_world(*guard, standard_world());
  const AttachTarget target{"ipft1", 0, netns_.path()};
  auto a = guard->attach(target);  // from the test's own netns, which has no ipft1
  ASSERT_TRUE(a.ok()) << a.error().message;
  EXPECT_EQ(a->netns, netns_.path());
  EXPECT_EQ(a->prog_id, guard->prog_id());

  auto listed = guard->attached();
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->at(0).ifname, "ipft1");
  EXPECT_EQ(listed->at(0).netns, netns_.path());

  int filters = -1;
  int sent = -1;
  const Bytes mismatch = ipv6_frame(L2{kPodB, {}}, ip("fd00:1::a"));
  const CounterMap before = snapshot(*guard, a->key());
  ASSERT_TRUE(datapath::run_in_netns(netns_.path(), [&]() -> Status {
                filters = egress_filters("ipft1");
                sent = send_raw("ipft1", mismatch);
                return {};
              }).ok());
  EXPECT_EQ(filters, 1);
  EXPECT_EQ(sent, ENOBUFS);
  EXPECT_EQ(delta(before, snapshot(*guard, a->key())),
            (CounterMap{{{Reason::mac_mismatch, Verdict::dropped}, {1, mismatch.size()}}}));

  auto removed = guard->detach(target);
  ASSERT_TRUE(removed.ok()) << removed.error().message;
  EXPECT_TRUE(*removed);
  ASSERT_TRUE(datapath::run_in_netns(netns_.path(), [&]() -> Status {
                filters = egress_filters("ipft1");
                return {};
              }).ok());
  EXPECT_EQ(filters, 0);
  EXPECT_TRUE(guard->attached().value().empty());
  EXPECT_TRUE(guard->counters(a->key()).value().empty());  // its counters went with it
}

// A pod's macvlan interface, made inside the pod's namespace (as the CNI macvlan plugin
// does), with the master's ifindex there. --master-mode on the master must not reach the
// pod's guard, and each guard counts only its own frames; a frame from the pod's socket that
// passes the pod's guard is counted on the master under the master's namespace
// (bpf_get_netns_cookie would name the socket's: the pod's).
TEST_F(GuardAttachTest, MasterAndPodInterfaceWithOneIfindexKeepModesAndCountersApart) {
  ScopedNetns in(netns_.path());  // the node: ipft0 is the master
  ASSERT_TRUE(in.ok());
  TestNetns pod;
  ASSERT_TRUE(pod.ok());
  const int master_ifindex = static_cast<int>(::if_nametoindex("ipft0"));
  ASSERT_GT(master_ifindex, 1);
  bool ok = false;
  const std::string out =
      run_command("ip link add link ipft0 name ipfm0 netns " + pod.process_path() + " index " +
                      std::to_string(master_ifindex) + " type macvlan mode bridge",
                  &ok);
  ASSERT_TRUE(ok) << out;
  int pod_ifindex = 0;
  ASSERT_TRUE(datapath::run_in_netns(pod.path(), [&]() -> Status {
                run_command("ip link set ipfm0 up", &ok);
                pod_ifindex = static_cast<int>(::if_nametoindex("ipfm0"));
                return {};
              }).ok());
  ASSERT_TRUE(ok);
  ASSERT_EQ(pod_ifindex, master_ifindex) << "the collision this test is about did not happen";

  auto guard = Guard::open(options());
  ASSERT_TRUE(guard.ok()) << guard.error().message;
  load_world(*guard, standard_world());
  auto master = guard->attach("ipft0");
  ASSERT_TRUE(master.ok()) << master.error().message;
  auto pod_guard = guard->attach(AttachTarget{"ipfm0", 0, pod.path()});
  ASSERT_TRUE(pod_guard.ok()) << pod_guard.error().message;
  ASSERT_EQ(pod_guard->ifindex, master->ifindex);
  ASSERT_NE(pod_guard->netns_cookie, master->netns_cookie);
  EXPECT_EQ(master->netns_cookie, guard->netns_cookie());
  ASSERT_TRUE(guard->set_mode(master->key(), Mode::monitor).ok());  // --master-mode ipft0=monitor
  EXPECT_EQ(guard->iface_config(pod_guard->key()).value().mode, Mode::enforce);

  const Bytes spoofed = ipv4_frame(L2{kPodA, {}, mac("02:00:00:00:99:01")}, ip("172.16.0.1"));
  auto send_from_pod = [&] {
    int sent = -1;
    EXPECT_TRUE(datapath::run_in_netns(pod.path(), [&]() -> Status {
                  sent = send_raw("ipfm0", spoofed);
                  return {};
                }).ok());
    return sent;
  };
  const auto counted = [&](const datapath::Attachment& a) { return snapshot(*guard, a.key()); };

  // The pod's guard enforces (the master's monitor mode did not leak to it).
  CounterMap master_before = counted(*master);
  CounterMap pod_before = counted(*pod_guard);
  EXPECT_EQ(send_from_pod(), ENOBUFS);
  EXPECT_EQ(delta(pod_before, counted(*pod_guard)),
            (CounterMap{{{Reason::spoofed, Verdict::dropped}, {1, spoofed.size()}}}));
  EXPECT_TRUE(delta(master_before, counted(*master)).empty());

  // The master monitors: the same frame from the node side passes, counted on the master only.
  pod_before = counted(*pod_guard);
  EXPECT_EQ(send_raw("ipft0", spoofed), 0);
  EXPECT_EQ(delta(master_before, counted(*master)),
            (CounterMap{{{Reason::spoofed, Verdict::monitored}, {1, spoofed.size()}}}));
  EXPECT_TRUE(delta(pod_before, counted(*pod_guard)).empty());

  // Now the other way round. The pod's frame passes its own guard and meets the master's,
  // still carrying the pod's socket: it is dropped and counted as the master's.
  ASSERT_TRUE(guard->set_mode(master->key(), Mode::enforce).ok());
  ASSERT_TRUE(guard->set_mode(pod_guard->key(), Mode::monitor).ok());
  master_before = counted(*master);
  pod_before = counted(*pod_guard);
  send_from_pod();  // the master's drop may or may not come back through the macvlan device
  EXPECT_EQ(delta(pod_before, counted(*pod_guard)),
            (CounterMap{{{Reason::spoofed, Verdict::monitored}, {1, spoofed.size()}}}));
  EXPECT_EQ(delta(master_before, counted(*master)),
            (CounterMap{{{Reason::spoofed, Verdict::dropped}, {1, spoofed.size()}}}));

  // /v1/guards lists both, each with its own mode.
  auto listed = guard->attached();
  ASSERT_TRUE(listed.ok()) << listed.error().message;
  ASSERT_EQ(listed->size(), 2u);
  for (const datapath::Attachment& a : *listed)
    EXPECT_EQ(a.mode, a.netns.empty() ? Mode::enforce : Mode::monitor) << a.ifname;
  ASSERT_TRUE(guard->detach(AttachTarget{"ipfm0", 0, pod.path()}).ok());
  ASSERT_TRUE(guard->detach(AttachTarget{"ipft0", 0, {}}).ok());
}

// detach() removes a guard at our (handle, priority), and nothing else: another program that
// took that slot stays where it is (and the interface's records go, as it is not ours now).
TEST_F(GuardAttachTest, DetachLeavesAnotherProgramAtOurSlotAlone) {
  ScopedNetns in(netns_.path());
  ASSERT_TRUE(in.ok());
  auto guard = Guard::open(options());
  ASSERT_TRUE(guard.ok()) << guard.error().message;
  auto a = guard->attach("ipft0");
  ASSERT_TRUE(a.ok()) << a.error().message;
  std::unique_ptr<empty_bpf, decltype(&empty_bpf__destroy)> other(empty_bpf__open_and_load(),
                                                                  empty_bpf__destroy);
  ASSERT_TRUE(other);
  const datapath::TcFilterId slot{a->ifindex, datapath::kDefaultTcHandle,
                                  datapath::kDefaultTcPriority};
  auto replaced = datapath::tc_attach_egress(slot, bpf_program__fd(other->progs.ipf_empty));
  ASSERT_TRUE(replaced.ok()) << replaced.error().message;
  EXPECT_EQ(replaced->replaced_prog_id, guard->prog_id());

  auto detached = guard->detach({"ipft0", 0, {}});
  ASSERT_TRUE(detached.ok()) << detached.error().message;
  EXPECT_FALSE(*detached);
  EXPECT_EQ(datapath::tc_query_egress(slot).value(), replaced->prog_id);
  EXPECT_EQ(egress_filters("ipft0"), 1);
  EXPECT_TRUE(guard->masters().value().empty());  // its record went: the slot is not ours
  EXPECT_TRUE(datapath::tc_detach_egress(slot).value());
}

TEST_F(GuardAttachTest, AttachToAMissingInterfaceFailsCleanly) {
  auto guard = Guard::open(options());
  ASSERT_TRUE(guard.ok()) << guard.error().message;
  auto a = guard->attach(AttachTarget{"ipft-nope", 0, netns_.path()});
  ASSERT_FALSE(a.ok());
  EXPECT_EQ(a.error().code, ErrorCode::not_found);
  auto bad_netns = guard->attach(AttachTarget{"ipft0", 0, "/nonexistent/netns"});
  ASSERT_FALSE(bad_netns.ok());
  EXPECT_TRUE(guard->attached().value().empty());
}

}  // namespace
}  // namespace ipfence::testing
