// DatapathService's reports: GET /v1/guards and the "guard" section of /v1/status
// (docs/agent-api.md). Read from the maps and the kernel, not from what the agent meant to
// write, so they show what is enforced.
#include <array>

#include "agent/datapath_service.h"

namespace ipfence::agent {
namespace {

using datapath::Reason;
using datapath::Verdict;
using nlohmann::json;

// Always listed, with zeros, so that scripts and the ctl table find every column.
constexpr std::array<Reason, 5> kDropReasons{Reason::reserved, Reason::unallocated,
                                             Reason::mac_mismatch, Reason::spoofed,
                                             Reason::malformed};

json empty_counters() {
  json out = {
      {"dropped", json::object()}, {"monitored", json::object()}, {"passed", json::object()}};
  for (Reason reason : kDropReasons) {
    out["dropped"][std::string(datapath::reason_name(reason))] = 0;
    out["monitored"][std::string(datapath::reason_name(reason))] = 0;
  }
  out["passed"][std::string(datapath::reason_name(Reason::reserved_in_use))] = 0;
  return out;
}

}  // namespace

Result<json> DatapathService::guards_json() const {
  std::lock_guard lock(mu_);
  IPF_ASSIGN_OR_RETURN(auto attached, guard_.attached());
  IPF_ASSIGN_OR_RETURN(auto rows, guard_.counters());
  IPF_ASSIGN_OR_RETURN(auto leases, guard_.leases());
  std::size_t reserved = 0;
  std::size_t pools = 0;
  for (auto map : {datapath::GuardMap::reserved_v4, datapath::GuardMap::reserved_v6}) {
    IPF_ASSIGN_OR_RETURN(auto prefixes, guard_.prefixes(map));
    reserved += prefixes.size();
  }
  for (auto map : {datapath::GuardMap::pools_v4, datapath::GuardMap::pools_v6}) {
    IPF_ASSIGN_OR_RETURN(auto prefixes, guard_.prefixes(map));
    pools += prefixes.size();
  }

  json guards = json::array();
  for (const auto& a : attached) {
    json counters = empty_counters();
    for (const auto& row : rows) {
      if (row.iface != a.key() || row.reason == Reason::none) continue;
      counters[std::string(datapath::verdict_name(row.verdict))]
              [std::string(datapath::reason_name(row.reason))] = row.packets;
    }
    guards.push_back({{"master", a.ifname},
                      {"ifindex", a.ifindex},
                      {"netns", a.netns},
                      {"netnsCookie", a.netns_cookie},
                      {"mode", datapath::mode_name(a.mode)},
                      {"policy", datapath::policy_name(a.policy)},
                      {"progId", a.prog_id},
                      {"counters", std::move(counters)}});
  }
  return json{{"enabled", true},         {"guards", std::move(guards)},
              {"leases", leases.size()}, {"reservedPrefixes", reserved},
              {"poolPrefixes", pools},   {"sockopt", sockopt_json()}};
}

// The pod socket-option guard: where it is attached, how many pod namespaces it judges, and
// its refusals by option (every option listed, with zeros).
json DatapathService::sockopt_json() const {
  if (!sockopt_) return {{"enabled", false}};
  json out = {{"enabled", true},
              {"cgroup", sockopt_->cgroup()},
              {"progId", sockopt_->prog_id()},
              {"linkId", sockopt_->link_id()},
              {"refused", json::object()},
              {"monitored", json::object()}};
  auto netns = sockopt_->netns();
  out["guardedNetns"] = netns ? json(netns->size()) : json(nullptr);
  auto counters = sockopt_->counters();
  if (!counters) return out;
  for (const auto& c : *counters) {
    const char* verdict = c.verdict == Verdict::dropped ? "refused" : "monitored";
    out[verdict][std::string(datapath::sockopt_option_name(c.option))] = c.count;
  }
  return out;
}

json DatapathService::status_json() const {
  std::lock_guard lock(mu_);
  json masters = json::array();
  for (const auto& [name, master] : masters_) masters.push_back(name);
  json waiting = json::array();  // wanted, but the interface does not exist (yet)
  for (const auto& [name, wanted] : wanted_)
    if (!masters_.contains(name)) waiting.push_back(name);
  return {{"enabled", true},
          {"pinDir", settings_.pin_dir},
          {"masters", std::move(masters)},
          {"waiting", std::move(waiting)},
          {"mode", datapath::mode_name(settings_.default_mode)},
          {"reservedPolicy", datapath::policy_name(settings_.policy)},
          {"podGuard", settings_.pod_guard},
          {"podCgroup", sockopt_ ? sockopt_->cgroup() : std::string()},
          {"progId", guard_.prog_id()}};
}

}  // namespace ipfence::agent
