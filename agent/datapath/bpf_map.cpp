#include "agent/datapath/bpf_map.h"

#include <algorithm>

namespace ipfence::datapath {
namespace {

constexpr int kENOTSUPP = 524;  // the kernel's internal "operation not supported"

// Appends every entry by get_next_key + lookup (maps without batch operations).
Status walk(int fd, std::size_t key_size, std::size_t value_size, RawEntries& out) {
  std::vector<std::uint8_t> cursor(key_size);
  std::vector<std::uint8_t> next(key_size);
  std::vector<std::uint8_t> value(value_size);
  const void* prev = nullptr;  // NULL asks for the first key
  for (;;) {
    const int err = bpf_map_get_next_key(fd, prev, next.data());
    if (err == -ENOENT) break;
    if (err != 0) return os_error("bpf_map_get_next_key", err);
    const int lerr = bpf_map_lookup_elem(fd, next.data(), value.data());
    if (lerr == 0) {
      out.keys.insert(out.keys.end(), next.begin(), next.end());
      out.values.insert(out.values.end(), value.begin(), value.end());
      ++out.count;
    } else if (lerr != -ENOENT) {  // ENOENT: deleted under us; nothing to report
      return os_error("bpf_map_lookup_elem", lerr);
    }
    cursor.swap(next);
    prev = cursor.data();
  }
  return {};
}

}  // namespace

Result<RawEntries> map_dump(int fd, std::size_t key_size, std::size_t value_size) {
  RawEntries out;
  // The batch position token: a bucket index for hash maps; key-sized per the uapi docs.
  std::vector<std::uint8_t> in_batch(std::max<std::size_t>(key_size, 8));
  std::vector<std::uint8_t> out_batch(in_batch.size());
  __u32 chunk = 4096;
  bool first = true;
  bpf_map_batch_opts opts{};
  opts.sz = sizeof(opts);
  for (;;) {
    std::vector<std::uint8_t> keys(chunk * key_size);
    std::vector<std::uint8_t> values(chunk * value_size);
    __u32 count = chunk;
    const int err = bpf_map_lookup_batch(fd, first ? nullptr : in_batch.data(), out_batch.data(),
                                         keys.data(), values.data(), &count, &opts);
    if (err != 0 && err != -ENOENT) {
      if (first && (err == -EINVAL || err == -EOPNOTSUPP || err == -kENOTSUPP)) {
        IPF_TRY(walk(fd, key_size, value_size, out));
        return out;
      }
      // ENOSPC: one hash bucket holds more than `chunk` entries; ask again with more room.
      if (err == -ENOSPC && chunk < (1u << 20)) {
        chunk *= 4;
        continue;
      }
      return os_error("bpf_map_lookup_batch", err);
    }
    out.keys.insert(out.keys.end(), keys.begin(), keys.begin() + count * key_size);
    out.values.insert(out.values.end(), values.begin(), values.begin() + count * value_size);
    out.count += count;
    if (err == -ENOENT) break;  // that was the last batch
    in_batch.swap(out_batch);
    first = false;
  }
  return out;
}

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
