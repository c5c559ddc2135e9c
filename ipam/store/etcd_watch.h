// The etcd backend's Watch: one streaming POST /v3/watch on a background thread. libcurl's
// write callback cuts the stream into lines (one JSON message each) and queues the events;
// next() pops them, so a caller that polls with a zero timeout pays for a lock, not a request.
//
// When the stream breaks (etcd restarted, member gone) the thread reconnects, on the next
// endpoint, from the revision after the last event it delivered (or the last progress
// notification), so no event is lost or repeated. When etcd says that revision has been
// compacted, next() reports ErrorCode::compacted and the caller lists again. While no stream
// has been up for longer than the client's timeout, next() reports ErrorCode::unavailable
// naming the endpoints (the view may be stale), and carries on once a stream is back.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "ipam/result.h"
#include "ipam/store/etcd_http.h"
#include "ipam/store/store.h"

namespace ipfence::store::etcd {

struct WatchTarget {
  std::string key;        // absolute start of the watched range
  std::string range_end;  // absolute end (prefix_end of the watched prefix)
  std::string prefix;     // the store's prefix, removed from the keys of events
  std::int64_t after_revision = 0;
};

// Starts the stream and returns once etcd has confirmed the watch, so that an unreachable
// cluster is an error here (ErrorCode::unavailable, naming the endpoints) rather than a
// silent next() that never has events.
Result<std::unique_ptr<Watch>> start_watch(std::shared_ptr<HttpClient> http, WatchTarget target);

}  // namespace ipfence::store::etcd
