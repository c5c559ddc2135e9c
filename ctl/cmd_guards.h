// `ipfencectl get guards`: what the node's eBPF guard enforces where, from the agent's
// GET /v1/guards (docs/agent-api.md) over its unix socket, unlike every other command, which
// reads the store.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "ctl/commands.h"

namespace ipfence::ctl {

inline constexpr const char* kDefaultAgentSocket = "/run/ipfence/agent.sock";

struct GuardsOptions {
  std::string agent_socket = kDefaultAgentSocket;  // --agent-socket, or $IPFENCE_AGENT_SOCKET
  std::string output;                              // "", wide, json, yaml
};

int run_get_guards(const GuardsOptions& options, Io& io);

// The table for a /v1/guards body: one row per guard, drop counts by reason; a reason that
// was only monitored shows as "+N mon" after the drop count. Ends with a summary line.
std::string guards_table(const nlohmann::json& body);

}  // namespace ipfence::ctl
