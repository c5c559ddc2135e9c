#include "ipam/store/memory_store.h"

#include <algorithm>
#include <set>

namespace ipfence::store {
Error compacted_error(std::int64_t after_revision, std::int64_t compact_revision) {
  return make_error(ErrorCode::compacted,
                    "revision " + std::to_string(after_revision) +
                        " has been compacted (history starts after revision " +
                        std::to_string(compact_revision) + "); list again and watch from there");
}

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
    : index_(revision), compact_revision_(revision) {
  for (auto& [key, kv] : kvs)
    index_.insert(key, {kv.create_revision, kv.mod_revision, kv.version, std::move(kv.value)});
  index_.compact_keys();
}

std::optional<KeyValue> KvState::get(const std::string& key) const {
  const auto* entry = index_.find(key);
  if (!entry) return std::nullopt;
  return KeyValue{key, entry->value, entry->create_revision(), entry->mod_revision(),
                  entry->version()};
}

ListResult KvState::list(const std::string& prefix) const {
  ListResult result;
  result.revision = index_.revision();
  index_.for_each(prefix, [&](std::string_view key, const auto& entry) {
    result.kvs.push_back(KeyValue{std::string(key), entry.value, entry.create_revision(),
                                  entry.mod_revision(), entry.version()});
  });
  return result;
}

Status KvState::apply(const Change& change) {
  IPF_TRY(index_.check(change));
  index_.apply(
      change, [&](std::size_t i) { return change.events[i].kv.value; }, [](const std::string&) {});
  history_.push_back(change);
  return {};
}

void KvState::compact(std::int64_t revision) {
  revision = std::clamp(revision, compact_revision_, this->revision());
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
  if (after_revision >= revision()) return events;
  // history_ is consecutive, so the first change after `after_revision` is at this index.
  for (auto it = history_.begin() + (after_revision - compact_revision_); it != history_.end();
       ++it)
    for (const auto& event : it->events)
      if (has_prefix(event.kv.key, prefix)) events.push_back(event);
  return events;
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
