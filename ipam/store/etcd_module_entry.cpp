// The two symbols libipfence-etcd.so exports (etcd_module.h); everything else in it, its copy
// of the store code included, is local to it (linked with --exclude-libs,ALL).
#include "ipam/store/etcd_module.h"
#include "ipam/store/etcd_store.h"
#include "ipam/store/etcd_url.h"

using ipfence::Error;
using ipfence::store::EtcdStore;
using ipfence::store::Store;

extern "C" __attribute__((visibility("default"))) const char* ipfence_etcd_module_abi() {
  return ipfence::store::etcd_module::abi();
}

extern "C" __attribute__((visibility("default"))) void ipfence_etcd_open_store(
    const std::string* url, std::unique_ptr<Store>* store, Error* error) {
  auto options = ipfence::store::etcd::parse_url(*url);
  if (!options.ok()) {
    *error = options.error();
    return;
  }
  auto opened = EtcdStore::open(std::move(*options));
  if (!opened.ok()) {
    *error = opened.error();
    return;
  }
  *store = std::move(*opened);
}

// The loader and the entry must agree on the signatures (etcd_module.h).
static_assert(
    std::is_same_v<decltype(&ipfence_etcd_module_abi), ipfence::store::etcd_module::AbiFunction>);
static_assert(
    std::is_same_v<decltype(&ipfence_etcd_open_store), ipfence::store::etcd_module::OpenFunction>);
