#include "ipam/conflict_model.h"

#include <array>
#include <stdexcept>
#include <utility>

namespace ipfence::ipam {

using nlohmann::json;

namespace {

constexpr std::array<std::pair<ConflictKind, std::string_view>, 4> kKindNames{{
    {ConflictKind::pod, "pod"},
    {ConflictKind::probe, "probe"},
    {ConflictKind::squatter, "squatter"},
    {ConflictKind::reserved, "reserved"},
}};

std::string string_or_empty(const json& j, const char* key) {
  auto it = j.find(key);
  return it == j.end() || it->is_null() ? std::string() : it->get<std::string>();
}

}  // namespace

std::string_view conflict_kind_name(ConflictKind kind) {
  for (const auto& [k, name] : kKindNames)
    if (k == kind) return name;
  return "unknown";
}

bool parse_conflict_kind(std::string_view name, ConflictKind& kind) {
  for (const auto& [k, n] : kKindNames)
    if (n == name) {
      kind = k;
      return true;
    }
  return false;
}

void to_json(json& j, const ConflictRecord& r) {
  j = {{"ip", r.ip},
       {"mac", r.mac},
       {"kind", conflict_kind_name(r.kind)},
       {"pool", r.pool},
       {"holder", r.holder},
       {"holderMac", r.holder_mac},
       {"node", r.node},
       {"master", r.master},
       {"firstSeen", r.first_seen},
       {"lastSeen", r.last_seen},
       {"count", r.count}};
}

void from_json(const json& j, ConflictRecord& r) {
  r = ConflictRecord{};
  r.ip = string_or_empty(j, "ip");
  r.mac = string_or_empty(j, "mac");
  // A kind this version does not know is a corrupt record, as any type error is.
  if (!parse_conflict_kind(string_or_empty(j, "kind"), r.kind))
    throw std::invalid_argument("conflict record: unknown kind '" + string_or_empty(j, "kind") +
                                "'");
  r.pool = string_or_empty(j, "pool");
  r.holder = string_or_empty(j, "holder");
  r.holder_mac = string_or_empty(j, "holderMac");
  r.node = string_or_empty(j, "node");
  r.master = string_or_empty(j, "master");
  r.first_seen = string_or_empty(j, "firstSeen");
  r.last_seen = string_or_empty(j, "lastSeen");
  r.count = j.value("count", std::uint64_t{0});
}

void to_json(json& j, const QuarantineRecord& r) {
  j = {{"ip", r.ip},     {"pool", r.pool},   {"mac", r.mac},
       {"node", r.node}, {"since", r.since}, {"lastSeen", r.last_seen}};
}

void from_json(const json& j, QuarantineRecord& r) {
  r = QuarantineRecord{};
  r.ip = string_or_empty(j, "ip");
  r.pool = string_or_empty(j, "pool");
  r.mac = string_or_empty(j, "mac");
  r.node = string_or_empty(j, "node");
  r.since = string_or_empty(j, "since");
  r.last_seen = string_or_empty(j, "lastSeen");
}

namespace keys {
std::string conflict(const std::string& ip, const std::string& mac) {
  return std::string(kConflicts) + ip + "/" + mac;
}
std::string quarantine(const std::string& pool, const std::string& ip) {
  return std::string(kQuarantine) + pool + "/" + ip;
}
}  // namespace keys

}  // namespace ipfence::ipam
