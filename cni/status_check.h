// STATUS's question, "could an ADD on this network succeed now?", answered from the agent's
// GET /v1/status body. Kept apart from the HTTP call so every case is a plain unit test.
#pragma once

#include <nlohmann/json_fwd.hpp>

#include "cni/cni_error.h"
#include "cni/netconf.h"

namespace ipfence::cni {

// Success when, for every address family the network allocates from, at least one of its
// pools has available > 0 and is not disabled. The pools are the netconf's
// default_ipv4_ippool / default_ipv6_ippool, or the agent's default pools when neither is set
// (the agent falls back to them on ADD). A dual-stack ADD needs both families, so one
// exhausted family is enough to fail. Error 50 names the pools and what each lacks; an
// unhealthy store is 50 too, since every ADD would fail on it.
CniStatus check_pools_available(const nlohmann::json& status, const NetConf& conf);

}  // namespace ipfence::cni
