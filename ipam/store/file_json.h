// What the file store's bytes mean: JSON bodies of log records (one committed change each)
// and of the snapshot. JSON so that an operator can read the files with jq in an incident.
// Keys and values are bytes to the Store interface; text that is valid UTF-8 is stored as a
// JSON string and anything else as {"base64": "..."}, so no value is refused or altered.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipam/result.h"
#include "ipam/store/key_index.h"

namespace ipfence::store {

// {"revision": R, "ops": [{"op": "put", "key", "value", "create_revision", "version"},
//                         {"op": "delete", "key"}]}
std::string encode_change(const Change& change);
// ErrorCode::corrupt (without a path: the caller knows the file and offset).
Result<Change> decode_change(std::string_view body);

// A value as JSON text (a string, or {"base64": ...}), as it appears in records and snapshots;
// the file store reads values back from its files on demand, one such text at a time.
std::string encode_value(std::string_view bytes);
Result<std::string> decode_value(std::string_view json_text);

// Where something lies in a record or snapshot body.
struct TextSpan {
  std::uint64_t offset = 0;
  std::uint32_t length = 0;
};

// Where the JSON text of each put's value lies in `body` (encode_change's layout, which
// decoded to `change`), checked by decoding it again; nullopt for deletes, and for values of
// a body laid out differently (the caller then keeps the value some other way).
std::vector<std::optional<TextSpan>> locate_values(std::string_view body, const Change& change);

// {"revision": R, "kvs": [{"key", "value", "create_revision", "mod_revision", "version"}]}
// written one key per line, keys in order.
class SnapshotWriter {
 public:
  explicit SnapshotWriter(std::int64_t revision);
  void reserve(std::size_t bytes) { out_.reserve(bytes); }
  // Adds the next key; `value_json` is encode_value's text. Returns where that text lies in
  // the body.
  TextSpan add(std::string_view key, std::string_view value_json, std::int64_t create_revision,
               std::int64_t mod_revision, std::int64_t version);
  std::string finish() &&;

 private:
  std::string out_;
  bool first_ = true;
};

struct SnapshotItem {
  std::string key;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  // Where the value's JSON text lies in the body; when the body is not laid out as
  // SnapshotWriter writes it, the value itself instead.
  std::optional<TextSpan> value_text;
  std::string value;
};

// Reads a snapshot body item by item (no tree of the whole store is ever built): sets
// *revision, then calls on_item for each key, which returns false for a key it has already.
// ErrorCode::corrupt (without a path) for anything undecodable or a duplicate key.
Status scan_snapshot(std::string_view body, std::int64_t* revision,
                     const std::function<bool(SnapshotItem&& item)>& on_item);

// Reads SnapshotWriter's layout as it arrives in pieces, so that a 45 MB snapshot is never
// held whole. It stops at anything else (another layout, a line that does not decode, a
// duplicate key): the caller then reads the file whole with scan_snapshot, which says what is
// wrong. SnapshotItem::value_text offsets count from the start of the body.
class SnapshotLineReader {
 public:
  explicit SnapshotLineReader(std::function<bool(SnapshotItem&& item)> on_item)
      : on_item_(std::move(on_item)) {}
  // The next bytes of the body. False: stopped (see above).
  bool feed(std::string_view piece);
  // After the last piece: whether the body was complete.
  bool finish() const { return !stopped_ && state_ == State::closed && carry_.empty(); }
  std::int64_t revision() const { return revision_; }

 private:
  enum class State { head, items, closed };
  bool line(std::string_view text, std::uint64_t offset);

  std::function<bool(SnapshotItem&&)> on_item_;
  std::string carry_;               // an unfinished line
  std::uint64_t carry_offset_ = 0;  // where carry_ starts in the body
  State state_ = State::head;
  bool stopped_ = false;
  bool have_item_ = false;
  bool item_had_comma_ = false;
  std::int64_t revision_ = 0;
};

// The whole snapshot in memory: for first start and tests.
struct SnapshotData {
  std::int64_t revision = 0;
  std::map<std::string, KeyValue> kvs;
};
std::string encode_snapshot(std::int64_t revision, const std::map<std::string, KeyValue>& kvs);
Result<SnapshotData> decode_snapshot(std::string_view body);

}  // namespace ipfence::store
