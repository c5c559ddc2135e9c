// One function per CNI verb, each a single agent call (docs/agent-api.md). Like host-local's
// cmdAdd/cmdDel: ADD undoes its allocation when it cannot hand the result over, DEL succeeds
// when nothing is left to release.
#pragma once

#include "cni/skel.h"

namespace ipfence::cni {

// POST /v1/ipam/allocate, print the result; on any failure after the allocation, release it.
CniStatus cmd_add(const Invocation& call);
// POST /v1/ipam/release; "nothing allocated" is success. Agent unreachable is 11 so the
// runtime retries instead of the address leaking.
CniStatus cmd_del(const Invocation& call);
// POST /v1/ipam/check with prevResult's addresses; prints nothing on success.
CniStatus cmd_check(const Invocation& call);
// POST /v1/ipam/gc with cni.dev/valid-attachments; prints nothing on success.
CniStatus cmd_gc(const Invocation& call);
// GET /v1/status; 50 when the agent is down or the network's pools have no free address.
CniStatus cmd_status(const Invocation& call);

}  // namespace ipfence::cni
