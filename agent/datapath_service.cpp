#include "agent/datapath_service.h"

#include <linux/magic.h>
#include <net/if.h>
#include <spdlog/spdlog.h>
#include <sys/statfs.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "agent/host_links.h"

namespace ipfence::agent {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;

// How often the node's own addresses and missing masters are looked at again. Addresses
// rarely change; a master that appears is guarded within this long.
constexpr std::chrono::seconds kHostRefresh{1};

// How long a guarded master must go unnamed before it is detached: long enough that a config
// deleted and re-created at once (an apply tool replacing it) leaves no gap.
constexpr std::chrono::seconds kDetachGrace{3};

bool in_any(const std::vector<ipam::IpRange>& ranges, const ipam::IpAddress& ip) {
  return std::any_of(ranges.begin(), ranges.end(),
                     [&](const ipam::IpRange& r) { return r.contains(ip); });
}

std::string short_ip(const ipam::Allocation& a) {
  return a.ip + (a.mac.empty() ? "" : " (" + a.mac + ")");
}

}  // namespace

GuardSettings guard_settings(const AgentConfig& config) {
  GuardSettings s;
  s.pin_dir = config.bpf_pin_dir;
  s.default_mode = datapath::mode_from_name(config.guard_mode).value_or(datapath::Mode::enforce);
  for (const auto& [ifname, mode] : config.master_modes)
    s.master_modes[ifname] = datapath::mode_from_name(mode).value_or(s.default_mode);
  s.policy = datapath::policy_from_name(config.reserved_policy)
                 .value_or(datapath::ReservedPolicy::grandfather);
  s.pod_guard = config.pod_guard;
  s.pod_cgroup = config.pod_cgroup;
  s.capacities.leases = config.max_leases;
  s.capacities.pod_macs = config.max_leases;  // one MAC per lease at most
  s.capacities.reserved_prefixes = config.max_reserved_prefixes;
  return s;
}

Status check_bpf_pin_dir(const std::string& dir) {
  std::filesystem::path probe(dir);
  std::error_code ec;
  while (!std::filesystem::exists(probe, ec) && probe.has_parent_path() &&
         probe != probe.parent_path())
    probe = probe.parent_path();
  struct statfs fs {};
  if (::statfs(probe.c_str(), &fs) != 0)
    return make_error(ErrorCode::io, "bpf-pin-dir " + dir + ": statfs " + probe.string() + ": " +
                                         std::strerror(errno));
  if (static_cast<unsigned long>(fs.f_type) == BPF_FS_MAGIC) return {};
  return make_error(ErrorCode::invalid_argument,
                    "bpf-pin-dir " + dir + " is not on a bpf filesystem (" + probe.string() +
                        " is not bpffs): mount one with `mount -t bpf bpf /sys/fs/bpf` (in a "
                        "pod: a hostPath volume of /sys/fs/bpf), pass --bpf-pin-dir=<a dir on "
                        "bpffs>, or run IPAM only with --guard=off");
}

namespace {

// The socket-option guard on the pods' cgroup, or null when it is off (a pinned one an
// earlier run left is then detached). Errors name --pod-cgroup.
Result<std::unique_ptr<datapath::SockoptGuard>> open_sockopt_guard(const GuardSettings& settings) {
  std::string cgroup = settings.pod_cgroup;
  if (!settings.pod_guard) {
    cgroup.clear();  // it guards the pod guards' namespaces: there are none
  } else if (cgroup == "auto") {
    cgroup = datapath::find_pods_cgroup();
    std::string looked;
    for (const auto& dir : datapath::kPodCgroupCandidates)
      looked += (looked.empty() ? "" : ", ") + dir;
    if (cgroup.empty())
      spdlog::warn(
          "guard: pod socket-option guard off: no pods cgroup v2 directory found (looked for "
          "{}); pods holding CAP_NET_RAW can send past their pod guard with "
          "PACKET_QDISC_BYPASS or AF_XDP. Pass --pod-cgroup=<the kubelet's pods cgroup> to "
          "close that, or --pod-cgroup= to turn it off without this warning",
          looked);
  }
  if (cgroup.empty()) {
    auto detached = datapath::SockoptGuard::detach_pinned(settings.pin_dir);
    if (!detached) return detached.error().wrap("pod-cgroup: the pinned socket-option guard");
    if (*detached) spdlog::info("guard: detached the pod socket-option guard an earlier run left");
    return std::unique_ptr<datapath::SockoptGuard>();
  }
  datapath::SockoptGuardOptions options;
  options.pin_dir = settings.pin_dir;
  options.cgroup = cgroup;
  auto opened = datapath::SockoptGuard::open(options);
  if (!opened) return opened.error().wrap("--pod-cgroup " + cgroup);
  spdlog::info(
      "guard: pod socket-option guard (program {}) on cgroup {}{}: PACKET_QDISC_BYPASS and "
      "AF_XDP refused in guarded pod namespaces",
      opened->prog_id(), cgroup,
      opened->replaced_prog_id() != 0
          ? ", replacing program " + std::to_string(opened->replaced_prog_id())
          : std::string());
  return std::make_unique<datapath::SockoptGuard>(std::move(*opened));
}

}  // namespace

Result<std::unique_ptr<DatapathService>> DatapathService::open(GuardSettings settings) {
  IPF_TRY(check_bpf_pin_dir(settings.pin_dir));
  datapath::GuardOptions options;
  options.pin_dir = settings.pin_dir;
  options.capacities = settings.capacities;
  options.default_mode = settings.default_mode;
  options.default_policy = settings.policy;
  auto guard = datapath::Guard::open(options);
  if (!guard)
    return guard.error().wrap("guard (run IPAM only with --guard=off where BPF is not allowed)");
  for (const auto& warning : guard->warnings()) spdlog::warn("guard: {}", warning);
  spdlog::info(
      "guard: program {} loaded, maps pinned in {}; mode {}, reserved policy {}, pod "
      "guards {}",
      guard->prog_id(), settings.pin_dir, datapath::mode_name(settings.default_mode),
      datapath::policy_name(settings.policy), settings.pod_guard ? "on" : "off");
  IPF_ASSIGN_OR_RETURN(auto sockopt, open_sockopt_guard(settings));
  return std::unique_ptr<DatapathService>(
      new DatapathService(std::move(*guard), std::move(sockopt), std::move(settings)));
}

DatapathService::DatapathService(datapath::Guard guard,
                                 std::unique_ptr<datapath::SockoptGuard> sockopt,
                                 GuardSettings settings)
    : guard_(std::move(guard)), sockopt_(std::move(sockopt)), settings_(std::move(settings)) {}

void DatapathService::sync(GuardInputs* snapshot) {
  std::lock_guard lock(mu_);
  const bool first = !synced_once_;
  if (snapshot != nullptr) {
    // A full snapshot not booked yet (its tries failed to write) goes into the book before
    // the next replaces it: a change set that follows it changes it.
    if (pods_to_book_) book_snapshot();
    snapshot_ = std::move(*snapshot);  // a copy would be MBs per 10k pods
    overlay_.settle(snapshot_.revision);
    pods_to_book_ = true;
    if (!snapshot_.full) book_snapshot();  // a few changes: no reason to wait
    std::erase_if(allocation_masters_,
                  [&](const auto& m) { return m.second <= snapshot_.revision; });
    synced_once_ = true;
  }
  if (!synced_once_) return;  // nothing to push before the first snapshot
  // Most rounds change nothing: then this is one clock read.
  const bool refresh = snapshot != nullptr || Clock::now() >= next_host_refresh_;
  if (refresh) refresh_host();
  const bool failed =
      !(pushed_.pools_ok && pushed_.reserved_ok && leases_in_sync_ && pending_.empty()) ||
      pods_to_book_;
  // The documented order: maps first, so that a master's first frame already meets them.
  if (snapshot != nullptr || refresh || failed) report("map sync", push_maps());
  if (refresh) {
    attach_wanted_masters();
    detach_unwanted_masters();
  }
  if (first && settings_.pod_guard) {
    // A restarted agent takes over the pod guards too (their netns may be gone by now).
    for (const auto& pod : snapshot_.pods)
      if (auto attached = attach_pod(pod.netns, pod.ifname); !attached)
        spdlog::debug("guard: pod interface {} in {} not re-attached: {}", pod.ifname, pod.netns,
                      attached.error().message);
  }
  // Read at the first sync only (later snapshots leave them out): not kept.
  snapshot_.pods = std::vector<PodInterface>();  // `= {}` would keep the capacity
  if (first) sync_sockopt_netns();
  if (first) {
    // Pod guards an earlier run attached whose pods are gone (or that this run does not
    // take over) left config and counters keyed by their namespaces: forget them, or they
    // would pile up as pods come and go.
    auto forgotten = guard_.forget_other_netns();
    if (!forgotten)
      report("forget gone pod guards", forgotten.error());
    else if (*forgotten > 0)
      spdlog::info("guard: forgot {} config/counter entries of pod guards that are gone",
                   *forgotten);
  }
}

// Resolves the wanted masters (vlan names) and collects the node's own addresses on them that
// the guard would otherwise take for pod addresses.
void DatapathService::refresh_host() {
  next_host_refresh_ = Clock::now() + kHostRefresh;
  auto links = read_host_links();
  if (!links) {
    report("read host interfaces", links.error());
    return;
  }
  const auto exists = [&](const std::string& name) { return links->contains(name); };
  std::map<std::string, Wanted> wanted;
  for (const auto& want : snapshot_.masters) {
    std::string note;
    const std::string ifname = resolve_master(want, exists, &note);
    const std::string parent = ifname != want.master ? want.master : "";
    if (wanted.emplace(ifname, Wanted{want.source, parent}).second && !note.empty() &&
        !wanted_.contains(ifname))
      spdlog::info("guard: {} ({}): {}", want.master, want.source, note);
  }
  for (const auto& [master, revision] : allocation_masters_)
    wanted.emplace(master, Wanted{"an allocation on it", ""});
  wanted_ = std::move(wanted);

  std::vector<datapath::LeaseEntry> host;
  for (const auto& [name, link] : *links) {
    if (!wanted_.contains(name) && !masters_.contains(name)) continue;
    const auto mac = datapath::Mac::parse(link.mac);
    if (!mac) continue;  // no Ethernet address
    for (const auto& ip : link.addresses)
      if (in_any(snapshot_.pools, ip) || in_any(snapshot_.reserved, ip))
        host.push_back({ip, *mac, false});
  }
  if (host.size() != book_.host_count())
    spdlog::info(
        "guard: {} address(es) of the node itself on masters inside pools or reserved "
        "ranges are leased to the masters' MACs",
        host.size());
  book_.set_host(host, edits_target());
}

Status DatapathService::push_maps() {
  if (!pushed_.pools_ok || pushed_.pools != snapshot_.pools) {
    pushed_.pools_ok = false;
    auto stats = guard_.set_pools(snapshot_.pools);
    if (!stats) return stats.error();
    pushed_.pools = snapshot_.pools;
    pushed_.pools_ok = true;
  }
  if (!pushed_.reserved_ok || pushed_.reserved != snapshot_.reserved) {
    pushed_.reserved_ok = false;
    auto stats = guard_.set_reserved(snapshot_.reserved);
    if (!stats) return stats.error();
    if (stats->added + stats->removed + stats->changed > 0)
      spdlog::info("guard: reserved prefixes +{} -{}", stats->added, stats->removed);
    pushed_.reserved = snapshot_.reserved;
    pushed_.reserved_ok = true;
  }
  // After the tries: a reservation is enforced before a diff of every lease is made.
  if (pods_to_book_) book_snapshot();
  return push_leases();
}

// Into the book: a full snapshot's leases with the overlay merged in, or a change set's
// changes but those of addresses the IPAM handlers changed since (the overlay holds them).
void DatapathService::book_snapshot() {
  if (snapshot_.full) {
    report("lease book",
           book_.set_pods(overlay_.merge(std::move(snapshot_.leases)), edits_target()));
  } else {
    for (const LeaseChange& change : snapshot_.lease_changes) {
      if (overlay_.holds(change.ip)) continue;
      if (change.mac)
        book_.put_pod(change.ip, *change.mac, edits_target());
      else
        book_.erase_pod(change.ip, edits_target());
    }
  }
  snapshot_.leases = std::vector<PodLease>();  // `= {}` would keep the capacity
  snapshot_.lease_changes = std::vector<LeaseChange>();
  pods_to_book_ = false;
}

// The book's leases and pod MACs (derived from the pods' leases, not the node's own): its
// pending writes when the maps match it, else all of it as a diff against the maps.
Status DatapathService::push_leases() {
  // Writes piled up past what a whole diff costs (a long run of failed trie writes): drop them.
  if (leases_in_sync_ && pending_.size() > std::max<std::size_t>(book_.size(), 4096))
    leases_in_sync_ = false;
  if (leases_in_sync_) {
    LeaseBook::Edits edits;
    edits.swap(pending_);
    if (auto applied = guard_.apply(edits); !applied) {
      leases_in_sync_ = false;  // some writes may have happened: the next push diffs
      return applied.error();
    }
    leases_in_map_ = book_.size();
    return {};
  }
  pending_ = LeaseBook::Edits();
  auto stats = guard_.set_lease_entries(book_.leases());
  if (!stats) return stats.error();
  spdlog::debug("guard: leases +{} -{} ~{} ={}", stats->added, stats->removed, stats->changed,
                stats->unchanged);
  IPF_TRY(guard_.set_pod_mac_entries(book_.pod_macs()));
  leases_in_map_ = book_.size();
  leases_in_sync_ = true;
  return {};
}

// Attaches, then sets the master's mode: its own --master-mode, else its vlan parent's, else
// --guard-mode (set every time: a pinned config may hold what an earlier run was told).
Status DatapathService::attach_master(const std::string& ifname, const Wanted& wanted) {
  auto attached = guard_.attach(ifname);
  if (!attached) return attached.error();
  datapath::Mode mode = settings_.default_mode;
  for (const std::string& name : {ifname, wanted.parent}) {
    const auto found = settings_.master_modes.find(name);
    if (!name.empty() && found != settings_.master_modes.end()) {
      mode = found->second;
      break;
    }
  }
  IPF_TRY(guard_.set_mode(attached->key(), mode));
  IPF_TRY(guard_.set_reserved_policy(attached->key(), settings_.policy));
  masters_[ifname] = {attached->ifindex, wanted.source};
  last_error_.erase("attach " + ifname);
  spdlog::info(
      "guard: attached to {} (ifindex {}, program {}{}; mode {}, reserved policy {}; "
      "from {})",
      ifname, attached->ifindex, attached->prog_id,
      attached->replaced_prog_id != 0
          ? ", replacing program " + std::to_string(attached->replaced_prog_id)
          : std::string(),
      datapath::mode_name(mode), datapath::policy_name(settings_.policy), wanted.source);
  return {};
}

// Detaches guarded masters that nothing has named for kDetachGrace: masters_ and those an
// earlier run recorded (Guard::masters). One whose interface is gone took its filter with it;
// only its config and counters are left to forget.
void DatapathService::detach_unwanted_masters() {
  auto recorded = guard_.masters();
  if (!recorded) {
    report("list guarded masters", recorded.error());
    return;
  }
  std::map<std::string, int> held;  // name -> ifindex as last known
  for (const auto& [name, master] : masters_) held[name] = master.ifindex;
  for (const auto& a : *recorded) held.emplace(a.ifname, a.ifindex);
  std::erase_if(unwanted_since_, [&](const auto& e) {
    return wanted_.contains(e.first) || !held.contains(e.first);
  });
  const auto now = Clock::now();
  for (const auto& [name, ifindex] : held) {
    if (wanted_.contains(name)) continue;
    const auto since = unwanted_since_.try_emplace(name, now).first;
    if (now - since->second < kDetachGrace) continue;
    Result<bool> detached = false;
    if (::if_nametoindex(name.c_str()) == 0) {
      if (auto forgotten = guard_.forget(guard_.own_iface(static_cast<std::uint32_t>(ifindex)));
          !forgotten)
        detached = forgotten.error();
    } else {
      detached = guard_.detach(datapath::AttachTarget{name, 0, {}});
    }
    report("detach " + name, detached.ok() ? Status() : Status(detached.error()));
    if (!detached) continue;
    masters_.erase(name);
    unwanted_since_.erase(since);
    last_error_.erase("attach " + name);
    spdlog::info(
        "guard: detached from {}: no SpiderMultusConfig, --masters entry or allocation on "
        "this node names it any more{}",
        name, *detached ? "" : " (no guard filter of ours was left on it)");
  }
}

// Attaches wanted masters that are new, or whose interface was re-created (a new ifindex).
void DatapathService::attach_wanted_masters() {
  for (const auto& [ifname, wanted] : wanted_) {
    const auto known = masters_.find(ifname);
    const int ifindex = static_cast<int>(::if_nametoindex(ifname.c_str()));
    if (known != masters_.end() && known->second.ifindex == ifindex) continue;
    if (ifindex == 0) {
      report("attach " + ifname,
             make_error(ErrorCode::not_found, "master " + ifname + " (from " + wanted.source +
                                                  ") does not exist; retrying every second"));
      continue;
    }
    report("attach " + ifname, attach_master(ifname, wanted));
  }
}

Status DatapathService::attach_pod(const std::string& netns, const std::string& ifname) {
  auto attached = guard_.attach(datapath::AttachTarget{ifname, 0, netns});
  if (!attached) return attached.error();
  pod_netns_[{netns, ifname}] = attached->netns_cookie;
  if (sockopt_) {
    if (auto added = sockopt_->add_netns(attached->netns_cookie, settings_.default_mode); !added)
      return added.error().wrap("pod socket-option guard");
  }
  spdlog::debug("guard: attached to pod interface {} in {} (ifindex {} there, program {})", ifname,
                netns, attached->ifindex, attached->prog_id);
  return {};
}

Status DatapathService::on_allocated(const std::vector<ipam::Allocation>& leases,
                                     std::int64_t revision) {
  std::lock_guard lock(mu_);
  for (const auto& lease : leases) {
    auto ip = ipam::IpAddress::parse(lease.ip);
    if (!ip) return ip.error();
    if (lease.mac.empty()) {
      spdlog::warn(
          "guard: allocation {} of containerID={} has no MAC: no lease, so the guard "
          "drops its traffic as unallocated",
          lease.ip, lease.container_id);
      continue;
    }
    auto mac = datapath::Mac::parse(lease.mac);
    if (!mac)
      return make_error(ErrorCode::invalid_argument,
                        "the pod's MAC \"" + lease.mac + "\" is not a MAC address");
    overlay_.add(*ip, *mac, revision);
    book_.put_pod(*ip, *mac, edits_target());
  }
  for (const auto& lease : leases) {
    if (lease.master.empty()) continue;
    if (!masters_.contains(lease.master)) {
      if (auto attached = attach_master(lease.master, {"an allocation on it", ""}); !attached)
        return attached.error().wrap("guard master " + lease.master);
    }
    // Wanted from now on, also before a snapshot shows the allocation.
    auto& known = allocation_masters_[lease.master];
    known = std::max(known, revision);
  }
  if (auto pushed = push_leases(); !pushed) return pushed.error().wrap("guard leases");
  if (settings_.pod_guard && !leases.empty() && !leases.front().netns.empty() &&
      !leases.front().ifname.empty()) {
    const ipam::Allocation& pod = leases.front();
    if (auto attached = attach_pod(pod.netns, pod.ifname); !attached)
      return attached.error().wrap("pod guard");
  }
  return {};
}

Status DatapathService::on_released(const std::vector<ipam::Allocation>& released,
                                    std::int64_t revision) {
  std::lock_guard lock(mu_);
  std::set<PodInterface> pods;
  for (const auto& allocation : released) {
    auto ip = ipam::IpAddress::parse(allocation.ip);
    if (!ip) continue;
    overlay_.remove(*ip, revision);
    book_.erase_pod(*ip, edits_target());
    if (!allocation.netns.empty() && !allocation.ifname.empty())
      pods.insert({allocation.netns, allocation.ifname});
  }
  IPF_TRY(push_leases());
  if (settings_.pod_guard) {
    // Tidiness, not safety: the interface goes with the pod, and its lease is gone already.
    for (const auto& pod : pods) detach_pod(pod);
  }
  spdlog::debug("guard: released {} lease(s), first {}", released.size(),
                released.empty() ? "-" : short_ip(released.front()));
  return {};
}

void DatapathService::detach_pod(const PodInterface& pod) {
  auto detached = guard_.detach(datapath::AttachTarget{pod.ifname, 0, pod.netns});
  if (!detached)
    spdlog::debug("guard: pod interface {} in {}: {}", pod.ifname, pod.netns,
                  detached.error().message);
  const auto known = pod_netns_.find(pod);
  if (known == pod_netns_.end()) return;
  const std::uint64_t cookie = known->second;
  pod_netns_.erase(known);
  // The namespace stays judged while another of its interfaces is guarded.
  const bool still_guarded = std::any_of(pod_netns_.begin(), pod_netns_.end(),
                                         [&](const auto& entry) { return entry.second == cookie; });
  if (sockopt_ && !still_guarded)
    report("pod socket-option guard: forget " + pod.netns, sockopt_->remove_netns(cookie));
}

// The socket-option guard judges exactly the namespaces of the pod guards this run holds: a
// restarted agent keeps those its predecessor wrote (no gap) and forgets pods that are gone.
void DatapathService::sync_sockopt_netns() {
  if (!sockopt_) return;
  std::map<std::uint64_t, datapath::Mode> desired;
  for (const auto& [pod, cookie] : pod_netns_) desired[cookie] = settings_.default_mode;
  auto stats = sockopt_->set_netns(desired);
  report("pod socket-option guard: sync namespaces", stats.ok() ? Status() : Status(stats.error()));
  if (stats && stats->removed > 0)
    spdlog::info("guard: pod socket-option guard forgot {} namespace(s) of pods that are gone",
                 stats->removed);
}

void DatapathService::report(const std::string& what, const Status& status) {
  if (status) {
    if (last_error_.erase(what) > 0) spdlog::info("guard: {} works again", what);
    return;
  }
  auto& last = last_error_[what];
  if (last != status.error().message) spdlog::warn("guard: {}: {}", what, status.error().message);
  last = status.error().message;
}

// A master in the agent's own netns by ifindex: the agent's own masters first; then any
// interface of its netns with that index (a master an earlier run attached and this one no
// longer names).
std::string DatapathService::master_of(std::uint32_t ifindex) const {
  for (const auto& [name, master] : masters_)
    if (static_cast<std::uint32_t>(master.ifindex) == ifindex) return name;
  char name[IF_NAMESIZE] = {};
  if (::if_indextoname(ifindex, name) != nullptr) return name;
  return "ifindex:" + std::to_string(ifindex);
}

std::size_t DatapathService::lease_count() const {
  std::lock_guard lock(mu_);
  return leases_in_map_;
}

Result<std::vector<datapath::SockoptCounter>> DatapathService::sockopt_counters() const {
  std::lock_guard lock(mu_);
  if (!sockopt_) return std::vector<datapath::SockoptCounter>();
  return sockopt_->counters();
}

Result<std::vector<GuardCounter>> DatapathService::counters() const {
  std::lock_guard lock(mu_);
  IPF_ASSIGN_OR_RETURN(auto rows, guard_.counters());
  std::vector<GuardCounter> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    // Only masters live in the agent's own namespace; every other key is a pod's interface.
    const bool pod = row.iface.netns_cookie != guard_.netns_cookie();
    out.push_back({pod ? std::string() : master_of(row.iface.ifindex), row.reason, row.verdict,
                   row.packets, row.iface, pod});
  }
  return out;
}

}  // namespace ipfence::agent
