#include "ipam/conflict_book.h"

#include "ipam/clock.h"
#include "ipam/ip_address.h"

namespace ipfence::ipam {
namespace {

// Retries of a read-modify-write that lost a compare to another node. Sightings of one
// (IP, MAC) are at most one per node per dedup interval, so a few rounds always settle.
constexpr int kAttempts = 5;

template <typename T>
Result<T> decode(const store::KeyValue& kv) {
  try {
    return nlohmann::json::parse(kv.value).get<T>();
  } catch (const std::exception& e) {
    return make_error(ErrorCode::corrupt, "store key " + kv.key + ": " + e.what());
  }
}

}  // namespace

std::string_view quarantine_outcome_name(ConflictBook::QuarantineOutcome outcome) {
  switch (outcome) {
    case ConflictBook::QuarantineOutcome::quarantined:
      return "quarantined";
    case ConflictBook::QuarantineOutcome::refreshed:
      return "refreshed";
    case ConflictBook::QuarantineOutcome::held:
      return "held";
    case ConflictBook::QuarantineOutcome::limit_reached:
      return "limit_reached";
  }
  return "unknown";
}

Result<ConflictRecord> ConflictBook::record(const Sighting& s) {
  const std::string key = keys::conflict(s.ip, s.mac);
  const std::string when = rfc3339(s.when);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    IPF_ASSIGN_OR_RETURN(auto existing, store_.get(key));
    ConflictRecord record;
    store::Txn txn;
    if (existing) {
      IPF_ASSIGN_OR_RETURN(record, decode<ConflictRecord>(*existing));
      txn.compares.push_back(store::Compare::unchanged(key, existing->mod_revision));
    } else {
      record.ip = s.ip;
      record.mac = s.mac;
      record.first_seen = when;
      txn.compares.push_back(store::Compare::absent(key));
    }
    // The latest sighting says what the conflict is now (a squatter may since hold a lease).
    record.kind = s.kind;
    record.pool = s.pool;
    record.holder = s.holder;
    record.holder_mac = s.holder_mac;
    record.node = s.node;
    record.master = s.master;
    record.last_seen = when;
    ++record.count;
    txn.ops.push_back(store::Op::put(key, nlohmann::json(record).dump()));
    IPF_ASSIGN_OR_RETURN(auto committed, store_.commit(txn));
    if (committed.succeeded) return record;
  }
  return make_error(ErrorCode::conflict, "conflict record " + key + ": still contended after " +
                                             std::to_string(kAttempts) + " attempts");
}

Result<ConflictBook::QuarantineOutcome> ConflictBook::quarantine(const Sighting& s,
                                                                 std::size_t in_pool,
                                                                 std::size_t max_per_pool) {
  const std::string key = keys::quarantine(s.pool, s.ip);
  const std::string ip_key = keys::ip(s.pool, s.ip);
  const std::string when = rfc3339(s.when);
  for (int attempt = 0; attempt < kAttempts; ++attempt) {
    IPF_ASSIGN_OR_RETURN(auto existing, store_.get(key));
    QuarantineRecord record;
    store::Txn txn;
    txn.compares.push_back(store::Compare::absent(ip_key));
    if (existing) {
      IPF_ASSIGN_OR_RETURN(record, decode<QuarantineRecord>(*existing));
      txn.compares.push_back(store::Compare::unchanged(key, existing->mod_revision));
    } else {
      if (in_pool >= max_per_pool) return QuarantineOutcome::limit_reached;
      record.ip = s.ip;
      record.pool = s.pool;
      record.node = s.node;
      record.since = when;
      txn.compares.push_back(store::Compare::absent(key));
    }
    record.mac = s.mac;
    record.last_seen = when;
    txn.ops.push_back(store::Op::put(key, nlohmann::json(record).dump()));
    IPF_ASSIGN_OR_RETURN(auto committed, store_.commit(txn));
    if (committed.succeeded)
      return existing ? QuarantineOutcome::refreshed : QuarantineOutcome::quarantined;
    for (const auto& failed : committed.failed_keys)
      if (failed == ip_key) return QuarantineOutcome::held;
  }
  return make_error(ErrorCode::conflict, "quarantine " + key + ": still contended after " +
                                             std::to_string(kAttempts) + " attempts");
}

Result<std::vector<QuarantineRecord>> ConflictBook::release_quiet(
    const QuarantineMap& quarantine, std::chrono::seconds quiet,
    std::chrono::system_clock::time_point now) {
  std::vector<QuarantineRecord> released;
  for (const auto& [key, stored] : quarantine) {
    auto last = parse_rfc3339(stored.record.last_seen);
    // An unreadable time is treated as "seen now": never released by accident.
    if (!last || now - *last < quiet) continue;
    store::Txn txn;
    txn.compares.push_back(store::Compare::unchanged(key, stored.mod_revision));
    txn.ops.push_back(store::Op::del(key));
    IPF_ASSIGN_OR_RETURN(auto committed, store_.commit(txn));
    // A failed compare: seen again meanwhile (or released by another node); keep it.
    if (committed.succeeded) released.push_back(stored.record);
  }
  return released;
}

Result<QuarantineRecord> ConflictBook::release(const std::string& ip_text) {
  auto parsed = IpAddress::parse(ip_text);
  if (!parsed)
    return make_error(ErrorCode::invalid_argument,
                      "quarantine release: '" + ip_text + "' is not an IP address");
  const std::string ip = parsed->to_string();
  IPF_ASSIGN_OR_RETURN(auto list, store_.list(keys::kQuarantine));
  for (const auto& kv : list.kvs) {
    if (kv.key.size() < ip.size() + 1 ||
        kv.key.compare(kv.key.size() - ip.size() - 1, std::string::npos, "/" + ip) != 0)
      continue;
    IPF_ASSIGN_OR_RETURN(auto record, decode<QuarantineRecord>(kv));
    store::Txn txn;
    txn.compares.push_back(store::Compare::unchanged(kv.key, kv.mod_revision));
    txn.ops.push_back(store::Op::del(kv.key));
    IPF_ASSIGN_OR_RETURN(auto committed, store_.commit(txn));
    if (!committed.succeeded)
      return make_error(ErrorCode::conflict, "quarantine of " + ip +
                                                 " changed while releasing it; run the command "
                                                 "again");
    return record;
  }
  return make_error(ErrorCode::not_found,
                    "IP " + ip + " is not quarantined (see `ipfencectl get conflicts`)");
}

}  // namespace ipfence::ipam
