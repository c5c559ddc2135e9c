// The ADD path with the active conflict probe (agent/conflict/conflict_prober.h): allocate
// under the lock as usual, then probe outside it, so that one ADD's 100 ms of listening
// never holds up another's. The address is claimed in the store while it is probed: no
// other request, here or on another node, can take it meanwhile. An answered address is
// given back and avoided, and the next candidate is tried, until one is clear.
#include <spdlog/spdlog.h>

#include <algorithm>

#include "agent/ipam_api.h"

namespace ipfence::agent {
namespace {

// Enough to step over a few squatters in a row; more in a row means something answers for
// every address (proxy ARP on the segment), and probing cannot help: the ADD fails saying so.
constexpr int kMaxProbeRounds = 16;

std::string describe(const std::vector<ProbeAnswer>& answers) {
  std::string out;
  for (const auto& a : answers)
    out += (out.empty() ? "" : ", ") + a.ip.to_string() + " (MAC " + a.mac.to_string() + ")";
  return out;
}

bool asked_for(const ipam::AllocateRequest& request, const ipam::IpAddress& ip) {
  return std::any_of(request.ips.begin(), request.ips.end(), [&](const std::string& text) {
    auto wanted = ipam::parse_wanted_ip(text);
    return wanted && *wanted == ip;
  });
}

}  // namespace

void IpamApi::enable_conflict_probe(ConflictProber& prober, ipam::ConflictProbeSettings defaults) {
  prober_ = &prober;
  probe_defaults_ = defaults;
}

std::vector<ProbeTarget> IpamApi::probe_targets(const ipam::ClusterState& state,
                                                const ipam::AllocateResult& result) const {
  std::vector<ProbeTarget> targets;
  for (const auto& ip : result.ips) {
    const ipam::PoolState* pool = state.pool(ip.pool);
    if (pool == nullptr) continue;
    auto settings = ipam::conflict_probe_settings(pool->pool, probe_defaults_);
    if (!settings) {  // refused at apply; a store written by an older agent may still hold it
      spdlog::warn("IPPool {}: {}; using the agent's conflict probe settings", ip.pool,
                   settings.error().message);
      settings = probe_defaults_;
    }
    if (settings->enabled) targets.push_back(ProbeTarget{ip.ip, ip.pool, *settings});
  }
  return targets;
}

Result<ipam::AllocateResult> IpamApi::allocate_probed(ipam::AllocateRequest& request,
                                                      std::int64_t& revision) {
  const ipam::Allocation& id = request.identity;
  std::vector<ProbeAnswer> skipped;  // answered addresses, over all rounds
  for (int round = 0;; ++round) {
    std::vector<ProbeTarget> targets;
    auto result = allocator_.with([&](ipam::Allocator& allocator) {
      auto allocated = allocator.allocate(request);
      if (allocated) metrics_.refresh_pools(allocator.state());
      revision = allocator.state().revision();
      // Probing needs a master to probe from: the plugin passes macvlan's.
      if (allocated && !allocated->existing && prober_ != nullptr && !id.master.empty())
        targets = probe_targets(allocator.state(), *allocated);
      return allocated;
    });
    allocator_.health().record(result);
    if (!result) {
      if (skipped.empty()) return result;
      return make_error(result.error().code,
                        result.error().message + "; skipped " + std::to_string(skipped.size()) +
                            " IP(s) that hosts outside the cluster answered a conflict probe "
                            "for: " +
                            describe(skipped));
    }
    if (targets.empty()) return result;
    auto answers = prober_->probe(id.master, targets);
    if (answers.empty()) return result;

    for (const auto& a : answers)
      spdlog::warn(
          "conflict probe: {} (pool {}) is used by a host outside the cluster (MAC {}{}); "
          "containerID={} gets another IP",
          a.ip.to_string(), a.pool, a.mac.to_string(),
          a.known ? ", seen by the watch lately" : ", answered on " + id.master, id.container_id);
    // Give the claim back before anything else can see it as handed out.
    auto released = allocator_.with([&](ipam::Allocator& allocator) {
      auto r = allocator.release(id.container_id, id.ifname);
      if (r) metrics_.refresh_pools(allocator.state());
      revision = allocator.state().revision();
      return r;
    });
    allocator_.health().record(released);
    if (!released)
      return released.error().wrap("conflict probe: " + describe(answers) +
                                   " answered; giving the address back failed");
    prober_->report(answers);
    for (const auto& a : answers) {
      if (asked_for(request, a.ip))
        return make_error(ErrorCode::ip_unavailable,
                          "IP " + a.ip.to_string() + " is not available in IPPool " + a.pool +
                              ": a host outside the cluster with MAC " + a.mac.to_string() +
                              " uses it (it answered a conflict probe); free it there, then "
                              "`ipfencectl quarantine release " +
                              a.ip.to_string() + "` if it was quarantined");
      request.avoid.push_back(a.ip);
      skipped.push_back(a);
    }
    if (round + 1 == kMaxProbeRounds)
      return make_error(ErrorCode::unavailable,
                        "conflict probe: " + std::to_string(skipped.size()) +
                            " IPs in a row were answered by hosts outside the cluster (" +
                            describe(skipped) +
                            "); something on the segment answers for every address (proxy "
                            "ARP?): fix it, or turn the probe off for the pool");
  }
}

}  // namespace ipfence::agent
