// At most kMaxMacsPerAddress conflict records (and ipfence_conflict_active series) per
// address: the most recently seen MACs. Records are kept per (address, MAC) and were never
// removed, so an outside host that floods ARP from a random MAC per frame (the watcher reports
// each new MAC at once, by design) added a store record, a copy in every agent's view and an
// active series per frame it got through: bench_flood --random-macs measured 9,654 records
// and +54 MiB agent RSS after 3 s. With the limit, records are bounded by the pools' and
// reserved addresses times kMaxMacsPerAddress. A real conflict is the latest MAC on its
// address, so it is the one kept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "ipam/cluster_state.h"
#include "ipam/result.h"
#include "ipam/store/store.h"

namespace ipfence::agent {

inline constexpr std::size_t kMaxMacsPerAddress = 8;

// Store keys and mod revisions of `ip`'s records to delete before a sighting from `mac` is
// recorded: the least recently seen ones beyond kMaxMacsPerAddress - 1 others. None when
// (ip, mac) has a record already.
std::vector<std::pair<std::string, std::int64_t>> records_to_evict(const ipam::ClusterState& state,
                                                                   const std::string& ip,
                                                                   const std::string& mac);

// Deletes them, each only if unchanged since (a record updated meanwhile stays). Returns how
// many went.
Result<std::size_t> evict_records(store::Store& store,
                                  const std::vector<std::pair<std::string, std::int64_t>>& records);

}  // namespace ipfence::agent
