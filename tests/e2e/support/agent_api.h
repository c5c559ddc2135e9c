// The agent's HTTP API from a test, in process (the CNI plugin's unix-socket client), for
// tests that send a thousand requests: a curl process per request would cost more than
// the agent's work. Retries answers that say "try again" (CNI code 11), as a runtime does.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>

namespace ipfence::e2e {

struct ApiAnswer {
  int status = 0;       // HTTP status; 0 when no answer came
  nlohmann::json body;  // the answer, or {"error": {"message": <transport problem>}}
  int tries = 1;
  bool ok() const { return status == 200; }
  int cni_code() const;         // error.cniCode, 0 when none
  std::string message() const;  // error.message
};

ApiAnswer agent_call(const std::string& socket, const std::string& method, const std::string& path,
                     const nlohmann::json& body = nullptr,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30));

// agent_call, again while the answer is CNI code 11 (or none), up to `budget` in all.
ApiAnswer agent_call_retrying(const std::string& socket, const std::string& method,
                              const std::string& path, const nlohmann::json& body,
                              std::chrono::milliseconds budget = std::chrono::seconds(20));

// {"containerID", "ifname": "eth0", "ipv4Pools": [pool], "pod": {...}} and the release body.
nlohmann::json allocate_body(const std::string& container, const std::string& pool);
nlohmann::json release_body(const std::string& container);
// "10.40.0.7" from an allocate answer; "" when there is none.
std::string allocated_ip(const ApiAnswer& answer);

}  // namespace ipfence::e2e
