#include "cni/verbs.h"

#include <nlohmann/json.hpp>

#include "cni/cni_result.h"
#include "cni/status_check.h"

namespace ipfence::cni {
namespace {

using nlohmann::json;

json attachment_body(const CniEnv& env) {
  return json{{"containerID", env.container_id}, {"ifname", env.ifname}};
}

CniOr<json> allocate_body(const Invocation& call) {
  const CniEnv& env = call.env;
  const NetConf& conf = call.conf;
  json body = attachment_body(env);
  body["netns"] = env.netns;
  body["network"] = conf.network;
  if (!env.pod.namespace_name.empty() || !env.pod.name.empty() || !env.pod.uid.empty())
    body["pod"] = {
        {"namespace", env.pod.namespace_name}, {"name", env.pod.name}, {"uid", env.pod.uid}};
  // Best effort: with a bare netns (tests) or an interface the main plugin named differently,
  // the agent still allocates; it only cannot bind the address to a MAC.
  if (call.io.read_mac) {
    auto mac = call.io.read_mac(env.netns, env.ifname);
    if (mac.ok()) {
      body["mac"] = *mac;
    } else if (call.io.log) {
      call.io.log("sending no MAC: " + mac.error().msg);
    }
  }
  if (!conf.master.empty()) body["master"] = conf.master;
  auto pools = pools_for(conf, env.ifname);
  if (!pools.ok()) return pools.error();
  body["ipv4Pools"] = pools->ipv4;
  body["ipv6Pools"] = pools->ipv6;
  if (!conf.ips.empty()) body["ips"] = conf.ips;
  return body;
}

// ADD failed after the agent allocated: release, so no address stays held for an attachment
// the runtime never saw. The original error is what the user needs; the release outcome is
// appended.
CniError roll_back(const Invocation& call, const CniError& error) {
  auto reply = call.agent.post("/v1/ipam/release", attachment_body(call.env));
  CniError out = error;
  if (reply.ok() && reply->ok()) {
    out.msg += "; the allocation was released";
  } else {
    const std::string why = reply.ok() ? agent_error(*reply).msg : reply.error().msg;
    out.msg += "; releasing the allocation failed too (" + why + "); the runtime's DEL will retry";
  }
  return out;
}

}  // namespace

CniStatus cmd_add(const Invocation& call) {
  IPF_ASSIGN_OR_RETURN(json body, allocate_body(call));
  IPF_ASSIGN_OR_RETURN(AgentReply reply, call.agent.post("/v1/ipam/allocate", body));
  if (!reply.ok()) return agent_error(reply);  // nothing allocated: nothing to undo
  auto result = ipam_result_from_agent(reply.body);
  if (!result.ok()) return roll_back(call, result.error());
  if (!call.io.write_stdout(render_result(*result, call.conf.cni_version) + "\n"))
    return roll_back(call, cni_error(kIoFailure, "cannot write the ADD result to stdout"));
  return {};
}

CniStatus cmd_del(const Invocation& call) {
  IPF_ASSIGN_OR_RETURN(AgentReply reply,
                       call.agent.post("/v1/ipam/release", attachment_body(call.env)));
  // The API answers 200 with an empty list for "nothing allocated"; an agent that says
  // not_found instead means the same thing to DEL.
  if (!reply.ok() && agent_error_name(reply) != "not_found") return agent_error(reply);
  return {};
}

CniStatus cmd_check(const Invocation& call) {
  json body = attachment_body(call.env);
  if (!call.conf.prev_ips.empty()) body["ips"] = call.conf.prev_ips;
  IPF_ASSIGN_OR_RETURN(AgentReply reply, call.agent.post("/v1/ipam/check", body));
  if (!reply.ok()) return agent_error(reply);
  return {};
}

CniStatus cmd_gc(const Invocation& call) {
  json attachments = json::array();
  for (const auto& a : call.conf.valid_attachments)
    attachments.push_back({{"containerID", a.container_id}, {"ifname", a.ifname}});
  const json body{{"network", call.conf.network}, {"validAttachments", std::move(attachments)}};
  IPF_ASSIGN_OR_RETURN(AgentReply reply, call.agent.post("/v1/ipam/gc", body));
  if (!reply.ok()) return agent_error(reply);
  // The agent kept going past individual failures; report them so the runtime's next GC
  // (which it runs periodically anyway) tries again and the leftovers are visible.
  auto errors = reply.body.is_object() ? reply.body.find("errors") : reply.body.end();
  if (reply.body.is_object() && errors != reply.body.end() && errors->is_array() &&
      !errors->empty()) {
    std::string list;
    for (const auto& e : *errors)
      list += (list.empty() ? "" : "; ") + (e.is_string() ? e.get<std::string>() : e.dump());
    return cni_error(kTryAgainLater, "GC could not release " + std::to_string(errors->size()) +
                                         " allocation(s) of network " + call.conf.network + ": " +
                                         list);
  }
  return {};
}

CniStatus cmd_status(const Invocation& call) {
  auto reply = call.agent.get("/v1/status");
  if (!reply.ok()) return cni_error(kPluginNotAvailable, reply.error().msg);
  if (!reply->ok()) {
    const CniError error = agent_error(*reply);
    return cni_error(kPluginNotAvailable, "ipfence-agent reports an error: " + error.msg,
                     error.details);
  }
  return check_pools_available(reply->body, call.conf);
}

}  // namespace ipfence::cni
