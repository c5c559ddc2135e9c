// The CNI_* environment variables the runtime sets for every call (SPEC.md "Parameters").
// Parsing is separate from getenv so tests can feed any environment.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "cni/cni_error.h"

namespace ipfence::cni {

enum class Verb { add, del, check, version, gc, status };

// "ADD", "DEL", ... as CNI_COMMAND spells them.
std::string_view verb_name(Verb verb);

// Kubernetes identity from CNI_ARGS (all optional: non-Kubernetes runtimes send none).
struct PodArgs {
  std::string namespace_name;      // K8S_POD_NAMESPACE
  std::string name;                // K8S_POD_NAME
  std::string uid;                 // K8S_POD_UID
  std::string infra_container_id;  // K8S_POD_INFRA_CONTAINER_ID
};

struct CniEnv {
  Verb verb = Verb::version;
  std::string container_id;  // CNI_CONTAINERID
  std::string netns;         // CNI_NETNS (a path such as /var/run/netns/pod1)
  std::string ifname;        // CNI_IFNAME
  std::string path;          // CNI_PATH (unused: ipfence delegates to nothing)
  PodArgs pod;               // CNI_ARGS
};

// Returns the variable's value, or nullopt when it is unset.
using EnvLookup = std::function<std::optional<std::string>(std::string_view name)>;

// CNI_COMMAND alone: main needs the verb before it reads stdin (VERSION reads none).
CniOr<Verb> parse_command(const EnvLookup& env);

// Every variable the verb needs. Missing or malformed ones are error 4, naming the
// variable and what it must be.
CniOr<CniEnv> parse_cni_env(const EnvLookup& env);

// CNI_ARGS: "K=V;K=V". Unknown keys are an error unless IgnoreUnknown=1 (or true) is given,
// as in the reference plugins (containernetworking/cni pkg/types/args.go).
CniOr<PodArgs> parse_cni_args(std::string_view text);

}  // namespace ipfence::cni
