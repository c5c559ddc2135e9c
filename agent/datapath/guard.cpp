#include "agent/datapath/guard.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <optional>
#include <set>

#include "agent/datapath/bpf_map.h"
#include "agent/datapath/guard_impl.h"
#include "agent/datapath/guard_upgrade.h"
#include "agent/datapath/libbpf_log.h"
#include "agent/datapath/netns.h"
#include "agent/datapath/pin_dir.h"
#include "agent/datapath/prefix_cover.h"
#include "agent/datapath/tc.h"
#include "agent/unique_fd.h"

namespace ipfence::datapath {
namespace {

// Before load: a pinned map is adopted only if its layout matches ours. A different size is
// adopted with a warning (the pins hold live enforcement state). The config and counter maps
// of the layout before per-namespace keys are replaced after load (guard_upgrade.h): they hold
// settings the agent writes again and counts that may start over. Any other difference in
// key, value or type means another ABI, and is refused rather than silently replaced.
Status prepare_map(GuardMap which, bpf_map* map, const std::string& pin_dir, std::uint32_t capacity,
                   std::vector<std::string>& warnings, std::vector<OldPin>& replace) {
  const std::string name = bpf_map__name(map);
  if (capacity != 0) {
    const int err = bpf_map__set_max_entries(map, capacity);
    if (err != 0) return os_error("set capacity of " + name, err);
  }
  if (pin_dir.empty()) {
    bpf_map__set_pin_path(map, nullptr);  // nothing pinned, nothing adopted
    return {};
  }
  const std::string path = pin_dir + "/" + name;
  agent::UniqueFd pinned(bpf_obj_get(path.c_str()));
  if (!pinned) {
    if (errno == ENOENT) return {};  // created and pinned at load
    return os_error("open pinned map " + path, errno);
  }
  IPF_ASSIGN_OR_RETURN(MapInfo info, map_info(pinned.get()));
  if (has_pre_netns_layout(which, info)) {
    bpf_map__set_pin_path(map, nullptr);  // load creates a fresh one; pinned in its place later
    replace.push_back({which, path, std::move(pinned)});
    return {};
  }
  if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
      info.value_size != bpf_map__value_size(map) || info.flags != bpf_map__map_flags(map)) {
    return make_error(ErrorCode::corrupt,
                      "pinned map " + path + " has another layout (key " +
                          std::to_string(info.key_size) + ", value " +
                          std::to_string(info.value_size) + " bytes; this build uses " +
                          std::to_string(bpf_map__key_size(map)) + ", " +
                          std::to_string(bpf_map__value_size(map)) +
                          "): it was made by an incompatible version; remove it to start afresh");
  }
  if (info.max_entries != bpf_map__max_entries(map)) {
    warnings.push_back("pinned map " + path + " keeps its capacity " +
                       std::to_string(info.max_entries) + " (configured " +
                       std::to_string(bpf_map__max_entries(map)) + ")");
    const int err = bpf_map__set_max_entries(map, info.max_entries);
    if (err != 0) return os_error("set capacity of " + name, err);
  }
  return {};
}

Result<std::uint32_t> prog_id_of(int prog_fd) {
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  const int err = bpf_obj_get_info_by_fd(prog_fd, &info, &len);
  if (err != 0) return os_error("bpf_obj_get_info_by_fd", err);
  return info.id;
}

// Fills in whichever of ifname / ifindex the target left out, and the netns cookie, in the
// current netns.
Status resolve(const AttachTarget& target, Attachment& out) {
  IPF_ASSIGN_OR_RETURN(out.netns_cookie, current_netns_cookie());
  if (!target.ifname.empty()) {
    const unsigned index = ::if_nametoindex(target.ifname.c_str());
    if (index == 0) return make_error(ErrorCode::not_found, "no interface " + target.ifname);
    if (target.ifindex != 0 && static_cast<int>(index) != target.ifindex) {
      return make_error(ErrorCode::invalid_argument, "interface " + target.ifname +
                                                         " has ifindex " + std::to_string(index) +
                                                         ", not " + std::to_string(target.ifindex));
    }
    out.ifname = target.ifname;
    out.ifindex = static_cast<int>(index);
    return {};
  }
  char name[IF_NAMESIZE] = {};
  if (target.ifindex <= 0 || ::if_indextoname(target.ifindex, name) == nullptr) {
    return make_error(ErrorCode::not_found,
                      "no interface with ifindex " + std::to_string(target.ifindex));
  }
  out.ifname = name;
  out.ifindex = target.ifindex;
  return {};
}

// Whether program `prog_id` is a guard: named as ours (the kernel keeps the first 15 bytes).
Result<bool> is_guard_program(std::uint32_t prog_id, const char* our_name) {
  agent::UniqueFd fd(bpf_prog_get_fd_by_id(prog_id));
  if (!fd) {
    if (errno == ENOENT) return false;  // went away meanwhile
    return os_error("bpf_prog_get_fd_by_id " + std::to_string(prog_id), errno);
  }
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  const int err = bpf_obj_get_info_by_fd(fd.get(), &info, &len);
  if (err != 0) return os_error("bpf_obj_get_info_by_fd", err);
  return std::strncmp(info.name, our_name, sizeof(info.name) - 1) == 0;
}

std::string describe(const AttachTarget& t) {
  std::string s = t.ifname.empty() ? "ifindex " + std::to_string(t.ifindex) : t.ifname;
  if (!t.netns.empty()) s += " in netns " + t.netns;
  return s;
}

}  // namespace

bpf_map* Guard::Impl::map(GuardMap which) const {
  switch (which) {
    case GuardMap::leases:
      return skel->maps.ipf_leases;
    case GuardMap::reserved_v4:
      return skel->maps.ipf_resv_v4;
    case GuardMap::reserved_v6:
      return skel->maps.ipf_resv_v6;
    case GuardMap::pools_v4:
      return skel->maps.ipf_pool_v4;
    case GuardMap::pools_v6:
      return skel->maps.ipf_pool_v6;
    case GuardMap::pod_macs:
      return skel->maps.ipf_pod_macs;
    case GuardMap::iface_config:
      return skel->maps.ipf_iface_cfg;
    case GuardMap::counters:
      return skel->maps.ipf_counters;
    case GuardMap::iface_counters:
      return skel->maps.ipf_iface_ctr;
  }
  return nullptr;
}

Guard::Guard(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Guard::Guard(Guard&&) noexcept = default;
Guard& Guard::operator=(Guard&&) noexcept = default;
Guard::~Guard() = default;

Result<Guard> Guard::open(const GuardOptions& options) {
  const GuardCapacities& cap = options.capacities;
  if (cap.leases == 0 || cap.reserved_prefixes == 0 || cap.pool_prefixes == 0 ||
      cap.pod_macs == 0) {
    return make_error(ErrorCode::invalid_argument, "guard map capacities must be positive");
  }
  if (options.tc_handle == 0 || options.tc_priority == 0 || options.tc_priority > 0xffff) {
    return make_error(ErrorCode::invalid_argument,
                      "guard TC handle and priority (1..65535) must be set");
  }
  if (!options.pin_dir.empty()) IPF_TRY(prepare_pin_dir(options.pin_dir));

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  IPF_ASSIGN_OR_RETURN(impl->netns_cookie, current_netns_cookie());
  LibbpfCapture log;
  bpf_object_open_opts open_opts = pinned_open_opts(impl->options.pin_dir);
  impl->skel.reset(guard_bpf__open_opts(&open_opts));
  if (!impl->skel) return with_log(os_error("open guard BPF object", errno), log);

  const struct {
    GuardMap map;
    std::uint32_t capacity;  // 0: the size in guard_maps.h
  } sizes[] = {
      {GuardMap::leases, cap.leases},
      {GuardMap::reserved_v4, cap.reserved_prefixes},
      {GuardMap::reserved_v6, cap.reserved_prefixes},
      {GuardMap::pools_v4, cap.pool_prefixes},
      {GuardMap::pools_v6, cap.pool_prefixes},
      {GuardMap::pod_macs, cap.pod_macs},
      {GuardMap::iface_config, 0},
      {GuardMap::counters, 0},
      {GuardMap::iface_counters, 0},
  };
  std::vector<OldPin> old_pins;
  for (const auto& s : sizes) {
    IPF_TRY(prepare_map(s.map, impl->map(s.map), options.pin_dir, s.capacity, impl->warnings,
                        old_pins));
  }
  // The judge cache's generation is pinned beside the others (libbpf adopts a pinned one);
  // private maps pin nothing.
  if (options.pin_dir.empty()) bpf_map__set_pin_path(impl->skel->maps.ipf_judge_gen, nullptr);
  impl->skel->rodata->ipf_default_mode = static_cast<__u8>(options.default_mode);
  impl->skel->rodata->ipf_default_policy = static_cast<__u8>(options.default_policy);

  const int err = guard_bpf__load(impl->skel.get());
  if (err != 0) {
    // The likeliest cause on an old or stripped kernel: no BTF, or no bpf_cast_to_kern_ctx.
    return with_log(os_error("load guard BPF program (needs Linux 6.2+ with BTF, "
                             "/sys/kernel/btf/vmlinux)",
                             err),
                    log);
  }

  Guard guard(std::move(impl));
  for (OldPin& old : old_pins) {
    IPF_TRY(replace_pre_netns_pin(old, guard.map_fd(old.map), guard.netns_cookie(),
                                  guard.impl_->warnings));
  }
  // Adopted tries may already hold reserved ranges: lease flags are computed against them.
  for (GuardMap trie : {GuardMap::reserved_v4, GuardMap::reserved_v6}) {
    IPF_ASSIGN_OR_RETURN(std::vector<ipam::IpPrefix> reserved, guard.prefixes(trie));
    for (const ipam::IpPrefix& p : reserved)
      guard.impl_->reserved.push_back({p.network(), p.last()});
  }
  guard.impl_->reserved = merge_ranges(std::move(guard.impl_->reserved));
  // Entries from an agent before counter rows (or from a run that found every row taken).
  IPF_TRY(guard.impl_->give_counter_rows());
  return guard;
}

Result<Attachment> Guard::attach(const AttachTarget& target) {
  Attachment out;
  out.netns = target.netns;
  const bool own_netns = target.netns.empty();
  const Status st = run_in_netns(target.netns, [&]() -> Status {
    IPF_TRY(resolve(target, out));
    // The entry goes in before the filter, so that a master is recorded even if we crash in
    // between (attached() finds it), and the first frame counted has its row. A mode set
    // earlier is kept.
    const ipf_iface_key key{out.netns_cookie, static_cast<__u32>(out.ifindex), 0};
    const Status recorded = impl_->update_iface_config(key, [](ipf_iface_config&) {});
    // A master must be recorded (attached() finds it by its entry). A pod interface without
    // one still runs, with the defaults and per-key counters, when the map is full.
    if (!recorded && (own_netns || recorded.error().code != ErrorCode::exhausted)) return recorded;
    const TcFilterId id{out.ifindex, impl_->options.tc_handle, impl_->options.tc_priority};
    IPF_ASSIGN_OR_RETURN(TcAttachOutcome outcome, tc_attach_egress(id, prog_fd()));
    out.prog_id = outcome.prog_id;
    out.replaced_prog_id = outcome.replaced_prog_id;
    return {};
  });
  if (!st) return st.error().wrap("attach guard to " + describe(target));
  IPF_ASSIGN_OR_RETURN(IfaceConfig cfg, iface_config(out.key()));
  out.mode = cfg.mode;
  out.policy = cfg.policy;
  if (!own_netns) {
    std::erase_if(impl_->netns_attachments, [&](const Attachment& a) {
      return a.netns == out.netns && a.ifindex == out.ifindex;
    });
    impl_->netns_attachments.push_back(out);
  }
  return out;
}

Result<bool> Guard::detach(const AttachTarget& target) {
  const bool own_netns = target.netns.empty();
  // What attach() recorded for this target in another netns: its cookie, should the netns
  // be gone by now.
  const auto recorded = [&](const Attachment& a) {
    return !own_netns && a.netns == target.netns &&
           (target.ifname.empty() ? a.ifindex == target.ifindex : a.ifname == target.ifname);
  };
  const auto record =
      std::find_if(impl_->netns_attachments.begin(), impl_->netns_attachments.end(), recorded);
  std::optional<IfaceKey> key;
  if (record != impl_->netns_attachments.end()) key = record->key();

  bool entered = false;
  bool was_attached = false;
  const Status st = run_in_netns(target.netns, [&]() -> Status {
    entered = true;
    Attachment found;
    const Status resolved = resolve(target, found);
    if (!resolved) {
      // The interface is gone, and its filters with it; only our records remain.
      if (resolved.error().code != ErrorCode::not_found) return resolved;
      if (!key) {
        if (target.ifindex == 0) return resolved;
        key = IfaceKey{found.netns_cookie, static_cast<std::uint32_t>(target.ifindex)};
      }
      return {};
    }
    key = found.key();
    const TcFilterId id{found.ifindex, impl_->options.tc_handle, impl_->options.tc_priority};
    IPF_ASSIGN_OR_RETURN(const std::uint32_t there, tc_query_egress(id));
    if (there == 0) return {};
    IPF_ASSIGN_OR_RETURN(const bool ours,
                         is_guard_program(there, bpf_program__name(impl_->skel->progs.ipf_guard)));
    if (!ours) return {};  // someone else's filter at our slot: not ours to remove
    IPF_ASSIGN_OR_RETURN(was_attached, tc_detach_egress(id));
    return {};
  });
  // A netns that cannot be entered any more took its interfaces (and our filters) with it;
  // what attach() recorded says which entries were its.
  const bool netns_gone = !st && !entered && key.has_value();
  if (!st && !netns_gone) return st.error().wrap("detach guard from " + describe(target));
  if (key) IPF_TRY(impl_->erase_ifaces([&](const IfaceKey& k) { return k == *key; }));
  std::erase_if(impl_->netns_attachments, recorded);
  return was_attached;
}

Result<std::vector<Attachment>> Guard::attached() const {
  IPF_ASSIGN_OR_RETURN(std::vector<Attachment> out, masters());
  for (const Attachment& known : impl_->netns_attachments) {
    Attachment a = known;
    a.replaced_prog_id = 0;
    const Status st = run_in_netns(a.netns, [&]() -> Status {
      IPF_ASSIGN_OR_RETURN(a.prog_id, tc_query_egress({a.ifindex, impl_->options.tc_handle,
                                                       impl_->options.tc_priority}));
      return {};
    });
    if (!st || a.prog_id == 0) continue;  // a vanished netns: not attached
    IPF_ASSIGN_OR_RETURN(IfaceConfig cfg, iface_config(a.key()));
    a.mode = cfg.mode;
    a.policy = cfg.policy;
    out.push_back(std::move(a));
  }
  return out;
}

Result<std::vector<Attachment>> Guard::masters() const {
  std::vector<Attachment> out;
  IPF_ASSIGN_OR_RETURN(
      auto recorded,
      (map_entries<ipf_iface_key, ipf_iface_config>(map_fd(GuardMap::iface_config))));
  for (const auto& [key, cfg] : recorded) {
    if (key.netns_cookie != impl_->netns_cookie) continue;  // a pod's interface
    Attachment a;
    char name[IF_NAMESIZE] = {};
    if (::if_indextoname(key.ifindex, name) == nullptr) continue;  // the master is gone
    a.ifname = name;
    a.ifindex = static_cast<int>(key.ifindex);
    a.netns_cookie = key.netns_cookie;
    a.mode = static_cast<Mode>(cfg.mode);
    a.policy = static_cast<ReservedPolicy>(cfg.reserved_policy);
    IPF_ASSIGN_OR_RETURN(a.prog_id, tc_query_egress({a.ifindex, impl_->options.tc_handle,
                                                     impl_->options.tc_priority}));
    if (a.prog_id != 0) out.push_back(std::move(a));
  }
  return out;
}

Status Guard::forget(const IfaceKey& iface) {
  IPF_TRY(impl_->erase_ifaces([&](const IfaceKey& k) { return k == iface; }));
  return {};
}

Result<std::size_t> Guard::forget_other_netns() {
  std::set<std::uint64_t> known{impl_->netns_cookie};
  for (const Attachment& a : impl_->netns_attachments) known.insert(a.netns_cookie);
  return impl_->erase_ifaces([&](const IfaceKey& k) { return !known.contains(k.netns_cookie); });
}

std::uint64_t Guard::netns_cookie() const {
  return impl_->netns_cookie;
}

int Guard::prog_fd() const {
  return bpf_program__fd(impl_->skel->progs.ipf_guard);
}

std::uint32_t Guard::prog_id() const {
  const Result<std::uint32_t> id = prog_id_of(prog_fd());
  return id.ok() ? *id : 0;
}

int Guard::map_fd(GuardMap map) const {
  return bpf_map__fd(impl_->map(map));
}

std::uint32_t Guard::map_id(GuardMap map) const {
  const Result<MapInfo> info = map_info(map_fd(map));
  return info.ok() ? info->id : 0;
}

std::uint32_t Guard::map_capacity(GuardMap map) const {
  return bpf_map__max_entries(impl_->map(map));
}

const GuardOptions& Guard::options() const {
  return impl_->options;
}

const std::vector<std::string>& Guard::warnings() const {
  return impl_->warnings;
}

}  // namespace ipfence::datapath
