#include "ipam/store/store.h"

#include <algorithm>

#include "ipam/store/etcd_module.h"
#include "ipam/store/etcd_url.h"
#include "ipam/store/file_store.h"
#include "ipam/store/memory_store.h"

namespace ipfence::store {

Result<std::int64_t> Store::list_each(const std::vector<std::string>& prefixes,
                                      const std::function<void(const KeyValue& kv)>& each) {
  // One list, so that every prefix is seen at one revision: of the prefix itself when there is
  // one, else of everything (a store without a listing of its own is a remote one, etcd, whose
  // list is one range request either way).
  IPF_ASSIGN_OR_RETURN(auto listed, list(prefixes.size() == 1 ? prefixes.front() : ""));
  for_each_under(listed, prefixes, each);
  return listed.revision;
}

void for_each_under(const ListResult& list, const std::vector<std::string>& prefixes,
                    const std::function<void(const KeyValue& kv)>& each) {
  for (const auto& prefix : prefixes) {
    auto it = std::lower_bound(list.kvs.begin(), list.kvs.end(), prefix,
                               [](const KeyValue& kv, const std::string& p) { return kv.key < p; });
    for (; it != list.kvs.end() && it->key.starts_with(prefix); ++it) each(*it);
  }
}

Result<std::int64_t> Store::create(const std::string& key, const std::string& value) {
  IPF_ASSIGN_OR_RETURN(auto result, commit(Txn{{Compare::absent(key)}, {Op::put(key, value)}}));
  if (!result.succeeded) return make_error(ErrorCode::already_exists, "key " + key + " exists");
  return result.revision;
}

Result<std::int64_t> Store::update(const std::string& key, const std::string& value,
                                   std::int64_t expected_mod_revision) {
  IPF_ASSIGN_OR_RETURN(auto result, commit(Txn{{Compare::unchanged(key, expected_mod_revision)},
                                               {Op::put(key, value)}}));
  if (!result.succeeded)
    return make_error(ErrorCode::conflict, "key " + key +
                                               " changed or was deleted after mod_revision " +
                                               std::to_string(expected_mod_revision));
  return result.revision;
}

Result<std::int64_t> Store::remove(const std::string& key, std::int64_t expected_mod_revision) {
  IPF_ASSIGN_OR_RETURN(
      auto result, commit(Txn{{Compare::unchanged(key, expected_mod_revision)}, {Op::del(key)}}));
  if (!result.succeeded)
    return make_error(ErrorCode::conflict, "key " + key +
                                               " changed or was deleted after mod_revision " +
                                               std::to_string(expected_mod_revision));
  return result.revision;
}

namespace {

constexpr std::string_view kAcceptedForms =
    "use file:///path/to/dir (or an absolute path such as /var/lib/ipfence), "
    "etcd://host:port[,host:port...] (etcds:// for TLS), or memory:// (in-process, for tests)";

Error bad_url(const std::string& url, std::string_view why) {
  return make_error(ErrorCode::invalid_argument, "store URL \"" + url + "\" " + std::string(why) +
                                                     ": " + std::string(kAcceptedForms));
}

Result<std::unique_ptr<Store>> open_file_store(const std::string& url, const std::string& path) {
  if (path.empty() || path.front() != '/')
    return bad_url(url, "does not name an absolute directory");
  IPF_ASSIGN_OR_RETURN(auto store, FileStore::open(path));
  return std::unique_ptr<Store>(std::move(store));
}

}  // namespace

Result<std::unique_ptr<Store>> open_store(const std::string& url) {
  const std::string_view view = url;
  if (view.starts_with("file://")) {
    std::string rest(view.substr(7));
    // file://localhost/path is the other spelling RFC 8089 allows; any other host is not us.
    if (rest.starts_with("localhost/")) rest.erase(0, 9);
    return open_file_store(url, rest);
  }
  if (view.starts_with("/")) return open_file_store(url, url);
  if (view == "memory://" || view == "memory:")
    return std::unique_ptr<Store>(std::make_unique<MemoryStore>());
  if (view.starts_with("etcd://") || view.starts_with("etcds://")) {
    // A malformed URL is reported without loading the etcd module (etcd_module.h).
    IPF_TRY(etcd::parse_url(url));
    return etcd_module::open(url);
  }
  return bad_url(url, url.empty() ? "is empty" : "has an unknown form");
}

}  // namespace ipfence::store
