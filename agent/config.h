// The agent's settings: built-in defaults, then an optional YAML file (--config), then flags.
// Every setting is declared once in config.cpp's field table, which both the flag parser and
// the file reader walk, so a new setting (--bpf-pin-dir, masters, ...) is one member here
// plus one row there. Errors are exceptions: they only happen at start-up.
#pragma once

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "ipam/conflict_probe_settings.h"

namespace ipfence::agent {

struct AgentConfig {
  std::string store = "file:///var/lib/ipfence";
  std::string socket = "/run/ipfence/agent.sock";
  std::string node_name;  // "" = the hostname (filled by finalize_config)
  std::string cni_conf_dir = "/etc/cni/net.d";
  std::string metrics_addr = "127.0.0.1:9711";  // host:port, port 0 = any free, "off" = none
  std::string log_level = "info";               // trace, debug, info, warn, error, critical, off
  bool log_json = false;                        // one JSON object per log line
  std::string config_file;                      // --config; never read from the file itself

  // The eBPF guard on the macvlan masters (agent/datapath_service.h).
  std::string guard = "on";                         // on | off (off: IPAM only, no BPF at all)
  std::string bpf_pin_dir = "/sys/fs/bpf/ipfence";  // on bpffs; the maps outlive the agent
  std::vector<std::string> masters;                 // guarded besides those the store names
  std::string guard_mode = "enforce";               // enforce | monitor
  std::vector<std::string> master_mode;             // "IFNAME=enforce|monitor", per master
  std::string reserved_policy = "grandfather";      // grandfather | drop
  bool pod_guard = true;  // also guard each pod's interface inside its netns
  // The pods' cgroup v2 directory for the socket-option guard (datapath/sockopt_guard.h):
  // "auto" looks for the kubelet's, "" turns it off.
  std::string pod_cgroup = "auto";
  std::uint32_t max_leases = 65536;
  std::uint32_t max_reserved_prefixes = 65536;  // per family

  // The conflict watch (agent/conflict/, issue 5): a TC ingress program beside the guard.
  bool conflict_watch = true;
  std::uint32_t conflict_dedup_seconds = 10;
  std::uint32_t conflict_ring_kib = 128;  // the watcher's ring buffer (datapath/watch.h)
  std::uint32_t conflict_active_seconds = 60;
  bool quarantine = true;
  std::uint32_t quarantine_quiet_seconds = 600;
  std::uint32_t quarantine_max_per_pool = 64;
  // The active probe at allocation (agent/conflict/conflict_prober.h); pools override it
  // with the ipfence.io/conflict-probe annotation.
  bool conflict_probe = false;
  std::uint32_t conflict_probe_count = 2;
  std::uint32_t conflict_probe_timeout_ms = 100;

  // Derived by finalize_config from master_mode: interface name -> "enforce" | "monitor".
  std::map<std::string, std::string> master_modes;
  bool guard_enabled() const { return guard == "on"; }
};

// A start-up problem with flags or the config file; the message names the flag or key.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct CommandLine {
  // --help or --version: print `output` and exit with `exit_code` instead of running.
  bool exit = false;
  int exit_code = 0;
  std::string output;
  AgentConfig config;  // merged and finalized when !exit
};

// `args` is argv as strings, args[0] the program name. Throws ConfigError.
CommandLine parse_command_line(const std::vector<std::string>& args);

// Sets the keys of a YAML mapping onto `config` (keys are the flag names without "--").
// `origin` names the source in messages ("config file /etc/ipfence/agent.yaml").
void apply_config_yaml(std::string_view text, const std::string& origin, AgentConfig& config);
void apply_config_file(const std::string& path, AgentConfig& config);

// Fills derived defaults (node name = hostname) and checks every value.
void finalize_config(AgentConfig& config);

// The agent-wide conflict probe settings the flags give.
ipam::ConflictProbeSettings conflict_probe_defaults(const AgentConfig& config);

// The names of all settings, as flags take them without "--", in table order.
std::vector<std::string> config_keys();

}  // namespace ipfence::agent
