#include "agent/conflict/record_limit.h"

#include <algorithm>

#include "ipam/conflict_model.h"

namespace ipfence::agent {

std::vector<std::pair<std::string, std::int64_t>> records_to_evict(const ipam::ClusterState& state,
                                                                   const std::string& ip,
                                                                   const std::string& mac) {
  const auto& conflicts = state.conflicts();
  if (conflicts.count(ipam::keys::conflict(ip, mac))) return {};
  // conflicts/<ip>/<mac>: an address's records are adjacent in the map.
  const std::string prefix = std::string(ipam::keys::kConflicts) + ip + "/";
  std::vector<std::pair<std::string, const ipam::StoredRecord<ipam::ConflictRecord>*>> mine;
  for (auto it = conflicts.lower_bound(prefix);
       it != conflicts.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it)
    mine.emplace_back(it->first, &it->second);
  if (mine.size() < kMaxMacsPerAddress) return {};
  // Oldest first: RFC 3339 times of one format sort as text.
  std::sort(mine.begin(), mine.end(), [](const auto& a, const auto& b) {
    return a.second->record.last_seen < b.second->record.last_seen;
  });
  std::vector<std::pair<std::string, std::int64_t>> evict;
  for (std::size_t i = 0; i + kMaxMacsPerAddress <= mine.size(); ++i)
    evict.emplace_back(mine[i].first, mine[i].second->mod_revision);
  return evict;
}

Result<std::size_t> evict_records(
    store::Store& store, const std::vector<std::pair<std::string, std::int64_t>>& records) {
  std::size_t evicted = 0;
  for (const auto& [key, revision] : records) {
    store::Txn txn;
    txn.compares.push_back(store::Compare::unchanged(key, revision));
    txn.ops.push_back(store::Op::del(key));
    IPF_ASSIGN_OR_RETURN(auto committed, store.commit(txn));
    if (committed.succeeded) ++evicted;
  }
  return evicted;
}

}  // namespace ipfence::agent
