// The plugin's frame, as CNI's pkg/skel: read CNI_* and stdin, answer VERSION, parse the
// netconf, run one verb, and turn any failure into CNI error JSON on stdout with exit 1.
// Process I/O is injected (PluginIo) so all of this runs in tests without a process.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "cni/agent_client.h"
#include "cni/cni_env.h"
#include "cni/cni_error.h"
#include "cni/netconf.h"

namespace ipfence::cni {

// Writes to the plugin's stdout; false when the write failed (ADD then rolls back).
using WriteOut = std::function<bool(std::string_view text)>;
// Diagnostics for stderr. Never stdout: libcni parses stdout as the result or error.
using LogFn = std::function<void(std::string_view line)>;
// read_link_mac, replaceable because entering a netns needs privileges tests do not have.
using MacReader =
    std::function<CniOr<std::string>(const std::string& netns, const std::string& ifname)>;

struct PluginIo {
  EnvLookup env;
  std::function<CniOr<std::string>()> read_stdin;
  WriteOut write_stdout;
  LogFn log;
  MacReader read_mac;
};

// Everything a verb needs for one call.
struct Invocation {
  const CniEnv& env;
  const NetConf& conf;
  AgentClient& agent;
  const PluginIo& io;
};

using Dispatch = std::function<CniStatus(const Invocation& call)>;

// Runs one CNI call and returns the process exit code (0 or 1). Errors are printed in the
// caller's cniVersion when stdin named a supported one, else in 1.1.0.
int plugin_main(const PluginIo& io, const Dispatch& dispatch);

// getenv, fd 0, fd 1, fd 2 and read_link_mac.
PluginIo process_io();

}  // namespace ipfence::cni
