// GET /v1/guards (docs/agent-api.md): what the guard enforces where, with its counters.
#pragma once

#include "agent/datapath_service.h"
#include "agent/http_router.h"

namespace ipfence::agent {

// `service` is null when the guard is off: the route still answers, with "enabled": false.
void add_guard_routes(HttpRouter& router, const DatapathService* service);

}  // namespace ipfence::agent
