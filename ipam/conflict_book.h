// Writes the conflict watch's records to the store (ipam/conflict_model.h): one record per
// (address, MAC) with a sighting count, and quarantine entries for squatted pool addresses.
//
// Each write is one transaction with compares, so that agents on several nodes that see the
// same outside host do not lose each other's counts: a failed compare re-reads and retries.
// Quarantine is create-if-absent and also requires the address's allocation key to be absent:
// an address a pod holds is never quarantined. (An allocation racing with a quarantine may
// still win: the allocator does not compare quarantine keys. The next sighting then shows as
// a `pod` conflict, which is what it is.)
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "ipam/cluster_state.h"
#include "ipam/conflict_model.h"
#include "ipam/result.h"
#include "ipam/store/store.h"

namespace ipfence::ipam {

struct Sighting {
  std::string ip;  // canonical
  std::string mac;
  ConflictKind kind = ConflictKind::pod;
  std::string pool;
  std::string holder;
  std::string holder_mac;
  std::string node;
  std::string master;
  std::chrono::system_clock::time_point when;
};

class ConflictBook {
 public:
  explicit ConflictBook(store::Store& store) : store_(store) {}

  // Adds one sighting to conflicts/<ip>/<mac>: creates it (count 1) or bumps count and
  // last-seen. Returns the record as written.
  Result<ConflictRecord> record(const Sighting& sighting);

  enum class QuarantineOutcome {
    quarantined,    // a new quarantine entry
    refreshed,      // it was quarantined already: last-seen moved on
    held,           // a pod holds the address now: not quarantined
    limit_reached,  // the pool has `max_per_pool` entries already: not quarantined
  };
  // Quarantines sighting.ip in sighting.pool unless a pod holds it or the pool already has
  // `max_per_pool` quarantined addresses (a flood of random senders must not empty a pool);
  // `in_pool` is how many it has now (ClusterState::quarantined_count).
  Result<QuarantineOutcome> quarantine(const Sighting& sighting, std::size_t in_pool,
                                       std::size_t max_per_pool);

  // Deletes the entries of `quarantine` (ClusterState::quarantine(), or a copy of it) whose
  // last sighting is older than `quiet`; returns them.
  using QuarantineMap = std::map<std::string, StoredRecord<QuarantineRecord>>;
  Result<std::vector<QuarantineRecord>> release_quiet(const QuarantineMap& quarantine,
                                                      std::chrono::seconds quiet,
                                                      std::chrono::system_clock::time_point now);

  // `ipfencectl quarantine release IP`: deletes the entry for `ip` in whatever pool.
  // ErrorCode::not_found naming the IP when it is not quarantined.
  Result<QuarantineRecord> release(const std::string& ip);

 private:
  store::Store& store_;
};

std::string_view quarantine_outcome_name(ConflictBook::QuarantineOutcome outcome);

}  // namespace ipfence::ipam
