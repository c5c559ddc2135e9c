#include "ipam/store/memory_store.h"

#include <algorithm>
#include <set>

namespace ipfence::store {
namespace {

bool has_prefix(const std::string& key, const std::string& prefix) {
  return key.compare(0, prefix.size(), prefix) == 0;
}

Error compacted_error(std::int64_t after_revision, std::int64_t compact_revision) {
  return make_error(ErrorCode::compacted,
                    "revision " + std::to_string(after_revision) +
                        " has been compacted (history starts after revision " +
                        std::to_string(compact_revision) + "); list again and watch from there");
}

}  // namespace

Status validate_txn(const Txn& txn) {
  for (const auto& compare : txn.compares)
    if (compare.key.empty())
      return make_error(ErrorCode::invalid_argument, "transaction compares an empty key");
  std::set<std::string_view> seen;
  for (const auto& op : txn.ops) {
    if (op.key.empty())
      return make_error(ErrorCode::invalid_argument, "transaction writes an empty key");
    if (!seen.insert(op.key).second)
      return make_error(ErrorCode::invalid_argument,
                        "key " + op.key + " appears in more than one op of a transaction");
  }
  return {};
}

KvState::KvState(std::map<std::string, KeyValue> kvs, std::int64_t revision)
    : kvs_(std::move(kvs)), revision_(revision), compact_revision_(revision) {
  for (auto& [key, kv] : kvs_) std::string().swap(kv.key);  // the map key is the key
}

KeyValue KvState::with_key(const std::string& key, const KeyValue& stored) {
  KeyValue kv = stored;
  kv.key = key;
  return kv;
}

std::optional<KeyValue> KvState::get(const std::string& key) const {
  auto it = kvs_.find(key);
  if (it == kvs_.end()) return std::nullopt;
  return with_key(it->first, it->second);
}

ListResult KvState::list(const std::string& prefix) const {
  ListResult result;
  result.revision = revision_;
  for (auto it = kvs_.lower_bound(prefix); it != kvs_.end() && has_prefix(it->first, prefix); ++it)
    result.kvs.push_back(with_key(it->first, it->second));
  return result;
}

TxnResult KvState::evaluate(const Txn& txn, Change* change) const {
  TxnResult result;
  result.revision = revision_;
  for (const auto& compare : txn.compares) {
    auto it = kvs_.find(compare.key);
    std::int64_t actual = 0;  // an absent key has version 0 and mod_revision 0
    if (it != kvs_.end())
      actual =
          compare.target == Compare::Target::version ? it->second.version : it->second.mod_revision;
    if (actual != compare.value) result.failed_keys.push_back(compare.key);
  }
  if (!result.failed_keys.empty()) return result;

  result.succeeded = true;
  const std::int64_t next = revision_ + 1;
  change->revision = next;
  change->events.clear();
  for (const auto& op : txn.ops) {
    auto it = kvs_.find(op.key);
    if (op.type == Op::Type::put) {
      KeyValue kv{op.key, op.value, next, next, 1};
      if (it != kvs_.end()) {
        kv.create_revision = it->second.create_revision;
        kv.version = it->second.version + 1;
      }
      change->events.push_back(Event{Event::Type::put, std::move(kv)});
    } else if (it != kvs_.end()) {
      change->events.push_back(Event{Event::Type::del, KeyValue{op.key, {}, 0, next, 0}});
    }
  }
  if (!change->events.empty()) result.revision = next;
  return result;
}

Status KvState::apply(const Change& change) {
  if (change.revision != revision_ + 1 || change.events.empty())
    return make_error(ErrorCode::corrupt, "change at revision " + std::to_string(change.revision) +
                                              " does not follow revision " +
                                              std::to_string(revision_));
  // Check the whole change against the state first, so a bad one applies nothing. For
  // MemoryStore this always holds; for FileStore it catches a log that does not fit.
  for (const auto& event : change.events) {
    const auto& kv = event.kv;
    auto it = kvs_.find(kv.key);
    bool fits = kv.mod_revision == change.revision;
    if (event.type == Event::Type::del) {
      fits = fits && it != kvs_.end();
    } else if (it == kvs_.end()) {
      fits = fits && kv.create_revision == change.revision && kv.version == 1;
    } else {
      fits = fits && kv.create_revision == it->second.create_revision &&
             kv.version == it->second.version + 1;
    }
    if (!fits)
      return make_error(ErrorCode::corrupt, "change of key " + kv.key + " at revision " +
                                                std::to_string(change.revision) +
                                                " does not fit the state before it");
  }
  for (const auto& event : change.events) {
    if (event.type == Event::Type::put)
      kvs_[event.kv.key] = KeyValue{
          {}, event.kv.value, event.kv.create_revision, event.kv.mod_revision, event.kv.version};
    else
      kvs_.erase(event.kv.key);
  }
  revision_ = change.revision;
  history_.push_back(change);
  return {};
}

Status KvState::restore_history(std::int64_t compact_revision, std::vector<Change> changes) {
  std::int64_t expected = compact_revision + 1;
  for (const auto& change : changes) {
    if (change.revision != expected)
      return make_error(ErrorCode::corrupt, "history has revision " +
                                                std::to_string(change.revision) + " where " +
                                                std::to_string(expected) + " was expected");
    ++expected;
  }
  if (!history_.empty() || expected != revision_ + 1)
    return make_error(ErrorCode::corrupt,
                      "history ends at revision " + std::to_string(expected - 1) +
                          " but the snapshot is at revision " + std::to_string(revision_));
  compact_revision_ = compact_revision;
  history_.assign(std::make_move_iterator(changes.begin()), std::make_move_iterator(changes.end()));
  return {};
}

void KvState::compact(std::int64_t revision) {
  revision = std::clamp(revision, compact_revision_, revision_);
  while (!history_.empty() && history_.front().revision <= revision) history_.pop_front();
  compact_revision_ = revision;
}

Status KvState::check_watchable(std::int64_t after_revision) const {
  if (after_revision < compact_revision_) return compacted_error(after_revision, compact_revision_);
  return {};
}

Result<std::vector<Event>> KvState::events_after(const std::string& prefix,
                                                 std::int64_t after_revision) const {
  IPF_TRY(check_watchable(after_revision));
  std::vector<Event> events;
  if (after_revision >= revision_) return events;
  // history_ is consecutive, so the first change after `after_revision` is at this index.
  for (auto it = history_.begin() + (after_revision - compact_revision_); it != history_.end();
       ++it)
    for (const auto& event : it->events)
      if (has_prefix(event.kv.key, prefix)) events.push_back(event);
  return events;
}

std::vector<Change> KvState::changes_after(std::int64_t after_revision) const {
  after_revision = std::clamp(after_revision, compact_revision_, revision_);
  return {history_.begin() + (after_revision - compact_revision_), history_.end()};
}

namespace {

class MemoryWatch final : public Watch {
 public:
  MemoryWatch(std::shared_ptr<MemoryStore::Shared> shared, std::string prefix,
              std::int64_t after_revision)
      : shared_(std::move(shared)), prefix_(std::move(prefix)), position_(after_revision) {}

  Result<std::vector<Event>> next(std::chrono::milliseconds timeout) override {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(shared_->mu);
    while (true) {
      const auto& state = shared_->state;
      IPF_ASSIGN_OR_RETURN(auto events, state.events_after(prefix_, position_));
      // Nothing under our prefix up to the current revision: move past it, so compacting
      // unrelated history does not fail this watch.
      position_ = std::max(position_, state.revision());
      if (!events.empty()) return events;
      if (shared_->changed.wait_until(lock, deadline) == std::cv_status::timeout &&
          shared_->state.revision() <= position_)
        return std::vector<Event>{};
    }
  }

 private:
  std::shared_ptr<MemoryStore::Shared> shared_;
  std::string prefix_;
  std::int64_t position_;
};

}  // namespace

MemoryStore::MemoryStore() : shared_(std::make_shared<Shared>()) {}

Result<std::optional<KeyValue>> MemoryStore::get(const std::string& key) {
  std::lock_guard lock(shared_->mu);
  return shared_->state.get(key);
}

Result<ListResult> MemoryStore::list(const std::string& prefix) {
  std::lock_guard lock(shared_->mu);
  return shared_->state.list(prefix);
}

Result<TxnResult> MemoryStore::commit(const Txn& txn) {
  IPF_TRY(validate_txn(txn));
  std::lock_guard lock(shared_->mu);
  Change change;
  TxnResult result = shared_->state.evaluate(txn, &change);
  if (result.succeeded && !change.events.empty()) {
    if (auto status = shared_->state.apply(change); !status.ok())
      return status.error().wrap("memory store");  // cannot happen: evaluate made it fit
    shared_->changed.notify_all();
  }
  return result;
}

Result<std::unique_ptr<Watch>> MemoryStore::watch(const std::string& prefix,
                                                  std::int64_t after_revision) {
  std::lock_guard lock(shared_->mu);
  IPF_TRY(shared_->state.check_watchable(after_revision));
  return std::unique_ptr<Watch>(std::make_unique<MemoryWatch>(shared_, prefix, after_revision));
}

void MemoryStore::compact(std::int64_t revision) {
  std::lock_guard lock(shared_->mu);
  shared_->state.compact(revision);
}

}  // namespace ipfence::store
