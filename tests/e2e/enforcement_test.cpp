// Enforcement end to end (issue 4): the real agent attaches the BPF guard to the macvlan
// master (and to each pod's macvlan interface), pods get their addresses through the real
// macvlan plugin, and a sniffer on the outside host's end of the wire (or in a sibling pod)
// records what arrives. A pod that puts a reserved address, another pod's address or a free
// pool address on its interface gets nothing out; the guard counts why; the filters outlive
// a killed agent and a restarted one replaces them in place; a reservation applied while a
// pod sends is enforced within 100 ms. The master and each pod's interface have their own mode
// and counters, although the pod's eth0 has the master's ifindex inside its own namespace.
#include "tests/e2e/support/enforcement.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <signal.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <iostream>
#include <memory>
#include <set>

#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/pod_network.h"

namespace ipfence::e2e {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

const std::string kOutsideIp = "10.6.0.1";
const std::string kReservedIp = "10.6.168.131";  // reserved, in the pool
const std::string kFreePoolIp = "10.6.168.140";  // in the pool, leased to nobody
const std::string kForeignIp = "10.6.200.5";     // in no pool and not reserved

struct Pod {
  const Netns* ns = nullptr;
  CniCall call;
  std::string ip;  // without prefix
  Mac mac{};

  const std::string& name() const { return ns->name(); }
  std::string path() const { return ns->path(); }
};

class EnforcementTest : public ::testing::Test {
 protected:
  // Mounts the bpffs, starts the agent with the guard on it and `flags`, and applies the
  // seed's objects with a bigger pool: 10.6.168.131-140, of which 131-132 are reserved.
  void start(const std::string& tag, std::vector<std::string> flags) {
    bpffs_ = std::make_unique<BpffsMount>();
    flags.insert(flags.begin(), bpffs_->agent_flag());
    AgentNodeOptions options;
    options.extra_agent_args = flags;
    node_ = std::make_unique<AgentNode>(unique_name(tag), options);
    master_ = node_->topology().master();
    node_->apply(seed_multus_config(master_));
    node_->apply(reservedip_yaml("test-reservedip", {"10.6.168.131-10.6.168.132"}));
    node_->apply(ippool_yaml("test-ippool", "10.6.0.0/16", {"10.6.168.131-10.6.168.140"}));
    runtime_ = std::make_unique<CniRuntime>(node_->runtime("macvlan-" + master_));
    outside_mac_ = link_mac(node_->topology().outside(), "wire0");
    // The master's guard is there once the agent has seen the SpiderMultusConfig.
    ASSERT_TRUE(wait_until([&] { return guard_entry(get_guards(*node_), master_).has_value(); },
                           std::chrono::seconds(5)))
        << get_guards(*node_).dump();
  }

  void TearDown() override {
    if (HasFailure() && node_) std::cerr << "agent log:\n" << node_->agent().log();
    runtime_.reset();
    node_.reset();  // the agent and the namespaces go before the bpffs is unmounted
    bpffs_.reset();
  }

  // A pod through the real macvlan plugin; its neighbour entry for the outside host is
  // pinned, so that what it sends is exactly what a test asks for (no ARP in between).
  Pod add_pod(const std::string& name) {
    Pod pod;
    pod.ns = &node_->topology().add_pod(name);
    pod.call = pod_attachment(*pod.ns, name, "test-app-" + name);
    pod.call.cni_args = {{"ipam.spidernet.io/ippool", R"({"ipv4": ["test-ippool"]})"}};
    CniOutcome added = runtime_->add(pod.call);
    if (!added.ok()) throw std::runtime_error("ADD " + name + ": " + added.output.dump());
    pod.ip = without_prefix(result_address(added));
    pod.mac = link_mac(*pod.ns, "eth0");
    pin_neighbour(pod, kOutsideIp, outside_mac_);
    return pod;
  }

  static void pin_neighbour(const Pod& pod, const std::string& ip, const Mac& mac) {
    pod.ns->sh("ip neigh replace " + ip + " lladdr " + format_mac(mac) + " dev eth0 nud permanent");
  }

  // `ping -c count` from `source` (added to the pod's eth0 for the ping when it is not the
  // pod's own address); returns ping's exit code (0: replies came back). A ping that gets no
  // reply gives up after a second.
  static int ping_from(const Pod& pod, const std::string& source, const std::string& target,
                       int count = 3) {
    bool extra = source != pod.ip;
    if (extra) pod.ns->sh("ip addr add " + source + "/16 dev eth0");
    ProcessResult r = sh_result("ip netns exec " + pod.name() + " ping -n -q -c " +
                                std::to_string(count) + " -i 0.2 -w 1 -I " + source + " " + target);
    if (extra) pod.ns->sh("ip addr del " + source + "/16 dev eth0");
    return r.exit_code;
  }

  // A gratuitous ARP (sender = target = `ip`) from the pod, with `ip` on its interface for it.
  static void gratuitous_arp(const Pod& pod, const std::string& ip) {
    bool extra = ip != pod.ip;
    if (extra) pod.ns->sh("ip addr add " + ip + "/16 dev eth0");
    ProcessResult r = sh_result("ip netns exec " + pod.name() + " arping -U -c1 -I eth0 " + ip);
    if (extra) pod.ns->sh("ip addr del " + ip + "/16 dev eth0");
    if (r.exit_code != 0) throw std::runtime_error("arping: " + r.out + r.err);
  }

  std::map<std::string, std::uint64_t> master_counters() { return guard_counters(*node_, master_); }
  std::map<std::string, std::uint64_t> pod_counters(const Pod& pod) {
    return guard_counters(*node_, "eth0", pod.path());
  }

  std::unique_ptr<BpffsMount> bpffs_;
  std::unique_ptr<AgentNode> node_;
  std::unique_ptr<CniRuntime> runtime_;
  std::string master_;
  Mac outside_mac_{};
};

// Every reason but `reason` is unchanged, and `reason` rose by at least `by`. (How many
// echo requests a ping whose sends are dropped makes varies: the guard's drop comes back to
// it as ENOBUFS, and ping tries again.)
void expect_rose(const std::map<std::string, std::uint64_t>& before,
                 const std::map<std::string, std::uint64_t>& after, const std::string& reason,
                 std::uint64_t by, const std::string& what) {
  for (const auto& [name, value] : after) {
    std::uint64_t was = before.count(name) ? before.at(name) : 0;
    if (name == reason)
      EXPECT_GE(value, was + by) << what << ": counter " << name;
    else
      EXPECT_EQ(value, was) << what << ": counter " << name;
  }
}

FramePredicate from_mac(const Mac& mac, const FramePredicate& match) {
  return [mac, match](const Frame& f) { return f.src_mac == mac && match(f); };
}

// --- the master ----------------------------------------------------------------------------

// Pod guards off, so that the master's egress is the one place that judges.
TEST_F(EnforcementTest, MasterDropsForeignSourcesAndCountsThemByReason) {
  start("enfmaster", {"--pod-guard=false"});
  Pod a = add_pod("a");
  Pod b = add_pod("b");
  Sniffer outside(node_->topology().outside().name(), "wire0");

  // The pod reaches the outside host from its own address.
  EXPECT_EQ(ping_from(a, a.ip, kOutsideIp), 0);
  EXPECT_EQ(outside.count(ipv4_from(a.ip)), 3u) << outside.describe();

  struct Case {
    std::string what, source, reason;
  };
  const std::vector<Case> cases{
      {"a reserved IP", kReservedIp, "reserved"},
      {"another pod's IP", b.ip, "mac_mismatch"},
      {"a free pool IP", kFreePoolIp, "unallocated"},
      {"an IP in no pool", kForeignIp, "spoofed"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    auto before = master_counters();
    EXPECT_NE(ping_from(a, c.source, kOutsideIp), 0) << "a reply came back";
    EXPECT_EQ(outside.count(claims(c.source)), 0u) << outside.describe();
    expect_rose(before, master_counters(), c.reason, 1, c.what);
  }

  // Nothing of that broke the pod's own traffic; b was not touched either.
  EXPECT_EQ(ping_from(a, a.ip, kOutsideIp, 1), 0);
  EXPECT_EQ(ping_from(b, b.ip, kOutsideIp, 1), 0);
  EXPECT_EQ(outside.count(ipv4_from(a.ip)), 4u);

  // The same counts as metrics.
  const auto counted = master_counters();
  std::string metrics;
  auto metrics_agree = [&] {
    metrics = agent_metrics(*node_);
    for (const std::string reason : {"reserved", "mac_mismatch", "unallocated", "spoofed"}) {
      if (metric_value(metrics, "ipfence_egress_dropped_packets_total",
                       {{"master", master_}, {"reason", reason}}) !=
          static_cast<double>(counted.at(reason)))
        return false;
    }
    return true;
  };
  EXPECT_TRUE(wait_until(metrics_agree, milliseconds(3000))) << metrics;
}

TEST_F(EnforcementTest, GratuitousArpClaimingAReservedIpNeverReachesTheOutsideHost) {
  start("enfarp", {"--pod-guard=false"});
  Pod a = add_pod("a");
  Pod b = add_pod("b");
  Sniffer outside(node_->topology().outside().name(), "wire0");

  // The pod announcing its own address is seen (the sniffer works, ARP passes).
  gratuitous_arp(a, a.ip);
  EXPECT_TRUE(outside.wait_for(arp_from(a.ip), milliseconds(1000))) << outside.describe();

  auto before = master_counters();
  gratuitous_arp(a, kReservedIp);
  expect_rose(before, master_counters(), "reserved", 1, "gratuitous ARP for a reserved IP");
  // Poisoning the outside host's cache for another pod's address fails the same way.
  before = master_counters();
  gratuitous_arp(a, b.ip);
  expect_rose(before, master_counters(), "mac_mismatch", 1, "gratuitous ARP for b's IP");

  EXPECT_EQ(outside.count(arp_from(kReservedIp)), 0u) << outside.describe();
  EXPECT_EQ(outside.count(from_mac(a.mac, arp_from(b.ip))), 0u) << outside.describe();
}

// --- pod to pod ----------------------------------------------------------------------------

// Siblings on one master in bridge mode talk through the macvlan device without passing the
// master's egress: the guard on the pod's own interface is what stops a pod there.
TEST_F(EnforcementTest, PodToPodSpoofingOnOneMasterIsDroppedAtThePod) {
  start("enfpods", {});
  Pod a = add_pod("a");
  Pod b = add_pod("b");
  Pod c = add_pod("c");
  pin_neighbour(a, b.ip, b.mac);
  Sniffer at_b(b.name(), "eth0");

  EXPECT_TRUE(guard_entry(get_guards(*node_), "eth0", a.path()).has_value())
      << get_guards(*node_).dump(2);
  EXPECT_EQ(egress_bpf_filters(*a.ns, "eth0").size(), 1u);

  EXPECT_EQ(ping_from(a, a.ip, b.ip), 0);
  EXPECT_EQ(at_b.count(ipv4_from(a.ip)), 3u) << at_b.describe();

  struct Case {
    std::string what, source, reason;
  };
  const std::vector<Case> cases{
      {"a reserved IP", kReservedIp, "reserved"},
      {"pod c's IP", c.ip, "mac_mismatch"},
      {"a free pool IP", kFreePoolIp, "unallocated"},
  };
  const auto master_before = master_counters();
  for (const Case& cs : cases) {
    SCOPED_TRACE(cs.what);
    auto before = pod_counters(a);
    EXPECT_NE(ping_from(a, cs.source, b.ip), 0);
    EXPECT_EQ(at_b.count(claims(cs.source)), 0u) << at_b.describe();
    expect_rose(before, pod_counters(a), cs.reason, 1, cs.what);
  }
  // Dropped at the pod, so the master never saw them.
  EXPECT_EQ(master_counters(), master_before);

  // b's own address towards b (the kernel would not send that: a raw frame), and an ARP
  // reply that would teach b that c is at a's MAC.
  auto before = pod_counters(a);
  send_frame(a.name(), "eth0", udp_frame(a.mac, b.mac, b.ip, b.ip, 9, "spoof"), 2);
  send_frame(a.name(), "eth0", arp_frame(2, a.mac, b.mac, c.ip, b.ip), 2);
  wait_until([&] { return pod_counters(a)["mac_mismatch"] >= before["mac_mismatch"] + 4; },
             milliseconds(500));
  expect_rose(before, pod_counters(a), "mac_mismatch", 4, "raw frames with b's and c's IPs");
  EXPECT_EQ(at_b.count(from_mac(a.mac, claims(b.ip))), 0u) << at_b.describe();
  EXPECT_EQ(at_b.count(from_mac(a.mac, claims(c.ip))), 0u) << at_b.describe();
}

// --master-mode puts the master in monitor mode while the pod guards keep --guard-mode
// (enforce). The pod's eth0 has ifindex 2 in its namespace, as the master has in the node's;
// the guard keys mode and counters by (netns, ifindex), so the master's mode does not reach
// the pod's guard, and GET /v1/guards and the metrics report the two apart.
TEST_F(EnforcementTest, MasterInMonitorModeLeavesThePodGuardsEnforcing) {
  start("enfmon", {"--master-mode=ens192=monitor"});
  ASSERT_EQ(master_, "ens192");
  Pod a = add_pod("a");
  Sniffer outside(node_->topology().outside().name(), "wire0");
  const Netns& node_ns = node_->topology().node();
  ASSERT_EQ(ifindex_in_netns(node_ns.name(), master_), 2);
  ASSERT_EQ(ifindex_in_netns(a.path(), "eth0"), 2) << "the collision this test is about";

  json guards = get_guards(*node_);
  auto on_master = guard_entry(guards, master_);
  auto on_pod = guard_entry(guards, "eth0", a.path());
  ASSERT_TRUE(on_master && on_pod) << guards.dump(2);
  EXPECT_EQ(on_master->value("mode", ""), "monitor");
  EXPECT_EQ(on_pod->value("mode", ""), "enforce");
  EXPECT_EQ(on_master->value("ifindex", 0), on_pod->value("ifindex", -1));
  EXPECT_NE(on_master->value("netnsCookie", 0u), on_pod->value("netnsCookie", 0u));

  // The pod puts a reserved address on its interface: its own guard drops what it sends.
  const auto monitored_on_master = [&] { return guard_counters(*node_, master_, "", "monitored"); };
  auto master_dropped = master_counters();
  auto master_monitored = monitored_on_master();
  auto pod_dropped = pod_counters(a);
  EXPECT_NE(ping_from(a, kReservedIp, kOutsideIp), 0) << "a reply came back";
  EXPECT_EQ(outside.count(claims(kReservedIp)), 0u) << outside.describe();
  expect_rose(pod_dropped, pod_counters(a), "reserved", 1, "the pod's guard");
  EXPECT_EQ(master_counters(), master_dropped);
  EXPECT_EQ(monitored_on_master(), master_monitored);

  // The master only monitors: a's MAC with a free pool address, sent on the master from the
  // node side, passes and is counted as monitored there, and nowhere else.
  pod_dropped = pod_counters(a);
  const auto pod_monitored = guard_counters(*node_, "eth0", a.path(), "monitored");
  send_frame(node_ns.name(), master_,
             udp_frame(a.mac, outside_mac_, kFreePoolIp, kOutsideIp, 9, "monitored"), 3);
  EXPECT_TRUE(outside.wait_for(claims(kFreePoolIp), milliseconds(1000))) << outside.describe();
  expect_rose(master_monitored, monitored_on_master(), "unallocated", 3, "the master");
  EXPECT_EQ(monitored_on_master()["unallocated"], master_monitored["unallocated"] + 3);
  EXPECT_EQ(master_counters(), master_dropped);
  EXPECT_EQ(pod_counters(a), pod_dropped);
  EXPECT_EQ(guard_counters(*node_, "eth0", a.path(), "monitored"), pod_monitored);

  // The metrics tell them apart too: the master's series, and the pods' (all pods together).
  const auto master_counted = monitored_on_master();
  const auto pod_counted = pod_counters(a);
  std::string metrics;
  auto metrics_agree = [&] {
    metrics = agent_metrics(*node_);
    return metric_value(metrics, "ipfence_egress_monitored_packets_total",
                        {{"master", master_}, {"reason", "unallocated"}}) ==
               static_cast<double>(master_counted.at("unallocated")) &&
           metric_value(metrics, "ipfence_pod_egress_dropped_packets_total",
                        {{"reason", "reserved"}}) ==
               static_cast<double>(pod_counted.at("reserved")) &&
           !metric_value(metrics, "ipfence_egress_dropped_packets_total",
                         {{"master", master_}, {"reason", "reserved"}})
                .has_value();
  };
  EXPECT_TRUE(wait_until(metrics_agree, milliseconds(3000))) << metrics;
}

// A packet socket with PACKET_QDISC_BYPASS (CAP_NET_RAW, which containers get by default)
// would hand frames to the macvlan driver past the TC egress hook of the pod's interface, so
// that a sibling on the same master gets what the pod guard never saw. With --pod-cgroup the
// agent's socket-option guard refuses the option (EPERM) to sockets of processes in the pods'
// cgroup, in namespaces it guards; the sender that goes on without it meets the pod guard.
// The sender runs as a child process in a cgroup of the test's own, inside the pod's netns.
TEST_F(EnforcementTest, PodGuardHoldsAgainstPacketSocketsThatBypassTheQdisc) {
  PodCgroup pods;
  start("enfbypass", {pods.agent_flag()});
  Pod a = add_pod("a");
  Pod b = add_pod("b");
  json sockopt = get_guards(*node_).value("sockopt", json::object());
  ASSERT_TRUE(sockopt.value("enabled", false)) << sockopt.dump(2);
  EXPECT_EQ(sockopt.value("cgroup", ""), pods.path());
  EXPECT_EQ(sockopt.value("guardedNetns", 0), 2);
  Sniffer at_b(b.name(), "eth0");
  Sniffer outside(node_->topology().outside().name(), "wire0");
  const auto pod_before = pod_counters(a);

  // {errno of PACKET_QDISC_BYPASS (0: set), frames the kernel took}
  const std::vector<std::vector<std::uint8_t>> frames{
      udp_frame(a.mac, outside_mac_, kReservedIp, kOutsideIp, 9, "bypass"),
      udp_frame(a.mac, b.mac, kReservedIp, b.ip, 9, "bypass")};
  const auto bypassing_sender = [&frames] {
    std::vector<int> out{-1, 0};
    int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    if (fd < 0) return out;
    int on = 1;
    out[0] = ::setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof on) == 0 ? 0 : errno;
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_ifindex = static_cast<int>(::if_nametoindex("eth0"));
    addr.sll_halen = 6;
    for (int copy = 0; copy < 3; ++copy) {
      for (const auto& frame : frames) {
        std::memcpy(addr.sll_addr, frame.data(), 6);
        // The guard's drop comes back as an error (ENOBUFS or EPERM): not taken.
        if (::sendto(fd, frame.data(), frame.size(), 0, reinterpret_cast<sockaddr*>(&addr),
                     sizeof addr) >= 0)
          ++out[1];
      }
    }
    ::close(fd);
    return out;
  };
  testing::ChildReport sent = testing::run_in_cgroup(pods.path(), a.path(), bypassing_sender);
  ASSERT_TRUE(sent.ok()) << sent.error;
  ASSERT_EQ(sent.values.size(), 2u);
  EXPECT_EQ(sent.values[0], EPERM) << std::strerror(sent.values[0]);

  // Without the bypass, the pod's guard judged all six frames.
  EXPECT_TRUE(
      wait_until([&] { return pod_counters(a)["reserved"] >= pod_before.at("reserved") + 6; },
                 milliseconds(1000)));
  expect_rose(pod_before, pod_counters(a), "reserved", 6, "the sender without bypass");
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(outside.count(claims(kReservedIp)), 0u) << outside.describe();
  EXPECT_EQ(at_b.count(claims(kReservedIp)), 0u) << at_b.describe();

  // Counted in GET /v1/guards and /metrics.
  sockopt = get_guards(*node_).value("sockopt", json::object());
  EXPECT_EQ(sockopt["refused"].value("packet_qdisc_bypass", 0), 1) << sockopt.dump(2);
  EXPECT_EQ(sockopt["refused"].value("xdp", -1), 0) << sockopt.dump(2);
  std::string metrics;
  EXPECT_TRUE(wait_until(
      [&] {
        metrics = agent_metrics(*node_);
        return metric_value(metrics, "ipfence_pod_sockopt_refused_total",
                            {{"option", "packet_qdisc_bypass"}}) == 1.0;
      },
      milliseconds(3000)))
      << metrics;

  // A socket of the same cgroup in a namespace the agent does not guard keeps the option.
  const auto set_bypass = [] {
    int fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0);
    int on = 1;
    std::vector<int> out{
        fd < 0
            ? -1
            : (::setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &on, sizeof on) == 0 ? 0 : errno)};
    if (fd >= 0) ::close(fd);
    return out;
  };
  testing::ChildReport unguarded =
      testing::run_in_cgroup(pods.path(), node_->topology().outside().path(), set_bypass);
  ASSERT_TRUE(unguarded.ok()) << unguarded.error;
  EXPECT_EQ(unguarded.values, std::vector<int>{0});

  // A released pod's namespace is judged no more; a restarted agent adopts the attachment
  // (the same link, one program on the cgroup) and the namespaces it guards.
  ASSERT_TRUE(runtime_->del(b.call).ok());
  EXPECT_EQ(get_guards(*node_)["sockopt"].value("guardedNetns", 0), 1);
  const auto link = get_guards(*node_)["sockopt"].value("linkId", 0u);
  ASSERT_EQ(node_->stop_agent(), 0);
  node_->start_agent();
  ASSERT_TRUE(
      wait_until([&] { return get_guards(*node_)["sockopt"].value("guardedNetns", 0) == 1; },
                 std::chrono::seconds(5)))
      << get_guards(*node_).dump(2);
  EXPECT_EQ(get_guards(*node_)["sockopt"].value("linkId", 0u), link);
  std::string programs = sh_result("bpftool cgroup show " + pods.path()).out;
  EXPECT_EQ(std::count(programs.begin(), programs.end(), '\n'), 2) << programs;  // header + 1
  sent = testing::run_in_cgroup(pods.path(), a.path(), set_bypass);
  ASSERT_TRUE(sent.ok()) << sent.error;
  EXPECT_EQ(sent.values, std::vector<int>{EPERM});
}

// --- leases follow ADD and DEL -------------------------------------------------------------

TEST_F(EnforcementTest, LeaseIsInPlaceWhenAddReturnsAndGoneAfterDel) {
  start("enflease", {"--pod-guard=false"});
  Sniffer outside(node_->topology().outside().name(), "wire0");
  Pod a = add_pod("a");
  // The first datagram right after ADD passes: nothing has to settle first.
  send_frame(a.name(), "eth0", udp_frame(a.mac, outside_mac_, a.ip, kOutsideIp, 9, "first"));
  EXPECT_TRUE(outside.wait_for(ipv4_from(a.ip), milliseconds(1000))) << outside.describe();
  EXPECT_EQ(get_guards(*node_).value("leases", -1), 1);

  Pod b = add_pod("b");
  EXPECT_EQ(get_guards(*node_).value("leases", -1), 2);
  ASSERT_TRUE(runtime_->del(a.call).ok());
  EXPECT_EQ(get_guards(*node_).value("leases", -1), 1);
  // a's address is free again: b claiming it is "unallocated", no longer "mac_mismatch".
  auto before = master_counters();
  EXPECT_NE(ping_from(b, a.ip, kOutsideIp), 0);
  expect_rose(before, master_counters(), "unallocated", 1, "b with a's released IP");
  EXPECT_EQ(outside.count(from_mac(b.mac, claims(a.ip))), 0u) << outside.describe();
}

// --- agent restarts ------------------------------------------------------------------------

TEST_F(EnforcementTest, KilledAgentKeepsEnforcingAndARestartAttachesNothingTwice) {
  start("enfkill", {});
  Pod a = add_pod("a");
  Sniffer outside(node_->topology().outside().name(), "wire0");
  const Netns& node_ns = node_->topology().node();
  // Frames that claim a free pool IP with a's MAC, sent on the master from the node side:
  // they meet the master's guard whatever the pod-side guard does, and count as the master's
  // (unallocated). The pod's reserved-address stream below is dropped by the pod's own guard
  // and counts as the pod's: the master never sees it.
  auto spoof_on_master = [&] {
    send_frame(node_ns.name(), master_,
               udp_frame(a.mac, outside_mac_, kFreePoolIp, kOutsideIp, 9, "master"), 3);
  };
  auto check_filters = [&](const std::string& when) {
    SCOPED_TRACE(when);
    auto master_filters = egress_bpf_filters(node_ns, master_);
    ASSERT_EQ(master_filters.size(), 1u) << node_ns.sh("tc filter show dev " + master_ + " egress");
    EXPECT_EQ(egress_bpf_filters(*a.ns, "eth0").size(), 1u)
        << a.ns->sh("tc filter show dev eth0 egress");
    json guards = get_guards(*node_);
    auto entry = guard_entry(guards, master_);
    ASSERT_TRUE(entry.has_value()) << guards.dump(2);
    EXPECT_EQ(entry->value("progId", 0u), master_filters[0]) << guards.dump(2);
    std::size_t on_master =
        std::count_if(guards["guards"].begin(), guards["guards"].end(),
                      [&](const json& g) { return g.value("master", "") == master_; });
    EXPECT_EQ(on_master, 1u) << guards.dump(2);
  };
  check_filters("first start");

  // Traffic across the kill and the restart: a's own address every 5 ms, and a reserved
  // address a put on its interface every 5 ms.
  a.ns->sh("ip addr add " + kReservedIp + "/16 dev eth0");
  UdpStream legit(a.name(), a.ip, kOutsideIp, 9, milliseconds(5));
  UdpStream spoof(a.name(), kReservedIp, kOutsideIp, 9, milliseconds(5));
  ASSERT_TRUE(outside.wait_for(ipv4_from(a.ip), milliseconds(1000)));
  auto master_before = master_counters();
  auto pod_before = pod_counters(a);
  spoof_on_master();

  ASSERT_EQ(node_->stop_agent(SIGKILL), 128 + SIGKILL);
  std::this_thread::sleep_for(milliseconds(300));
  std::size_t legit_while_down = outside.count(ipv4_from(a.ip));
  spoof_on_master();
  std::this_thread::sleep_for(milliseconds(300));
  EXPECT_GT(outside.count(ipv4_from(a.ip)), legit_while_down) << "a's own traffic stopped";

  node_->start_agent();
  ASSERT_TRUE(wait_until([&] { return guard_entry(get_guards(*node_), master_).has_value(); },
                         std::chrono::seconds(5)));
  std::this_thread::sleep_for(milliseconds(300));
  spoof_on_master();
  check_filters("after the restart");
  EXPECT_EQ(get_guards(*node_).value("leases", -1), 1);
  // The counters live in a pinned map: they carry on over the restart, each guard's apart.
  auto master_after = master_counters();
  EXPECT_EQ(master_after["unallocated"], master_before["unallocated"] + 9);
  expect_rose(master_before, master_after, "unallocated", 9, "the master, over the restart");
  expect_rose(pod_before, pod_counters(a), "reserved", 50, "the pod, over the restart");

  legit.stop();
  spoof.stop();
  std::this_thread::sleep_for(milliseconds(200));
  EXPECT_EQ(outside.count(claims(kReservedIp)), 0u) << outside.describe();
  EXPECT_EQ(outside.count(claims(kFreePoolIp)), 0u) << outside.describe();
  // No gap for the pod's own traffic: every datagram it sent arrived.
  std::set<std::size_t> seen;
  for (const Frame& f : outside.frames())
    if (f.src_ip == a.ip)
      if (auto seq = UdpStream::sequence(f)) seen.insert(*seq);
  EXPECT_EQ(seen.size(), legit.sent().size());
}

// --- a reservation made while traffic flows -------------------------------------------------

// The pod sends from its own (leased) address every 5 ms; then its address is reserved. With
// --reserved-policy drop the reservation wins over the lease, so from some datagram on
// nothing arrives. That datagram's send time, minus the time `ipfencectl apply` returned, is
// the enforcement latency.
TEST_F(EnforcementTest, ReservationAppliedWhileTrafficFlowsIsEnforcedWithin100ms) {
  start("enflate", {"--reserved-policy=drop"});
  Pod a = add_pod("a");
  Sniffer outside(node_->topology().outside().name(), "wire0");
  UdpStream stream(a.name(), a.ip, kOutsideIp, 9, milliseconds(5));
  ASSERT_TRUE(outside.wait_for(ipv4_from(a.ip), milliseconds(1000)));

  auto seen_sequences = [&] {
    std::set<std::size_t> seen;
    for (const Frame& f : outside.frames())
      if (f.src_ip == a.ip)
        if (auto seq = UdpStream::sequence(f)) seen.insert(*seq);
    return seen;
  };
  using ms = std::chrono::duration<double, std::milli>;
  std::vector<double> latencies;
  for (int round = 0; round < 5; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    const auto apply_started = Clock::now();
    node_->apply(reservedip_yaml("late-reservedip", {a.ip}));
    const auto apply_returned = Clock::now();
    std::this_thread::sleep_for(milliseconds(400));
    std::vector<Clock::time_point> sent = stream.sent();
    std::set<std::size_t> seen = seen_sequences();
    // The first datagram sent after the apply started from which on none arrived.
    std::size_t first_dropped = sent.size();
    for (std::size_t seq = sent.size(); seq-- > 0 && sent[seq] >= apply_started;) {
      if (seen.count(seq)) break;
      first_dropped = seq;
    }
    ASSERT_LT(first_dropped + 20, sent.size()) << "not enforced within 300 ms";
    double latency = ms(sent[first_dropped] - apply_returned).count();
    latencies.push_back(latency);
    std::cout << "  enforced " << ms(sent[first_dropped] - apply_started).count()
              << " ms after ipfencectl apply started, " << latency << " ms after it returned ("
              << ms(apply_returned - apply_started).count() << " ms in apply)\n";
    EXPECT_LT(latency, 100.0);

    // Lifting the reservation lets the lease through again.
    ProcessResult deleted = node_->ctl({"delete", "sr", "late-reservedip"});
    ASSERT_EQ(deleted.exit_code, 0) << deleted.err;
    const auto lifted = Clock::now();
    ASSERT_TRUE(wait_until(
        [&] {
          for (const Frame& f : outside.frames())
            if (f.src_ip == a.ip && f.at > lifted) return true;
          return false;
        },
        milliseconds(1000)));
  }
  std::sort(latencies.begin(), latencies.end());
  std::cout << "  enforcement latency after apply returned: min " << latencies.front()
            << " ms, median " << latencies[latencies.size() / 2] << " ms, max " << latencies.back()
            << " ms (5 ms send interval)\n";
  RecordProperty("enforcement_latency_max_ms", std::to_string(latencies.back()));
}

}  // namespace
}  // namespace ipfence::e2e
