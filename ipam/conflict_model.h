// Records of the conflict watch (issue 5), kept in the store beside the IPAM objects so that
// every node and `ipfencectl get conflicts` see them:
//
//   conflicts/<ip>/<mac>     one per (address, claiming MAC): what kind, seen where, how often
//   quarantine/<pool>/<ip>   an address of a pool that an outside host uses while nobody holds
//                            it: never allocated until released (by a quiet period with no
//                            sighting, or `ipfencectl quarantine release IP`)
//
// Like allocations these are written with create-if-absent / mod_revision compares; the JSON
// field names follow the rest of the store (camelCase).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace ipfence::ipam {

// What a sighting means (RFC 5227 2.1.1 and 2.4, RFC 4862 5.4.3 and 5.4.4).
enum class ConflictKind : std::uint8_t {
  pod,       // the address is allocated to a pod, and another MAC uses it
  probe,     // an ARP probe / DAD for an allocated address, from another MAC
  squatter,  // the address is in a pool, unallocated and not reserved: quarantined
  reserved,  // the address is reserved: expected (the reservation is for that host)
};

std::string_view conflict_kind_name(ConflictKind kind);
// nullopt-like: false when `name` is not a kind name.
bool parse_conflict_kind(std::string_view name, ConflictKind& kind);

struct ConflictRecord {
  std::string ip;   // canonical, no prefix
  std::string mac;  // the claiming MAC, lower case
  ConflictKind kind = ConflictKind::pod;
  std::string pool;        // "" when the address is in no pool (a reserved one)
  std::string holder;      // "<namespace>/<pod>" holding the address, "" if none
  std::string holder_mac;  // that pod's MAC
  std::string node;        // the node that saw it last
  std::string master;      // on which master
  std::string first_seen;  // RFC 3339, milliseconds
  std::string last_seen;
  std::uint64_t count = 0;  // sightings reported (after the watcher's deduplication)
  bool operator==(const ConflictRecord&) const = default;
};

struct QuarantineRecord {
  std::string ip;
  std::string pool;
  std::string mac;    // who used it
  std::string node;   // who quarantined it
  std::string since;  // RFC 3339
  std::string last_seen;
  bool operator==(const QuarantineRecord&) const = default;
};

void to_json(nlohmann::json& j, const ConflictRecord& r);
void from_json(const nlohmann::json& j, ConflictRecord& r);
void to_json(nlohmann::json& j, const QuarantineRecord& r);
void from_json(const nlohmann::json& j, QuarantineRecord& r);

namespace keys {
inline constexpr const char* kConflicts = "conflicts/";
inline constexpr const char* kQuarantine = "quarantine/";
std::string conflict(const std::string& ip, const std::string& mac);
std::string quarantine(const std::string& pool, const std::string& ip);
}  // namespace keys

}  // namespace ipfence::ipam
