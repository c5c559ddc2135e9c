// Support for the enforcement end-to-end tests and benchmarks: a bpffs of the test's own for
// the agent's pinned maps, a frame sniffer and traffic makers that work inside the test's
// network namespaces, and readers for the agent's guard state (/v1/guards, tc filters).
// Everything is undone by RAII, also when a test fails half-way: sniffers and senders stop
// their threads and close their sockets, the bpffs is unmounted and its directory removed.
// Nothing here touches the machine's own interfaces: every socket is made inside a namespace
// the test created.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "tests/bpf/sockopt_env.h"
#include "tests/e2e/support/agent_node.h"
#include "tests/e2e/support/netns.h"

namespace ipfence::e2e {

using Clock = std::chrono::steady_clock;
using Mac = std::array<std::uint8_t, 6>;

// A bpf filesystem mounted in the root mount namespace on /run/ipfence-e2e-<pid>-<n>/bpffs.
// The agent runs under `ip netns exec`, which remounts /sys, so /sys/fs/bpf is not visible
// to it; a mount made before the agent starts is (its mount namespace is a copy). Removed
// again (umount, rmdir) by the destructor; the first mount of a process also removes the
// mounts that dead test processes left behind.
class BpffsMount {
 public:
  BpffsMount();
  ~BpffsMount();
  BpffsMount(const BpffsMount&) = delete;
  BpffsMount& operator=(const BpffsMount&) = delete;

  const std::string& dir() const { return dir_; }
  std::string agent_flag() const { return "--bpf-pin-dir=" + dir_; }

 private:
  std::string base_;  // /run/ipfence-e2e-<pid>-<n>
  std::string dir_;   // base_/bpffs
};

// A cgroup of the test's own for the agent's --pod-cgroup: cgroup2 mounted on
// /run/ipfence-e2e-cg-<pid>-<n>/cgroup (before the agent starts: `ip netns exec` remounts
// /sys, so /sys/fs/cgroup is empty for the agent) and a child cgroup in it, never its root.
// The destructor moves processes left in the child back to the root, removes the child and
// unmounts.
class PodCgroup {
 public:
  PodCgroup();
  ~PodCgroup();
  PodCgroup(const PodCgroup&) = delete;
  PodCgroup& operator=(const PodCgroup&) = delete;

  std::string path() const;  // the child cgroup
  std::string agent_flag() const { return "--pod-cgroup=" + path(); }

 private:
  std::string base_;
  std::string mount_;
  std::unique_ptr<testing::TestCgroup> cgroup_;
};

// Runs `fn` on a thread that has joined network namespace `netns` (a name from `ip netns
// list`, or a path); sockets made there stay in that namespace for their whole life.
void in_netns(const std::string& netns, const std::function<void()>& fn);
// socket(2) inside `netns`; throws on failure.
int socket_in_netns(const std::string& netns, int domain, int type, int protocol);
// if_nametoindex inside `netns`; throws when there is no such interface.
int ifindex_in_netns(const std::string& netns, const std::string& ifname);

Mac parse_mac(const std::string& text);  // "aa:bb:cc:dd:ee:ff"
std::string format_mac(const Mac& mac);
// The MAC of `ifname` in `ns` (from `ip -j link show`).
Mac link_mac(const Netns& ns, const std::string& ifname);

// One frame as the sniffer decoded it. src_ip/dst_ip are the IPv4 source/destination, or
// the ARP sender/target address; empty for other frames.
struct Frame {
  Clock::time_point at;
  Mac src_mac{};
  Mac dst_mac{};
  std::uint16_t ethertype = 0;
  std::string src_ip;
  std::string dst_ip;
  std::uint8_t ip_proto = 0;  // IPv4 only
  std::uint16_t arp_op = 0;   // ARP only
  std::uint16_t udp_dport = 0;
  std::string udp_payload;  // up to 64 bytes

  bool is_arp() const { return ethertype == 0x0806; }
  bool is_ipv4() const { return ethertype == 0x0800; }
};

using FramePredicate = std::function<bool(const Frame&)>;
FramePredicate ipv4_from(const std::string& ip);  // an IPv4 packet with this source
FramePredicate arp_from(const std::string& ip);   // an ARP frame with this sender IP
// Anything (IPv4 or ARP) that claims `ip` as its source.
FramePredicate claims(const std::string& ip);

// Records every frame that arrives on `ifname` in `netns` (frames the namespace sends itself
// are skipped), on its own thread, from construction until destruction.
class Sniffer {
 public:
  Sniffer(const std::string& netns, const std::string& ifname);
  ~Sniffer();
  Sniffer(const Sniffer&) = delete;
  Sniffer& operator=(const Sniffer&) = delete;

  std::vector<Frame> frames() const;
  std::size_t count(const FramePredicate& match) const;
  // Polls until a matching frame was seen, at most `timeout`.
  bool wait_for(const FramePredicate& match,
                std::chrono::milliseconds timeout = std::chrono::seconds(3)) const;
  void clear();
  // A short listing of the frames (for failure messages).
  std::string describe(std::size_t max_frames = 30) const;

 private:
  void run();

  int fd_ = -1;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;
  std::vector<Frame> frames_;
  std::thread thread_;
};

// A UDP datagram from `src_ip` to `dst_ip`:`port` every `interval`, sent from inside `netns`
// (the socket is bound to src_ip, which must be an address of that namespace). The payload
// is "ipfence-seq=<n>", so a sniffer can tell which datagrams arrived.
class UdpStream {
 public:
  UdpStream(const std::string& netns, const std::string& src_ip, const std::string& dst_ip,
            std::uint16_t port, std::chrono::microseconds interval);
  ~UdpStream();
  UdpStream(const UdpStream&) = delete;
  UdpStream& operator=(const UdpStream&) = delete;

  void stop();
  // Send times by sequence number (index = seq); a copy, safe while it runs.
  std::vector<Clock::time_point> sent() const;
  std::size_t send_errors() const { return send_errors_; }

  // The sequence number in a sniffed frame of this stream, or nullopt.
  static std::optional<std::size_t> sequence(const Frame& frame);

 private:
  int fd_ = -1;
  std::chrono::microseconds interval_;
  std::atomic<bool> stop_{false};
  std::atomic<std::size_t> send_errors_{0};
  mutable std::mutex mutex_;
  std::vector<Clock::time_point> sent_;
  std::thread thread_;
};

// Raw frames, for claims the kernel's IP stack would not send (another pod's address towards
// a sibling, a frame with a pod's MAC from the node side).
std::vector<std::uint8_t> udp_frame(const Mac& src_mac, const Mac& dst_mac,
                                    const std::string& src_ip, const std::string& dst_ip,
                                    std::uint16_t dport, const std::string& payload);
// Ethernet/IPv4 ARP; op 1 = request, 2 = reply. Broadcast when dst_mac is all ones.
std::vector<std::uint8_t> arp_frame(std::uint16_t op, const Mac& src_mac, const Mac& dst_mac,
                                    const std::string& sender_ip, const std::string& target_ip);
// Sends `frame` as it is out of `ifname` in `netns` through a packet socket, so it passes
// the interface's qdisc and TC egress hook as any frame the stack sends; unless
// `bypass_qdisc` (PACKET_QDISC_BYPASS, which any holder of CAP_NET_RAW may set): then the
// frame goes to the driver directly, skipping that interface's TC egress hook.
void send_frame(const std::string& netns, const std::string& ifname,
                const std::vector<std::uint8_t>& frame, int copies = 1, bool bypass_qdisc = false);

// ---- the agent's guard state --------------------------------------------------------------

// GET /v1/guards; throws unless the agent answers 200.
nlohmann::json get_guards(const AgentNode& node);
// The entry of /v1/guards for `master` (netns empty: in the agent's own namespace) or for a
// pod-side guard on `master` in namespace path `netns`. nullopt when there is none.
std::optional<nlohmann::json> guard_entry(const nlohmann::json& guards, const std::string& master,
                                          const std::string& netns = "");
// counters.<verdict> of that entry by reason (reserved, unallocated, ...); zeros when absent.
std::map<std::string, std::uint64_t> guard_counters(const AgentNode& node,
                                                    const std::string& master,
                                                    const std::string& netns = "",
                                                    const std::string& verdict = "dropped");

// The BPF filters on the egress hook of `ifname` in `ns` (`tc filter show ... egress`), one
// entry per filter: the program id tc reports (0 if it reports none).
std::vector<std::uint32_t> egress_bpf_filters(const Netns& ns, const std::string& ifname);

// The value of a Prometheus sample in `text`, e.g.
// metric_value(text, "ipfence_egress_dropped_packets_total",
// {{"master","ens192"},{"reason","reserved"}}).
std::optional<double> metric_value(const std::string& text, const std::string& name,
                                   const std::map<std::string, std::string>& labels);
// GET /metrics from the agent (its metrics address is inside the node namespace).
std::string agent_metrics(AgentNode& node);

// VmRSS of a process in KiB (0 when it is gone).
std::uint64_t vm_rss_kib(pid_t pid);

}  // namespace ipfence::e2e
