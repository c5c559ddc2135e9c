#include "tests/e2e/support/agent_api.h"

#include <thread>

#include "cni/unix_http.h"

namespace ipfence::e2e {

int ApiAnswer::cni_code() const {
  if (!body.is_object() || !body.contains("error")) return 0;
  return body["error"].value("cniCode", 0);
}

std::string ApiAnswer::message() const {
  if (!body.is_object() || !body.contains("error")) return "";
  return body["error"].value("message", "");
}

ApiAnswer agent_call(const std::string& socket, const std::string& method, const std::string& path,
                     const nlohmann::json& body, std::chrono::milliseconds timeout) {
  const std::string text = body.is_null() ? "" : body.dump();
  cni::HttpAnswer answer;
  cni::HttpFailure failure;
  ApiAnswer out;
  if (!cni::unix_http_request(socket, method, path, body.is_null() ? nullptr : &text, timeout,
                              16 << 20, answer, failure)) {
    out.body = {{"error", {{"message", "no answer from " + socket + ": " + failure.detail}}}};
    return out;
  }
  out.status = answer.status;
  out.body = nlohmann::json::parse(answer.body, nullptr, false);
  if (out.body.is_discarded()) out.body = {{"error", {{"message", answer.body}}}};
  return out;
}

ApiAnswer agent_call_retrying(const std::string& socket, const std::string& method,
                              const std::string& path, const nlohmann::json& body,
                              std::chrono::milliseconds budget) {
  const auto deadline = std::chrono::steady_clock::now() + budget;
  for (int tries = 1;; ++tries) {
    ApiAnswer answer = agent_call(socket, method, path, body);
    answer.tries = tries;
    const bool again = answer.status == 0 || answer.cni_code() == 11;
    if (!again || std::chrono::steady_clock::now() >= deadline) return answer;
    std::this_thread::sleep_for(std::chrono::milliseconds(std::min(20 * tries, 200)));
  }
}

nlohmann::json allocate_body(const std::string& container, const std::string& pool) {
  return {{"containerID", container},
          {"ifname", "eth0"},
          {"network", "cluster-net"},
          {"ipv4Pools", {pool}},
          {"pod",
           {{"namespace", "default"}, {"name", "pod-" + container}, {"uid", "uid-" + container}}}};
}

nlohmann::json release_body(const std::string& container) {
  return {{"containerID", container}, {"ifname", "eth0"}};
}

std::string allocated_ip(const ApiAnswer& answer) {
  if (!answer.ok() || !answer.body.contains("ips") || answer.body["ips"].empty()) return "";
  const std::string address = answer.body["ips"][0].value("address", "");
  return address.substr(0, address.find('/'));
}

}  // namespace ipfence::e2e
