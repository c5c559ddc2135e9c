#include "agent/datapath/guard_upgrade.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include "bpf/abi.h"

namespace ipfence::datapath {
namespace {

// The old keys (bpf/abi.h before per-namespace keys); values are unchanged.
constexpr std::uint32_t kOldIfaceKeySize = sizeof(__u32);
constexpr std::uint32_t kOldCounterKeySize = 8;

}  // namespace

bool has_pre_netns_layout(GuardMap which, const MapInfo& info) {
  switch (which) {
    case GuardMap::iface_config:
      return info.type == BPF_MAP_TYPE_HASH && info.key_size == kOldIfaceKeySize &&
             info.value_size == sizeof(ipf_iface_config);
    case GuardMap::counters:
      return info.type == BPF_MAP_TYPE_PERCPU_HASH && info.key_size == kOldCounterKeySize &&
             info.value_size == sizeof(ipf_counter);
    default:
      return false;
  }
}

Status replace_pre_netns_pin(const OldPin& old, int new_fd, std::uint64_t own_netns_cookie,
                             std::vector<std::string>& warnings) {
  std::string carried = "its counts start from zero";
  if (old.map == GuardMap::iface_config) {
    IPF_ASSIGN_OR_RETURN(auto entries, (map_entries<__u32, ipf_iface_config>(old.fd.get())));
    for (const auto& [ifindex, cfg] : entries) {
      const ipf_iface_key key{own_netns_cookie, ifindex, 0};
      IPF_TRY(map_update(new_fd, key, cfg));
    }
    carried = std::to_string(entries.size()) + " master(s) carried over";
  }
  const std::string tmp = old.path + "_replacing";  // bpffs refuses names with a dot
  ::unlink(tmp.c_str());  // left by a run that died between pin and rename
  const int err = bpf_obj_pin(new_fd, tmp.c_str());
  if (err != 0) return os_error("pin " + tmp, err);
  if (::rename(tmp.c_str(), old.path.c_str()) != 0) {
    const int rename_err = errno;
    ::unlink(tmp.c_str());
    return os_error("replace pinned map " + old.path, rename_err);
  }
  warnings.push_back("pinned map " + old.path +
                     " had the layout from before per-namespace keys (keyed by ifindex alone): "
                     "replaced, " +
                     carried);
  return {};
}

}  // namespace ipfence::datapath
