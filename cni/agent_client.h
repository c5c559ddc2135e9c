// HTTP/1.1 + JSON to ipfence-agent over its unix socket (docs/agent-api.md), with the
// minimal client in unix_http.h (not libcurl: see there for the start-up cost it saves).
// Transport failures become CNI error 11 ("try again later"): the runtime retries, and the
// message says which socket was tried so an operator can tell a dead agent from a bad path.
#pragma once

#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "cni/cni_error.h"

namespace ipfence::cni {

// Any HTTP answer of the agent, success or error status alike.
struct AgentReply {
  long status = 0;
  nlohmann::json body;  // null when the body was empty or not JSON
  std::string raw;      // the body as sent, for messages about replies that are not JSON

  bool ok() const { return status >= 200 && status < 300; }
};

class AgentClient {
 public:
  AgentClient(std::string socket_path, std::chrono::milliseconds timeout);
  ~AgentClient();
  AgentClient(const AgentClient&) = delete;
  AgentClient& operator=(const AgentClient&) = delete;

  // Error only when no HTTP answer arrived (11) or a 2xx body is not JSON (100); an error
  // status is a reply, so callers can look at the agent's error code (DEL tolerates not_found).
  CniOr<AgentReply> get(std::string_view path);
  CniOr<AgentReply> post(std::string_view path, const nlohmann::json& body);

  const std::string& socket_path() const { return socket_path_; }

 private:
  CniOr<AgentReply> request(std::string_view method, std::string_view path,
                            const std::string* body);

  std::string socket_path_;
  std::chrono::milliseconds timeout_;
};

// The stable error name of an error reply ("not_found"), or "" when it carries none.
std::string agent_error_name(const AgentReply& reply);

// An error reply as a CNI error: the agent's cniCode and message unchanged, its error name in
// details. A reply without a usable error body maps by HTTP status (503 -> 11, else 100).
CniError agent_error(const AgentReply& reply);

}  // namespace ipfence::cni
