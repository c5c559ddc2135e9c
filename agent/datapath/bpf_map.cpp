#include "agent/datapath/bpf_map.h"

namespace ipfence::datapath {

Result<MapInfo> map_info(int fd) {
  bpf_map_info info{};
  __u32 len = sizeof(info);
  const int err = bpf_obj_get_info_by_fd(fd, &info, &len);
  if (err != 0) return os_error("bpf_obj_get_info_by_fd", err);
  MapInfo out;
  out.id = info.id;
  out.type = info.type;
  out.key_size = info.key_size;
  out.value_size = info.value_size;
  out.max_entries = info.max_entries;
  out.flags = info.map_flags;
  out.name = info.name;
  return out;
}

}  // namespace ipfence::datapath
