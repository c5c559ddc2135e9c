// The cluster store: etcd v3, through its JSON gateway (etcd_http.h), under a key prefix
// (default /ipfence/), so that every node's agent shares one view.
//
// The Store semantics map one to one onto etcd's: revisions, create/mod revision and version
// are etcd's own; commit() is one etcd Txn (compares VERSION/MOD EQUAL, ops put/delete); its
// failure branch reads the compared keys so that failed_keys comes from the same revision
// the compares saw. list() pages through a range pinned at the revision of its first page,
// so big lists are one consistent snapshot. watch() is etcd_watch.h.
#pragma once

#include <memory>
#include <string>
#include <type_traits>

#include "ipam/store/etcd_http.h"
#include "ipam/store/etcd_url.h"
#include "ipam/store/store.h"

namespace ipfence::store {

class EtcdStore final : public Store {
 public:
  // Asks etcd for its status first, so that a wrong or unreachable cluster fails here
  // (ErrorCode::unavailable naming the endpoints) and not at the first allocation.
  static Result<std::unique_ptr<EtcdStore>> open(etcd::StoreOptions options);

  Result<std::optional<KeyValue>> get(const std::string& key) override;
  Result<ListResult> list(const std::string& prefix) override;
  Result<TxnResult> commit(const Txn& txn) override;
  Result<std::unique_ptr<Watch>> watch(const std::string& prefix,
                                       std::int64_t after_revision) override;
  std::string describe() const override;
  bool shared() const override { return true; }
  std::vector<std::string> endpoints() const override { return options_.client.endpoints; }

  // Compacts etcd's history up to `revision` (for the whole cluster, not only our prefix):
  // watches from before it get ErrorCode::compacted. Compacting what is already compacted
  // succeeds.
  Status compact(std::int64_t revision);

 private:
  EtcdStore(etcd::StoreOptions options, std::shared_ptr<etcd::HttpClient> http);
  std::string absolute(const std::string& key) const { return options_.prefix + key; }

  etcd::StoreOptions options_;
  std::shared_ptr<etcd::HttpClient> http_;  // watches hold it too, so they may outlive us
};

static_assert(!std::is_abstract_v<EtcdStore>);

}  // namespace ipfence::store
