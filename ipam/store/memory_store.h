// The in-memory store: KvState is the revisioned map with etcd v3 semantics (compares, ops,
// versions, change history for watches) and no I/O or locking. MemoryStore wraps it with a
// mutex and a condition variable and is the fake that unit tests of other modules use.
// What a transaction does is KeyIndex's (key_index.h), which FileStore shares.
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

#include "ipam/store/key_index.h"
#include "ipam/store/store.h"

namespace ipfence::store {

class KvState {
 public:
  KvState() = default;
  // State as of `revision` (a snapshot); history starts empty, compacted at `revision`.
  KvState(std::map<std::string, KeyValue> kvs, std::int64_t revision);

  std::int64_t revision() const { return index_.revision(); }
  // History holds every change with revision > compact_revision().
  std::int64_t compact_revision() const { return compact_revision_; }

  std::optional<KeyValue> get(const std::string& key) const;
  ListResult list(const std::string& prefix) const;

  // Evaluates the compares. On success returns the change the ops would make at
  // revision()+1 (no events when nothing would change, e.g. deleting an absent key: like
  // etcd, such a transaction succeeds without a new revision); on failure fills
  // result.failed_keys. Does not modify the state.
  TxnResult evaluate(const Txn& txn, Change* change) const { return index_.evaluate(txn, change); }
  // Applies a change whose revision is revision()+1 and records it in history.
  Status apply(const Change& change);
  // Forgets history up to `revision` (clamped to [compact_revision(), revision()]).
  void compact(std::int64_t revision);

  // ErrorCode::compacted when history after `after_revision` is gone.
  Status check_watchable(std::int64_t after_revision) const;
  // Events under `prefix` with revision > after_revision, in order. ErrorCode::compacted
  // when after_revision < compact_revision().
  Result<std::vector<Event>> events_after(const std::string& prefix,
                                          std::int64_t after_revision) const;

 private:
  KeyIndex<std::string> index_;
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
