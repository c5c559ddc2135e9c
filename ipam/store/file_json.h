// What the file store's bytes mean: JSON bodies of log records (one committed change each)
// and of the snapshot. JSON so that an operator can read the files with jq in an incident.
// Keys and values are bytes to the Store interface; text that is valid UTF-8 is stored as a
// JSON string and anything else as {"base64": "..."}, so no value is refused or altered.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "ipam/result.h"
#include "ipam/store/memory_store.h"

namespace ipfence::store {

// {"revision": R, "ops": [{"op": "put", "key", "value", "create_revision", "version"},
//                         {"op": "delete", "key"}]}
std::string encode_change(const Change& change);
// ErrorCode::corrupt (without a path: the caller knows the file and offset).
Result<Change> decode_change(std::string_view body);

struct SnapshotData {
  std::int64_t revision = 0;
  std::map<std::string, KeyValue> kvs;
};

// {"revision": R, "kvs": [{"key", "value", "create_revision", "mod_revision", "version"}]}
std::string encode_snapshot(std::int64_t revision, const std::map<std::string, KeyValue>& kvs);
Result<SnapshotData> decode_snapshot(std::string_view body);

}  // namespace ipfence::store
