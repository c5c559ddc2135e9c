#include "agent/config.h"

#include <sys/un.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <array>
#include <fstream>
#include <sstream>
#include <variant>

#include "agent/version.h"

namespace ipfence::agent {
namespace {

using Member = std::variant<std::string AgentConfig::*, bool AgentConfig::*>;

struct Field {
  const char* name;  // flag without "--" and YAML key alike
  const char* help;
  Member member;
};

// The one list of settings. Add a row (and a member of AgentConfig) for a new one.
const std::array<Field, 7> kFields{{
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
}};

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

}  // namespace

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
