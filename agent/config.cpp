#include "agent/config.h"

#include <sys/un.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <charconv>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <variant>

#include "agent/version.h"

namespace ipfence::agent {
namespace {

using Member = std::variant<std::string AgentConfig::*, bool AgentConfig::*,
                            std::vector<std::string> AgentConfig::*, std::uint32_t AgentConfig::*>;

struct Field {
  const char* name;  // flag without "--" and YAML key alike
  const char* help;
  Member member;
};

// The one list of settings. Add a row (and a member of AgentConfig) for a new one.
const std::array<Field, 27> kFields{{
    {"store", "Store URL: file:///path or etcd://host:port[,...]", &AgentConfig::store},
    {"socket", "Unix socket the IPAM API listens on", &AgentConfig::socket},
    {"node-name", "This node's name, recorded in allocations (default: hostname)",
     &AgentConfig::node_name},
    {"cni-conf-dir", "Directory the CNI conflists of SpiderMultusConfigs are written to",
     &AgentConfig::cni_conf_dir},
    {"metrics-addr",
     "host:port of the Prometheus /metrics endpoint; port 0 picks a free one; "
     "\"off\" disables it",
     &AgentConfig::metrics_addr},
    {"log-level", "trace, debug, info, warn, error, critical or off", &AgentConfig::log_level},
    {"log-json", "Log one JSON object per line", &AgentConfig::log_json},
    {"guard",
     "on: the eBPF guard enforces on every macvlan master; off: IPAM only (where BPF is not "
     "allowed)",
     &AgentConfig::guard},
    {"bpf-pin-dir", "Where the guard's maps are pinned; must be on a bpf filesystem",
     &AgentConfig::bpf_pin_dir},
    {"masters",
     "Interfaces to guard besides the masters of SpiderMultusConfigs and allocations "
     "(comma-separated, repeatable)",
     &AgentConfig::masters},
    {"guard-mode", "enforce (drop) or monitor (count only), for masters without --master-mode",
     &AgentConfig::guard_mode},
    {"master-mode", "IFNAME=enforce|monitor: the mode of one master (repeatable)",
     &AgentConfig::master_mode},
    {"reserved-policy",
     "A pod holding an IP that was reserved later: grandfather (keeps working) or drop",
     &AgentConfig::reserved_policy},
    {"pod-guard", "Also guard each pod's interface inside its network namespace (true|false)",
     &AgentConfig::pod_guard},
    {"pod-cgroup",
     "The pods' cgroup v2 directory, where the pod guard refuses PACKET_QDISC_BYPASS and AF_XDP "
     "(which skip it) to pods it guards: auto (the kubelet's kubepods cgroup if found), a path, "
     "or empty to turn it off",
     &AgentConfig::pod_cgroup},
    {"max-leases", "Capacity of the guard's lease map (used when the map is created)",
     &AgentConfig::max_leases},
    {"max-reserved-prefixes",
     "Capacity of the guard's reserved-prefix maps, per family (used when created)",
     &AgentConfig::max_reserved_prefixes},
    {"conflict-watch",
     "Watch ARP/NDP arriving on the masters for outside hosts using pool or reserved IPs "
     "(true|false; it shares the guard's maps, so --guard=off turns it off too)",
     &AgentConfig::conflict_watch},
    {"conflict-dedup-seconds",
     "The watcher reports one (IP, MAC) again only after this long (a new MAC at once)",
     &AgentConfig::conflict_dedup_seconds},
    {"conflict-ring-kib",
     "Size of the watcher's kernel ring buffer in KiB, a power of 2 (4..65536; 48 bytes an "
     "event; a pinned buffer keeps the size it was created with)",
     &AgentConfig::conflict_ring_kib},
    {"conflict-active-seconds",
     "ipfence_conflict_active stays 1 this long after a conflict was last seen",
     &AgentConfig::conflict_active_seconds},
    {"quarantine",
     "Quarantine free pool IPs that outside hosts use: never allocated until quiet (true|false)",
     &AgentConfig::quarantine},
    {"quarantine-quiet-seconds", "A quarantined IP is released after this long without a sighting",
     &AgentConfig::quarantine_quiet_seconds},
    {"quarantine-max-per-pool",
     "At most this many quarantined IPs per pool (a flood of random senders must not empty it)",
     &AgentConfig::quarantine_max_per_pool},
    {"conflict-probe",
     "Before an ADD hands out an IP, send ARP probes / IPv6 DAD for it from the master and take "
     "another IP if an outside host answers (true|false; per pool: annotation "
     "ipfence.io/conflict-probe)",
     &AgentConfig::conflict_probe},
    {"conflict-probe-count", "Probes per IP, spread over --conflict-probe-timeout-ms (1..10)",
     &AgentConfig::conflict_probe_count},
    {"conflict-probe-timeout-ms",
     "How long an ADD listens for an answer to its probes (1..5000); every probing ADD waits "
     "this long when nobody answers",
     &AgentConfig::conflict_probe_timeout_ms},
}};

// Map capacities: BPF hash and LPM maps of this size are still cheap to preallocate.
constexpr std::uint32_t kMaxCapacity = 1u << 24;

constexpr std::array<std::string_view, 7> kLogLevels{"trace", "debug",    "info", "warn",
                                                     "error", "critical", "off"};

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const auto& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

std::string scalar_text(const YAML::Node& node) {
  if (node.IsScalar()) return "\"" + node.Scalar() + "\"";
  if (node.IsSequence()) return "a list";
  if (node.IsMap()) return "a mapping";
  return "null";
}

// Splits "a,b" into items, dropping empty ones (a trailing comma is harmless).
std::vector<std::string> split_commas(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

// A list setting in YAML: a sequence of strings, or one comma-separated string. master-mode
// may also be a mapping (ens192: monitor), read as "ens192=monitor".
std::vector<std::string> yaml_list(const YAML::Node& node, const std::string& where,
                                   bool allow_mapping) {
  std::vector<std::string> items;
  if (node.IsScalar()) return split_commas(node.Scalar());
  if (node.IsSequence()) {
    for (const auto& item : node) {
      if (!item.IsScalar())
        throw ConfigError(where + ": expected a list of strings, got " + scalar_text(item) +
                          " in it");
      items.push_back(item.Scalar());
    }
    return items;
  }
  if (node.IsMap() && allow_mapping) {
    for (const auto& entry : node) {
      if (!entry.second.IsScalar())
        throw ConfigError(where + ": expected IFNAME: mode, got " + scalar_text(entry.second));
      items.push_back(entry.first.as<std::string>() + "=" + entry.second.Scalar());
    }
    return items;
  }
  throw ConfigError(where + ": expected a list of strings, got " + scalar_text(node));
}

void set_from_yaml(const Field& field, const YAML::Node& node, const std::string& origin,
                   AgentConfig& config) {
  const std::string where = origin + ": key \"" + field.name + "\"";
  if (auto* text = std::get_if<std::string AgentConfig::*>(&field.member)) {
    if (!node.IsScalar())
      throw ConfigError(where + ": expected a string, got " + scalar_text(node));
    config.*(*text) = node.Scalar();
  } else if (auto* flag = std::get_if<bool AgentConfig::*>(&field.member)) {
    bool value = false;
    if (!node.IsScalar() || !YAML::convert<bool>::decode(node, value))
      throw ConfigError(where + ": expected true or false, got " + scalar_text(node));
    config.*(*flag) = value;
  } else if (auto* list = std::get_if<std::vector<std::string> AgentConfig::*>(&field.member)) {
    config.*(*list) = yaml_list(node, where, *list == &AgentConfig::master_mode);
  } else if (auto* number = std::get_if<std::uint32_t AgentConfig::*>(&field.member)) {
    std::uint32_t value = 0;
    const std::string text = node.IsScalar() ? node.Scalar() : "";
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (!node.IsScalar() || text.empty() || ec != std::errc() || end != text.data() + text.size())
      throw ConfigError(where + ": expected a whole number, got " + scalar_text(node));
    config.*(*number) = value;
  }
}

void check_metrics_addr(const std::string& addr) {
  if (addr == "off") return;
  const auto colon = addr.rfind(':');
  const std::string bad = "metrics-addr: \"" + addr + "\" ";
  if (colon == std::string::npos || colon == 0 || colon + 1 == addr.size())
    throw ConfigError(bad + "is not host:port (e.g. 127.0.0.1:9711, [::1]:9711) or off");
  const std::string port = addr.substr(colon + 1);
  if (port.size() > 5 ||
      !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
      std::stoi(port) > 65535)
    throw ConfigError(bad + "has no valid port (0..65535; 0 picks a free one)");
}

// Linux interface names: 1..15 bytes, no '/', ':' is allowed (aliases), no whitespace.
bool is_ifname(const std::string& name) {
  constexpr std::size_t kMaxIfname = 15;  // IFNAMSIZ - 1
  return !name.empty() && name.size() <= kMaxIfname && name != "." && name != ".." &&
         std::none_of(name.begin(), name.end(),
                      [](char c) { return c == '/' || c == ' ' || c == '\t' || c == '\n'; });
}

void check_guard(AgentConfig& config) {
  if (config.guard != "on" && config.guard != "off")
    throw ConfigError("guard: \"" + config.guard + "\" is not on or off");
  if (config.bpf_pin_dir.empty() || config.bpf_pin_dir.front() != '/')
    throw ConfigError("bpf-pin-dir: \"" + config.bpf_pin_dir + "\" must be an absolute path");
  for (const auto& master : config.masters)
    if (!is_ifname(master))
      throw ConfigError("masters: \"" + master + "\" is not an interface name");
  if (config.guard_mode != "enforce" && config.guard_mode != "monitor")
    throw ConfigError("guard-mode: \"" + config.guard_mode + "\" is not enforce or monitor");
  if (!config.pod_cgroup.empty() && config.pod_cgroup != "auto" && config.pod_cgroup.front() != '/')
    throw ConfigError("pod-cgroup: \"" + config.pod_cgroup +
                      "\" is not auto, empty (off) or an absolute path");
  config.master_modes.clear();
  for (const auto& entry : config.master_mode) {
    const auto equals = entry.find('=');
    const std::string ifname = entry.substr(0, equals);
    if (equals == std::string::npos || !is_ifname(ifname))
      throw ConfigError("master-mode: \"" + entry + "\" is not IFNAME=enforce|monitor");
    const std::string mode = entry.substr(equals + 1);
    if (mode != "enforce" && mode != "monitor")
      throw ConfigError("master-mode: \"" + entry + "\": \"" + mode +
                        "\" is not enforce or monitor");
    if (!config.master_modes.emplace(ifname, mode).second)
      throw ConfigError("master-mode: " + ifname + " is given more than once");
  }
  if (config.reserved_policy != "grandfather" && config.reserved_policy != "drop")
    throw ConfigError("reserved-policy: \"" + config.reserved_policy +
                      "\" is not grandfather or drop");
  const std::pair<const char*, std::uint32_t> capacities[] = {
      {"max-leases", config.max_leases}, {"max-reserved-prefixes", config.max_reserved_prefixes}};
  for (const auto& [name, value] : capacities)
    if (value == 0 || value > kMaxCapacity)
      throw ConfigError(std::string(name) + ": " + std::to_string(value) + " is not in 1.." +
                        std::to_string(kMaxCapacity));
  const std::uint32_t ring = config.conflict_ring_kib;
  if (ring < 4 || ring > 65536 || (ring & (ring - 1)) != 0)
    throw ConfigError("conflict-ring-kib: " + std::to_string(ring) +
                      " is not a power of 2 in 4..65536");
  if (config.quarantine_max_per_pool > kMaxCapacity)
    throw ConfigError("quarantine-max-per-pool: " + std::to_string(config.quarantine_max_per_pool) +
                      " is not in 0.." + std::to_string(kMaxCapacity));
}

void check_conflict_probe(const AgentConfig& config) {
  if (auto checked = ipam::check_conflict_probe_settings(
          conflict_probe_defaults(config), "conflict-probe-count", "conflict-probe-timeout-ms");
      !checked)
    throw ConfigError(checked.error().message);
  if (config.conflict_probe && !config.conflict_watch)
    throw ConfigError(
        "conflict-probe: needs --conflict-watch (answers to the probes arrive through the "
        "watcher); turn the watch on or the probe off");
}

}  // namespace

ipam::ConflictProbeSettings conflict_probe_defaults(const AgentConfig& config) {
  // Unclamped (but for int's range), so that a range error quotes the value as given.
  return ipam::ConflictProbeSettings{
      .enabled = config.conflict_probe,
      .count = static_cast<int>(std::min<std::uint32_t>(config.conflict_probe_count, INT32_MAX)),
      .timeout = std::chrono::milliseconds(config.conflict_probe_timeout_ms)};
}

std::vector<std::string> config_keys() {
  std::vector<std::string> keys;
  for (const auto& field : kFields) keys.emplace_back(field.name);
  return keys;
}

void apply_config_yaml(std::string_view text, const std::string& origin, AgentConfig& config) {
  YAML::Node root;
  try {
    root = YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    throw ConfigError(origin + ": not valid YAML: " + e.what());
  }
  if (root.IsNull()) return;  // an empty file sets nothing
  if (!root.IsMap()) throw ConfigError(origin + ": expected a mapping of settings at the top");
  for (const auto& entry : root) {
    const std::string key = entry.first.as<std::string>();
    auto field =
        std::find_if(kFields.begin(), kFields.end(), [&](const Field& f) { return key == f.name; });
    if (field == kFields.end())
      throw ConfigError(origin + ": unknown key \"" + key +
                        "\"; known keys: " + join(config_keys(), ", "));
    if (entry.second.IsNull()) continue;  // "key:" with no value keeps the default
    set_from_yaml(*field, entry.second, origin, config);
  }
}

void apply_config_file(const std::string& path, AgentConfig& config) {
  std::ifstream in(path);
  if (!in) throw ConfigError("config file " + path + ": cannot be read");
  std::stringstream text;
  text << in.rdbuf();
  apply_config_yaml(text.str(), "config file " + path, config);
}

void finalize_config(AgentConfig& config) {
  if (config.node_name.empty()) {
    std::array<char, 256> host{};
    if (::gethostname(host.data(), host.size() - 1) == 0) config.node_name = host.data();
    if (config.node_name.empty())
      throw ConfigError("node-name: not set and the hostname is unknown; pass --node-name");
  }
  if (config.node_name.find('/') != std::string::npos)
    throw ConfigError("node-name: \"" + config.node_name + "\" must not contain '/'");
  if (config.store.empty()) throw ConfigError("store: must not be empty");
  if (config.socket.empty() || config.socket.front() != '/')
    throw ConfigError("socket: \"" + config.socket + "\" must be an absolute path");
  // The listener binds "<socket>.<pid>.tmp" first (unix_listener.h): leave room for it.
  constexpr std::size_t kMaxSocketPath = sizeof(sockaddr_un{}.sun_path) - 1 - 16;
  if (config.socket.size() > kMaxSocketPath)
    throw ConfigError("socket: \"" + config.socket + "\" is too long for a unix socket (at most " +
                      std::to_string(kMaxSocketPath) + " bytes)");
  if (config.cni_conf_dir.empty() || config.cni_conf_dir.front() != '/')
    throw ConfigError("cni-conf-dir: \"" + config.cni_conf_dir + "\" must be an absolute path");
  if (std::find(kLogLevels.begin(), kLogLevels.end(), config.log_level) == kLogLevels.end())
    throw ConfigError("log-level: \"" + config.log_level +
                      "\" is not one of trace, debug, info, warn, error, critical, off");
  check_metrics_addr(config.metrics_addr);
  check_guard(config);
  check_conflict_probe(config);
}

CommandLine parse_command_line(const std::vector<std::string>& args) {
  const AgentConfig defaults;
  AgentConfig flags = defaults;  // what the flags said; applied only where given
  CLI::App app{"ipfence-agent: IPAM for macvlan underlay networks, served on a unix socket",
               args.empty() ? "ipfence-agent" : args.front()};
  app.set_version_flag("--version", version_string());
  app.add_option("--config", flags.config_file,
                 "YAML file with any of the settings below (keys without \"--\"); "
                 "flags override it");
  std::vector<std::pair<const Field*, CLI::Option*>> options;
  for (const auto& field : kFields) {
    const std::string flag = std::string("--") + field.name;
    CLI::Option* option = nullptr;
    if (auto* text = std::get_if<std::string AgentConfig::*>(&field.member)) {
      option = app.add_option(flag, flags.*(*text), field.help);
      if (!(defaults.*(*text)).empty()) option->default_str(defaults.*(*text));
    } else if (auto* flag_member = std::get_if<bool AgentConfig::*>(&field.member)) {
      option = app.add_flag(flag, flags.*(*flag_member), field.help);
      if (defaults.*(*flag_member)) option->default_str("true");
    } else if (auto* list = std::get_if<std::vector<std::string> AgentConfig::*>(&field.member)) {
      // One value per flag ("a,b" splits): a list never swallows the arguments after it.
      option =
          app.add_option(flag, flags.*(*list), field.help)->delimiter(',')->allow_extra_args(false);
    } else if (auto* number = std::get_if<std::uint32_t AgentConfig::*>(&field.member)) {
      option = app.add_option(flag, flags.*(*number), field.help)
                   ->default_str(std::to_string(defaults.*(*number)));
    }
    options.emplace_back(&field, option);
  }

  CommandLine out;
  std::vector<const char*> argv;
  for (const auto& arg : args) argv.push_back(arg.c_str());
  try {
    app.parse(static_cast<int>(argv.size()), argv.data());
  } catch (const CLI::CallForHelp&) {
    out.exit = true;
    out.output = app.help();
    return out;
  } catch (const CLI::CallForVersion& e) {
    out.exit = true;
    out.output = e.what();
    return out;
  } catch (const CLI::ParseError& e) {
    throw ConfigError(e.what());
  }

  AgentConfig config = defaults;
  if (!flags.config_file.empty()) {
    config.config_file = flags.config_file;
    apply_config_file(flags.config_file, config);
  }
  for (const auto& [field, option] : options) {
    if (option->count() == 0) continue;
    std::visit([&](auto member) { config.*member = flags.*member; }, field->member);
  }
  finalize_config(config);
  out.config = std::move(config);
  return out;
}

}  // namespace ipfence::agent
