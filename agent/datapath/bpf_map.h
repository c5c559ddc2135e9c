// Small typed helpers over libbpf's low-level map calls, returning Result instead of -errno.
// The guard's maps have one writer (the agent), so reading them while nobody writes gives a
// consistent picture.
#pragma once

#include <bpf/bpf.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/datapath/os_error.h"
#include "ipam/result.h"

namespace ipfence::datapath {

// Facts about a map that sync and adoption need.
struct MapInfo {
  std::uint32_t id = 0;
  std::uint32_t type = 0;
  std::uint32_t key_size = 0;
  std::uint32_t value_size = 0;
  std::uint32_t max_entries = 0;
  std::uint32_t flags = 0;
  std::string name;
};
Result<MapInfo> map_info(int fd);

// Every (key, value) of a map as raw bytes (keys and values each packed back to back).
// Hash maps are read in batches (BPF_MAP_LOOKUP_BATCH: one syscall per few thousand
// entries, so a 65,536-lease diff costs milliseconds); maps without batch support (LPM
// tries) are walked key by key. Not for per-CPU maps.
struct RawEntries {
  std::vector<std::uint8_t> keys;
  std::vector<std::uint8_t> values;
  std::size_t count = 0;
};
Result<RawEntries> map_dump(int fd, std::size_t key_size, std::size_t value_size);

template <typename K, typename V>
Result<std::vector<std::pair<K, V>>> map_entries(int fd) {
  IPF_ASSIGN_OR_RETURN(RawEntries raw, map_dump(fd, sizeof(K), sizeof(V)));
  std::vector<std::pair<K, V>> out(raw.count);
  for (std::size_t i = 0; i < raw.count; ++i) {
    std::memcpy(&out[i].first, raw.keys.data() + i * sizeof(K), sizeof(K));
    std::memcpy(&out[i].second, raw.values.data() + i * sizeof(V), sizeof(V));
  }
  return out;
}

template <typename K>
Result<std::vector<K>> map_keys(int fd) {
  std::vector<K> out;
  K cursor{};
  K next{};
  const K* prev = nullptr;
  for (;;) {
    const int err = bpf_map_get_next_key(fd, prev, &next);
    if (err == -ENOENT) break;
    if (err != 0) return os_error("bpf_map_get_next_key", err);
    out.push_back(next);
    cursor = next;
    prev = &cursor;
  }
  return out;
}

template <typename K, typename V>
Status map_update(int fd, const K& key, const V& value, std::uint64_t flags = BPF_ANY) {
  const int err = bpf_map_update_elem(fd, &key, &value, flags);
  if (err != 0) return os_error("bpf_map_update_elem", err);
  return {};
}

// Deleting a key that is not there is not an error (sync is idempotent).
template <typename K>
Status map_delete(int fd, const K& key) {
  const int err = bpf_map_delete_elem(fd, &key);
  if (err != 0 && err != -ENOENT) return os_error("bpf_map_delete_elem", err);
  return {};
}

}  // namespace ipfence::datapath
