#include "cni/cni_env.h"

#include <array>
#include <utility>
#include <vector>

namespace ipfence::cni {
namespace {

constexpr std::array<std::pair<Verb, std::string_view>, 6> kVerbs{{
    {Verb::add, "ADD"},
    {Verb::del, "DEL"},
    {Verb::check, "CHECK"},
    {Verb::version, "VERSION"},
    {Verb::gc, "GC"},
    {Verb::status, "STATUS"},
}};

constexpr std::string_view kVerbList = "ADD, DEL, CHECK, VERSION, GC or STATUS";

CniError env_error(std::string msg) {
  return cni_error(kInvalidEnvironment, std::move(msg));
}

bool is_alnum(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

// SPEC.md: ^[a-zA-Z0-9][a-zA-Z0-9_.\-]*$
bool valid_container_id(std::string_view id) {
  if (id.empty() || !is_alnum(id.front())) return false;
  for (char c : id)
    if (!is_alnum(c) && c != '_' && c != '.' && c != '-') return false;
  return true;
}

// SPEC.md / Linux dev_valid_name: 1..15 bytes, not "." or "..", no '/', ':' or whitespace.
bool valid_ifname(std::string_view name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  for (char c : name)
    if (c == '/' || c == ':' || c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
        c == '\f')
      return false;
  return true;
}

// The value of a required variable, or error 4 naming it and the verb that needs it.
CniOr<std::string> required(const EnvLookup& env, std::string_view name, Verb verb,
                            std::string_view what) {
  auto value = env(name);
  if (!value || value->empty())
    return env_error(std::string(name) + " is not set; " + std::string(verb_name(verb)) +
                     " needs it: " + std::string(what));
  return *value;
}

std::string optional_var(const EnvLookup& env, std::string_view name) {
  auto value = env(name);
  return value ? *value : std::string();
}

std::vector<std::string_view> split(std::string_view text, char sep) {
  std::vector<std::string_view> parts;
  while (true) {
    auto pos = text.find(sep);
    parts.push_back(text.substr(0, pos));
    if (pos == std::string_view::npos) return parts;
    text.remove_prefix(pos + 1);
  }
}

}  // namespace

std::string_view verb_name(Verb verb) {
  for (const auto& [v, name] : kVerbs)
    if (v == verb) return name;
  return "?";
}

CniOr<Verb> parse_command(const EnvLookup& env) {
  auto value = env("CNI_COMMAND");
  if (!value || value->empty())
    return env_error("CNI_COMMAND is not set; it must be " + std::string(kVerbList) +
                     " (ipfence is a CNI plugin: the container runtime runs it)");
  for (const auto& [verb, name] : kVerbs)
    if (*value == name) return verb;
  return env_error("CNI_COMMAND '" + *value + "' is not supported; it must be " +
                   std::string(kVerbList));
}

CniOr<PodArgs> parse_cni_args(std::string_view text) {
  PodArgs pod;
  bool ignore_unknown = false;
  std::vector<std::string> unknown;
  for (auto pair : split(text, ';')) {
    if (pair.empty()) continue;  // "A=1;" from hand-written configs: harmless
    auto eq = pair.find('=');
    if (eq == std::string_view::npos || eq == 0)
      return env_error("CNI_ARGS has an invalid pair '" + std::string(pair) +
                       "'; it must be KEY=VALUE pairs separated by ';'");
    auto key = pair.substr(0, eq);
    auto value = std::string(pair.substr(eq + 1));
    if (key == "IgnoreUnknown") {
      // Go's UnmarshallableBool accepts these spellings.
      if (value == "1" || value == "true" || value == "True") {
        ignore_unknown = true;
      } else if (value != "0" && value != "false" && value != "False") {
        return env_error("CNI_ARGS IgnoreUnknown is '" + value + "'; it must be 1 or 0");
      }
    } else if (key == "K8S_POD_NAMESPACE") {
      pod.namespace_name = value;
    } else if (key == "K8S_POD_NAME") {
      pod.name = value;
    } else if (key == "K8S_POD_UID") {
      pod.uid = value;
    } else if (key == "K8S_POD_INFRA_CONTAINER_ID") {
      pod.infra_container_id = value;
    } else {
      unknown.emplace_back(key);
    }
  }
  // Decided after the loop: IgnoreUnknown may come after the unknown key.
  if (!unknown.empty() && !ignore_unknown)
    return env_error("CNI_ARGS has unknown key '" + unknown.front() +
                     "'; ipfence knows K8S_POD_NAMESPACE, K8S_POD_NAME, K8S_POD_UID and "
                     "K8S_POD_INFRA_CONTAINER_ID (add IgnoreUnknown=1 to skip others)");
  return pod;
}

CniOr<CniEnv> parse_cni_env(const EnvLookup& env) {
  CniEnv out;
  IPF_ASSIGN_OR_RETURN(out.verb, parse_command(env));
  const Verb verb = out.verb;
  const bool per_attachment = verb == Verb::add || verb == Verb::del || verb == Verb::check;

  if (per_attachment) {
    IPF_ASSIGN_OR_RETURN(out.container_id,
                         required(env, "CNI_CONTAINERID", verb, "the container's ID"));
    if (!valid_container_id(out.container_id))
      return env_error("CNI_CONTAINERID '" + out.container_id +
                       "' is invalid; it must start with a letter or digit and contain only "
                       "letters, digits, '_', '.' and '-'");
    IPF_ASSIGN_OR_RETURN(out.ifname,
                         required(env, "CNI_IFNAME", verb, "the interface name in the container"));
    if (!valid_ifname(out.ifname))
      return env_error("CNI_IFNAME '" + out.ifname +
                       "' is not a valid interface name; it must be 1 to 15 characters without "
                       "'/', ':' or whitespace, and not '.' or '..'");
  }
  if (verb == Verb::add) {
    IPF_ASSIGN_OR_RETURN(out.netns,
                         required(env, "CNI_NETNS", verb, "the path of the container's netns"));
  } else {
    out.netns = optional_var(env, "CNI_NETNS");
  }
  out.path = optional_var(env, "CNI_PATH");
  if (per_attachment) {
    // CNI_ARGS only describes a container; GC and STATUS get none that matter.
    IPF_ASSIGN_OR_RETURN(out.pod, parse_cni_args(optional_var(env, "CNI_ARGS")));
  }
  return out;
}

}  // namespace ipfence::cni
