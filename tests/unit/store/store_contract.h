// The backends that the store contract suite (store_contract_test.cpp) runs against. To add
// one, write a StoreHarness for it and add a line to store_backends().
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include "ipam/store/etcd_store.h"
#include "ipam/store/file_store.h"
#include "ipam/store/memory_store.h"
#include "ipam/store/store.h"
#include "tests/unit/store/etcd_process.h"
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
  // Non-empty: why this backend cannot run here (the suite skips it with this message).
  std::function<std::string()> skip_reason = [] { return std::string(); };
};

// gtest prints a parameter in test names and ctest listings: the backend's name, not bytes.
inline void PrintTo(const StoreBackend& backend, std::ostream* out) {
  *out << backend.name;
}

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

// One etcd for the whole test process (started on first use, killed at exit); every
// harness works under its own key prefix, so tests do not see each other's keys. Revisions
// are shared, so the contract compares them relative to a revision it read, never to 0.
inline EtcdProcess& shared_etcd() {
  static EtcdProcess etcd;
  static const bool started = (etcd.start(), true);
  (void)started;
  return etcd;
}

class EtcdHarness final : public StoreHarness {
 public:
  EtcdHarness() : store_(open()) {}
  Store& store() override { return *store_; }
  std::unique_ptr<Store> second_client() override { return open(); }
  Status compact(std::int64_t revision) override { return store_->compact(revision); }

  static std::string skip_reason() {
    return EtcdProcess::binary() ? ""
                                 : "no etcd binary (install etcd-server with scripts/deps.sh, "
                                   "or set IPFENCE_ETCD): the etcd backend is not tested here";
  }

 private:
  std::unique_ptr<EtcdStore> open() {
    auto options = etcd::parse_url(shared_etcd().url("?prefix=" + prefix_));
    if (!options.ok()) throw std::runtime_error(options.error().message);
    auto opened = EtcdStore::open(*options);
    if (!opened.ok()) throw std::runtime_error(opened.error().message);
    return std::move(opened).value();
  }

  static inline std::atomic<int> harnesses_{0};
  const std::string prefix_ =
      "/ipfence-test/" + std::to_string(::getpid()) + "-" + std::to_string(++harnesses_) + "/";
  std::unique_ptr<EtcdStore> store_;
};

inline std::vector<StoreBackend> store_backends() {
  return {
      {"memory", [] { return std::make_unique<MemoryHarness>(); }},
      {"file", [] { return std::make_unique<FileHarness>(); }},
      {"etcd", [] { return std::make_unique<EtcdHarness>(); }, EtcdHarness::skip_reason},
  };
}

}  // namespace ipfence::store::testing
