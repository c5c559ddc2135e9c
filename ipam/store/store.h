// The store: a revisioned key-value space with etcd v3 semantics, so that the embedded file
// backend and the etcd backend are interchangeable behind one interface.
//
// - Every committed transaction that changes something bumps the store revision by one (as
//   in etcd, one whose ops change nothing, e.g. deleting an absent key, succeeds at the
//   current revision); each key remembers the revision that created it, the one that last
//   modified it, and its version (number of puts since creation; 0 = absent).
// - A transaction is all-or-nothing: if every compare holds, all ops apply at one revision.
//   Two ops on one key in one transaction are rejected (ErrorCode::invalid_argument).
// - A watch delivers every change after a revision in order; when that revision has been
//   compacted away the watch reports ErrorCode::compacted and the caller lists again.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ipam/result.h"

namespace ipfence::store {

struct KeyValue {
  std::string key;
  std::string value;
  std::int64_t create_revision = 0;
  std::int64_t mod_revision = 0;
  std::int64_t version = 0;
  bool operator==(const KeyValue&) const = default;
};

// Equality compares only: that is all ipfence needs (create-if-absent = version == 0,
// update/delete-if-unchanged = mod_revision == R).
struct Compare {
  enum class Target { version, mod_revision };
  std::string key;
  Target target = Target::version;
  std::int64_t value = 0;

  static Compare absent(std::string key) { return {std::move(key), Target::version, 0}; }
  static Compare unchanged(std::string key, std::int64_t mod_revision) {
    return {std::move(key), Target::mod_revision, mod_revision};
  }
};

struct Op {
  enum class Type { put, del };
  Type type = Type::put;
  std::string key;
  std::string value;  // put only

  static Op put(std::string key, std::string value) {
    return {Type::put, std::move(key), std::move(value)};
  }
  static Op del(std::string key) { return {Type::del, std::move(key), {}}; }
};

struct Txn {
  std::vector<Compare> compares;
  std::vector<Op> ops;  // applied only when every compare holds
};

struct TxnResult {
  bool succeeded = false;
  std::int64_t revision = 0;  // the store revision after the transaction
  // When !succeeded: the keys whose compare failed (in `compares` order).
  std::vector<std::string> failed_keys;
};

struct ListResult {
  std::vector<KeyValue> kvs;  // sorted by key
  std::int64_t revision = 0;  // the store revision the list reflects
};

// Calls each(kv) for the keys of `list` under prefixes[0], in key order, then for those under
// prefixes[1], and so on: list_each's order over a list already made.
void for_each_under(const ListResult& list, const std::vector<std::string>& prefixes,
                    const std::function<void(const KeyValue& kv)>& each);

struct Event {
  enum class Type { put, del };
  Type type = Type::put;
  KeyValue kv;  // for del: key and mod_revision (= the deleting revision) only
  bool operator==(const Event&) const = default;
};

class Watch {
 public:
  virtual ~Watch() = default;
  // Events after the last one returned (or after the start revision), in revision order.
  // Waits up to `timeout` for at least one; an empty vector means none arrived in time.
  // ErrorCode::compacted: events were lost; list again and start a new watch.
  // ErrorCode::unavailable: the store has been unreachable for a while, so the caller's
  // view may be stale; the watch keeps trying and a later call goes on without a gap.
  virtual Result<std::vector<Event>> next(std::chrono::milliseconds timeout) = 0;
};

class Store {
 public:
  virtual ~Store() = default;

  virtual Result<std::optional<KeyValue>> get(const std::string& key) = 0;
  // Every key that starts with `prefix` ("" = all).
  virtual Result<ListResult> list(const std::string& prefix) = 0;
  // list() without the whole result at once: calls each(kv) for every key under prefixes[0],
  // in key order, then for every key under prefixes[1], and so on, all at one revision, which
  // it returns. For a start-up over 65,536 allocations this spares a second copy of every key
  // and value, and the caller picks the order of the kinds (the view reads allocations before
  // the attachments that point at them). Prefixes should not overlap (a key under two is
  // seen twice). The store may hold a lock during the calls: `each` must not call the store.
  virtual Result<std::int64_t> list_each(const std::vector<std::string>& prefixes,
                                         const std::function<void(const KeyValue& kv)>& each);
  Result<std::int64_t> list_each(const std::string& prefix,
                                 const std::function<void(const KeyValue& kv)>& each) {
    return list_each(std::vector<std::string>{prefix}, each);
  }
  virtual Result<TxnResult> commit(const Txn& txn) = 0;
  // Changes to keys under `prefix` with mod_revision > after_revision.
  virtual Result<std::unique_ptr<Watch>> watch(const std::string& prefix,
                                               std::int64_t after_revision) = 0;
  // A short description for logs and /v1/status, e.g. "file:///var/lib/ipfence".
  virtual std::string describe() const = 0;
  // Whether agents on other nodes write to this store too (etcd), so that the agent spreads
  // its next-fit cursors (allocator.h). A file or memory store is one node's own.
  virtual bool shared() const { return false; }
  // The servers behind the store ("host:port" of etcd's members) for /v1/status; empty for
  // a local store.
  virtual std::vector<std::string> endpoints() const { return {}; }

  // Conveniences over commit(). They return ErrorCode::already_exists / conflict when the
  // compare fails, with the key in the message.
  Result<std::int64_t> create(const std::string& key, const std::string& value);
  Result<std::int64_t> update(const std::string& key, const std::string& value,
                              std::int64_t expected_mod_revision);
  Result<std::int64_t> remove(const std::string& key, std::int64_t expected_mod_revision);
};

// Opens a store from a URL: "file:///path" (or a bare path) or "etcd://host:port[,...]".
// An unknown scheme or unreachable location is an error that says what to use instead.
Result<std::unique_ptr<Store>> open_store(const std::string& url);

}  // namespace ipfence::store
