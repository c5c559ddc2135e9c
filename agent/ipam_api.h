// The handlers of docs/agent-api.md over the shared Allocator: decode, call under the lock,
// count, log, encode. One line per request at debug (the server), one per allocation or
// release at info, errors at warn.
#pragma once

#include <string>

#include "agent/http_router.h"
#include "agent/metrics.h"
#include "agent/shared_allocator.h"

namespace ipfence::agent {

struct AgentInfo {
  std::string node;
  std::string version;       // "0.1.0 (abc123)"
  std::string metrics_addr;  // as bound (real port), or "off"
};

class IpamApi {
 public:
  IpamApi(SharedAllocator& allocator, Metrics& metrics, AgentInfo info);

  // GET /v1/healthz, GET /v1/status, POST /v1/ipam/{allocate,release,check,gc}.
  void add_routes(HttpRouter& router);

  HttpResponse healthz(const HttpRequest& request);
  HttpResponse status(const HttpRequest& request);
  HttpResponse allocate(const HttpRequest& request);
  HttpResponse release(const HttpRequest& request);
  HttpResponse check(const HttpRequest& request);
  HttpResponse gc(const HttpRequest& request);

 private:
  SharedAllocator& allocator_;
  Metrics& metrics_;
  AgentInfo info_;
};

}  // namespace ipfence::agent
