#include "ipam/store/etcd_store.h"

#include <algorithm>

#include "ipam/store/etcd_codec.h"
#include "ipam/store/etcd_watch.h"
#include "ipam/store/memory_store.h"  // validate_txn: the same rules for every backend

namespace ipfence::store {
namespace {

// [key, range_end) of every key under an absolute prefix. etcd has no empty key: "\0" with
// range_end "\0" is its spelling of "all keys".
etcd::RangeRequest prefix_range(const std::string& absolute_prefix) {
  etcd::RangeRequest range;
  range.key = absolute_prefix.empty() ? std::string(1, '\0') : absolute_prefix;
  range.range_end = etcd::prefix_end(absolute_prefix);
  return range;
}

bool is_future_revision(const Error& error) {
  return error.code == ErrorCode::invalid_argument &&
         error.message.find("future revision") != std::string::npos;
}

}  // namespace

EtcdStore::EtcdStore(etcd::StoreOptions options, std::shared_ptr<etcd::HttpClient> http)
    : options_(std::move(options)), http_(std::move(http)) {}

Result<std::unique_ptr<EtcdStore>> EtcdStore::open(etcd::StoreOptions options) {
  auto http = std::make_shared<etcd::HttpClient>(options.client);
  IPF_ASSIGN_OR_RETURN(auto status, http->post("/v3/maintenance/status", "{}", etcd::Resend::safe));
  IPF_TRY(etcd::parse_header_revision(status));
  return std::unique_ptr<EtcdStore>(new EtcdStore(std::move(options), std::move(http)));
}

std::string EtcdStore::describe() const {
  return etcd::describe(options_);
}

Result<std::optional<KeyValue>> EtcdStore::get(const std::string& key) {
  etcd::RangeRequest range;
  range.key = absolute(key);
  IPF_ASSIGN_OR_RETURN(auto body,
                       http_->post("/v3/kv/range", etcd::range_body(range), etcd::Resend::safe));
  IPF_ASSIGN_OR_RETURN(auto answer, etcd::parse_range(body, options_.prefix));
  if (answer.kvs.empty()) return std::optional<KeyValue>();
  return std::optional<KeyValue>(std::move(answer.kvs.front()));
}

Result<ListResult> EtcdStore::list(const std::string& prefix) {
  // Pages after the first read at the first one's revision: one snapshot. Should that
  // revision be compacted between two pages, the list starts over at the current one.
  for (int attempt = 0;; ++attempt) {
    ListResult out;
    etcd::RangeRequest range = prefix_range(absolute(prefix));
    range.limit = options_.list_page;
    Error failure;
    bool failed = false;
    while (true) {
      auto body = http_->post("/v3/kv/range", etcd::range_body(range), etcd::Resend::safe);
      if (!body.ok()) {
        failure = body.error();
        failed = true;
        break;
      }
      IPF_ASSIGN_OR_RETURN(auto page, etcd::parse_range(*body, options_.prefix));
      if (range.revision == 0) out.revision = range.revision = page.revision;
      for (auto& kv : page.kvs) out.kvs.push_back(std::move(kv));
      if (!page.more || out.kvs.empty()) return out;
      range.key = absolute(out.kvs.back().key) + std::string(1, '\0');
    }
    if (!failed || failure.code != ErrorCode::compacted || attempt == 2) return failure;
  }
}

Result<TxnResult> EtcdStore::commit(const Txn& txn) {
  IPF_TRY(validate_txn(txn));
  const std::size_t largest =
      std::max({txn.ops.size(), txn.compares.size(), etcd::txn_failure_ops(txn)});
  if (largest > options_.max_txn_ops)
    return make_error(ErrorCode::invalid_argument,
                      "transaction with " + std::to_string(txn.ops.size()) + " ops and " +
                          std::to_string(txn.compares.size()) + " compares: etcd allows at most " +
                          std::to_string(options_.max_txn_ops) +
                          " of each in one transaction (its --max-txn-ops)");
  // Not resent after a failure in flight: the outcome is unknown, and a resent
  // create-if-absent would report our own write as someone else's.
  IPF_ASSIGN_OR_RETURN(auto body, http_->post("/v3/kv/txn", etcd::txn_body(txn, options_.prefix),
                                              etcd::Resend::unsafe));
  return etcd::parse_txn(body, txn, options_.prefix);
}

Result<std::unique_ptr<Watch>> EtcdStore::watch(const std::string& prefix,
                                                std::int64_t after_revision) {
  const etcd::RangeRequest span = prefix_range(absolute(prefix));
  // etcd reports a compacted start revision on the stream, after up to 100 ms (its sync
  // loop). A range at the start revision fails the same way at once: ask that first, so
  // the caller learns it here. A revision in the future is fine for a watch.
  etcd::RangeRequest probe = span;
  probe.revision = after_revision + 1;
  probe.count_only = true;
  auto probed = http_->post("/v3/kv/range", etcd::range_body(probe), etcd::Resend::safe);
  if (!probed.ok() && !is_future_revision(probed.error())) {
    if (probed.error().code != ErrorCode::compacted) return probed.error();
    return make_error(ErrorCode::compacted,
                      "watch from revision " + std::to_string(after_revision + 1) + ": " +
                          probed.error().message + "; list again and watch from there");
  }
  return etcd::start_watch(
      http_, etcd::WatchTarget{span.key, span.range_end, options_.prefix, after_revision});
}

Status EtcdStore::compact(std::int64_t revision) {
  auto body = http_->post("/v3/kv/compaction", etcd::compaction_body(revision), etcd::Resend::safe);
  if (!body.ok() && body.error().code == ErrorCode::compacted) return {};
  if (!body.ok()) return body.error();
  return {};
}

}  // namespace ipfence::store
