// Guard's per-interface state: config entries (mode, reserved policy, counter row) in
// ipf_iface_cfg, and counters, in the interface's row of ipf_iface_ctr or, for an interface
// without one, in ipf_counters.
//
// Rows are handed out here and nowhere else. Which rows are taken is read from the config map
// each time one is needed (rows change only at attach and on a mode or policy change), so
// there is no second record to go stale, and an agent that restarts finds the rows of the
// pinned entries as they are. A row is zeroed when it is given out, so a row an interface
// left behind never adds its counts to the next one's. (A frame judged on another CPU under
// the old settings just before a row changes hands can still land in it: the program's cached
// settings are dropped by the generation bump that follows the config write, not before it.)
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <functional>
#include <map>
#include <set>
#include <tuple>
#include <vector>

#include "agent/datapath/bpf_map.h"
#include "agent/datapath/guard.h"
#include "agent/datapath/guard_impl.h"

namespace ipfence::datapath {
namespace {

Result<int> possible_cpus() {
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return os_error("libbpf_num_possible_cpus", cpus);
  return cpus;
}

Result<std::vector<std::pair<ipf_iface_key, ipf_iface_config>>> config_entries(int cfg_fd) {
  return map_entries<ipf_iface_key, ipf_iface_config>(cfg_fd);
}

// The lowest row that no entry holds (rows are 1 .. capacity-1), or 0 when all are taken.
Result<__u16> free_row(int cfg_fd, std::uint32_t capacity) {
  IPF_ASSIGN_OR_RETURN(auto entries, config_entries(cfg_fd));
  std::set<__u16> taken;
  for (const auto& [key, cfg] : entries) taken.insert(cfg.counter_slot);
  const std::uint32_t rows = std::min<std::uint32_t>(capacity, 65536);
  for (std::uint32_t row = 1; row < rows; ++row) {
    if (!taken.contains(static_cast<__u16>(row))) return static_cast<__u16>(row);
  }
  return static_cast<__u16>(0);
}

Status zero_row(int counters_fd, __u16 row) {
  IPF_ASSIGN_OR_RETURN(const int cpus, possible_cpus());
  const std::vector<ipf_iface_counters> zeros(static_cast<std::size_t>(cpus), ipf_iface_counters{});
  const __u32 key = row;
  const int err = bpf_map_update_elem(counters_fd, &key, zeros.data(), BPF_ANY);
  if (err != 0) return os_error("zero counter row " + std::to_string(row), err);
  return {};
}

}  // namespace

Status Guard::Impl::update_iface_config(
    const ipf_iface_key& key, const std::function<void(ipf_iface_config&)>& change) const {
  const int cfg_fd = fd(GuardMap::iface_config);
  ipf_iface_config current{static_cast<__u8>(options.default_mode),
                           static_cast<__u8>(options.default_policy), 0};
  const int err = bpf_map_lookup_elem(cfg_fd, &key, &current);
  if (err != 0 && err != -ENOENT) return os_error("read ipf_iface_cfg", err);
  const bool exists = err == 0;
  ipf_iface_config value = current;
  change(value);
  value.counter_slot = current.counter_slot;
  if (exists && std::memcmp(&value, &current, sizeof(value)) == 0 && value.counter_slot != 0)
    return {};  // nothing to change
  if (value.counter_slot == 0) {
    IPF_ASSIGN_OR_RETURN(value.counter_slot,
                         free_row(cfg_fd, bpf_map__max_entries(map(GuardMap::iface_counters))));
    if (value.counter_slot != 0)
      IPF_TRY(zero_row(fd(GuardMap::iface_counters), value.counter_slot));
  }
  const CacheGenerationBump bump(bpf_map__fd(skel->maps.ipf_judge_gen));
  const int put = bpf_map_update_elem(cfg_fd, &key, &value, BPF_ANY);
  if (put == -E2BIG) {
    return make_error(ErrorCode::exhausted,
                      "ipf_iface_cfg is full (" +
                          std::to_string(bpf_map__max_entries(map(GuardMap::iface_config))) +
                          " interfaces): detach interfaces that are gone, or remove the pinned "
                          "map to start afresh");
  }
  if (put != 0) return os_error("write ipf_iface_cfg", put);
  return {};
}

Status Guard::Impl::give_counter_rows() const {
  IPF_ASSIGN_OR_RETURN(auto entries, config_entries(fd(GuardMap::iface_config)));
  for (const auto& [key, cfg] : entries) {
    if (cfg.counter_slot == 0) IPF_TRY(update_iface_config(key, [](ipf_iface_config&) {}));
  }
  return {};
}

Result<IfaceConfig> Guard::iface_config(const IfaceKey& iface) const {
  const ipf_iface_key key{iface.netns_cookie, iface.ifindex, 0};
  ipf_iface_config cfg{};
  const int err = bpf_map_lookup_elem(map_fd(GuardMap::iface_config), &key, &cfg);
  if (err == -ENOENT)
    return IfaceConfig{impl_->options.default_mode, impl_->options.default_policy};
  if (err != 0) return os_error("read ipf_iface_cfg", err);
  return IfaceConfig{static_cast<Mode>(cfg.mode), static_cast<ReservedPolicy>(cfg.reserved_policy)};
}

Status Guard::set_mode(const IfaceKey& iface, Mode mode) {
  return impl_->update_iface_config({iface.netns_cookie, iface.ifindex, 0},
                                    [&](ipf_iface_config& c) { c.mode = static_cast<__u8>(mode); });
}

Status Guard::set_reserved_policy(const IfaceKey& iface, ReservedPolicy policy) {
  return impl_->update_iface_config(
      {iface.netns_cookie, iface.ifindex, 0},
      [&](ipf_iface_config& c) { c.reserved_policy = static_cast<__u8>(policy); });
}

Result<std::vector<CounterRow>> Guard::counters() const {
  IPF_ASSIGN_OR_RETURN(const int cpus, possible_cpus());
  using Key = std::tuple<IfaceKey, Reason, Verdict>;
  std::map<Key, CounterRow> sums;
  const auto add = [&](const IfaceKey& iface, int reason, int verdict, const ipf_counter& c) {
    CounterRow& row = sums[Key{iface, static_cast<Reason>(reason), static_cast<Verdict>(verdict)}];
    row.iface = iface;
    row.reason = static_cast<Reason>(reason);
    row.verdict = static_cast<Verdict>(verdict);
    row.packets += c.packets;
    row.bytes += c.bytes;
  };

  // Interfaces with a row: one read per row gives every CPU's counters of the interface.
  const int rows_fd = map_fd(GuardMap::iface_counters);
  IPF_ASSIGN_OR_RETURN(auto entries, config_entries(map_fd(GuardMap::iface_config)));
  std::vector<ipf_iface_counters> per_cpu_rows(static_cast<std::size_t>(cpus));
  for (const auto& [key, cfg] : entries) {
    if (cfg.counter_slot == 0) continue;
    const __u32 row = cfg.counter_slot;
    const int err = bpf_map_lookup_elem(rows_fd, &row, per_cpu_rows.data());
    if (err == -ENOENT) continue;  // a row past a smaller pinned array: never counted in
    if (err != 0) return os_error("read ipf_iface_ctr", err);
    for (const ipf_iface_counters& cpu : per_cpu_rows) {
      for (int r = 0; r < IPF_REASON_COUNT; ++r) {
        for (int v = 0; v < IPF_VERDICT_COUNT; ++v) {
          const ipf_counter& c = cpu.by[r][v];
          if (c.packets != 0 || c.bytes != 0) add({key.netns_cookie, key.ifindex}, r, v, c);
        }
      }
    }
  }

  // Interfaces without a row, and what an interface counted before it got one.
  const int fd = map_fd(GuardMap::counters);
  IPF_ASSIGN_OR_RETURN(std::vector<ipf_counter_key> keys, map_keys<ipf_counter_key>(fd));
  std::vector<ipf_counter> per_cpu(static_cast<std::size_t>(cpus));
  for (const ipf_counter_key& key : keys) {
    const int err = bpf_map_lookup_elem(fd, &key, per_cpu.data());
    if (err == -ENOENT) continue;
    if (err != 0) return os_error("read ipf_counters", err);
    ipf_counter total{};
    for (const ipf_counter& c : per_cpu) {
      total.packets += c.packets;
      total.bytes += c.bytes;
    }
    add({key.netns_cookie, key.ifindex}, key.reason, key.verdict, total);
  }

  std::vector<CounterRow> out;
  out.reserve(sums.size());
  for (const auto& [key, row] : sums) out.push_back(row);  // sorted by (iface, reason, verdict)
  return out;
}

Result<std::vector<CounterRow>> Guard::counters(const IfaceKey& iface) const {
  IPF_ASSIGN_OR_RETURN(std::vector<CounterRow> all, counters());
  std::erase_if(all, [&](const CounterRow& r) { return r.iface != iface; });
  return all;
}

Result<std::size_t> Guard::Impl::erase_ifaces(
    const std::function<bool(const IfaceKey&)>& which) const {
  std::size_t erased = 0;
  {
    // The entries' rows are free once the entries are gone; the next owner zeroes them.
    const CacheGenerationBump bump(bpf_map__fd(skel->maps.ipf_judge_gen));
    const int cfg_fd = fd(GuardMap::iface_config);
    IPF_ASSIGN_OR_RETURN(std::vector<ipf_iface_key> configs, map_keys<ipf_iface_key>(cfg_fd));
    for (const ipf_iface_key& key : configs) {
      if (!which({key.netns_cookie, key.ifindex})) continue;
      IPF_TRY(map_delete(cfg_fd, key));
      ++erased;
    }
  }
  // The program may add a counter key while we walk (a frame counted on the interface right
  // now); such a key is new and simply stays.
  const int counters_fd = fd(GuardMap::counters);
  IPF_ASSIGN_OR_RETURN(std::vector<ipf_counter_key> counted,
                       map_keys<ipf_counter_key>(counters_fd));
  for (const ipf_counter_key& key : counted) {
    if (!which({key.netns_cookie, key.ifindex})) continue;
    IPF_TRY(map_delete(counters_fd, key));
    ++erased;
  }
  return erased;
}

}  // namespace ipfence::datapath
