// The backends that the store contract suite (store_contract_test.cpp) runs against. To add
// one (etcd), write a StoreHarness for it and add a line to store_backends().
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ipam/store/file_store.h"
#include "ipam/store/memory_store.h"
#include "ipam/store/store.h"
#include "tests/unit/store/temp_dir.h"

namespace ipfence::store::testing {

// One store under test, plus what the contract needs beyond the Store interface.
class StoreHarness {
 public:
  virtual ~StoreHarness() = default;
  virtual Store& store() = 0;
  // Another client of the same data: another process's view for file, another connection
  // for etcd. Its commits must be visible to store() and the other way round.
  virtual std::unique_ptr<Store> second_client() = 0;
  // Forgets history up to `revision` (a backend may keep less, never more).
  virtual Status compact(std::int64_t revision) = 0;
};

struct StoreBackend {
  std::string name;
  std::function<std::unique_ptr<StoreHarness>()> make;
};

// A Store that forwards to another one it does not own.
class ForwardingStore final : public Store {
 public:
  explicit ForwardingStore(Store& target) : target_(target) {}
  Result<std::optional<KeyValue>> get(const std::string& key) override { return target_.get(key); }
  Result<ListResult> list(const std::string& prefix) override { return target_.list(prefix); }
  Result<TxnResult> commit(const Txn& txn) override { return target_.commit(txn); }
  Result<std::unique_ptr<Watch>> watch(const std::string& prefix,
                                       std::int64_t after_revision) override {
    return target_.watch(prefix, after_revision);
  }
  std::string describe() const override { return target_.describe(); }

 private:
  Store& target_;
};

class MemoryHarness final : public StoreHarness {
 public:
  Store& store() override { return store_; }
  // One in-process store has no second view; sharing it still checks watch wake-ups.
  std::unique_ptr<Store> second_client() override {
    return std::make_unique<ForwardingStore>(store_);
  }
  Status compact(std::int64_t revision) override {
    store_.compact(revision);
    return {};
  }

 private:
  MemoryStore store_;
};

class FileHarness final : public StoreHarness {
 public:
  FileHarness() {
    auto opened = FileStore::open(dir_.store_dir(), options());
    if (!opened.ok()) throw std::runtime_error(opened.error().message);
    store_ = std::move(opened).value();
  }
  Store& store() override { return *store_; }
  std::unique_ptr<Store> second_client() override {
    auto opened = FileStore::open(dir_.store_dir(), options());
    if (!opened.ok()) throw std::runtime_error(opened.error().message);
    return std::move(opened).value();
  }
  Status compact(std::int64_t revision) override { return store_->compact(revision); }

 private:
  static FileStore::Options options() {
    FileStore::Options options;
    options.log = [](std::string_view) {};
    return options;
  }
  TempDir dir_;
  std::unique_ptr<FileStore> store_;
};

inline std::vector<StoreBackend> store_backends() {
  return {
      {"memory", [] { return std::make_unique<MemoryHarness>(); }},
      {"file", [] { return std::make_unique<FileHarness>(); }},
  };
}

}  // namespace ipfence::store::testing
