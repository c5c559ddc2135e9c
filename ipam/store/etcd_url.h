// The etcd store URL:
//
//   etcd://host:port[,host:port...][/][?option=value&...]      (etcds:// = https)
//
// Options: prefix (key prefix in etcd, default /ipfence/), timeout (per request, "5s",
// "500ms"; default 5s), cacert, cert, key (TLS files; any of them means https). A host
// without a port gets etcd's 2379. Values may be percent-encoded.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "ipam/result.h"
#include "ipam/store/etcd_http.h"

namespace ipfence::store::etcd {

struct StoreOptions {
  ClientOptions client;
  std::string prefix = "/ipfence/";
  // etcd's default --max-txn-ops: a larger transaction is refused before it is sent, with
  // a message that names the limit, rather than with etcd's "too many operations".
  std::size_t max_txn_ops = 128;
  // Keys per range request when listing, so a big pool is not one huge answer.
  std::int64_t list_page = 1000;
};

// ErrorCode::invalid_argument naming the URL and what is wrong with it.
Result<StoreOptions> parse_url(std::string_view url);

// The URL again, without the TLS file paths: for describe().
std::string describe(const StoreOptions& options);

}  // namespace ipfence::store::etcd
