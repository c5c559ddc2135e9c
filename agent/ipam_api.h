// The handlers of docs/agent-api.md over the shared Allocator: decode, call under the lock,
// count, log, encode. One line per request at debug (the server), one per allocation or
// release at info, errors at warn.
#pragma once

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/conflict/conflict_prober.h"
#include "agent/http_router.h"
#include "agent/lease_sink.h"
#include "agent/metrics.h"
#include "agent/shared_allocator.h"

namespace ipfence::agent {

struct AgentInfo {
  std::string node;
  std::string version;       // "0.1.0 (abc123)"
  std::string metrics_addr;  // as bound (real port), or "off"
  // /v1/status "guard": {"enabled", "pinDir", "masters"}; unset: {"enabled": false}.
  std::function<nlohmann::json()> guard_status;
};

class IpamApi {
 public:
  // `leases` hears of every allocation and release before the reply (lease_sink.h).
  IpamApi(SharedAllocator& allocator, Metrics& metrics, AgentInfo info,
          LeaseSink& leases = null_lease_sink());

  // Probes each address before an ADD hands it out, where `defaults` (overridden per pool by
  // the ipfence.io/conflict-probe annotation) enable it. `prober` must outlive this object.
  void enable_conflict_probe(ConflictProber& prober, ipam::ConflictProbeSettings defaults);

  // GET /v1/healthz, GET /v1/status, POST /v1/ipam/{allocate,release,check,gc}.
  void add_routes(HttpRouter& router);

  HttpResponse healthz(const HttpRequest& request);
  HttpResponse status(const HttpRequest& request);
  HttpResponse allocate(const HttpRequest& request);
  HttpResponse release(const HttpRequest& request);
  HttpResponse check(const HttpRequest& request);
  HttpResponse gc(const HttpRequest& request);

 private:
  static LeaseSink& null_lease_sink();
  // ipam_api_probe.cpp: allocates (and, where enabled, probes and re-picks) under the lock;
  // `revision` is the view's revision after the last allocation.
  Result<ipam::AllocateResult> allocate_probed(ipam::AllocateRequest& request,
                                               std::int64_t& revision);
  std::vector<ProbeTarget> probe_targets(const ipam::ClusterState& state,
                                         const ipam::AllocateResult& result) const;
  HttpResponse roll_back(const ipam::AllocateRequest& request, bool existing,
                         const std::vector<ipam::Allocation>& leases, const Error& why,
                         std::chrono::nanoseconds took);

  SharedAllocator& allocator_;
  Metrics& metrics_;
  AgentInfo info_;
  LeaseSink& leases_;
  ConflictProber* prober_ = nullptr;
  ipam::ConflictProbeSettings probe_defaults_{};
};

}  // namespace ipfence::agent
