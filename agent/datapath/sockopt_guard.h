// The pod socket-option guard (bpf/sockopt_guard.bpf.c): a cgroup/setsockopt program on the
// cgroup v2 directory that holds the pods. It refuses, with EPERM, the socket options that
// let a pod's frames skip the TC egress hook of its own interface, and so the pod-side guard:
// PACKET_QDISC_BYPASS on packet sockets, and every SOL_XDP option (AF_XDP). Only for sockets
// in the pod network namespaces this object is told about (add_netns); everything else passes.
//
// Lifecycle, in the spirit of Guard's: open() adopts the maps pinned under the pin dir (or
// creates them) and loads a fresh program. The attachment is a bpf_link pinned there too
// (kLinkPin), so it outlives the agent: a restarted agent finds it and swaps its own program
// in (bpf_link_update: no moment without a program, and never a second attachment). A pinned
// link on another cgroup (--pod-cgroup changed) is detached and replaced. Without a pin dir
// (tests) the link lives as long as this object. Nothing else is undone by the destructor;
// detach_pinned() is what removes the attachment for good.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/datapath/codes.h"
#include "agent/datapath/guard.h"
#include "ipam/result.h"

namespace ipfence::datapath {

// The link's pin, in the pin dir.
inline constexpr const char* kSockoptLinkPin = "ipf_sockopt_link";

struct SockoptGuardOptions {
  // Maps and the link are pinned here; must be on a bpf filesystem. Empty: nothing pinned.
  std::string pin_dir = kDefaultPinDir;
  // The cgroup v2 directory whose sockets (those of its processes and its descendants') are
  // judged: the kubelet's pods cgroup.
  std::string cgroup;
};

enum class SockoptOption : std::uint8_t {
  packet_qdisc_bypass = IPF_SOCKOPT_PACKET_QDISC_BYPASS,
  xdp = IPF_SOCKOPT_XDP,
};
// "packet_qdisc_bypass", "xdp": metric labels and JSON keys.
std::string_view sockopt_option_name(SockoptOption option);
inline constexpr SockoptOption kSockoptOptions[] = {SockoptOption::packet_qdisc_bypass,
                                                    SockoptOption::xdp};

struct SockoptCounter {
  SockoptOption option = SockoptOption::packet_qdisc_bypass;
  Verdict verdict = Verdict::dropped;  // dropped: refused; monitored: counted, let through
  std::uint64_t count = 0;             // summed over CPUs
};

// Where the kubelet puts pods (its systemd and cgroupfs drivers), on a unified cgroup mount
// and on the unified part of a hybrid one: what --pod-cgroup=auto looks for.
inline const std::vector<std::string> kPodCgroupCandidates{
    "/sys/fs/cgroup/kubepods.slice", "/sys/fs/cgroup/kubepods",
    "/sys/fs/cgroup/unified/kubepods.slice", "/sys/fs/cgroup/unified/kubepods"};
// The first of `candidates` that is a cgroup v2 directory, or "" when none is.
std::string find_pods_cgroup(const std::vector<std::string>& candidates = kPodCgroupCandidates);

// Not thread-safe: one owner makes all calls.
class SockoptGuard {
 public:
  // Checks the cgroup (a cgroup v2 directory), loads the program with the adopted maps and
  // attaches it, or swaps it into the pinned link. Errors name the cgroup path.
  static Result<SockoptGuard> open(const SockoptGuardOptions& options);
  // Detaches and unpins the link an earlier run pinned in `pin_dir`, if any (the maps stay).
  // Returns whether there was one.
  static Result<bool> detach_pinned(const std::string& pin_dir);

  SockoptGuard(SockoptGuard&&) noexcept;
  SockoptGuard& operator=(SockoptGuard&&) noexcept;
  ~SockoptGuard();

  // Judge the sockets of the namespace with this cookie (netns.h), in `mode`; or no more.
  Status add_netns(std::uint64_t netns_cookie, Mode mode);
  Status remove_netns(std::uint64_t netns_cookie);
  // Makes the map hold exactly `desired`, writing only the difference.
  Result<SyncStats> set_netns(const std::map<std::uint64_t, Mode>& desired);
  Result<std::map<std::uint64_t, Mode>> netns() const;

  // Every (option, verdict) slot, refused and monitored, zeros included.
  Result<std::vector<SockoptCounter>> counters() const;

  const std::string& cgroup() const;
  std::uint32_t prog_id() const;
  std::uint32_t link_id() const;
  // The program this open() replaced in an adopted link (0: the link was created).
  std::uint32_t replaced_prog_id() const;
  int prog_fd() const;

 private:
  struct Impl;
  explicit SockoptGuard(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace ipfence::datapath
