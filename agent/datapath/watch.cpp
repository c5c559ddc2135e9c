#include "agent/datapath/watch.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <net/if.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "agent/datapath/bpf_map.h"
#include "agent/datapath/libbpf_log.h"
#include "agent/datapath/netns.h"
#include "agent/datapath/pin_dir.h"
#include "agent/datapath/tc.h"
#include "agent/datapath/watch_impl.h"
#include "bpf/abi.h"

namespace ipfence::datapath {
namespace {

Status check_options(const WatchOptions& o) {
  const long page = ::sysconf(_SC_PAGESIZE);
  const std::uint32_t rb = o.ringbuf_bytes;
  if (rb == 0 || (rb & (rb - 1)) != 0 || page <= 0 || rb < static_cast<std::uint32_t>(page)) {
    return make_error(ErrorCode::invalid_argument,
                      "watch ring buffer size must be a power of 2 of at least a page, not " +
                          std::to_string(rb));
  }
  if (o.dedup_entries == 0)
    return make_error(ErrorCode::invalid_argument, "watch dedup entries must be positive");
  if (o.dedup_interval.count() < 0)
    return make_error(ErrorCode::invalid_argument, "watch dedup interval must not be negative");
  if (o.tc_handle == 0 || o.tc_priority == 0 || o.tc_priority > 0xffff) {
    return make_error(ErrorCode::invalid_argument,
                      "watch TC handle and priority (1..65535) must be set");
  }
  const WatchPrefixMaps& m = o.prefix_maps;
  const int given =
      (m.pools_v4 >= 0) + (m.pools_v6 >= 0) + (m.reserved_v4 >= 0) + (m.reserved_v6 >= 0);
  if (given != 0 && given != 4)
    return make_error(ErrorCode::invalid_argument, "watch prefix maps: give all four or none");
  if (given == 0 && o.pin_dir.empty()) {
    return make_error(ErrorCode::invalid_argument,
                      "watch needs the guard's prefix maps: a pin dir or their fds");
  }
  return {};
}

// Before load: a pinned map of the watcher's own is adopted if its layout matches; another
// size is adopted with a warning (a ring buffer may hold events of the agent's downtime).
// Any other difference means another ABI and is refused rather than silently replaced.
Status prepare_own_map(bpf_map* map, const std::string& pin_dir,
                       std::vector<std::string>& warnings) {
  if (pin_dir.empty()) {
    bpf_map__set_pin_path(map, nullptr);  // nothing pinned, nothing adopted
    return {};
  }
  const std::string path = pin_dir + "/" + bpf_map__name(map);
  agent::UniqueFd pinned(bpf_obj_get(path.c_str()));
  if (!pinned) {
    if (errno == ENOENT) return {};  // created and pinned at load
    return os_error("open pinned map " + path, errno);
  }
  IPF_ASSIGN_OR_RETURN(MapInfo info, map_info(pinned.get()));
  if (info.type != bpf_map__type(map) || info.key_size != bpf_map__key_size(map) ||
      info.value_size != bpf_map__value_size(map) || info.flags != bpf_map__map_flags(map)) {
    return make_error(ErrorCode::corrupt,
                      "pinned map " + path +
                          " has another layout: it was made by an incompatible version; "
                          "remove it to start afresh");
  }
  if (info.max_entries != bpf_map__max_entries(map)) {
    warnings.push_back("pinned map " + path + " keeps its size " +
                       std::to_string(info.max_entries) + " (configured " +
                       std::to_string(bpf_map__max_entries(map)) + ")");
    const int err = bpf_map__set_max_entries(map, info.max_entries);
    if (err != 0) return os_error("set size of " + path, err);
  }
  return {};
}

// Points one of the program's prefix tries at the guard's: `fd` if given, else the guard's
// pin. The map must have the trie's layout (its size is the guard's business).
Status share_trie(bpf_map* map, int fd, const std::string& pin_dir) {
  const std::string name = bpf_map__name(map);
  agent::UniqueFd opened;
  if (fd < 0) {
    const std::string path = pin_dir + "/" + name;
    opened.reset(bpf_obj_get(path.c_str()));
    if (!opened) {
      if (errno == ENOENT) {
        return make_error(ErrorCode::not_found,
                          "the guard's map " + path + " is not pinned: open the guard first");
      }
      return os_error("open the guard's map " + path, errno);
    }
    fd = opened.get();
  }
  IPF_ASSIGN_OR_RETURN(MapInfo info, map_info(fd));
  if (info.type != BPF_MAP_TYPE_LPM_TRIE || info.key_size != bpf_map__key_size(map) ||
      info.value_size != bpf_map__value_size(map)) {
    return make_error(ErrorCode::invalid_argument, "map given as " + name + " is not the guard's " +
                                                       name + " (type " +
                                                       std::to_string(info.type) + ", key " +
                                                       std::to_string(info.key_size) + " bytes)");
  }
  const int err = bpf_map__reuse_fd(map, fd);  // dups fd: ours may close
  if (err != 0) return os_error("reuse the guard's " + name, err);
  return {};
}

Status resolve(const AttachTarget& target, WatchAttachment& out) {
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

std::string describe(const AttachTarget& t) {
  std::string s = t.ifname.empty() ? "ifindex " + std::to_string(t.ifindex) : t.ifname;
  if (!t.netns.empty()) s += " in netns " + t.netns;
  return s;
}

}  // namespace

WatchPrefixMaps prefix_maps_of(const Guard& guard) {
  return {guard.map_fd(GuardMap::pools_v4), guard.map_fd(GuardMap::pools_v6),
          guard.map_fd(GuardMap::reserved_v4), guard.map_fd(GuardMap::reserved_v6)};
}

bpf_map* Watcher::Impl::map(WatchMap which) const {
  switch (which) {
    case WatchMap::events:
      return skel->maps.ipf_watch_rb;
    case WatchMap::seen:
      return skel->maps.ipf_watch_seen;
    case WatchMap::counters:
      return skel->maps.ipf_watch_cnt;
    case WatchMap::pools_v4:
      return skel->maps.ipf_pool_v4;
    case WatchMap::pools_v6:
      return skel->maps.ipf_pool_v6;
    case WatchMap::reserved_v4:
      return skel->maps.ipf_resv_v4;
    case WatchMap::reserved_v6:
      return skel->maps.ipf_resv_v6;
  }
  return nullptr;
}

Watcher::Watcher(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Watcher::~Watcher() {
  stop();
}

Result<std::unique_ptr<Watcher>> Watcher::open(const WatchOptions& options) {
  IPF_TRY(check_options(options));
  if (!options.pin_dir.empty()) IPF_TRY(prepare_pin_dir(options.pin_dir));

  auto impl = std::make_unique<Impl>();
  impl->options = options;
  LibbpfCapture log;
  bpf_object_open_opts open_opts = pinned_open_opts(impl->options.pin_dir);
  impl->skel.reset(watch_bpf__open_opts(&open_opts));
  if (!impl->skel) return with_log(os_error("open watch BPF object", errno), log);

  const struct {
    WatchMap map;
    std::uint32_t size;
  } own[] = {
      {WatchMap::events, options.ringbuf_bytes},
      {WatchMap::seen, options.dedup_entries},
      {WatchMap::counters, 0},  // 0: the number of slots, fixed by the ABI
  };
  for (const auto& m : own) {
    bpf_map* map = impl->map(m.map);
    if (m.size != 0) {
      const int err = bpf_map__set_max_entries(map, m.size);
      if (err != 0) return os_error(std::string("set size of ") + bpf_map__name(map), err);
    }
    IPF_TRY(prepare_own_map(map, options.pin_dir, impl->warnings));
  }
  const WatchPrefixMaps& given = options.prefix_maps;
  const struct {
    WatchMap map;
    int fd;
  } tries[] = {
      {WatchMap::pools_v4, given.pools_v4},
      {WatchMap::pools_v6, given.pools_v6},
      {WatchMap::reserved_v4, given.reserved_v4},
      {WatchMap::reserved_v6, given.reserved_v6},
  };
  for (const auto& t : tries) IPF_TRY(share_trie(impl->map(t.map), t.fd, options.pin_dir));
  impl->skel->rodata->ipf_watch_dedup_ns = static_cast<__u64>(options.dedup_interval.count());

  const int err = watch_bpf__load(impl->skel.get());
  if (err != 0) return with_log(os_error("load watch BPF program", err), log);

  impl->ring.reset(ring_buffer__new(bpf_map__fd(impl->skel->maps.ipf_watch_rb), &Impl::on_record,
                                    impl.get(), nullptr));
  if (!impl->ring) return with_log(os_error("ring_buffer__new", errno), log);
  return std::unique_ptr<Watcher>(new Watcher(std::move(impl)));
}

Result<WatchAttachment> Watcher::attach(const AttachTarget& target) {
  WatchAttachment out;
  out.netns = target.netns;
  const Status st = run_in_netns(target.netns, [&]() -> Status {
    IPF_TRY(resolve(target, out));
    const TcFilterId id{out.ifindex, impl_->options.tc_handle, impl_->options.tc_priority};
    IPF_ASSIGN_OR_RETURN(TcAttachOutcome outcome, tc_attach_ingress(id, prog_fd()));
    out.prog_id = outcome.prog_id;
    out.replaced_prog_id = outcome.replaced_prog_id;
    return {};
  });
  if (!st) return st.error().wrap("attach watcher to " + describe(target));
  const std::lock_guard lock(impl_->names_mu);
  impl_->names[static_cast<std::uint32_t>(out.ifindex)] = out.ifname;
  return out;
}

Result<bool> Watcher::detach(const AttachTarget& target) {
  bool was_attached = false;
  WatchAttachment found;
  const Status st = run_in_netns(target.netns, [&]() -> Status {
    const Status resolved = resolve(target, found);
    if (!resolved) {
      // The interface is gone, and its filters with it.
      if (resolved.error().code == ErrorCode::not_found) return {};
      return resolved;
    }
    const TcFilterId id{found.ifindex, impl_->options.tc_handle, impl_->options.tc_priority};
    IPF_ASSIGN_OR_RETURN(was_attached, tc_detach_ingress(id));
    return {};
  });
  if (!st) return st.error().wrap("detach watcher from " + describe(target));
  if (found.ifindex != 0) {
    const std::lock_guard lock(impl_->names_mu);
    impl_->names.erase(static_cast<std::uint32_t>(found.ifindex));
  }
  return was_attached;
}

Result<std::uint32_t> Watcher::attached_prog(const AttachTarget& target) const {
  std::uint32_t prog = 0;
  const Status st = run_in_netns(target.netns, [&]() -> Status {
    WatchAttachment found;
    IPF_TRY(resolve(target, found));
    IPF_ASSIGN_OR_RETURN(prog, tc_query_ingress({found.ifindex, impl_->options.tc_handle,
                                                 impl_->options.tc_priority}));
    return {};
  });
  if (!st) return st.error().wrap("query watcher on " + describe(target));
  return prog;
}

Result<WatchCounters> Watcher::counters() const {
  const int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return os_error("libbpf_num_possible_cpus", ncpu);
  std::vector<std::uint64_t> per_cpu(static_cast<std::size_t>(ncpu));
  std::array<std::uint64_t, IPF_WATCH_CTR_COUNT> sums{};
  const int fd = map_fd(WatchMap::counters);
  for (std::uint32_t slot = 0; slot < IPF_WATCH_CTR_COUNT; ++slot) {
    const int err = bpf_map_lookup_elem(fd, &slot, per_cpu.data());
    if (err != 0) return os_error("read ipf_watch_cnt", err);
    for (std::uint64_t v : per_cpu) sums[slot] += v;
  }
  WatchCounters c;
  c.sent = sums[IPF_WATCH_CTR_SENT];
  c.suppressed = sums[IPF_WATCH_CTR_SUPPRESSED];
  c.lost = sums[IPF_WATCH_CTR_LOST];
  c.malformed = sums[IPF_WATCH_CTR_MALFORMED];
  c.out_of_scope = sums[IPF_WATCH_CTR_OUT_OF_SCOPE];
  for (std::size_t k = 0; k < kWatchKindCount; ++k)
    c.sent_by_kind[k] = sums[IPF_WATCH_CTR_KIND_SENT + k];
  c.delivered = impl_->delivered.load();
  c.undecodable = impl_->undecodable.load();
  c.callback_failures = impl_->callback_failures.load();
  return c;
}

Status Watcher::forget(const ipam::IpAddress& ip) {
  ipf_watch_ip_key key{};
  key.family = ip.is_v4() ? IPF_FAMILY_V4 : IPF_FAMILY_V6;
  const auto bytes = ip.to_bytes();
  std::memcpy(key.addr, bytes.data(), ip.is_v4() ? 4 : 16);
  const int err = bpf_map_delete_elem(map_fd(WatchMap::seen), &key);
  if (err != 0 && err != -ENOENT)  // libbpf returns -errno
    return os_error("forget " + ip.to_string() + " in ipf_watch_seen", err);
  return {};
}

int Watcher::prog_fd() const {
  return bpf_program__fd(impl_->skel->progs.ipf_watch);
}

std::uint32_t Watcher::prog_id() const {
  bpf_prog_info info{};
  __u32 len = sizeof(info);
  return bpf_obj_get_info_by_fd(prog_fd(), &info, &len) == 0 ? info.id : 0;
}

int Watcher::map_fd(WatchMap map) const {
  return bpf_map__fd(impl_->map(map));
}

const WatchOptions& Watcher::options() const {
  return impl_->options;
}

const std::vector<std::string>& Watcher::warnings() const {
  return impl_->warnings;
}

}  // namespace ipfence::datapath
