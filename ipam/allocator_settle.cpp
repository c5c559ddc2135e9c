// The allocator's answers to doubt: a commit whose outcome is unknown, or a view that
// disagrees with the store. In both cases the store is read back, key by key, instead of
// guessing (a retry that guessed "not applied" would hand out a second IP; one that guessed
// "applied" would return an IP nobody holds).
#include <algorithm>
#include <set>

#include "ipam/allocator.h"

namespace ipfence::ipam {
namespace {

// A commit that failed this way may have reached the store and applied: etcd timed out, or
// the connection broke after the request was sent (etcd_http.h). A failure before sending
// (nothing reachable) reads the same; treating it as unknown costs one read.
bool outcome_unknown(const Error& error) {
  return error.code == ErrorCode::unavailable || error.code == ErrorCode::io;
}

}  // namespace

Result<bool> Allocator::refresh_key(const std::string& key) {
  // A list rather than a get: its revision dates an absence, so that the view can record
  // the delete without hiding a later re-create (ClusterState ignores older changes per key).
  // No put to the key can fall between the delete and the list's revision: it would show.
  IPF_ASSIGN_OR_RETURN(auto listed, store_.list(key));
  auto found = std::find_if(listed.kvs.begin(), listed.kvs.end(),
                            [&](const store::KeyValue& kv) { return kv.key == key; });
  if (found == listed.kvs.end()) {
    state_.apply_delete(key, listed.revision);
    return false;
  }
  state_.apply_put(found->key, found->value, found->mod_revision, found->create_revision);
  return true;
}

Result<bool> Allocator::refresh_attachment(const std::string& container_id,
                                           const std::string& ifname) {
  IPF_ASSIGN_OR_RETURN(bool present, refresh_key(keys::attachment(container_id, ifname)));
  if (!present) return false;
  const StoredAttachment* stored = state_.attachment(container_id, ifname);
  if (!stored)
    return make_error(ErrorCode::corrupt,
                      "attachment " + container_id + "/" + ifname + " in the store cannot be read");
  const std::vector<Attachment::Ip> ips = stored->attachment().ips;
  for (const auto& held : ips) IPF_TRY(refresh_key(keys::ip(held.pool, held.ip)));
  return true;
}

Status Allocator::refresh_pool_allocations(const std::string& pool) {
  IPF_ASSIGN_OR_RETURN(auto listed, store_.list(keys::ips_of_pool(pool)));
  std::set<std::string> present;
  for (const auto& kv : listed.kvs) {
    state_.apply_put(kv.key, kv.value, kv.mod_revision, kv.create_revision);
    present.insert(kv.key);
  }
  // What the view holds and the store no longer does was released meanwhile.
  std::vector<std::string> gone;
  if (const PoolState* state = state_.pool(pool))
    for (const auto& [value, stored] : state->allocations) {
      const std::string key = keys::ip(pool, stored.allocation(stored.record.ip(value)).ip);
      if (!present.count(key)) gone.push_back(key);
    }
  for (const auto& key : gone) state_.apply_delete(key, listed.revision);
  return {};
}

Result<AllocateResult> Allocator::settle_allocation(const Attachment& attachment,
                                                    const Error& failure, bool& retry) {
  if (!outcome_unknown(failure)) return failure;
  auto present = refresh_attachment(attachment.container_id, attachment.ifname);
  if (!present)
    return make_error(ErrorCode::unavailable,
                      failure.message +
                          "; reading back whether the allocation was applied failed too (" +
                          present.error().message +
                          "): its outcome is unknown until the store answers; a retried ADD "
                          "returns the same IPs if it was applied");
  if (!*present) {
    // Not applied, so far. Should it still apply later, it cannot do so next to a new
    // attempt's transaction: both compare the attachment key absent, so one of them fails.
    if (++unknown_outcomes_ >= options_.max_unknown_outcomes) return failure;
    retry = true;
    return failure;
  }
  // Applied: ours, or an earlier request's for the same attachment whose answer was lost
  // (then it holds other IPs, or the same by chance: either way the attachment's IPs).
  const StoredAttachment* stored = state_.attachment(attachment.container_id, attachment.ifname);
  const Attachment held = stored->attachment();
  const bool ours = held.ips == attachment.ips;
  if (ours)
    for (const auto& held : attachment.ips)
      cursors_[held.pool] = IpAddress::parse(held.ip)->value();
  return result_of(held, !ours);
}

Result<bool> Allocator::settle_release(const store::Txn& txn, const std::string& container_id,
                                       const std::string& ifname, std::int64_t mod_revision,
                                       const Error& failure) {
  if (!outcome_unknown(failure)) return failure;
  const std::string attachment_key = keys::attachment(container_id, ifname);
  auto present = refresh_key(attachment_key);
  if (!present)
    return make_error(ErrorCode::unavailable,
                      failure.message +
                          "; reading back whether the release was applied failed too (" +
                          present.error().message +
                          "): its outcome is unknown until the store answers; retry the DEL");
  const StoredAttachment* stored = state_.attachment(container_id, ifname);
  if (*present && stored && stored->mod_revision() == mod_revision) {
    // Not applied: the caller tries again, unless the store keeps failing.
    if (++unknown_outcomes_ >= options_.max_unknown_outcomes) return failure;
    return false;
  }
  // Gone (by this release, or released elsewhere meanwhile) or changed: bring the IP keys
  // up to date too, so the view does not keep them as held.
  for (const auto& op : txn.ops)
    if (op.key != attachment_key) IPF_TRY(refresh_key(op.key));
  return !*present;
}

}  // namespace ipfence::ipam
