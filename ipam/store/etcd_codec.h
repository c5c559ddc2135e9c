// The etcd v3 JSON gateway's wire format, apart from any transport: request bodies built from
// store types and answers parsed back into them. Pure functions, so the translation (base64
// keys and values, int64 fields as JSON strings, fields left out when zero, the store's key
// prefix) is tested without a server.
//
// Keys given to and returned by these functions are relative; `prefix` is the store's key
// prefix in etcd (default "/ipfence/"), added on the way out and removed on the way in.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ipam/result.h"
#include "ipam/store/store.h"

namespace ipfence::store::etcd {

std::string base64_encode(std::string_view bytes);
std::optional<std::string> base64_decode(std::string_view text);

// The range_end that makes [prefix, range_end) every key starting with `prefix`: the prefix
// with its last byte below 0xff incremented (trailing 0xff bytes dropped). "\0" (= no upper
// bound, etcd's convention) when there is no such byte.
std::string prefix_end(std::string_view prefix);

// POST /v3/kv/range: one key, or with range_end a range. revision 0 = the current one.
struct RangeRequest {
  std::string key;        // absolute (prefix included)
  std::string range_end;  // absolute; empty = the single key
  std::int64_t revision = 0;
  std::int64_t limit = 0;  // 0 = no limit
  bool count_only = false;
};
std::string range_body(const RangeRequest& request);

// POST /v3/kv/txn: compares VERSION or MOD with EQUAL; success = the ops; failure = one range
// per distinct compared key, so parse_txn can tell which compares failed, from the same
// revision the compares saw.
std::string txn_body(const Txn& txn, std::string_view prefix);
// The failure branch holds one op per distinct compared key; etcd's op limit applies to it.
std::size_t txn_failure_ops(const Txn& txn);

// POST /v3/watch: a create_request for [key, range_end) from start_revision, with progress
// notifications (they tell a reconnecting watch how far it got while nothing changed).
std::string watch_body(std::string_view key, std::string_view range_end,
                       std::int64_t start_revision);

// POST /v3/kv/compaction.
std::string compaction_body(std::int64_t revision);

struct RangeResponse {
  std::int64_t revision = 0;  // header.revision
  std::vector<KeyValue> kvs;  // relative keys, in etcd's (byte) order
  bool more = false;          // a limit cut the answer short
  std::int64_t count = 0;
};
Result<RangeResponse> parse_range(std::string_view body, std::string_view prefix);

// succeeded and revision from the answer; when the compares failed, failed_keys from the
// failure branch's ranges, in `txn.compares` order (one entry per failing compare).
Result<TxnResult> parse_txn(std::string_view body, const Txn& txn, std::string_view prefix);

// header.revision of any answer (maintenance/status, compaction, ...).
Result<std::int64_t> parse_header_revision(std::string_view body);

// One line of the /v3/watch stream.
struct WatchMessage {
  enum class Kind {
    created,    // the watch exists on the server
    events,     // changes, in revision order
    progress,   // no events: everything up to `revision` has been delivered
    compacted,  // the start revision is gone (compact_revision says up to where)
    canceled,   // the server ended the watch for another reason (`reason`)
  };
  Kind kind = Kind::progress;
  std::int64_t revision = 0;  // header.revision
  std::int64_t compact_revision = 0;
  std::vector<Event> events;
  std::string reason;
};
Result<WatchMessage> parse_watch_line(std::string_view line, std::string_view prefix);

// The error in a non-200 answer ({"error", "message", "code": gRPC code}) as an ErrorCode:
// compacted revisions -> compacted; no leader, timeouts, overload -> unavailable; malformed
// or too large requests -> invalid_argument. The message is etcd's own.
Error parse_error(long http_status, std::string_view body);

}  // namespace ipfence::store::etcd
