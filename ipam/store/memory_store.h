// The in-memory store: KvState is the revisioned map with etcd v3 semantics (compares, ops,
// versions, change history for watches) and no I/O or locking. MemoryStore wraps it with a
// mutex and a condition variable and is the fake that unit tests of other modules use;
// FileStore keeps a KvState as its mirror of the files, so both backends share one
// definition of what a transaction does.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include "ipam/store/store.h"

namespace ipfence::store {

// What one committed transaction did, as stored in the file backend's log: the full new
// KeyValue of every put and the key of every delete, all at one revision. Self-contained
// (no need for the state before it), so history can be rebuilt from a log alone.
struct Change {
  std::int64_t revision = 0;
  std::vector<Event> events;
  bool operator==(const Change&) const = default;
};

// Rejects what etcd rejects too, before any compare runs: empty keys and a key named by
// more than one op (its outcome would depend on op order).
Status validate_txn(const Txn& txn);

class KvState {
 public:
  KvState() = default;
  // State as of `revision` (a snapshot); history starts empty, compacted at `revision`.
  KvState(std::map<std::string, KeyValue> kvs, std::int64_t revision);

  std::int64_t revision() const { return revision_; }
  // History holds every change with revision > compact_revision().
  std::int64_t compact_revision() const { return compact_revision_; }
  // Every key's value and revisions. The values' `key` fields are empty (the map key is the
  // key; holding it twice would cost a string per key): use the map key.
  const std::map<std::string, KeyValue>& kvs() const { return kvs_; }

  std::optional<KeyValue> get(const std::string& key) const;
  ListResult list(const std::string& prefix) const;

  // Evaluates the compares. On success returns the change the ops would make at
  // revision()+1 (no events when nothing would change, e.g. deleting an absent key: like
  // etcd, such a transaction succeeds without a new revision); on failure fills
  // result.failed_keys. Does not modify the state.
  TxnResult evaluate(const Txn& txn, Change* change) const;
  // Applies a change whose revision is revision()+1 and records it in history.
  Status apply(const Change& change);
  // Puts changes older than the snapshot back into history (the file backend's log may
  // reach further back than its snapshot). `changes` must be consecutive and end at
  // revision(); history must still be empty.
  Status restore_history(std::int64_t compact_revision, std::vector<Change> changes);
  // Forgets history up to `revision` (clamped to [compact_revision(), revision()]).
  void compact(std::int64_t revision);

  // ErrorCode::compacted when history after `after_revision` is gone.
  Status check_watchable(std::int64_t after_revision) const;
  // Events under `prefix` with revision > after_revision, in order. ErrorCode::compacted
  // when after_revision < compact_revision().
  Result<std::vector<Event>> events_after(const std::string& prefix,
                                          std::int64_t after_revision) const;
  // The changes with revision > after_revision (all keys), for rewriting the log.
  std::vector<Change> changes_after(std::int64_t after_revision) const;

 private:
  static KeyValue with_key(const std::string& key, const KeyValue& stored);

  std::map<std::string, KeyValue> kvs_;  // values without their key (see kvs())
  std::int64_t revision_ = 0;
  std::int64_t compact_revision_ = 0;
  std::deque<Change> history_;  // consecutive revisions compact_revision_+1 .. revision_
};

// Thread-safe in-process store. Watches wake on commit through a condition variable.
// History grows until compact() is called: fine for tests and short-lived tools.
class MemoryStore final : public Store {
 public:
  MemoryStore();

  Result<std::optional<KeyValue>> get(const std::string& key) override;
  Result<ListResult> list(const std::string& prefix) override;
  Result<TxnResult> commit(const Txn& txn) override;
  Result<std::unique_ptr<Watch>> watch(const std::string& prefix,
                                       std::int64_t after_revision) override;
  std::string describe() const override { return "memory://"; }

  // Drops history up to `revision`, so tests can exercise ErrorCode::compacted.
  void compact(std::int64_t revision);

  struct Shared {
    std::mutex mu;
    std::condition_variable changed;
    KvState state;
  };

 private:
  std::shared_ptr<Shared> shared_;  // watches hold it too, so they may outlive the store
};

// The fake must stay a complete Store: this fails to compile when the interface changes.
static_assert(std::is_base_of_v<Store, MemoryStore> && !std::is_abstract_v<MemoryStore>);

}  // namespace ipfence::store
